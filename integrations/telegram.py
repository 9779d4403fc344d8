"""Telegram Bot API: secret-token webhooks and outbound messages."""

from __future__ import annotations

from collections.abc import Mapping

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
    normalise_headers,
    perform,
    require_media_url,
    response_json,
    retry_after_header,
    retryable_status,
    secrets_equal,
    short_body,
    utc_from_timestamp,
)

PROVIDER = "telegram"
DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MEDIA_GROUP_MAX = 10  # Telegram accepts 2–10 items per sendMediaGroup

# Outbound kind → (Bot API method, field holding the media).
_MEDIA_METHODS = {
    "image": ("sendPhoto", "photo"),
    "voice": ("sendVoice", "voice"),
    "audio": ("sendAudio", "audio"),
    "document": ("sendDocument", "document"),
    "video": ("sendVideo", "video"),
}


def _file(part: dict) -> str | None:
    file_id = part.get("file_id")
    return f"tg-file:{file_id}" if file_id else None


def _classify(message: dict) -> tuple[str, str, str | None, str | None, str | None]:
    """(kind, text, media_url, mimetype, phone) of one Telegram Message."""
    caption = message.get("caption") if isinstance(message.get("caption"), str) else None
    if isinstance(message.get("text"), str):
        return "text", message["text"], None, None, None
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        # Sizes come smallest first; pick the largest by area rather than trusting the order.
        largest = max(
            (p for p in photos if isinstance(p, dict)),
            key=lambda p: (p.get("width", 0) * p.get("height", 0), p.get("file_size", 0)),
        )
        return "image", caption or "", _file(largest), "image/jpeg", None
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
        part = message.get(field_name)
        if isinstance(part, dict):
            mimetype = part.get("mime_type") or None
            if field_name == "video_note":
                mimetype = mimetype or "video/mp4"
            text = caption or (str(part.get("emoji") or "") if kind == "sticker" else "")
            return kind, text, _file(part), mimetype, None
    if isinstance(message.get("contact"), dict):
        contact = message["contact"]
        number = str(contact.get("phone_number") or "")
        label = " ".join(str(contact.get(k)) for k in ("first_name", "last_name") if contact.get(k))
        text = f"{label}: {number}" if label else number
        return "text", text, None, None, digits(number) or None
    if isinstance(message.get("location"), dict):
        loc = message["location"]
        venue = as_dict(message.get("venue"))
        return (
            "location",
            location_text(
                loc.get("latitude"), loc.get("longitude"), venue.get("title"), venue.get("address")
            ),
            None,
            None,
            None,
        )
    return "unknown", caption or "", None, None, None


def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate]:
    """One Update → at most one InboundMessage.

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
    message = update.get("message")
    if message is None:
        return []
    if not isinstance(message, dict):
        raise WebhookError(400, "message must be an object")
    chat = message.get("chat")
    if not isinstance(chat, dict) or chat.get("id") is None:
        raise WebhookError(400, "missing message.chat.id")
    if message.get("message_id") is None:
        raise WebhookError(400, "missing message.message_id")
    if chat.get("type", "private") != "private":
        return []
    sender = as_dict(message.get("from"))
    if sender.get("is_bot"):
        return []

    chat_id = str(chat["id"])
    kind, text, media_url, mimetype, phone = _classify(message)
    name = " ".join(str(sender.get(k)).strip() for k in ("first_name", "last_name") if sender.get(k)) or None
    caption = (
        message.get("caption") if isinstance(message.get("caption"), str) and message.get("caption") else None
    )
    return [
        InboundMessage(
            provider=PROVIDER,
            provider_message_id=f"{chat_id}:{message['message_id']}",
            identity=chat_id,
            phone=phone,
            name=name,
            kind=kind,
            text=text,
            media_url=media_url,
            mimetype=mimetype,
            caption=caption,
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


def fetch_media(config: dict, file_id: str, *, max_bytes: int, client: httpx.Client | None = None):
    """A client's file by its file_id: `getFile` gives its `file_path` (and `file_size`), then
    `GET {api_url}/file/bot<token>/<file_path>`. Over `max_bytes` (the Bot API serves at most 20 MB), nothing is
    read. Telegram declares no type: the caller verifies the bytes. Returns integrations.media.FetchedMedia;
    raises MediaFetchError (whose detail never holds the token)."""
    from integrations.media import FetchedMedia, MediaFetchError, download, media_client, request, size_of, too_large

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
