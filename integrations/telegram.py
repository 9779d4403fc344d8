"""Telegram Bot API: secret-token webhooks and outbound messages."""

from __future__ import annotations

from collections.abc import Mapping

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
    clean_text,
    contact_card_text,
    coordinates,
    http_client,
    link_text,
    load_json_object,
    location_text,
    normalise_headers,
    obj,
    opt_int,
    opt_list,
    opt_obj,
    opt_text,
    perform,
    phone_or_none,
    provider_id,
    require_media_url,
    response_json,
    retry_after_header,
    retryable_status,
    secrets_equal,
    short_body,
    utc_from_timestamp,
    webhook_parser,
)
from integrations.channel import Channel
from integrations.media import FetchedMedia, MediaFetchError, download, media_client, request, size_of, too_large

PROVIDER = "telegram"
DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MEDIA_GROUP_MAX = 10  # Telegram accepts 2–10 items per sendMediaGroup
FILE_PREFIX = "tg-file:"  # a client's media as the parser stores it: the file_id to fetch, behind this prefix

# Outbound kind → (Bot API method, field holding the media).
_MEDIA_METHODS = {
    "image": ("sendPhoto", "photo"),
    "voice": ("sendVoice", "voice"),
    "audio": ("sendAudio", "audio"),
    "document": ("sendDocument", "document"),
    "video": ("sendVideo", "video"),
}


def _file(part: dict, where: str) -> str | None:
    file_id = part.get("file_id")
    return f"{FILE_PREFIX}{provider_id(file_id, f'{where}.file_id')}" if file_id not in (None, "") else None


def _chat_id(value: object, where: str) -> int:
    """A Telegram chat or user id: an integer of at most 52 significant bits (Bot API), else 400."""
    if value is None:
        raise WebhookError(400, f"missing {where}")
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**53) < value < 2**53:
        raise WebhookError(400, f"{where} must be an integer id")
    return value


def _message_id(value: object, where: str) -> int:
    if value is None:
        raise WebhookError(400, f"missing {where}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise WebhookError(400, f"{where} must be a non-negative integer")
    return value


def _largest_photo(photos: list) -> dict:
    """Sizes come smallest first; pick the largest by area rather than trusting the order."""

    def number(value: object) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    sizes = [obj(p, "message.photo[]") for p in photos]
    return max(sizes, key=lambda p: (number(p.get("width")) * number(p.get("height")), number(p.get("file_size"))))


def _own_contact(message: dict, contact: dict) -> bool:
    """A contact card is the sender's own (Telegram's "share my phone number") only when its user_id is
    the sender's id and the message is not forwarded; anybody else's card gives nobody's identity."""
    user_id = contact.get("user_id")
    sender_id = as_dict(message.get("from")).get("id")
    forwarded = any(message.get(k) is not None for k in ("forward_origin", "forward_from", "forward_date"))
    return (isinstance(user_id, int) and not isinstance(user_id, bool) and user_id == sender_id
            and not forwarded)


_CONTENT_OBJECTS = ("voice", "audio", "video", "video_note", "animation", "document", "sticker", "contact",
                    "location", "venue")


def _check_content(message: dict) -> None:
    """Every content field Telegram documents has its type, whichever one we read (a body with a text and
    `"photo": [1, 2]` is as malformed as one with the photo alone)."""
    for field_name in _CONTENT_OBJECTS:
        opt_obj(message, field_name, f"message.{field_name}")
    for size in opt_list(message, "photo", "message.photo"):
        obj(size, "message.photo[]")
    opt_text(message, "text", "message.text")


def _classify(message: dict) -> tuple[str, str, str | None, str | None, str | None]:
    """(kind, text, media_url, mimetype, phone) of one Telegram Message; phone only from the sender's own
    contact card."""
    _check_content(message)
    caption = opt_text(message, "caption", "message.caption")
    if message.get("text") is not None:
        return "text", opt_text(message, "text", "message.text"), None, None, None
    photos = opt_list(message, "photo", "message.photo")
    if photos:
        return "image", caption, _file(_largest_photo(photos), "message.photo[]"), "image/jpeg", None
    # animation precedes document: Telegram sends GIFs with both fields set.
    for field_name, kind in (
        ("voice", "voice"),
        ("audio", "audio"),
        ("video", "video"),
        ("video_note", "video"),
        ("animation", "video"),
        ("document", "document"),
        ("sticker", "sticker"),
    ):
        if message.get(field_name) is None:
            continue
        part = opt_obj(message, field_name, f"message.{field_name}")
        mimetype = part.get("mime_type")
        if field_name == "video_note":
            mimetype = mimetype or "video/mp4"
        text = caption or (opt_text(part, "emoji", "message.sticker.emoji") if kind == "sticker" else "")
        return kind, text, _file(part, f"message.{field_name}"), mimetype, None
    if message.get("contact") is not None:
        contact = opt_obj(message, "contact", "message.contact")
        number = contact.get("phone_number")
        number = number if isinstance(number, str | int) and not isinstance(number, bool) else ""
        label = " ".join(n for n in (contact.get("first_name"), contact.get("last_name")) if isinstance(n, str))
        text = contact_card_text(label, [clean_text(str(number))[:60]])
        return "text", text, None, None, phone_or_none(number) if _own_contact(message, contact) else None
    if message.get("location") is not None:
        loc = opt_obj(message, "location", "message.location")
        venue = opt_obj(message, "venue", "message.venue")
        latitude, longitude = coordinates(loc, "message.location")
        return (
            "location",
            location_text(latitude, longitude, venue.get("title"), venue.get("address")),
            None,
            None,
            None,
        )
    return "unknown", caption, None, None, None


def _reaction(update: dict) -> list[Reaction]:
    """`message_reaction` (MessageReactionUpdated): a client's emoji on a message of their private chat,
    attached to that message ("<chat_id>:<message_id>", the id shape of both directions)."""
    event = opt_obj(update, "message_reaction", "message_reaction")
    chat = opt_obj(event, "chat", "message_reaction.chat")
    chat_id = _chat_id(chat.get("id"), "message_reaction.chat.id")
    message_id = _message_id(event.get("message_id"), "message_reaction.message_id")
    if chat.get("type", "private") != "private" or as_dict(event.get("user")).get("is_bot"):
        return []
    emoji = "".join(
        opt_text(item, "emoji", "new_reaction[].emoji")
        for item in (obj(r, "message_reaction.new_reaction[]")
                     for r in opt_list(event, "new_reaction", "message_reaction.new_reaction"))
        if item.get("type") == "emoji"
    )
    return [Reaction(provider=PROVIDER, target_message_id=f"{chat_id}:{message_id}", identity=str(chat_id),
                     emoji=emoji, timestamp=utc_from_timestamp(event.get("date")))]


@webhook_parser
def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate | Reaction]:
    """One Update → at most one InboundMessage (or a Reaction for `message_reaction`).

    Only `message` from private chats is a lead writing to us. `edited_message` is ignored on purpose:
    the original was already stored and answered, and an edit keeps the same chat:message id, so
    storing it would either be dropped as a duplicate or rewrite history the AI already acted on.
    Group/channel posts and service updates (callbacks, membership changes) are ignored as well.
    """
    given = normalise_headers(headers).get(SECRET_HEADER)
    if not secrets_equal(given, str(config.get("secret_token") or "")):
        raise WebhookError(403, "X-Telegram-Bot-Api-Secret-Token is missing or does not match")
    update = load_json_object(body)
    if "update_id" not in update:
        raise WebhookError(400, "missing update_id")
    if opt_int(update, "update_id", "update_id") is None:
        raise WebhookError(400, "missing update_id")
    if update.get("message_reaction") is not None:
        return _reaction(update)
    message = update.get("message")
    if message is None:
        return []
    if not isinstance(message, dict):
        raise WebhookError(400, "message must be an object")
    chat = message.get("chat")
    if not isinstance(chat, dict) or chat.get("id") is None:
        raise WebhookError(400, "missing message.chat.id")
    chat_id = _chat_id(chat["id"], "message.chat.id")
    message_id = _message_id(message.get("message_id"), "message.message_id")
    if chat.get("type", "private") != "private":
        return []
    sender = opt_obj(message, "from", "message.from")
    if sender.get("is_bot"):
        return []

    kind, text, media_url, mimetype, phone = _classify(message)
    name = " ".join(n for n in (sender.get("first_name"), sender.get("last_name")) if isinstance(n, str))
    return [
        InboundMessage(
            provider=PROVIDER,
            provider_message_id=f"{chat_id}:{message_id}",
            identity=str(chat_id),
            phone=phone,
            name=name,
            kind=kind,
            text=text,
            media_url=media_url,
            mimetype=mimetype,
            caption=opt_text(message, "caption", "message.caption") or None,
            timestamp=utc_from_timestamp(message.get("date")),
            raw=update,
        )
    ]


# --- outbound --------------------------------------------------------------------------------------


def _with_caption(payload: dict, caption: str | None) -> dict:
    if caption:
        payload["caption"] = caption
    return payload


def _calls(message: OutboundMessage) -> list[tuple[str, dict]]:
    chat_id = message.to
    if message.kind == "text":
        if not message.text:
            raise SendError("telegram: empty text message", retryable=False)
        return [("sendMessage", {"chat_id": chat_id, "text": message.text})]
    if message.kind == "link":
        if not (message.text or message.media_url):
            raise SendError("telegram: a link message needs media_url", retryable=False)
        return [("sendMessage", {"chat_id": chat_id, "text": link_text(message)})]
    if message.kind == "album":
        items = album_items(PROVIDER, message)
        calls: list[tuple[str, dict]] = []
        for start in range(0, len(items), MEDIA_GROUP_MAX):
            chunk = items[start : start + MEDIA_GROUP_MAX]
            if len(chunk) == 1:  # a media group of one is refused by Telegram
                calls.append(
                    (
                        "sendPhoto",
                        _with_caption(
                            {"chat_id": chat_id, "photo": str(chunk[0]["url"])}, chunk[0].get("caption")
                        ),
                    )
                )
                continue
            media = [
                _with_caption({"type": "photo", "media": str(item["url"])}, item.get("caption"))
                for item in chunk
            ]
            calls.append(("sendMediaGroup", {"chat_id": chat_id, "media": media}))
        return calls
    method, field_name = _MEDIA_METHODS[message.kind]
    url = require_media_url(PROVIDER, message)
    return [(method, _with_caption({"chat_id": chat_id, field_name: url}, caption_of(message)))]


def _error(method: str, response: httpx.Response, data: object) -> SendError:
    body = as_dict(data)
    code = body.get("error_code") or response.status_code
    description = body.get("description") or short_body(response) or "no response body"
    retry_after = as_dict(body.get("parameters")).get("retry_after")
    if retry_after is None:
        retry_after = retry_after_header(response)
    status = response.status_code if response.status_code >= 400 else int(code or 0)
    return SendError(
        f"telegram {method} failed ({code}): {description}",
        retryable=retryable_status(status) if status else False,
        status_code=response.status_code,
        retry_after=float(retry_after) if retry_after is not None else None,
    )


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Send through the Bot API. `window_open` is ignored: Telegram has no messaging window.

    Ids are "<chat_id>:<message_id>", the same shape as inbound ids (message ids are per chat).
    """
    check_kind(PROVIDER, message, ("text", "link", "album", *MEDIA_KINDS))
    calls = _calls(message)
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    token = str(config.get("bot_token") or "")
    ids: list[str] = []
    with http_client(client) as http:
        for method, payload in calls:
            response = perform(http, PROVIDER, "POST", f"{base}/bot{token}/{method}", json=payload)
            data = response_json(response)
            if response.status_code >= 400 or not isinstance(data, dict) or data.get("ok") is not True:
                exc = _error(method, response, data)
                exc.sent_ids = list(ids)
                raise exc
            result = data.get("result")
            for sent in result if isinstance(result, list) else [result]:
                sent = as_dict(sent)
                if sent.get("message_id") is not None:
                    chat_id = as_dict(sent.get("chat")).get("id", message.to)
                    ids.append(f"{chat_id}:{sent['message_id']}")
    return SendResult(provider_message_ids=ids)


# --- inbound media ---------------------------------------------------------------------------------------


def media_ref(media_url: str) -> str | None:
    """The file_id in a stored `tg-file:<file_id>` (what parse_webhook writes for a client's media)."""
    return (media_url[len(FILE_PREFIX):] or None) if media_url.startswith(FILE_PREFIX) else None


def fetch_media(config: dict, file_id: str, *, max_bytes: int, client: httpx.Client | None = None) -> FetchedMedia:
    """A client's file by its file_id: `getFile` gives its `file_path` (and `file_size`), then
    `GET {api_url}/file/bot<token>/<file_path>`. Over `max_bytes` (the Bot API serves at most 20 MB), nothing is
    read. Telegram declares no type: the caller verifies the bytes. Returns integrations.media.FetchedMedia;
    raises MediaFetchError (whose detail never holds the token)."""
    token = str(config.get("bot_token") or "")
    if not token:
        raise MediaFetchError("telegram: bot_token is not configured", retryable=False)
    if not file_id or len(file_id) > 512:
        raise MediaFetchError("telegram: no usable file_id", retryable=False)
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    with media_client(client) as http:
        try:
            response = request(http, PROVIDER, "getFile", f"{base}/bot{token}/getFile", params={"file_id": file_id})
        except MediaFetchError as exc:
            if "HTTP 400" in exc.detail:  # "file is too big" or a file_id this bot cannot read
                raise MediaFetchError("telegram: getFile refused the file (too big for the Bot API, or unknown)",
                                      retryable=False) from None
            raise
        data = as_dict(response_json(response))
        result = as_dict(data.get("result"))
        file_path = result.get("file_path")
        if data.get("ok") is not True or not isinstance(file_path, str) or not file_path or ".." in file_path:
            raise MediaFetchError("telegram: getFile gave no file_path", retryable=False)
        size = size_of(result.get("file_size"))
        if size is not None and size > max_bytes:
            raise too_large(PROVIDER, size, max_bytes)
        content, _ = download(http, PROVIDER, f"{base}/file/bot{token}/{file_path.lstrip('/')}", max_bytes=max_bytes)
    return FetchedMedia(content=content, mimetype=None, provider_size=size)


class Telegram(Channel):
    """The Bot API: a secret-token webhook, no messaging window, media by file_id."""

    provider = PROVIDER
    config_key = "telegram"
    lead_channel = "telegram"
    required_keys = ("bot_token", "secret_token")
    parse_webhook = staticmethod(parse_webhook)
    send = staticmethod(send)
    media_ref = staticmethod(media_ref)
    fetch_media = staticmethod(fetch_media)
