"""Telegram adapter: secret token, Update kinds, and the exact Bot API calls (plus sandbox)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations import sandbox, telegram
from integrations.base import InboundMessage, OutboundMessage, SendError, WebhookError
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

SECRET = "tg-secret-1"
BOT_TOKEN = "123456:ABC-def"
CONFIG = {"api_url": "https://tg.example", "bot_token": BOT_TOKEN, "secret_token": SECRET}
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def update(**message_fields) -> dict:
    message = {
        "message_id": 42,
        "from": {
            "id": 555,
            "is_bot": False,
            "first_name": "Ivan",
            "last_name": "Petrov",
            "language_code": "ru",
        },
        "chat": {"id": 555, "first_name": "Ivan", "last_name": "Petrov", "type": "private"},
        "date": 1735000000,
    }
    message.update(message_fields)
    return {"update_id": 900001, "message": message}


def parse(payload: object, headers: dict | None = None) -> list:
    return telegram.parse_webhook(
        json.dumps(payload).encode(), HEADERS if headers is None else headers, CONFIG
    )


def one(**message_fields) -> InboundMessage:
    [msg] = parse(update(**message_fields))
    assert isinstance(msg, InboundMessage)
    return msg


# --- inbound ---------------------------------------------------------------------------------------


def test_text() -> None:
    msg = one(text="Здравствуйте")
    assert msg.provider == "telegram"
    assert msg.provider_message_id == "555:42"
    assert msg.identity == "555"
    assert msg.phone is None
    assert msg.name == "Ivan Petrov"
    assert msg.kind == "text" and msg.text == "Здравствуйте"
    assert msg.timestamp == datetime(2024, 12, 24, 0, 26, 40, tzinfo=UTC)
    assert msg.raw["update_id"] == 900001


def test_name_without_last_name() -> None:
    msg = one(text="hi", **{"from": {"id": 555, "is_bot": False, "first_name": "Ivan"}})
    assert msg.name == "Ivan"


def test_photo_takes_largest_size() -> None:
    sizes = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1000},
        {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 90000},
        {"file_id": "medium", "file_unique_id": "m", "width": 320, "height": 213, "file_size": 9000},
    ]
    msg = one(photo=sizes, caption="Мой участок")
    assert msg.kind == "image"
    assert msg.media_url == "tg-file:large"
    assert msg.mimetype == "image/jpeg"
    assert msg.caption == "Мой участок" and msg.text == "Мой участок"


@pytest.mark.parametrize(
    ("field_name", "part", "kind", "mimetype"),
    [
        ("voice", {"file_id": "F", "duration": 3, "mime_type": "audio/ogg"}, "voice", "audio/ogg"),
        ("audio", {"file_id": "F", "duration": 200, "mime_type": "audio/mpeg"}, "audio", "audio/mpeg"),
        (
            "video",
            {"file_id": "F", "width": 1, "height": 1, "duration": 5, "mime_type": "video/mp4"},
            "video",
            "video/mp4",
        ),
        ("video_note", {"file_id": "F", "length": 240, "duration": 5}, "video", "video/mp4"),
        (
            "document",
            {"file_id": "F", "file_name": "plan.pdf", "mime_type": "application/pdf"},
            "document",
            "application/pdf",
        ),
        (
            "sticker",
            {"file_id": "F", "width": 512, "height": 512, "emoji": "👍", "type": "regular"},
            "sticker",
            None,
        ),
    ],
)
def test_media_kinds(field_name: str, part: dict, kind: str, mimetype: str | None) -> None:
    msg = one(**{field_name: part})
    assert msg.kind == kind
    assert msg.media_url == "tg-file:F"
    assert msg.mimetype == mimetype
    if kind == "sticker":
        assert msg.text == "👍"


def test_document_caption() -> None:
    msg = one(document={"file_id": "D", "mime_type": "application/pdf"}, caption="Проект")
    assert msg.kind == "document" and msg.caption == "Проект" and msg.text == "Проект"


def test_animation_is_video_not_document() -> None:
    part = {"file_id": "G", "mime_type": "video/mp4"}
    msg = one(animation=part, document=part)
    assert msg.kind == "video"


def test_contact_gives_phone() -> None:
    msg = one(contact={"phone_number": "+7 (701) 111-22-33", "first_name": "Ivan", "user_id": 555})
    assert msg.phone == "77011112233"
    assert msg.kind == "text"
    assert msg.text == "Ivan: +7 (701) 111-22-33"
    assert msg.identity == "555"


def test_location() -> None:
    msg = one(location={"latitude": 51.1, "longitude": 71.4})
    assert msg.kind == "location" and msg.text == "51.1,71.4"


def test_unknown_message() -> None:
    msg = one(poll={"id": "1", "question": "?"})
    assert msg.kind == "unknown" and msg.text == ""


@pytest.mark.parametrize(
    "payload",
    [
        {"update_id": 1, "edited_message": update(text="fixed")["message"]},
        {"update_id": 1, "callback_query": {"id": "c"}},
        {"update_id": 1, "my_chat_member": {"chat": {"id": 1}}},
        update(text="hi", chat={"id": -100123, "type": "supergroup", "title": "Group"}),
        update(text="hi", **{"from": {"id": 9, "is_bot": True, "first_name": "Bot"}}),
    ],
)
def test_ignored_updates(payload: dict) -> None:
    assert parse(payload) == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}],
)
def test_wrong_or_missing_secret_is_403(headers: dict) -> None:
    with pytest.raises(WebhookError) as info:
        parse(update(text="hi"), headers)
    assert info.value.status_code == 403


def test_secret_header_case_insensitive() -> None:
    assert len(parse(update(text="hi"), {"x-telegram-bot-api-secret-token": SECRET})) == 1


def test_unconfigured_secret_refuses_everything() -> None:
    with pytest.raises(WebhookError) as info:
        telegram.parse_webhook(b"{}", {"X-Telegram-Bot-Api-Secret-Token": ""}, {**CONFIG, "secret_token": ""})
    assert info.value.status_code == 403


def test_bad_json_is_400() -> None:
    with pytest.raises(WebhookError) as info:
        telegram.parse_webhook(b"{oops", HEADERS, CONFIG)
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"message": {"message_id": 1, "chat": {"id": 1}}}, "update_id"),
        ({"update_id": 1, "message": {"message_id": 1, "date": 1}}, "message.chat.id"),
        (
            {"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}, "date": 1}},
            "message.message_id",
        ),
    ],
)
def test_missing_fields_are_400(payload: dict, reason: str) -> None:
    with pytest.raises(WebhookError) as info:
        parse(payload)
    assert info.value.status_code == 400 and reason in info.value.detail


# --- outbound --------------------------------------------------------------------------------------


def cfg(server: StandIn) -> dict:
    return {**CONFIG, "api_url": server.url}


def ok(message_id: int, chat_id: int = 555) -> dict:
    return {
        "ok": True,
        "result": {"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "date": 1735000000},
    }


def assert_call(req, method: str, body: dict) -> None:
    assert req.method == "POST"
    assert req.path == f"/bot{BOT_TOKEN}/{method}"
    assert req.headers["content-type"] == "application/json"
    assert req.json == body


def test_send_text(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok(100))
    result = telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="Здравствуйте!"))
    assert result.provider_message_ids == ["555:100"]
    assert_call(standin.last, "sendMessage", {"chat_id": "555", "text": "Здравствуйте!"})


def test_send_link(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok(101))
    telegram.send(
        cfg(standin), OutboundMessage(kind="link", to="555", text="Каталог", media_url="https://ex.kz")
    )
    assert_call(standin.last, "sendMessage", {"chat_id": "555", "text": "Каталог\nhttps://ex.kz"})


@pytest.mark.parametrize(
    ("kind", "method", "field_name"),
    [
        ("image", "sendPhoto", "photo"),
        ("voice", "sendVoice", "voice"),
        ("audio", "sendAudio", "audio"),
        ("document", "sendDocument", "document"),
        ("video", "sendVideo", "video"),
    ],
)
def test_send_media(standin: StandIn, kind: str, method: str, field_name: str) -> None:  # noqa: F811
    standin.reply(json=ok(102))
    message = OutboundMessage(kind=kind, to="555", media_url="https://cdn/x", caption="Подпись")
    assert telegram.send(cfg(standin), message).provider_message_ids == ["555:102"]
    assert_call(standin.last, method, {"chat_id": "555", field_name: "https://cdn/x", "caption": "Подпись"})


def test_send_media_without_caption(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok(103))
    telegram.send(cfg(standin), OutboundMessage(kind="voice", to="555", media_url="https://cdn/v.ogg"))
    assert_call(standin.last, "sendVoice", {"chat_id": "555", "voice": "https://cdn/v.ogg"})


def test_send_album_as_media_group(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"ok": True, "result": [ok(201)["result"], ok(202)["result"]]})
    items = [{"url": "https://cdn/1.jpg", "caption": "Фасад"}, {"url": "https://cdn/2.jpg"}]
    result = telegram.send(cfg(standin), OutboundMessage(kind="album", to="555", items=items))
    assert result.provider_message_ids == ["555:201", "555:202"]
    assert_call(
        standin.last,
        "sendMediaGroup",
        {
            "chat_id": "555",
            "media": [
                {"type": "photo", "media": "https://cdn/1.jpg", "caption": "Фасад"},
                {"type": "photo", "media": "https://cdn/2.jpg"},
            ],
        },
    )


def test_album_of_eleven_is_split(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"ok": True, "result": [ok(i)["result"] for i in range(10)]}).reply(json=ok(10))
    items = [{"url": f"https://cdn/{i}.jpg"} for i in range(11)]
    result = telegram.send(cfg(standin), OutboundMessage(kind="album", to="555", items=items))
    assert len(result.provider_message_ids) == 11
    assert [r.path.rsplit("/", 1)[1] for r in standin.requests] == ["sendMediaGroup", "sendPhoto"]
    assert len(standin.requests[0].json["media"]) == 10
    assert standin.requests[1].json == {"chat_id": "555", "photo": "https://cdn/10.jpg"}


def test_single_item_album_is_a_photo(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok(300))
    items = [{"url": "https://cdn/1.jpg", "caption": "Один"}]
    telegram.send(cfg(standin), OutboundMessage(kind="album", to="555", items=items))
    assert_call(
        standin.last, "sendPhoto", {"chat_id": "555", "photo": "https://cdn/1.jpg", "caption": "Один"}
    )


def test_blocked_bot_is_not_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(
        403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    )
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"))
    assert info.value.retryable is False
    assert "Forbidden: bot was blocked by the user" in info.value.detail and "403" in info.value.detail
    assert BOT_TOKEN not in info.value.detail


def test_bad_request_is_not_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"))
    assert info.value.retryable is False and "chat not found" in info.value.detail


def test_429_with_retry_after_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        },
    )
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"))
    assert info.value.retryable is True and info.value.retry_after == 5.0


def test_5xx_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(502, body=b"Bad Gateway")
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"))
    assert info.value.retryable is True and "Bad Gateway" in info.value.detail


def test_ok_false_with_200_is_refusal(standin: StandIn) -> None:  # noqa: F811
    standin.reply(200, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"))
    assert info.value.retryable is False and "message text is empty" in info.value.detail


def test_timeout_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(delay=0.6, json=ok(1))
    with httpx.Client(timeout=0.2) as client, pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"), client=client)
    assert info.value.retryable is True and BOT_TOKEN not in info.value.detail


def test_template_not_supported(standin: StandIn) -> None:  # noqa: F811
    with pytest.raises(SendError) as info:
        telegram.send(cfg(standin), OutboundMessage(kind="template", to="555", template={"name": "x"}))
    assert info.value.retryable is False and standin.requests == []


def test_window_flag_ignored(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok(7))
    result = telegram.send(cfg(standin), OutboundMessage(kind="text", to="555", text="hi"), window_open=False)
    assert result.provider_message_ids == ["555:7"]


# --- sandbox ---------------------------------------------------------------------------------------


def test_sandbox_send_does_no_http() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sandbox must not do HTTP")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        first = sandbox.send({}, OutboundMessage(kind="text", to="77011112233", text="hi"), client=client)
        second = sandbox.send({}, OutboundMessage(kind="album", to="77011112233", items=[{"url": "u"}]))
    [one_id] = first.provider_message_ids
    assert one_id.startswith("sandbox-")
    assert second.provider_message_ids != first.provider_message_ids


def test_sandbox_inbound() -> None:
    a = sandbox.inbound("+7 701 111-22-33", "Тест", "Здравствуйте")
    b = sandbox.inbound("77011112233", None, "Ещё")
    assert a.provider == "sandbox" and a.kind == "text" and a.text == "Здравствуйте"
    assert a.identity == a.phone == "77011112233" and a.name == "Тест"
    assert a.provider_message_id.startswith("sandbox-") and a.provider_message_id != b.provider_message_id
    assert a.timestamp.tzinfo is not None and b.name is None


def test_sandbox_inbound_needs_digits() -> None:
    with pytest.raises(ValueError):
        sandbox.inbound("abc", None, "hi")
