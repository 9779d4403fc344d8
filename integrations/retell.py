"""Retell AI voice calls: an outbound AI phone call (`POST {api_url}/v2/create-phone-call`) and the signed call
webhooks (`call_started`, `call_ended`, `call_analyzed`).

Retell signs every webhook with the account's API key (the one with the webhook badge):
`x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(api_key, raw body + "<unix ms>")>`; a signature older or newer
than 5 minutes is refused like a wrong one. Pure: payloads and HTTP, none of our other packages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from integrations.base import (
    SendError,
    WebhookError,
    as_dict,
    clean_text,
    e164_phone,
    http_client,
    load_json_object,
    normalise_headers,
    opt_obj,
    opt_text,
    perform,
    provider_id,
    response_json,
    retry_after_header,
    retryable_status,
    short_body,
    webhook_parser,
)

PROVIDER = "retell"
DEFAULT_API_URL = "https://api.retellai.com"
SIGNATURE_HEADER = "x-retell-signature"
SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000
EVENTS = ("call_started", "call_ended", "call_analyzed")
# Why a call ended without anybody talking to our agent: the client gets a follow-up in the chat instead.
MISSED_REASONS = frozenset(
    {
        "dial_no_answer",
        "dial_busy",
        "dial_failed",
        "voicemail_reached",
        "no_valid_payment",
        "invalid_destination",
        "telephony_provider_unavailable",
    }
)
MAX_TRANSCRIPT = 20_000  # characters of a transcript kept on the timeline
MAX_SUMMARY = 4_000
MAX_FIELDS = 50  # extracted fields (custom analysis data) read from one call
_SIGNATURE = re.compile(r"v=(\d{1,16}),d=([0-9a-fA-F]{64})")


@dataclass
class CallEvent:
    """One Retell webhook, as our storage and the lead card take it."""

    event: str  # call_started | call_ended | call_analyzed
    call_id: str
    lead_id: int | None  # from the metadata we sent with the call; None for a call we did not place
    status: str  # Retell's call_status (registered, ongoing, ended, error, not_connected)
    disconnection_reason: str
    transcript: str
    summary: str
    in_voicemail: bool
    duration_ms: int | None
    fields: dict[str, Any] = field(default_factory=dict)  # call_analysis.custom_analysis_data

    @property
    def missed(self) -> bool:
        """Nobody talked to our agent: no answer, busy, a failed dial or a voicemail."""
        return self.disconnection_reason in MISSED_REASONS or self.in_voicemail or self.status == "not_connected"


def check_signature(body: bytes, headers: Mapping[str, str], api_key: str, *, now_ms: int | None = None) -> None:
    """WebhookError(403) unless `x-retell-signature` is the body's HMAC with `api_key`, made within 5 minutes."""
    if not api_key:
        raise WebhookError(403, "retell api_key is not configured; cannot verify x-retell-signature")
    header = normalise_headers(headers).get(SIGNATURE_HEADER, "").strip()
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise WebhookError(403, "missing or malformed x-retell-signature (v=<unix ms>,d=<hex>)")
    stamp, given = match.groups()
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(stamp)) > SIGNATURE_TOLERANCE_MS:
        raise WebhookError(403, "x-retell-signature is too old or from the future (over 5 minutes)")
    expected = hmac.new(api_key.encode("utf-8"), body + stamp.encode("ascii"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.lower(), expected):
        raise WebhookError(403, "x-retell-signature does not match the body")


def sign(body: bytes, api_key: str, *, now_ms: int | None = None) -> str:
    """The header Retell would send with `body` (what the tests' stand-in and a local replay use)."""
    stamp = str(int(time.time() * 1000) if now_ms is None else now_ms)
    digest = hmac.new(api_key.encode("utf-8"), body + stamp.encode("ascii"), hashlib.sha256).hexdigest()
    return f"v={stamp},d={digest}"


def _lead_id(metadata: dict) -> int | None:
    value = metadata.get("lead_id")
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63 else None


def _fields(data: dict) -> dict[str, Any]:
    """Extracted fields as plain values: keys lower_snake_case, values scalars or short texts."""
    out: dict[str, Any] = {}
    for key, value in list(data.items())[:MAX_FIELDS]:
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", key):
            continue
        if isinstance(value, bool | int | float) or value is None:
            out[key] = value
        elif isinstance(value, str):
            out[key] = clean_text(value)[:500]
    return out


@webhook_parser
def parse_webhook(body: bytes, headers: Mapping[str, str], config: dict) -> list[CallEvent]:
    """Verify the signature (before touching the JSON), then read `{"event", "call": {…}}`. An event we do not act
    on (transcript_updated, transfers) is no item: recorded and answered 200."""
    check_signature(body, headers, str(config.get("api_key") or ""))
    payload = load_json_object(body)
    event = payload.get("event")
    if not isinstance(event, str):
        raise WebhookError(400, "event must be a string")
    call = opt_obj(payload, "call", "call")
    if event not in EVENTS:
        return []
    analysis = opt_obj(call, "call_analysis", "call.call_analysis")
    duration = call.get("duration_ms")
    return [
        CallEvent(
            event=event,
            call_id=provider_id(call.get("call_id"), "call.call_id"),
            lead_id=_lead_id(opt_obj(call, "metadata", "call.metadata")),
            status=opt_text(call, "call_status", "call.call_status")[:40],
            disconnection_reason=opt_text(call, "disconnection_reason", "call.disconnection_reason")[:80],
            transcript=opt_text(call, "transcript", "call.transcript")[:MAX_TRANSCRIPT],
            summary=opt_text(analysis, "call_summary", "call.call_analysis.call_summary")[:MAX_SUMMARY],
            in_voicemail=analysis.get("in_voicemail") is True,
            duration_ms=duration
            if isinstance(duration, int) and not isinstance(duration, bool) and duration >= 0
            else None,
            fields=_fields(opt_obj(analysis, "custom_analysis_data", "call.call_analysis.custom_analysis_data")),
        )
    ]


def create_phone_call(
    config: dict, *, to_number: str, metadata: dict, variables: dict[str, str], client: httpx.Client | None = None
) -> str:
    """Places an outbound AI call from `from_number` to `to_number` (E.164) with the tenant's agent; `metadata`
    comes back on every webhook of the call, `variables` fill the agent's prompt ({{name}} …). Returns the
    call id; SendError otherwise (`retryable`: 5xx, 429, timeouts)."""
    try:
        to = "+" + e164_phone(to_number, "to_number").lstrip("+")
    except WebhookError:
        raise SendError(f"retell: {str(to_number)[:40]!r} is not a phone number", retryable=False) from None
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    payload: dict[str, Any] = {
        "from_number": str(config.get("from_number") or ""),
        "to_number": to,
        "metadata": metadata,
        "retell_llm_dynamic_variables": variables,
    }
    if config.get("agent_id"):
        payload["override_agent_id"] = str(config["agent_id"])
    headers = {"Authorization": f"Bearer {config.get('api_key') or ''}"}
    with http_client(client) as http:
        response = perform(http, PROVIDER, "POST", f"{base}/v2/create-phone-call", json=payload, headers=headers)
    data = as_dict(response_json(response))
    if response.status_code >= 400 or not data.get("call_id"):
        detail = data.get("message") or data.get("error") or short_body(response) or "no response body"
        raise SendError(
            f"retell HTTP {response.status_code}: {str(detail)[:300]}",
            retryable=retryable_status(response.status_code),
            status_code=response.status_code,
            retry_after=retry_after_header(response),
        )
    return str(data["call_id"])[:200]
