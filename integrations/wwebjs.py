"""WhatsApp on an ordinary phone number through our whatsapp-web.js bridge (bridge/whatsapp-web/): signed webhooks
from the bridge, sends and the session's admin calls through its signed HTTP API.

The tenant's section `channels.wwebjs` {bridge_url, session, secret}: `session` is the tenant's name on the bridge
(its slug), `secret` = hex HMAC-SHA256(BRIDGE_SECRET, session) — the bridge derives it the same way, so it keeps no
secret store. Requests to the bridge carry X-Bridge-Timestamp and X-Bridge-Signature = hex HMAC(secret,
"{ts}.{METHOD} {path}.{body}"); the bridge's webhooks carry X-Bridge-Signature = hex HMAC(secret, body).

Webhook events (JSON): `{"event": "message", "message": {id, from, type, body, timestamp, name, media_url,
mimetype}}` (type is whatsapp-web.js's: chat, image, video, audio, ptt = a voice note, document, sticker, location,
vcard, …), `{"event": "ack", "message": {id, status: sent|delivered|read|failed}}`, `{"event": "state", …}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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
    clean_name,
    digits,
    e164_phone,
    http_client,
    link_text,
    load_json_object,
    normalise_headers,
    opt_obj,
    opt_text,
    perform,
    provider_id,
    require_media_url,
    response_json,
    retry_after_header,
    retryable_status,
    short_body,
    utc_from_timestamp,
    vcard_contact,
    webhook_parser,
)
from integrations.channel import Channel
from integrations.media import FetchedMedia, fetch_signed_url, signed_url_ref

log = logging.getLogger("buildcrm.integrations")

PROVIDER = "wwebjs"
SIGNATURE_HEADER = "x-bridge-signature"
STATES = ("pairing", "connected", "logged_out")
# whatsapp-web.js message types → our kinds; the rest (notifications, calls, polls, …) are not a client's words.
_KINDS = {
    "chat": "text",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "ptt": "voice",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "vcard": "text",
    "multi_vcard": "text",
}
_SKIPPED = {
    "revoked",
    "e2e_notification",
    "notification",
    "notification_template",
    "gp2",
    "call_log",
    "protocol",
    "ciphertext",
    "broadcast_notification",
    "debug",
}
_PHONE_SERVERS = {"c.us", "s.whatsapp.net"}
_LID_USER = re.compile(r"[0-9]{1,40}")
_SESSION = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_HEX = re.compile(r"[0-9a-f]{64}")


def tenant_secret(master: str, session: str) -> str:
    """The tenant's bridge secret as the bridge derives it from its BRIDGE_SECRET."""
    return hmac.new(master.encode(), session.encode(), hashlib.sha256).hexdigest()


def _sign(secret: str, text: bytes) -> str:
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def _check_signature(body: bytes, headers: Mapping[str, str], config: dict) -> None:
    secret = str(config.get("secret") or "")
    given = normalise_headers(headers).get(SIGNATURE_HEADER, "").strip().lower().removeprefix("sha256=")
    if not secret or not _HEX.fullmatch(given) or not hmac.compare_digest(given, _sign(secret, body)):
        raise WebhookError(403, "bad X-Bridge-Signature")


def _sender(jid: str) -> tuple[str, str | None] | None:
    """(identity, phone) of who wrote: the number of a phone JID, a privacy id (@lid) kept whole; None for
    anything that is not a person (groups, broadcasts, channels)."""
    user, _, server = jid.strip().partition("@")
    server = server.lower()
    user = user.split(":", 1)[0]
    if server == "lid":
        if not _LID_USER.fullmatch(user):
            raise WebhookError(400, "message.from is not a valid WhatsApp privacy id (@lid)")
        return f"{user}@lid", None
    if server not in _PHONE_SERVERS:
        return None
    if not digits(user) or digits(user) != user:
        raise WebhookError(400, "message.from has no phone number")
    phone = e164_phone(user, "message.from")
    return phone, phone


def _message(event: dict) -> list[InboundMessage | StatusUpdate]:
    msg = opt_obj(event, "message", "message")
    kind_name = opt_text(msg, "type", "message.type") or "chat"
    if kind_name in _SKIPPED:
        return []
    sender = _sender(opt_text(msg, "from", "message.from"))
    if sender is None:
        return []
    identity, phone = sender
    text = opt_text(msg, "body", "message.body")
    kind = _KINDS.get(kind_name, "unknown")
    if kind_name in ("vcard", "multi_vcard"):
        text = vcard_contact(text[:20000])
    media_url = opt_text(msg, "media_url", "message.media_url").strip() or None
    if media_url and not media_url.startswith(("https://", "http://")):
        raise WebhookError(400, "message.media_url must be an http(s) URL")
    media = kind in MEDIA_KINDS or kind == "sticker"
    caption = text if media and text else None
    return [
        InboundMessage(
            provider=PROVIDER,
            provider_message_id=provider_id(msg.get("id"), "message.id"),
            identity=identity,
            phone=phone,
            name=clean_name(msg.get("name")),
            kind=kind,
            # a media message's body is its caption; a voice note's body is nothing the client said
            text="" if kind == "voice" else text,
            media_url=media_url if media else None,
            mimetype=msg.get("mimetype") if media else None,
            caption=caption if kind != "voice" else None,
            timestamp=utc_from_timestamp(msg.get("timestamp")),
            raw=event,
        )
    ]


def _ack(event: dict) -> list[StatusUpdate]:
    msg = opt_obj(event, "message", "message")
    status = opt_text(msg, "status", "message.status")
    if status not in ("sent", "delivered", "read", "failed"):
        raise WebhookError(400, "message.status must be sent, delivered, read or failed")
    return [
        StatusUpdate(
            provider=PROVIDER,
            provider_message_id=provider_id(msg.get("id"), "message.id"),
            status=status,
            error="whatsapp web: the message was not delivered" if status == "failed" else None,
            timestamp=utc_from_timestamp(time.time()),
        )
    ]


@webhook_parser
def parse_webhook(body: bytes, headers: Mapping[str, str], config: dict) -> list[InboundMessage | StatusUpdate]:
    """Verify the bridge's signature (before touching the JSON), then read its one event."""
    _check_signature(body, headers, config)
    event = load_json_object(body)
    kind = opt_text(event, "event", "event")
    if kind == "message":
        return _message(event)
    if kind == "ack":
        return _ack(event)
    if kind == "state":
        log.info("wwebjs session %s is %s", config.get("session"), str(event.get("state"))[:20])
        return []
    raise WebhookError(400, "event must be message, ack or state")


# --- the bridge's HTTP API -------------------------------------------------------------------------------


def _session(config: dict) -> tuple[str, str, str]:
    base = str(config.get("bridge_url") or "").rstrip("/")
    session = str(config.get("session") or "")
    secret = str(config.get("secret") or "")
    if not base.startswith(("https://", "http://")) or not _SESSION.fullmatch(session) or not secret:
        raise SendError("wwebjs: bridge_url, session and secret are not configured", retryable=False)
    return base, session, secret


def bridge_call(
    config: dict, action: str, payload: dict | None = None, *, client: httpx.Client | None = None
) -> httpx.Response:
    """One signed call to the bridge: `state` (GET) or `start`, `send`, `logout` (POST). SendError when the
    bridge is unreachable or not configured."""
    base, session, secret = _session(config)
    method = "GET" if action == "state" else "POST"
    url = f"{base}/sessions/{session}/{action}"
    body = b"" if method == "GET" else json.dumps(payload or {}, ensure_ascii=False).encode()
    ts = str(int(time.time()))
    path = urlsplit(url).path
    signature = _sign(secret, f"{ts}.{method} {path}.".encode() + body)
    headers = {"X-Bridge-Timestamp": ts, "X-Bridge-Signature": signature}
    if method == "POST":
        headers["Content-Type"] = "application/json"
    with http_client(client) as http:
        return perform(http, PROVIDER, method, url, content=body or None, headers=headers)


def session_state(config: dict, *, client: httpx.Client | None = None) -> dict:
    """{"state": pairing|connected|logged_out|unreachable, "qr": data-URL PNG or None, "detail"?}."""
    try:
        response = bridge_call(config, "state", client=client)
    except SendError as exc:
        return {"state": "unreachable", "qr": None, "detail": exc.detail}
    data = as_dict(response_json(response))
    if response.status_code >= 400 or data.get("state") not in STATES:
        return {"state": "unreachable", "qr": None, "detail": f"bridge HTTP {response.status_code}"}
    qr = data.get("qr")
    png = isinstance(qr, str) and qr.startswith("data:image/png;base64,")
    return {"state": data["state"], "qr": qr if png else None}


def _one(http: httpx.Client, config: dict, payload: dict) -> str | None:
    response = bridge_call(config, "send", payload, client=http)
    data = as_dict(response_json(response))
    if response.status_code < 400:
        return str(data["id"]) if data.get("id") else None
    detail = f"wwebjs HTTP {response.status_code}: {str(data.get('detail') or short_body(response))[:300]}"
    # 409: the phone's session is not connected (pairing, phone offline): a later retry can find it back.
    retryable = response.status_code == 409 or retryable_status(response.status_code)
    raise SendError(
        detail,
        retryable=retryable,
        status_code=response.status_code,
        retry_after=retry_after_header(response) or (60.0 if response.status_code == 409 else None),
    )


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Send through the bridge. `window_open` is ignored: an ordinary WhatsApp account has no window. Voice notes
    go by media_url (the bridge fetches the file and sends it as a voice note)."""
    check_kind(PROVIDER, message, ("text", "link", "album", *MEDIA_KINDS))
    payloads: list[dict[str, Any]] = []
    if message.kind == "text":
        if not message.text:
            raise SendError(f"{PROVIDER}: empty text message", retryable=False)
        payloads.append({"kind": "text", "text": message.text})
    elif message.kind == "link":
        payloads.append({"kind": "text", "text": link_text(message)})
    elif message.kind == "album":
        for item in album_items(PROVIDER, message):
            payloads.append({"kind": "image", "media_url": str(item["url"]), "text": str(item.get("caption") or "")})
    else:
        url = require_media_url(PROVIDER, message)
        payloads.append({"kind": message.kind, "media_url": url, "text": caption_of(message) or ""})
    ids: list[str] = []
    with http_client(client) as http:
        for payload in payloads:
            try:
                sent = _one(http, config, {"to": message.to, **payload})
            except SendError as exc:
                exc.sent_ids = list(ids)
                raise
            if sent:
                ids.append(sent)
    return SendResult(provider_message_ids=ids)


# --- inbound media ---------------------------------------------------------------------------------------


# Media arrives as a signed link read as is (integrations.media).
media_ref = signed_url_ref


def fetch_media(config: dict, ref: str, *, max_bytes: int, client: httpx.Client | None = None) -> FetchedMedia:
    return fetch_signed_url(PROVIDER, ref, max_bytes=max_bytes, client=client)


class WWebJS(Channel):
    """WhatsApp Web through our bridge: an ordinary WhatsApp account (no messaging window), signed both ways."""

    provider = PROVIDER
    config_key = "wwebjs"
    lead_channel = "whatsapp"
    required_keys = ("bridge_url", "session", "secret")
    parse_webhook = staticmethod(parse_webhook)
    send = staticmethod(send)
    media_ref = staticmethod(media_ref)
    fetch_media = staticmethod(fetch_media)
