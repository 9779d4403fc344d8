"""WhatsApp Business Cloud API (Meta): subscription check, signed webhooks, outbound messages."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from integrations import meta
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
    contact_card_text,
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
    webhook_parser,
)
from integrations.channel import Channel
from integrations.media import FetchedMedia, MediaFetchError, download, media_client, request, size_of, too_large

PROVIDER = "whatsapp"
DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
SIGNATURE_HEADER = meta.SIGNATURE_HEADER
verify_subscription = meta.verify_subscription  # the handshake is Meta's, the same for Instagram

# Meta's error codes: re-engagement (outside the 24-hour window) can never succeed by retrying.
REENGAGEMENT_CODE = 131047
# Throttling / temporary outages that Meta may report with HTTP 400: retrying later helps.
RETRYABLE_CODES = {1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131056, 133004}
WINDOW_CLOSED_DETAIL = (
    "whatsapp: the 24-hour customer service window is closed (the client's last message is older than "
    "24 hours); free-form messages are refused, send an approved template instead"
)
STATUSES = ("sent", "delivered", "read", "failed")


def _check_signature(body: bytes, headers: Mapping[str, str], config: dict) -> None:
    meta.check_signature(body, headers, config, provider=PROVIDER)


def _media(part: dict, where: str, api_url: str) -> tuple[str | None, str | None, str | None]:
    """(media_url, mimetype, caption). Cloud API gives a media id; the URL is the Graph node to resolve it."""
    media_id = part.get("id")
    media_url = f"{api_url}/{provider_id(media_id, f'{where}.id')}" if media_id not in (None, "") else None
    caption = opt_text(part, "caption", f"{where}.caption") or None
    return media_url, part.get("mime_type"), caption


def _contact_name(card: dict) -> str | None:
    name = as_dict(card.get("name"))
    formatted = clean_name(name.get("formatted_name"))
    return formatted or clean_name(" ".join(p for p in (name.get("first_name"), name.get("last_name"))
                                            if isinstance(p, str)))


def _shared_contacts(part_list: list) -> str:
    """`type: contacts`: the cards the client shared, as text (name and numbers) — a message, never the
    sender's identity (their number is `from`)."""
    cards = []
    for card in part_list[:10]:
        card = obj(card, "messages[].contacts[]")
        phones = []
        for phone in opt_list(card, "phones", "messages[].contacts[].phones")[:5]:
            phone = obj(phone, "messages[].contacts[].phones[]")
            number = phone.get("phone") or phone.get("wa_id")
            if isinstance(number, str | int) and not isinstance(number, bool):
                phones.append(clean_text(str(number))[:60])
        cards.append(contact_card_text(_contact_name(card), phones))
    return "\n".join(cards)


def _parse_message(
    msg: dict, names: dict[str, str], api_url: str
) -> InboundMessage | Reaction | None:
    message_id = provider_id(msg.get("id"), "messages[].id")
    sender = e164_phone(msg.get("from"), "messages[].from")
    msg_type = msg.get("type")
    if msg_type is not None and not isinstance(msg_type, str):
        raise WebhookError(400, "messages[].type must be a string")
    msg_type = msg_type or ""
    if msg_type == "system":  # number changes and the like: not written by the client
        return None

    kind, text = "unknown", ""
    media_url = mimetype = caption = None
    where = f"messages[].{msg_type[:40]}"
    if msg_type == "contacts":
        return _inbound(msg, message_id, sender, names, "text", _shared_contacts(opt_list(msg, "contacts", where)))
    part = opt_obj(msg, msg_type, where) if msg_type else {}
    if msg_type == "reaction":
        # The client's emoji on an earlier message; without `emoji` it was taken back.
        return Reaction(provider=PROVIDER, target_message_id=provider_id(part.get("message_id"),
                                                                          f"{where}.message_id"),
                        identity=sender, emoji=opt_text(part, "emoji", f"{where}.emoji"),
                        timestamp=utc_from_timestamp(msg.get("timestamp")))
    if msg_type == "text":
        kind, text = "text", opt_text(part, "body", f"{where}.body")
    elif msg_type in ("image", "video", "document", "sticker", "audio"):
        kind = msg_type
        if msg_type == "audio" and part.get("voice"):
            kind = "voice"  # recorded voice note rather than a shared audio file
        media_url, mimetype, caption = _media(part, where, api_url)
        text = caption or ""
    elif msg_type == "location":
        kind = "location"
        latitude, longitude = coordinates(part, where)
        text = location_text(latitude, longitude, part.get("name"), part.get("address"))
    elif msg_type == "interactive":
        # Button and list replies are the client's answer: treat the visible title as text.
        reply = opt_obj(part, "button_reply", f"{where}.button_reply") or opt_obj(
            part, "list_reply", f"{where}.list_reply")
        kind = "text"
        text = opt_text(reply, "title", f"{where}.title") or opt_text(reply, "id", f"{where}.id")
    elif msg_type == "button":  # quick-reply button of a template
        kind = "text"
        text = opt_text(part, "text", f"{where}.text") or opt_text(part, "payload", f"{where}.payload")
    return _inbound(msg, message_id, sender, names, kind, text, media_url, mimetype, caption)


def _inbound(msg: dict, message_id: str, sender: str, names: dict[str, str], kind: str, text: str,
             media_url: str | None = None, mimetype: str | None = None, caption: str | None = None
             ) -> InboundMessage:
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=message_id,
        identity=sender,
        phone=sender,
        name=names.get(sender) or (next(iter(names.values())) if len(names) == 1 else None),
        kind=kind,
        text=text,
        media_url=media_url,
        mimetype=mimetype,
        caption=caption,
        timestamp=utc_from_timestamp(msg.get("timestamp")),
        raw=msg,
    )


def _status_error(status: dict) -> str | None:
    errors = status.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    error = errors[0]
    parts: list[str] = []
    for piece in (error.get("title"), error.get("message"), as_dict(error.get("error_data")).get("details")):
        if isinstance(piece, str | int) and piece and str(piece) not in parts:
            parts.append(str(piece)[:500])
    text = ": ".join(parts) or "unknown error"
    code = error.get("code")
    return f"{text} (code {code})" if isinstance(code, int | str) and not isinstance(code, bool) else text


def _parse_status(status: dict) -> StatusUpdate | None:
    value = status.get("status")
    if value not in STATUSES:  # "deleted", "warning", …: nothing our message log tracks
        return None
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=provider_id(status.get("id"), "statuses[].id"),
        status=value,
        error=_status_error(status) if value == "failed" else None,
        timestamp=utc_from_timestamp(status.get("timestamp")),
    )


@webhook_parser
def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate | Reaction]:
    """Verify the signature (before touching the JSON), then flatten every message, reaction and status.
    Every container must have its documented type (`entry` a list, `changes[].value` an object, …): a
    body that does not is a 400 naming the field."""
    _check_signature(body, headers, config)
    payload = load_json_object(body)
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookError(400, "missing entry list")
    api_url = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    events: list[InboundMessage | StatusUpdate | Reaction] = []
    for entry in entries:
        for change in opt_list(obj(entry, "entry[]"), "changes", "entry[].changes"):
            change = obj(change, "entry[].changes[]")
            if change.get("field", "messages") != "messages":
                continue  # account/template updates are not conversations
            value = opt_obj(change, "value", "entry[].changes[].value")
            names: dict[str, str] = {}
            for contact in opt_list(value, "contacts", "value.contacts"):
                contact = obj(contact, "value.contacts[]")
                name = clean_name(opt_obj(contact, "profile", "value.contacts[].profile").get("name"))
                wa_id = contact.get("wa_id")
                if name and isinstance(wa_id, str | int) and not isinstance(wa_id, bool):
                    names[digits(wa_id)] = name
            for msg in opt_list(value, "messages", "value.messages"):
                if not isinstance(msg, dict):
                    raise WebhookError(400, "messages[] items must be objects")
                parsed = _parse_message(msg, names, api_url)
                if parsed is not None:
                    events.append(parsed)
            for status in opt_list(value, "statuses", "value.statuses"):
                if not isinstance(status, dict):
                    raise WebhookError(400, "statuses[] items must be objects")
                update = _parse_status(status)
                if update is not None:
                    events.append(update)
    return events


# --- outbound --------------------------------------------------------------------------------------


def _filename(url: str) -> str | None:
    name = os.path.basename(unquote(urlparse(url).path))
    return name or None


def _media_body(kind: str, url: str, caption: str | None) -> dict:
    media: dict[str, Any] = {"link": url}
    if caption and kind in ("image", "video", "document"):  # audio has no caption in the Cloud API
        media["caption"] = caption
    if kind == "document" and _filename(url):
        media["filename"] = _filename(url)  # otherwise WhatsApp shows "Untitled"
    return {"type": kind, kind: media}


def _template(template: dict | None) -> dict:
    if not isinstance(template, dict) or not template.get("name"):
        raise SendError("whatsapp: a template message needs template.name", retryable=False)
    result = dict(template)
    language = result.get("language") or "en_US"
    # Accept "ru" as shorthand for {"code": "ru"}: Meta insists on the object.
    result["language"] = {"code": language} if isinstance(language, str) else language
    return result


def _bodies(message: OutboundMessage) -> list[dict]:
    if message.kind == "text":
        if not message.text:
            raise SendError("whatsapp: empty text message", retryable=False)
        return [{"type": "text", "text": {"preview_url": False, "body": message.text}}]
    if message.kind == "link":
        if not (message.text or message.media_url):
            raise SendError("whatsapp: a link message needs media_url", retryable=False)
        return [{"type": "text", "text": {"preview_url": True, "body": link_text(message)}}]
    if message.kind == "template":
        return [{"type": "template", "template": _template(message.template)}]
    if message.kind == "album":
        return [
            _media_body("image", str(item["url"]), item.get("caption") or None)
            for item in album_items(PROVIDER, message)
        ]
    url = require_media_url(PROVIDER, message)
    kind = "audio" if message.kind == "voice" else message.kind
    return [_media_body(kind, url, caption_of(message))]


def _error(response: httpx.Response) -> SendError:
    data = response_json(response)
    error = as_dict(as_dict(data).get("error"))
    code = error.get("code")
    if error:
        parts = [str(error.get("message") or "unknown error")]
        details = as_dict(error.get("error_data")).get("details")
        if details and str(details) not in parts[0]:
            parts.append(str(details))
        detail = f"whatsapp error {code}: " + " — ".join(parts)
        if error.get("error_subcode"):
            detail += f" (subcode {error['error_subcode']})"
    else:
        detail = f"whatsapp HTTP {response.status_code}: {short_body(response) or 'no response body'}"
    if code == REENGAGEMENT_CODE:
        detail += " — the 24-hour window is closed; send an approved template"
        retryable = False
    else:
        retryable = retryable_status(response.status_code) or code in RETRYABLE_CODES
    return SendError(
        detail,
        retryable=retryable,
        status_code=response.status_code,
        retry_after=retry_after_header(response),
    )


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Send through the Cloud API. With `window_open=False` only templates go out (no request otherwise)."""
    check_kind(PROVIDER, message, ("text", "link", "album", "template", *MEDIA_KINDS))
    if not window_open and message.kind != "template":
        raise SendError(WINDOW_CLOSED_DETAIL, retryable=False)
    bodies = _bodies(message)
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    url = f"{base}/{config.get('phone_number_id') or ''}/messages"
    headers = {"Authorization": f"Bearer {config.get('access_token') or ''}"}
    to = digits(message.to) or message.to

    ids: list[str] = []
    with http_client(client) as http:
        for body in bodies:  # albums: one image after another, in order
            payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
            response = perform(http, PROVIDER, "POST", url, json=payload, headers=headers)
            data = response_json(response)
            if response.status_code >= 400 or not isinstance(data, dict) or "error" in data:
                exc = _error(response)
                exc.sent_ids = list(ids)
                raise exc
            for item in data.get("messages") or []:
                if isinstance(item, dict) and item.get("id"):
                    ids.append(str(item["id"]))
    return SendResult(provider_message_ids=ids)


# --- inbound media ---------------------------------------------------------------------------------------


def media_ref(media_url: str) -> str | None:
    """The media id in a stored `{api_url}/{media_id}` (what parse_webhook writes for a client's media)."""
    media_id = media_url.rstrip("/").rsplit("/", 1)[-1]
    return media_id if media_id.isdigit() else None


def fetch_media(config: dict, media_id: str, *, max_bytes: int, client: httpx.Client | None = None) -> FetchedMedia:
    """A client's media by its id: `GET {api_url}/{media_id}` with the bearer token gives a short-lived `url`
    (with `mime_type`, `file_size`), which is read with the same token. Over `max_bytes`, nothing is read.
    Returns integrations.media.FetchedMedia; raises MediaFetchError."""
    if not str(media_id).isdigit():
        raise MediaFetchError(f"whatsapp: {str(media_id)[:40]!r} is not a media id", retryable=False)
    token = str(config.get("access_token") or "")
    if not token:
        raise MediaFetchError("whatsapp: access_token is not configured", retryable=False)
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    with media_client(client) as http:
        info = as_dict(response_json(request(http, PROVIDER, "the media lookup", f"{base}/{media_id}",
                                             headers=headers)))
        url = info.get("url")
        if not isinstance(url, str) or not url:
            raise MediaFetchError("whatsapp: the media lookup gave no url", retryable=False)
        size = size_of(info.get("file_size"))
        if size is not None and size > max_bytes:
            raise too_large(PROVIDER, size, max_bytes)
        content, content_type = download(http, PROVIDER, url, max_bytes=max_bytes, headers=headers)
    mimetype = info.get("mime_type") if isinstance(info.get("mime_type"), str) else content_type
    return FetchedMedia(content=content, mimetype=mimetype or None, provider_size=size)


class WhatsAppCloud(Channel):
    """Meta's Cloud API: a signed webhook with a GET subscription handshake, the 24-hour customer service window
    (outside it only templates go out), media by id."""

    provider = PROVIDER
    config_key = "whatsapp_cloud"
    lead_channel = "whatsapp"
    required_keys = ("app_secret",)
    subscription_keys = ("verify_token",)
    window = timedelta(hours=24)
    parse_webhook = staticmethod(parse_webhook)
    verify_subscription = staticmethod(verify_subscription)
    send = staticmethod(send)
    media_ref = staticmethod(media_ref)
    fetch_media = staticmethod(fetch_media)
