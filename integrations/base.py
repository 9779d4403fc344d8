"""Shared shapes and helpers for the messenger channel adapters.

Pure Python on purpose (no Django): webhook views and Celery send tasks call these adapters, and the
tests exercise them against a local HTTP stand-in without a database.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

# 10 s for connect and read: a provider slower than that is treated as down, the send task retries.
DEFAULT_TIMEOUT = httpx.Timeout(10.0)

INBOUND_KINDS = ("text", "image", "audio", "voice", "video", "document", "sticker", "location", "unknown")
OUTBOUND_KINDS = ("text", "image", "album", "link", "voice", "audio", "document", "video", "template")
MEDIA_KINDS = ("image", "voice", "audio", "document", "video")


@dataclass
class InboundMessage:
    provider: str  # "chatflow" | "whatsapp" | "telegram" | "sandbox"
    provider_message_id: str
    identity: str  # phone digits for WhatsApp ("77011112233"), chat id for Telegram
    phone: str | None  # digits only, when known
    name: str | None  # sender display name when the provider gives one
    kind: str  # one of INBOUND_KINDS
    text: str  # message text or ""; for media the caption is here too and in `caption`
    media_url: str | None
    mimetype: str | None
    caption: str | None
    timestamp: datetime  # aware UTC
    raw: dict


@dataclass
class StatusUpdate:
    provider: str
    provider_message_id: str
    status: str  # sent | delivered | read | failed
    error: str | None
    timestamp: datetime


class WebhookError(Exception):
    """A webhook the view must refuse: 400 (malformed) or 403 (not authentic)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


@dataclass
class OutboundMessage:
    kind: str  # one of OUTBOUND_KINDS
    to: str  # identity (phone digits or chat id)
    text: str = ""  # text, or the short explanation for a link, or the caption
    media_url: str | None = None  # media URL; for kind "link" the URL being shared
    caption: str | None = None
    items: list[dict] = field(default_factory=list)  # album: [{"url", "caption"}]
    template: dict | None = None  # Cloud API template {"name", "language", "components"?}


@dataclass
class SendResult:
    provider_message_ids: list[str]


class SendError(Exception):
    """A send that did not go through.

    `retryable` tells the send task whether trying again later can help (5xx, 429, timeouts, connection
    errors) or not (4xx, refusals, closed 24-hour window, bad message). `sent_ids` lists the ids of parts
    already delivered before the failure (albums are several requests), so a retry can skip them.
    """

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        sent_ids: list[str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.sent_ids: list[str] = list(sent_ids or [])


# --- inbound helpers -------------------------------------------------------------------------------


def normalise_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Lower-case header names; Django's request.headers, raw META-like dicts and httpx all differ."""
    result: dict[str, str] = {}
    for key, value in (headers or {}).items():
        # WSGI META style (HTTP_X_HUB_SIGNATURE_256) becomes x-hub-signature-256 too.
        name = str(key).lower().replace("_", "-").removeprefix("http-")
        result[name] = str(value)
    return result


def load_json_object(body: bytes | str) -> dict:
    """Parse a webhook body into a JSON object or raise WebhookError(400)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WebhookError(400, "body must be a JSON object")
    return data


def secrets_equal(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset expected secret never matches (fail closed)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def utc_from_timestamp(value: Any) -> datetime:
    """Unix seconds (int or str; milliseconds tolerated) → aware UTC; missing/bad → now."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    if number > 1e11:  # milliseconds: no messenger sends dates after the year 5000
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=UTC)


def location_text(latitude: Any, longitude: Any, *parts: Any) -> str:
    """A readable one-liner for a shared location, so the AI and the CRM can show it as text."""
    label = ", ".join(str(p) for p in parts if p)
    coords = f"{latitude},{longitude}"
    return f"{label} ({coords})" if label else coords


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


# --- outbound helpers ------------------------------------------------------------------------------


def caption_of(message: OutboundMessage) -> str | None:
    """The caption of a media message: the explicit caption, else the text, else none."""
    if message.caption:
        return message.caption
    return message.text or None


def link_text(message: OutboundMessage) -> str:
    """A link is the explanation with the URL on its own line (messengers render the preview)."""
    url = message.media_url or ""
    if message.text and url:
        return f"{message.text}\n{url}"
    return message.text or url


def require_media_url(provider: str, message: OutboundMessage) -> str:
    if not message.media_url:
        raise SendError(f"{provider}: a {message.kind} message needs media_url", retryable=False)
    return message.media_url


def album_items(provider: str, message: OutboundMessage) -> list[dict]:
    items = [item for item in message.items if isinstance(item, dict) and item.get("url")]
    if not items:
        raise SendError(f"{provider}: an album needs items with a url", retryable=False)
    return items


def check_kind(provider: str, message: OutboundMessage, supported: tuple[str, ...]) -> None:
    if message.kind not in supported:
        raise SendError(f"{provider}: unsupported message kind {message.kind!r}", retryable=False)
    if not message.to:
        raise SendError(f"{provider}: message has no recipient", retryable=False)


def retryable_status(status_code: int) -> bool:
    # 408/429 and 5xx mean "not now"; every other 4xx is a refusal that a retry would repeat.
    return status_code in (408, 429) or status_code >= 500


@contextmanager
def http_client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """Use the caller's client (tests, connection reuse) or a short-lived one with our timeout."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=DEFAULT_TIMEOUT) as own:
        yield own


def perform(client: httpx.Client, provider: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call with transport failures mapped to SendError.

    The detail never contains the URL: Telegram and ChatFlow carry their tokens in it.
    """
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise SendError(f"{provider}: timed out ({type(exc).__name__})", retryable=True) from exc
    except httpx.UnsupportedProtocol as exc:
        raise SendError(f"{provider}: bad api_url ({exc})", retryable=False) from exc
    except httpx.TransportError as exc:
        raise SendError(f"{provider}: connection error: {exc}", retryable=True) from exc
    except httpx.InvalidURL as exc:
        raise SendError(f"{provider}: bad api_url ({exc})", retryable=False) from exc


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def short_body(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip()
    return text[:limit] + ("…" if len(text) > limit else "")


def retry_after_header(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
