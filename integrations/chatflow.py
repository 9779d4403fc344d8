"""ChatFlow (chatflow.kz) WhatsApp gateway: inbound webhook and outbound GET API.

ChatFlow signs nothing: the secret webhook key in our URL is the only trust, so parsing is strict about
shape but does no authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from integrations.base import (
    MEDIA_KINDS,
    InboundMessage,
    OutboundMessage,
    SendError,
    SendResult,
    StatusUpdate,
    WebhookError,
    album_items,
    as_dict,
    caption_of,
    check_kind,
    digits,
    http_client,
    link_text,
    load_json_object,
    location_text,
    perform,
    require_media_url,
    response_json,
    retry_after_header,
    retryable_status,
    short_body,
    utc_from_timestamp,
)

PROVIDER = "chatflow"
DEFAULT_API_URL = "https://app.chatflow.kz/api/v1"

# Gateway message types → our kinds. ChatFlow documents text|image|audio|video|document; the Baileys
# names are accepted too because gateways built on it sometimes leak them.
_KINDS = {
    "text": "text",
    "conversation": "text",
    "extendedtextmessage": "text",
    "chat": "text",
    "image": "image",
    "imagemessage": "image",
    "audio": "audio",
    "audiomessage": "audio",
    "ptt": "voice",
    "voice": "voice",
    "video": "video",
    "videomessage": "video",
    "document": "document",
    "documentmessage": "document",
    "sticker": "sticker",
    "stickermessage": "sticker",
    "location": "location",
    "locationmessage": "location",
}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _sender_name(payload: dict, metadata: dict) -> str | None:
    for candidate in (metadata.get("pushName"), metadata.get("senderName"), payload.get("pushName")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    # `sender` is sometimes a display name, sometimes a jid/number; only one with letters is a name.
    sender = metadata.get("sender")
    if isinstance(sender, str) and "@" not in sender and any(ch.isalpha() for ch in sender):
        return sender.strip()
    return None


def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate]:
    """One ChatFlow webhook → at most one InboundMessage; [] for groups and our own echoes."""
    payload = load_json_object(body)
    if isinstance(payload.get("body"), dict):  # some ChatFlow deliveries wrap the event
        payload = payload["body"]
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict):
        raise WebhookError(400, "missing metadata object")
    remote_jid = metadata.get("remoteJid")
    if not isinstance(remote_jid, str) or not remote_jid.strip():
        raise WebhookError(400, "missing metadata.remoteJid")
    message_id = metadata.get("messageId")
    if message_id is None or str(message_id).strip() == "":
        raise WebhookError(400, "missing metadata.messageId")

    # Groups are not leads, and fromMe events are what we (or a manager's phone) sent.
    if "@g.us" in remote_jid:
        return []
    if any(
        _truthy(flag)
        for flag in (metadata.get("fromMe"), payload.get("fromMe"), as_dict(payload.get("key")).get("fromMe"))
    ):
        return []

    identity = digits(remote_jid.split("@", 1)[0].split(":", 1)[0])
    if not identity:
        raise WebhookError(400, "metadata.remoteJid has no phone number")

    message_type = str(payload.get("messageType") or "text").strip()
    kind = _KINDS.get(message_type.lower(), "unknown")
    media = as_dict(payload.get("mediaData"))
    text = payload.get("message")
    text = text if isinstance(text, str) else ""
    caption = media.get("caption") if isinstance(media.get("caption"), str) and media.get("caption") else None
    mimetype = media.get("mimetype") or None
    if kind == "audio" and (_truthy(media.get("ptt")) or _truthy(payload.get("ptt"))):
        kind = "voice"  # a push-to-talk note, not a music file
    if kind == "location":
        location = as_dict(payload.get("location")) or media
        if "latitude" in location:
            text = text or location_text(
                location.get("latitude"),
                location.get("longitude"),
                location.get("name"),
                location.get("address"),
            )
    if kind not in ("text", "location", "unknown") and caption and not text:
        text = caption

    return [
        InboundMessage(
            provider=PROVIDER,
            provider_message_id=str(message_id),
            identity=identity,
            phone=identity,
            name=_sender_name(payload, metadata),
            kind=kind,
            text=text,
            media_url=(media.get("url") or None) if kind != "text" else None,
            mimetype=mimetype if kind != "text" else None,
            caption=caption if kind != "text" else None,
            timestamp=utc_from_timestamp(metadata.get("timestamp")),
            raw=payload,
        )
    ]


# --- outbound --------------------------------------------------------------------------------------


def _jid(to: str) -> str:
    return to if "@" in to else f"{digits(to)}@s.whatsapp.net"


def _with_caption(params: dict[str, str], caption: Any) -> dict[str, str]:
    if caption:
        params["caption"] = str(caption)
    return params


def _message_id(data: dict) -> str | None:
    for candidate in (
        data.get("messageId"),
        data.get("id"),
        as_dict(data.get("key")).get("id"),
        as_dict(data.get("data")).get("messageId"),
        as_dict(data.get("data")).get("id"),
    ):
        if candidate not in (None, ""):
            return str(candidate)
    return None


def _call(client: httpx.Client, config: dict, endpoint: str, params: dict[str, str]) -> str | None:
    """One GET to the gateway; returns the message id when ChatFlow reports one."""
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    query = {"token": str(config.get("token") or ""), "instance_id": str(config.get("instance_id") or "")}
    query.update(params)
    response = perform(client, PROVIDER, "GET", f"{base}/{endpoint}", params=query)
    data = response_json(response)
    if response.status_code < 400 and isinstance(data, dict) and data.get("success") is True:
        return _message_id(data)

    reason = None
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "description"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                reason = value.strip()
                break
            if isinstance(value, dict) and value.get("message"):
                reason = str(value["message"])
                break
    reason = reason or short_body(response) or "no response body"
    failed_http = response.status_code >= 400
    raise SendError(
        f"{PROVIDER} {endpoint} failed (HTTP {response.status_code}): {reason}",
        # A 200 with success=false is a refusal (bad number, instance logged out): retrying repeats it.
        retryable=failed_http and retryable_status(response.status_code),
        status_code=response.status_code,
        retry_after=retry_after_header(response),
    )


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Send through ChatFlow. `window_open` is ignored: the gateway is an ordinary WhatsApp account."""
    check_kind(PROVIDER, message, ("text", "link", "album", *MEDIA_KINDS))
    jid = _jid(message.to)
    calls: list[tuple[str, dict[str, str]]] = []
    if message.kind == "text":
        if not message.text:
            raise SendError(f"{PROVIDER}: empty text message", retryable=False)
        calls.append(("send-text", {"msg": message.text}))
    elif message.kind == "link":
        if not (message.text or message.media_url):
            raise SendError(f"{PROVIDER}: a link message needs media_url", retryable=False)
        calls.append(("send-text", {"msg": link_text(message)}))
    elif message.kind == "album":
        # WhatsApp has no album API on the gateway: one image after another, each with its caption.
        for item in album_items(PROVIDER, message):
            calls.append(("send-image", _with_caption({"imageurl": str(item["url"])}, item.get("caption"))))
    else:
        url = require_media_url(PROVIDER, message)
        caption = caption_of(message)
        if message.kind == "image":
            calls.append(("send-image", _with_caption({"imageurl": url}, caption)))
        elif message.kind in ("voice", "audio"):
            calls.append(("send-audio", {"audiourl": url}))  # audio carries no caption in WhatsApp
        elif message.kind == "document":
            calls.append(("send-doc", _with_caption({"docurl": url}, caption)))
        else:
            calls.append(("send-video", _with_caption({"videourl": url}, caption)))

    ids: list[str] = []
    with http_client(client) as http:
        for endpoint, params in calls:
            try:
                message_id = _call(http, config, endpoint, {"jid": jid, **params})
            except SendError as exc:
                exc.sent_ids = list(ids)
                raise
            # ChatFlow does not always report an id; we never invent one (statuses could not match it).
            if message_id:
                ids.append(message_id)
    return SendResult(provider_message_ids=ids)
