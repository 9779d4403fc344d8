"""Instagram Direct (Meta's Messenger Platform for Instagram): signed webhooks with the GET subscription
handshake, outbound messages through the Graph API `POST /{ig-id}/messages`, the client's profile name.

Webhook events (`object: instagram`, `entry[].messaging[]`): a message (text, attachments: image, video, audio,
file, story_mention, shares), a reply to our story (`message.reply_to.story`), a reaction
(`reaction.action` react/unreact), an unsend (`message.is_deleted`), a read (`read.mid`, messaging_seen) and
the echo of what our account sent (`message.is_echo`, ignored). An event for another Instagram account than the
tenant's (`recipient.id`) is none of this tenant's: skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from integrations import meta
from integrations.base import (
    InboundMessage,
    OutboundMessage,
    Reaction,
    SendError,
    SendResult,
    StatusUpdate,
    Unsend,
    WebhookError,
    album_items,
    as_dict,
    caption_of,
    check_kind,
    clean_name,
    http_client,
    link_text,
    load_json_object,
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
from integrations.media import FetchedMedia, fetch_signed_url, signed_url_ref

log = logging.getLogger("buildcrm.integrations")

PROVIDER = "instagram"
DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
# An Instagram-scoped user id (IGSID) or account id: digits only (Meta's are 15–17 today); bounded.
_IG_ID = re.compile(r"[0-9]{1,32}")
MAX_TEXT = 1000  # characters Instagram takes in one text message
MAX_ATTACHMENTS = 10  # Instagram allows a few images in one message; more is not a client's message
# Meta's error codes: "outside of allowed window" (10 / subcode 2018278) and a user who cannot be messaged
# (551) never succeed by retrying; throttling and temporary outages do.
WINDOW_CODES = {10}
RETRYABLE_CODES = {1, 2, 4, 17, 32, 341, 613}
WINDOW_CLOSED_DETAIL = (
    "instagram: the 24-hour messaging window is closed (the client's last message is older than 24 hours); "
    "only a person may still reply, up to 7 days after it"
)

# Attachment type → our message kind. Shares of posts and reels are links the client sent.
_MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document", "story_mention": "image"}
_LINK_TYPES = ("share", "ig_reel", "reel", "ig_post", "fallback", "template")


def ig_id(value: Any, where: str) -> str:
    """An Instagram id (IGSID, account id): ASCII digits, at most 32 of them, else 400."""
    text = provider_id(value, where)
    if not _IG_ID.fullmatch(text):
        raise WebhookError(400, f"{where} must be an Instagram id (digits, at most 32)")
    return text


def _url(payload: dict, where: str) -> str | None:
    url = opt_text(payload, "url", f"{where}.url").strip()
    if url and not url.startswith(("https://", "http://")):
        raise WebhookError(400, f"{where}.url must be an http(s) URL")
    return url or None


def _attachments(msg: dict, base: dict) -> list[InboundMessage]:
    """One message per attachment (the first keeps the mid, the next `mid:1`, `mid:2`: each stored once)."""
    items: list[InboundMessage] = []
    text = opt_text(msg, "text", "message.text")
    attachments = opt_list(msg, "attachments", "message.attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise WebhookError(400, f"message.attachments: at most {MAX_ATTACHMENTS}")
    for index, attachment in enumerate(attachments):
        where = f"message.attachments[{index}]"
        attachment = obj(attachment, where)
        kind_name = opt_text(attachment, "type", f"{where}.type")
        payload = opt_obj(attachment, "payload", f"{where}.payload")
        url = _url(payload, f"{where}.payload")
        mid = base["provider_message_id"] if index == 0 else f"{base['provider_message_id']}:{index}"
        caption = text if index == 0 and text else None
        if kind_name in _MEDIA_KINDS and url:
            # A story mention's media is the story (image or video): its type is read from the file itself.
            story = kind_name == "story_mention"
            items.append(
                InboundMessage(
                    **{**base, "provider_message_id": mid},
                    kind=_MEDIA_KINDS[kind_name],
                    text=caption or ("Instagram story mention" if story else ""),
                    media_url=url,
                    mimetype=None,
                    caption=caption,
                )
            )
        elif kind_name in _LINK_TYPES:
            title = opt_text(payload, "title", f"{where}.payload.title")
            shared = " ".join(part for part in (caption, title, url) if part)
            items.append(
                InboundMessage(
                    **{**base, "provider_message_id": mid},
                    kind="text",
                    text=shared,
                    media_url=None,
                    mimetype=None,
                    caption=None,
                )
            )
        else:  # a sticker without a URL, an unknown type: kept, shown as unsupported
            items.append(
                InboundMessage(
                    **{**base, "provider_message_id": mid},
                    kind="unknown",
                    text=caption or "",
                    media_url=None,
                    mimetype=None,
                    caption=None,
                )
            )
    return items


def _parse_event(event: dict, own_id: str) -> list[InboundMessage | StatusUpdate | Reaction | Unsend]:
    sender = ig_id(as_dict(event.get("sender")).get("id"), "messaging[].sender.id")
    recipient = ig_id(as_dict(event.get("recipient")).get("id"), "messaging[].recipient.id")
    msg = opt_obj(event, "message", "messaging[].message")
    if msg.get("is_echo") is True or sender == own_id:  # what our account sent (through us or the app)
        return []
    if recipient != own_id:
        log.info("instagram event for account %s, not this tenant's %s: skipped", recipient, own_id)
        return []
    timestamp = utc_from_timestamp(event.get("timestamp"))
    reaction = opt_obj(event, "reaction", "messaging[].reaction")
    if reaction:
        action = opt_text(reaction, "action", "reaction.action")
        emoji = opt_text(reaction, "emoji", "reaction.emoji") if action != "unreact" else ""
        return [
            Reaction(
                provider=PROVIDER,
                target_message_id=provider_id(reaction.get("mid"), "reaction.mid"),
                identity=sender,
                emoji=emoji,
                timestamp=timestamp,
            )
        ]
    read = opt_obj(event, "read", "messaging[].read")
    if read:  # messaging_seen: the client saw our messages up to this one
        if read.get("mid") in (None, ""):
            return []
        return [
            StatusUpdate(
                provider=PROVIDER,
                provider_message_id=provider_id(read.get("mid"), "read.mid"),
                status="read",
                error=None,
                timestamp=timestamp,
            )
        ]
    if not msg:  # postbacks, referrals, …: nothing our dialog holds
        return []
    mid = provider_id(msg.get("mid"), "message.mid")
    if msg.get("is_deleted") is True:
        return [Unsend(provider=PROVIDER, target_message_id=mid, identity=sender, timestamp=timestamp)]
    base = {
        "provider": PROVIDER,
        "provider_message_id": mid,
        "identity": sender,
        "phone": None,
        "name": None,
        "timestamp": timestamp,
        "raw": event,
    }
    if msg.get("is_unsupported") is True:
        return [InboundMessage(**base, kind="unknown", text="", media_url=None, mimetype=None, caption=None)]
    if msg.get("attachments") is not None:
        return _attachments(msg, base)
    text = opt_text(msg, "text", "message.text")
    story = opt_obj(opt_obj(msg, "reply_to", "message.reply_to"), "story", "message.reply_to.story")
    if story:
        # A reply to our story: the client's words, with the story they answered kept as the message's media.
        url = _url(story, "message.reply_to.story")
        return [
            InboundMessage(
                **base, kind="image" if url else "text", text=text, media_url=url, mimetype=None, caption=text or None
            )
        ]
    return [InboundMessage(**base, kind="text", text=text, media_url=None, mimetype=None, caption=None)]


@webhook_parser
def parse_webhook(
    body: bytes, headers: Mapping[str, str], config: dict
) -> list[InboundMessage | StatusUpdate | Reaction | Unsend]:
    """Verify the signature (before touching the JSON), then flatten every entry's messaging events."""
    meta.check_signature(body, headers, config, provider=PROVIDER)
    payload = load_json_object(body)
    if payload.get("object") != "instagram":
        raise WebhookError(400, "object must be 'instagram'")
    own_id = str(config.get("ig_account_id") or "").strip()
    items: list[InboundMessage | StatusUpdate | Reaction | Unsend] = []
    for entry in opt_list(payload, "entry", "entry"):
        entry = obj(entry, "entry[]")
        for event in opt_list(entry, "messaging", "entry[].messaging"):
            items.extend(_parse_event(obj(event, "entry[].messaging[]"), own_id))
    return items


# --- outbound --------------------------------------------------------------------------------------------


def _auth(config: dict) -> dict[str, str]:
    """The page access token (`access_token` is the contract's name of the same key)."""
    return {"Authorization": f"Bearer {config.get('page_access_token') or config.get('access_token') or ''}"}


def _attachment(kind: str, url: str) -> dict:
    return {"attachment": {"type": kind, "payload": {"url": url}}}


def _text_parts(text: str) -> list[str]:
    """Instagram refuses a text over 1000 characters: a longer one goes as several, cut at a line or a space."""
    parts: list[str] = []
    while len(text) > MAX_TEXT:
        cut = max(text.rfind("\n", 0, MAX_TEXT), text.rfind(" ", 0, MAX_TEXT))
        cut = cut if cut > MAX_TEXT // 2 else MAX_TEXT
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts


def _bodies(message: OutboundMessage) -> list[dict]:
    """The `message` objects to send, in order. Instagram attachments carry no caption: it follows as text."""
    if message.kind == "text":
        return [{"text": part} for part in _text_parts(message.text)]
    if message.kind == "link":
        return [{"text": part} for part in _text_parts(link_text(message))]
    if message.kind == "album":
        return [_attachment("image", item["url"]) for item in album_items(PROVIDER, message)]
    url = require_media_url(PROVIDER, message)
    kind = {"image": "image", "video": "video", "audio": "audio", "voice": "audio"}[message.kind]
    caption = caption_of(message)
    return [_attachment(kind, url), *([{"text": caption}] if caption else [])]


def _error(response: httpx.Response) -> SendError:
    error = as_dict(as_dict(response_json(response)).get("error"))
    code = error.get("code")
    if error:
        detail = f"instagram error {code}: {str(error.get('message') or 'unknown error')[:500]}"
        if error.get("error_subcode"):
            detail += f" (subcode {error['error_subcode']})"
    else:
        detail = f"instagram HTTP {response.status_code}: {short_body(response) or 'no response body'}"
    if code in WINDOW_CODES:
        return SendError(detail + " — outside the messaging window", retryable=False, status_code=response.status_code)
    return SendError(
        detail,
        retryable=retryable_status(response.status_code) or code in RETRYABLE_CODES,
        status_code=response.status_code,
        retry_after=retry_after_header(response),
    )


def send(
    config: dict, message: OutboundMessage, *, client: httpx.Client | None = None, window_open: bool = True
) -> SendResult:
    """Send through the Graph API. Within 24 h of the client's last message anything goes out (`RESPONSE`);
    past it only a person's reply the channel allows (`message.human_agent`), tagged `HUMAN_AGENT`; otherwise
    nothing is requested."""
    check_kind(PROVIDER, message, ("text", "link", "album", "image", "video", "audio", "voice"))
    if not window_open and not message.human_agent:
        raise SendError(WINDOW_CLOSED_DETAIL, retryable=False)
    account = str(config.get("ig_account_id") or "").strip()
    if not _IG_ID.fullmatch(account):
        raise SendError("instagram: ig_account_id is not configured", retryable=False)
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    url = f"{base}/{account}/messages"
    headers = _auth(config)
    tag = {"messaging_type": "RESPONSE"} if window_open else {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    ids: list[str] = []
    with http_client(client) as http:
        for body in _bodies(message):
            payload = {"recipient": {"id": message.to}, **tag, "message": body}
            response = perform(http, PROVIDER, "POST", url, json=payload, headers=headers)
            data = response_json(response)
            if response.status_code >= 400 or not isinstance(data, dict) or "error" in data:
                exc = _error(response)
                exc.sent_ids = list(ids)
                raise exc
            if data.get("message_id"):
                ids.append(str(data["message_id"]))
    return SendResult(provider_message_ids=ids)


def profile_name(config: dict, identity: str, *, client: httpx.Client | None = None) -> str | None:
    """`GET /{igsid}?fields=name,username`: the client's name, else their username; None when refused."""
    if not _IG_ID.fullmatch(identity or ""):
        return None
    base = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
    headers = _auth(config)
    try:
        with http_client(client) as http:
            response = perform(
                http, PROVIDER, "GET", f"{base}/{identity}", params={"fields": "name,username"}, headers=headers
            )
    except SendError as exc:
        log.warning("instagram profile of %s not fetched: %s", identity, exc.detail)
        return None
    data = as_dict(response_json(response))
    if response.status_code >= 400 or "error" in data:
        log.warning("instagram profile of %s not fetched: HTTP %s", identity, response.status_code)
        return None
    return clean_name(data.get("name")) or clean_name(data.get("username"))


# --- inbound media ---------------------------------------------------------------------------------------


# Media arrives as a signed link read as is (integrations.media).
media_ref = signed_url_ref


def fetch_media(config: dict, ref: str, *, max_bytes: int, client: httpx.Client | None = None) -> FetchedMedia:
    return fetch_signed_url(PROVIDER, ref, max_bytes=max_bytes, client=client)


class Instagram(Channel):
    """Instagram Direct: a signed webhook with Meta's GET handshake, the 24-hour window (a person may still
    reply for 7 days with the HUMAN_AGENT tag), media by CDN URL, the profile name looked up per new lead."""

    provider = PROVIDER
    config_key = "instagram"
    lead_channel = "instagram"
    required_keys = ("app_secret", "ig_account_id")
    subscription_keys = ("verify_token",)
    window = timedelta(hours=24)
    human_window = timedelta(days=7)
    parse_webhook = staticmethod(parse_webhook)
    verify_subscription = staticmethod(meta.verify_subscription)
    send = staticmethod(send)
    profile_name = staticmethod(profile_name)
    media_ref = staticmethod(media_ref)
    fetch_media = staticmethod(fetch_media)
