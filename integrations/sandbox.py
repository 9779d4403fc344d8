"""The built-in test channel: no outside system, so tenants can try the AI manager before connecting one.

Inbound messages come from our own API (POST /api/sandbox/messages/), outbound ones are only recorded
by the caller; nothing here does network I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from integrations.base import (
    MAX_PHONE_DIGITS,
    InboundMessage,
    OutboundMessage,
    SendResult,
    WebhookError,
    check_kind,
    digits,
)
from integrations.channel import Channel

PROVIDER = "sandbox"
SUPPORTED_KINDS = ("text", "image", "album", "link", "voice", "audio", "document", "video", "template")


def inbound(phone: str, name: str | None, text: str) -> InboundMessage:
    """A client message typed into the sandbox; identity and phone are the digits of `phone` (at most 15,
    as any phone). Text and name are made storable like every channel's (no NUL, no lone surrogates)."""
    number = digits(phone)
    if not number:
        raise ValueError("sandbox phone must contain digits")
    if len(number) > MAX_PHONE_DIGITS:
        raise ValueError(f"sandbox phone has more than {MAX_PHONE_DIGITS} digits")
    try:
        return InboundMessage(
            provider=PROVIDER,
            provider_message_id=f"sandbox-{uuid.uuid4().hex}",
            identity=number,
            phone=number,
            name=name,
            kind="text",
            text=text,
            media_url=None,
            mimetype=None,
            caption=None,
            timestamp=datetime.now(UTC),
            raw={"phone": phone, "name": name, "text": text},
        )
    except WebhookError as exc:
        raise ValueError(exc.detail) from None


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Accept any well-formed message without HTTP; the caller stores it for GET /api/sandbox/messages/."""
    check_kind(PROVIDER, message, SUPPORTED_KINDS)
    return SendResult(provider_message_ids=[f"sandbox-{uuid.uuid4().hex}"])


class Sandbox(Channel):
    """The built-in test channel: no webhook (our own API plays the client), no configuration."""

    provider = PROVIDER
    lead_channel = "sandbox"
    webhook = False
    send = staticmethod(send)
