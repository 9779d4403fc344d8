"""ChatFlow (chatflow.kz) WhatsApp gateway: inbound webhook and outbound GET API.

ChatFlow signs nothing: the secret webhook key in our URL is the only trust, so parsing is strict about
shape but does no authentication.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from integrations.base import (
    MEDIA_KINDS,
    InboundMessage,
    OutboundMessage,
    Reaction,
    SendError,
    SendResult,
    StatusUpdate,
    WebhookError,
    album_items,
    as_dict,
    caption_of,
    check_kind,
    clean_name,
    clean_text,
    coordinates,
    digits,
    e164_phone,
    http_client,
    link_text,
    load_json_object,
    location_text,
    obj,
    opt_list,
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

log = logging.getLogger("buildcrm.integrations")
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
        name = clean_name(candidate)
        if name:
            return name
    # `sender` is sometimes a display name, sometimes a jid/number; only one with letters is a name.
    sender = metadata.get("sender")
    if isinstance(sender, str) and "@" not in sender and any(ch.isalpha() for ch in sender):
        return clean_name(sender)
    return None


# Chat addresses are JIDs, `user[_agent][:device]@server` (Baileys, src/WABinary/jid-utils.ts). A person
# writes from a phone number (s.whatsapp.net, c.us, hosted) or, when WhatsApp hides the number, from a
# privacy id (lid, hosted.lid): an identity to answer, not a phone. Groups, status updates, broadcast lists,
# channels, calls and bots are not leads.
_PHONE_SERVERS = {"s.whatsapp.net", "c.us", "hosted"}
_LID_SERVERS = {"lid", "hosted.lid"}
_NOT_A_PERSON = {"g.us", "broadcast", "newsletter", "call", "bot"}
_LID_USER = re.compile(r"[0-9]{1,40}")


def _sender_identity(remote_jid: str) -> tuple[str, str | None] | None:
    """(identity, phone) of the chat a message came from; None when that chat is not a person."""
    user, _, server = remote_jid.strip().partition("@")
    server = server.lower()
    if server in _NOT_A_PERSON:
        return None
    user = user.split(":", 1)[0].split("_", 1)[0]
    if server in _LID_SERVERS:
        if not _LID_USER.fullmatch(user):
            raise WebhookError(400, "metadata.remoteJid is not a valid WhatsApp privacy id (@lid)")
        return f"{user}@{server}", None  # ChatFlow sends to a jid with '@' as given
    if server and server not in _PHONE_SERVERS:
        raise WebhookError(400, "metadata.remoteJid is not a WhatsApp address of a person")
    if not digits(user):
        raise WebhookError(400, "metadata.remoteJid has no phone number")
    phone = e164_phone(user, "metadata.remoteJid")
    return phone, phone


# Baileys message contents (WAProto: Message.ContactMessage {displayName, vcard}, ContactsArrayMessage
# {displayName, contacts}, ReactionMessage {key, text}): where a gateway passes them through.
_CONTACT_TYPES = {"contact", "contactmessage", "contactsarraymessage", "vcard"}
_REACTION_TYPES = {"reaction", "reactionmessage"}
_MAX_CARDS = 10


def _content(payload: dict, name: str) -> dict:
    """A Baileys content part (`contactMessage`, …) at the top of the event or under `message`."""
    for source in (payload, as_dict(payload.get("message"))):
        part = source.get(name)
        if part is not None:
            return obj(part, name)
    return {}


def _shared_contacts(payload: dict, text: str) -> str:
    """The contact cards a client shared, as text (name and numbers): a message, never their identity."""
    cards: list[str] = []
    single = _content(payload, "contactMessage")
    if single:
        cards.append(vcard_contact(opt_text(single, "vcard", "contactMessage.vcard"),
                                   clean_name(single.get("displayName"))))
    for item in opt_list(_content(payload, "contactsArrayMessage"), "contacts", "contactsArrayMessage.contacts"):
        item = obj(item, "contactsArrayMessage.contacts[]")
        cards.append(vcard_contact(opt_text(item, "vcard", "contacts[].vcard"), clean_name(item.get("displayName"))))
    if not cards and "BEGIN:VCARD" in text[:_MAX_CARDS * 4096]:
        cards = [vcard_contact(card) for card in text.split("END:VCARD", _MAX_CARDS) if "BEGIN:VCARD" in card]
    return "\n".join(cards[:_MAX_CARDS]) or text


def _reaction(payload: dict, identity: str, timestamp: Any) -> Reaction | None:
    """A reaction (Baileys reactionMessage: the key of the message reacted to, the emoji as text)."""
    part = _content(payload, "reactionMessage")
    target = opt_obj(part, "key", "reactionMessage.key").get("id")
    if target in (None, ""):
        log.info("chatflow reaction without the id of its message: recorded, ignored")
        return None
    return Reaction(provider=PROVIDER, target_message_id=provider_id(target, "reactionMessage.key.id"),
                    identity=identity, emoji=opt_text(part, "text", "reactionMessage.text"),
                    timestamp=utc_from_timestamp(timestamp))


@webhook_parser
def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate | Reaction]:
    """One ChatFlow webhook → at most one InboundMessage (or a Reaction); [] for groups and our own echoes."""
    payload = load_json_object(body)
    if isinstance(payload.get("body"), dict):  # some ChatFlow deliveries wrap the event
        payload = payload["body"]
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict):
        raise WebhookError(400, "missing metadata object")
    remote_jid = metadata.get("remoteJid")
    if remote_jid is None or remote_jid == "":
        raise WebhookError(400, "missing metadata.remoteJid")
    if not isinstance(remote_jid, str) or not remote_jid.strip():
        raise WebhookError(400, "metadata.remoteJid must be a string like 77011112233@s.whatsapp.net")
    message_id = provider_id(metadata.get("messageId"), "metadata.messageId")

    # Groups are not leads, and fromMe events are what we (or a manager's phone) sent.
    sender = _sender_identity(remote_jid)
    if sender is None:
        return []
    if any(
        _truthy(flag)
        for flag in (metadata.get("fromMe"), payload.get("fromMe"), as_dict(payload.get("key")).get("fromMe"))
    ):
        return []
    identity, phone = sender

    message_type = payload.get("messageType")
    if message_type is not None and not isinstance(message_type, str):
        raise WebhookError(400, "messageType must be a string")
    message_type = (message_type or "text").strip().lower()
    if message_type in _REACTION_TYPES:
        reaction = _reaction(payload, identity, metadata.get("timestamp"))
        return [reaction] if reaction is not None else []
    kind = _KINDS.get(message_type, "unknown")
    media = opt_obj(payload, "mediaData", "mediaData")
    text = payload.get("message")
    if text is not None and not isinstance(text, str | dict):
        raise WebhookError(400, "message must be a string")
    text = clean_text(text) if isinstance(text, str) else ""
    caption = opt_text(media, "caption", "mediaData.caption") or None
    media_url = media.get("url") or None
    if media_url is not None and not isinstance(media_url, str):
        raise WebhookError(400, "mediaData.url must be a string")
    if message_type in _CONTACT_TYPES:
        kind, text = "text", _shared_contacts(payload, text)
    if kind == "audio" and (_truthy(media.get("ptt")) or _truthy(payload.get("ptt"))):
        kind = "voice"  # a push-to-talk note, not a music file
    if kind == "location":
        location = opt_obj(payload, "location", "location") or media
        if "latitude" in location:
            latitude, longitude = coordinates(location, "location")
            text = text or location_text(latitude, longitude, location.get("name"), location.get("address"))
    if kind not in ("text", "location", "unknown") and caption and not text:
        text = caption

    return [
        InboundMessage(
            provider=PROVIDER,
            provider_message_id=message_id,
            identity=identity,
            phone=phone,
            name=_sender_name(payload, metadata),
            kind=kind,
            text=text,
            media_url=media_url if kind != "text" else None,
            mimetype=media.get("mimetype") if kind != "text" else None,
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


class ChatFlow(Channel):
    """ChatFlow: an ordinary WhatsApp account behind a gateway (no messaging window; media URLs are public)."""

    provider = PROVIDER
    config_key = "chatflow"
    lead_channel = "whatsapp"
    required_keys = ("token", "instance_id")
    parse_webhook = staticmethod(parse_webhook)
    send = staticmethod(send)
