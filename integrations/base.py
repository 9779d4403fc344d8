"""Shared shapes and helpers for the messenger channel adapters.

Pure Python on purpose (no Django): webhook views and Celery send tasks call these adapters, and the
tests exercise them against a local HTTP stand-in without a database.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("buildcrm.integrations")

# 10 s for connect and read: a provider slower than that is treated as down, the send task retries.
DEFAULT_TIMEOUT = httpx.Timeout(10.0)

INBOUND_KINDS = ("text", "image", "audio", "voice", "video", "document", "sticker", "location", "unknown")
OUTBOUND_KINDS = ("text", "image", "album", "link", "voice", "audio", "document", "video", "template")
MEDIA_KINDS = ("image", "voice", "audio", "document", "video")

# What our storage holds (conversations_message, leads_leadidentity): a parsed item outside these bounds is
# refused at the boundary (400) or trimmed, never left to fail later in a worker.
MAX_ID = 200  # provider message ids (varchar(200))
MAX_IDENTITY = 64  # channel identities (varchar(64))
MAX_NAME = 150  # display names (leads_lead.name)
MAX_URL = 1000  # media URLs
MAX_MIMETYPE = 100
MAX_PHONE_DIGITS = 15  # E.164: country code and number, at most 15 digits
MAX_JSON_DEPTH = 64  # providers nest a few levels; deeper is not a webhook
MAX_EMOJI = 32  # a reaction is one emoji (a few code points with modifiers)


class WebhookError(Exception):
    """A webhook the view must refuse: 400 (malformed) or 403 (not authentic)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


@dataclass
class InboundMessage:
    """A client's message as our storage accepts it: built only through validation (`__post_init__`), so
    whatever an adapter read, an id, identity or phone storage cannot hold is a 400 here, and texts and
    names are made storable (NUL removed, lone surrogates replaced, names bounded)."""

    provider: str  # "chatflow" | "whatsapp" | "telegram" | "sandbox"
    provider_message_id: str
    # Who wrote: phone digits for WhatsApp ("77011112233"), or a WhatsApp privacy id as its JID
    # ("123456789012345@lid", replies go to it as given); chat id for Telegram.
    identity: str
    phone: str | None  # E.164 digits only, when known; never taken from what the client shared
    name: str | None  # sender display name when the provider gives one
    kind: str  # one of INBOUND_KINDS
    text: str  # message text or ""; for media the caption is here too and in `caption`
    media_url: str | None
    mimetype: str | None
    caption: str | None
    timestamp: datetime  # aware UTC
    raw: dict

    def __post_init__(self) -> None:
        self.provider_message_id = provider_id(self.provider_message_id, "message id")
        self.identity = channel_identity(self.identity, "sender")
        self.phone = None if self.phone is None else e164_phone(self.phone, "phone")
        self.name = clean_name(self.name)
        self.kind = self.kind if self.kind in INBOUND_KINDS else "unknown"
        self.text = clean_text(self.text) if isinstance(self.text, str) else ""
        self.caption = (clean_text(self.caption) or None) if isinstance(self.caption, str) else None
        self.mimetype = _bounded_token(self.mimetype, MAX_MIMETYPE)
        if self.media_url is not None:
            if not isinstance(self.media_url, str):
                raise WebhookError(400, f"media url must be a string, not {_json_type(self.media_url)}")
            url = clean_text(self.media_url).strip()
            if len(url) > MAX_URL or _CONTROL.search(url):
                raise WebhookError(400, f"media url is too long or malformed (at most {MAX_URL} characters)")
            self.media_url = url or None


@dataclass
class StatusUpdate:
    provider: str
    provider_message_id: str
    status: str  # sent | delivered | read | failed
    error: str | None
    timestamp: datetime

    def __post_init__(self) -> None:
        self.provider_message_id = provider_id(self.provider_message_id, "status id")
        self.error = (clean_text(self.error)[:2000] or None) if isinstance(self.error, str) else None


@dataclass
class Reaction:
    """A client's emoji on an earlier message (ours or theirs): attached to that message, never a client
    message of its own (no lead activity, no AI turn, follow-ups keep waiting)."""

    provider: str
    target_message_id: str  # the provider's id of the message reacted to
    identity: str  # who reacted, as in InboundMessage.identity
    emoji: str  # "" when the client took the reaction back
    timestamp: datetime

    def __post_init__(self) -> None:
        self.target_message_id = provider_id(self.target_message_id, "reaction target message id")
        self.identity = channel_identity(self.identity, "sender")
        self.emoji = clean_text(self.emoji).strip()[:MAX_EMOJI] if isinstance(self.emoji, str) else ""


@dataclass
class Unsend:
    """A client took back one of their messages (Instagram's unsend): that message is marked deleted, never
    removed (the dialog keeps what was said, the chat shows it was withdrawn)."""

    provider: str
    target_message_id: str  # the provider's id of the withdrawn message
    identity: str  # who withdrew it, as in InboundMessage.identity
    timestamp: datetime

    def __post_init__(self) -> None:
        self.target_message_id = provider_id(self.target_message_id, "unsent message id")
        self.identity = channel_identity(self.identity, "sender")


@dataclass
class OutboundMessage:
    kind: str  # one of OUTBOUND_KINDS
    to: str  # identity (phone digits or chat id)
    text: str = ""  # text, or the short explanation for a link, or the caption
    media_url: str | None = None  # media URL; for kind "link" the URL being shared
    caption: str | None = None
    items: list[dict] = field(default_factory=list)  # album: [{"url", "caption"}]
    template: dict | None = None  # Cloud API template {"name", "language", "components"?}
    # A person's reply past the channel's window that its human-agent allowance still covers (Instagram's
    # HUMAN_AGENT tag, up to 7 days): the channel marks it so; never set for the AI or follow-ups.
    human_agent: bool = False


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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: Python makes it inf, PostgreSQL's jsonb cannot hold it
        raise ValueError(f"number {text[:20]} is out of range")
    return number


def load_json_object(body: bytes | str) -> dict:
    """Parse a webhook body into a JSON object or raise WebhookError(400): UTF-8 only (what we store is the
    body's own text), no NaN/Infinity, no number out of float range, at most MAX_JSON_DEPTH levels deep."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WebhookError(400, f"body is not valid JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # not a ValueError: json gives up inside its own recursion
        raise WebhookError(400, f"body is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, our refusals, an integer of thousands of digits
        raise WebhookError(400, f"body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "body must be a JSON object")
    # Only a body with that many brackets can be that deep: the common webhook skips the walk.
    if body.count("{") + body.count("[") > MAX_JSON_DEPTH and _too_deep(data, MAX_JSON_DEPTH):
        raise WebhookError(400, f"body is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _too_deep(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values() if isinstance(item, dict | list))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value if isinstance(item, dict | list))
    return False


def webhook_parser(parse: Callable[..., list]) -> Callable[..., list]:
    """The last line of a parser of outside input: whatever shape the body has, the answer is a list of
    valid items or a WebhookError, never another exception (which would be a 500). Parsers check what they
    read and say what is wrong; this catches what a check missed, as a 400 that names the exception."""

    @functools.wraps(parse)
    def checked(body: bytes, headers: Mapping[str, str], config: dict) -> list:
        try:
            return parse(body, headers, config)
        except WebhookError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
            log.warning("%s webhook refused: unexpected shape (%s: %s)", parse.__module__, type(exc).__name__, exc)
            raise WebhookError(400, f"malformed payload ({type(exc).__name__})") from None

    return checked


def secrets_equal(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset expected secret never matches (fail closed)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def digits(value: Any) -> str:
    """The ASCII digits of a value ("+7 (701) 111-22-33" → "77011112233"); other scripts' digits are not a
    phone number's."""
    return re.sub(r"[^0-9]", "", str(value or ""))


# Lone surrogates: a str may hold them (json decodes "\ud800"), UTF-8 and so PostgreSQL cannot.
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_PHONE = re.compile(r"\+?([0-9]{1,15})")


def clean_text(value: str) -> str:
    """A text PostgreSQL can store: NUL removed, lone surrogates replaced by U+FFFD; nothing else changes."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", value)


def clean_name(value: Any) -> str | None:
    """A display name: a clean, single-line string of at most MAX_NAME characters; anything else is none (a
    name is a hint, never a reason to lose the message)."""
    if not isinstance(value, str):
        return None
    name = " ".join(_CONTROL.sub(" ", clean_text(value)).split())[:MAX_NAME].strip()
    return name or None


def _bounded_token(value: Any, limit: int) -> str | None:
    """A short machine token (a MIME type): kept when clean and within `limit`, else dropped."""
    if not isinstance(value, str):
        return None
    token = value.strip()
    return token if token and len(token) <= limit and not _CONTROL.search(token) else None


def provider_id(value: Any, where: str) -> str:
    """An id the provider gave (message, media, chat): a string or an integer of at most MAX_ID characters
    with no control characters, else 400 naming `where`."""
    if value is None or value == "":
        raise WebhookError(400, f"missing {where}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WebhookError(400, f"{where} must be a string or an integer, not {_json_type(value)}")
    if isinstance(value, int) and not -(10**MAX_ID) < value < 10**MAX_ID:
        raise WebhookError(400, f"{where} is too long (at most {MAX_ID} characters)")
    text = str(value).strip()
    if not text:
        raise WebhookError(400, f"missing {where}")
    if len(text) > MAX_ID:
        raise WebhookError(400, f"{where} is too long (at most {MAX_ID} characters)")
    if _CONTROL.search(text):
        raise WebhookError(400, f"{where} contains control characters or invalid Unicode")
    return text


def channel_identity(value: Any, where: str) -> str:
    """Who writes on a channel (phone digits, a WhatsApp JID, a chat id): what provider_id accepts, at
    most MAX_IDENTITY characters."""
    identity = provider_id(value, where)
    if len(identity) > MAX_IDENTITY:
        raise WebhookError(400, f"{where} is too long (at most {MAX_IDENTITY} characters)")
    return identity


def e164_phone(value: Any, where: str) -> str:
    """A phone number as E.164 digits: 1–15 ASCII digits, an optional leading '+'; anything else is a 400
    (40 digits are not a phone, and no lead's phone can hold them)."""
    if value is None or value == "":
        raise WebhookError(400, f"missing {where}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WebhookError(400, f"{where} must be a phone number, not {_json_type(value)}")
    if isinstance(value, int):  # numbers where a string is documented: fine when it is a phone's digits
        value = str(value) if 0 < value < 10**MAX_PHONE_DIGITS else ""
    match = _PHONE.fullmatch(value.strip())
    if match is None:
        raise WebhookError(400, f"{where} is not a phone number (E.164: at most {MAX_PHONE_DIGITS} digits)")
    return match.group(1)


def phone_or_none(value: Any) -> str | None:
    """The E.164 digits of a free-form number someone typed or shared ("+7 (701) 111-22-33"), or None."""
    number = digits(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return number if 0 < len(number) <= MAX_PHONE_DIGITS else None


# --- reading fields of a decoded body: a present field of the wrong type is a 400 naming it ------------


def obj(value: Any, where: str) -> dict:
    """`value` must be a JSON object."""
    if not isinstance(value, dict):
        raise WebhookError(400, f"{where} must be an object, not {_json_type(value)}")
    return value


def opt_obj(data: dict, key: str, where: str) -> dict:
    """data[key] as an object; absent or null is {}."""
    value = data.get(key)
    return {} if value is None else obj(value, where)


def opt_list(data: dict, key: str, where: str) -> list:
    """data[key] as a list; absent or null is []."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookError(400, f"{where} must be a list, not {_json_type(value)}")
    return value


def opt_text(data: dict, key: str, where: str) -> str:
    """data[key] as a storable text; absent or null is ""."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebhookError(400, f"{where} must be a string, not {_json_type(value)}")
    return clean_text(value)


def opt_int(data: dict, key: str, where: str) -> int | None:
    """data[key] as an integer (not a boolean); absent or null is None."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookError(400, f"{where} must be an integer, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# Earliest and latest instants a datetime holds (0001-01-02 … 9999-12-30), in Unix seconds.
_TIMESTAMP_RANGE = (-62135510400.0, 253402128000.0)


def utc_from_timestamp(value: Any) -> datetime:
    """Unix seconds (number or numeric string; milliseconds tolerated) → aware UTC. The provider's time is
    informational (we order by arrival), so a missing, malformed or out-of-range one (nan, 1e20, "soon")
    is the time of receipt rather than a refused message."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return datetime.now(UTC)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return datetime.now(UTC)
    if not math.isfinite(number):
        return datetime.now(UTC)
    if number > 1e11:  # milliseconds: no messenger sends dates after the year 5000
        number /= 1000.0
    if not _TIMESTAMP_RANGE[0] < number < _TIMESTAMP_RANGE[1]:
        return datetime.now(UTC)
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


def coordinates(part: dict, where: str) -> tuple[float, float]:
    """(latitude, longitude) of a shared location: numbers within the globe's range, else 400."""
    result = []
    for key, limit in (("latitude", 90), ("longitude", 180)):
        value = part.get(key)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
            raise WebhookError(400, f"{where}.{key} must be a number between -{limit} and {limit}")
        result.append(value)
    return result[0], result[1]


def location_text(latitude: Any, longitude: Any, *parts: Any) -> str:
    """A readable one-liner for a shared location, so the AI and the CRM can show it as text."""
    label = ", ".join(clean_text(p) for p in parts if isinstance(p, str) and p)
    coords = f"{latitude},{longitude}"
    return f"{label} ({coords})" if label else coords


def contact_card_text(name: str | None, phones: list[str]) -> str:
    """A contact the client shared, as the text of their message ("Асель: +7 701 777 00 11"): readable for
    the AI and the CRM, and never anybody's identity."""
    numbers = ", ".join(p for p in phones if p)
    label = clean_name(name)
    if label and numbers:
        return f"{label}: {numbers}"
    return label or numbers or "[контакт]"


_VCARD_LIMIT = 4096  # a vCard beyond this is not read further (bounded input to the regex)
_VCARD_NAME = re.compile(r"^FN[^:\r\n]{0,100}:(.{0,200})$", re.MULTILINE)
_VCARD_TEL = re.compile(r"^(?:item\d{1,3}\.)?TEL[^:\r\n]{0,200}:(.{0,60})$", re.MULTILINE | re.IGNORECASE)


def vcard_contact(vcard: str, display_name: str | None = None) -> str:
    """contact_card_text of a vCard (WhatsApp's contactMessage): its FN and TEL lines, read from at most the
    first 4 KB."""
    text = clean_text(vcard[:_VCARD_LIMIT])
    name = _VCARD_NAME.search(text)
    phones = [m.group(1).strip() for m in _VCARD_TEL.finditer(text)][:5]
    return contact_card_text(display_name or (name.group(1).strip() if name else None), phones)


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
