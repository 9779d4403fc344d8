"""WhatsApp Cloud API adapter: verification, signatures, inbound kinds, statuses and exact POST bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from integrations import whatsapp_cloud as wa
from integrations.base import InboundMessage, OutboundMessage, SendError, StatusUpdate, WebhookError
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

APP_SECRET = "app-secret-1"
ACCESS_TOKEN = "EAAG-access"
API = "https://graph.example/v21.0"
CONFIG = {
    "api_url": API,
    "phone_number_id": "1099",
    "access_token": ACCESS_TOKEN,
    "app_secret": APP_SECRET,
    "verify_token": "verify-me",
}


def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def envelope(
    messages: list | None = None, statuses: list | None = None, contacts: list | None = None
) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "77270000000", "phone_number_id": "1099"},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}],
    }


def message(msg_type: str, part: dict | None = None, **extra) -> dict:
    msg = {"from": "77011112233", "id": f"wamid.{msg_type}", "timestamp": "1735000000", "type": msg_type}
    if part is not None:
        msg[msg_type] = part
    msg.update(extra)
    return msg


CONTACTS = [{"profile": {"name": "Ерлан"}, "wa_id": "77011112233"}]


def parse(payload: dict) -> list:
    body = json.dumps(payload).encode()
    return wa.parse_webhook(body, sign(body), CONFIG)


def one(msg: dict) -> InboundMessage:
    [parsed] = parse(envelope([msg], contacts=CONTACTS))
    assert isinstance(parsed, InboundMessage)
    return parsed


# --- verification and signatures -------------------------------------------------------------------


def test_verify_subscription_ok() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert wa.verify_subscription(params, CONFIG) == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_verify_subscription_bad(params: dict) -> None:
    with pytest.raises(WebhookError) as info:
        wa.verify_subscription(params, CONFIG)
    assert info.value.status_code == 403


def test_verify_subscription_without_configured_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    with pytest.raises(WebhookError) as info:
        wa.verify_subscription(params, {**CONFIG, "verify_token": ""})
    assert info.value.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "deadbeef"},
        sign(b"other body"),
        sign(b"", secret="wrong"),
    ],
)
def test_bad_or_missing_signature_is_403(headers: dict) -> None:
    body = json.dumps(envelope([message("text", {"body": "hi"})])).encode()
    with pytest.raises(WebhookError) as info:
        wa.parse_webhook(body, headers, CONFIG)
    assert info.value.status_code == 403


def test_signature_checked_before_json() -> None:
    with pytest.raises(WebhookError) as info:
        wa.parse_webhook(b"not json", {}, CONFIG)
    assert info.value.status_code == 403


def test_signature_header_case_insensitive() -> None:
    body = json.dumps(envelope([message("text", {"body": "hi"})])).encode()
    headers = {"x-hub-signature-256": sign(body)["X-Hub-Signature-256"]}
    assert len(wa.parse_webhook(body, headers, CONFIG)) == 1


def test_no_app_secret_is_403() -> None:
    body = b"{}"
    with pytest.raises(WebhookError) as info:
        wa.parse_webhook(body, sign(body, secret=""), {**CONFIG, "app_secret": ""})
    assert info.value.status_code == 403 and "app_secret" in info.value.detail


def test_signed_bad_json_is_400() -> None:
    body = b"{not json"
    with pytest.raises(WebhookError) as info:
        wa.parse_webhook(body, sign(body), CONFIG)
    assert info.value.status_code == 400


def test_missing_entry_is_400() -> None:
    with pytest.raises(WebhookError) as info:
        parse({"object": "whatsapp_business_account"})
    assert info.value.status_code == 400 and "entry" in info.value.detail


@pytest.mark.parametrize(("drop", "field_name"), [("id", "messages[].id"), ("from", "messages[].from")])
def test_missing_message_fields_are_400(drop: str, field_name: str) -> None:
    msg = message("text", {"body": "hi"})
    del msg[drop]
    with pytest.raises(WebhookError) as info:
        parse(envelope([msg]))
    assert info.value.status_code == 400 and field_name in info.value.detail


# --- inbound kinds ---------------------------------------------------------------------------------


def test_text() -> None:
    msg = one(message("text", {"body": "Сколько стоит дом 10x12?"}))
    assert msg.provider == "whatsapp"
    assert msg.provider_message_id == "wamid.text"
    assert msg.identity == "77011112233" and msg.phone == "77011112233"
    assert msg.name == "Ерлан"
    assert msg.kind == "text" and msg.text == "Сколько стоит дом 10x12?"
    assert msg.timestamp == datetime(2024, 12, 24, 0, 26, 40, tzinfo=UTC)
    assert msg.media_url is None and msg.caption is None


@pytest.mark.parametrize(
    ("msg_type", "part", "kind"),
    [
        (
            "image",
            {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "Фото участка"},
            "image",
        ),
        ("video", {"id": "MEDIA1", "mime_type": "video/mp4", "caption": "Фото участка"}, "video"),
        (
            "document",
            {"id": "MEDIA1", "mime_type": "application/pdf", "filename": "p.pdf", "caption": "Фото участка"},
            "document",
        ),
    ],
)
def test_media_with_caption(msg_type: str, part: dict, kind: str) -> None:
    msg = one(message(msg_type, part))
    assert msg.kind == kind
    assert msg.media_url == f"{API}/MEDIA1"
    assert msg.raw[msg_type]["id"] == "MEDIA1"
    assert msg.mimetype == part["mime_type"]
    assert msg.caption == "Фото участка" and msg.text == "Фото участка"


def test_audio_and_voice() -> None:
    audio = one(message("audio", {"id": "A1", "mime_type": "audio/mpeg"}))
    assert audio.kind == "audio" and audio.media_url == f"{API}/A1" and audio.text == ""
    voice = one(message("audio", {"id": "V1", "mime_type": "audio/ogg; codecs=opus", "voice": True}))
    assert voice.kind == "voice" and voice.media_url == f"{API}/V1"


def test_sticker() -> None:
    msg = one(message("sticker", {"id": "S1", "mime_type": "image/webp", "animated": False}))
    assert msg.kind == "sticker" and msg.media_url == f"{API}/S1" and msg.mimetype == "image/webp"


def test_location() -> None:
    msg = one(
        message("location", {"latitude": 43.238, "longitude": 76.889, "name": "Дом", "address": "Алматы"})
    )
    assert msg.kind == "location"
    assert msg.text == "Дом, Алматы (43.238,76.889)"
    assert msg.media_url is None


def test_interactive_replies_are_text() -> None:
    button = one(
        message("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Да"}})
    )
    assert button.kind == "text" and button.text == "Да"
    listed = one(
        message(
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "l2", "title": "Завтра", "description": "d"}},
        )
    )
    assert listed.kind == "text" and listed.text == "Завтра"
    template_button = one(message("button", {"payload": "YES", "text": "Интересно"}))
    assert template_button.kind == "text" and template_button.text == "Интересно"


def test_unsupported_is_unknown_and_system_is_skipped() -> None:
    unknown = one(message("unsupported", errors=[{"code": 131051, "title": "Message type unknown"}]))
    assert unknown.kind == "unknown" and unknown.text == ""
    assert parse(envelope([message("system", {"body": "changed number"})])) == []


def test_several_messages_and_name_fallback() -> None:
    msgs = [message("text", {"body": "1"}), {**message("text", {"body": "2"}), "id": "wamid.2"}]
    parsed = parse(envelope(msgs))  # no contacts block: no name
    assert [m.text for m in parsed] == ["1", "2"]
    assert all(m.name is None for m in parsed)


def test_statuses() -> None:
    statuses = [
        {"id": "wamid.out1", "status": "delivered", "timestamp": "1735000100", "recipient_id": "77011112233"},
        {"id": "wamid.out2", "status": "read", "timestamp": "1735000200", "recipient_id": "77011112233"},
        {
            "id": "wamid.out3",
            "status": "failed",
            "timestamp": "1735000300",
            "recipient_id": "77011112233",
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed"
                    },
                }
            ],
        },
        {"id": "wamid.out4", "status": "sent", "timestamp": "1735000400", "recipient_id": "77011112233"},
        {"id": "wamid.out5", "status": "deleted", "timestamp": "1735000500"},
    ]
    events = parse(envelope(statuses=statuses))
    assert all(isinstance(e, StatusUpdate) for e in events)
    assert [(e.provider_message_id, e.status) for e in events] == [
        ("wamid.out1", "delivered"),
        ("wamid.out2", "read"),
        ("wamid.out3", "failed"),
        ("wamid.out4", "sent"),
    ]
    failed = events[2]
    assert failed.error == (
        "Re-engagement message: Message failed to send because more than 24 hours have passed (code 131047)"
    )
    assert events[0].error is None
    assert events[0].timestamp == datetime(2024, 12, 24, 0, 28, 20, tzinfo=UTC)
    assert events[0].provider == "whatsapp"


def test_other_fields_ignored() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [{"field": "account_update", "value": {"event": "X"}}]}],
    }
    assert parse(payload) == []


# --- outbound --------------------------------------------------------------------------------------


def cfg(server: StandIn) -> dict:
    return {**CONFIG, "api_url": f"{server.url}/v21.0"}


def ok(message_id: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "77011112233", "wa_id": "77011112233"}],
        "messages": [{"id": message_id}],
    }


HEAD = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "77011112233"}


def sent(server: StandIn, message: OutboundMessage, **kwargs) -> list[str]:
    return wa.send(cfg(server), message, **kwargs).provider_message_ids


def assert_post(req, body: dict) -> None:
    assert req.method == "POST"
    assert req.path == "/v21.0/1099/messages"
    assert req.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {**HEAD, **body}


def test_send_text(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.T1"))
    assert sent(standin, OutboundMessage(kind="text", to="+7 701 111 22 33", text="Здравствуйте!")) == [
        "wamid.T1"
    ]
    assert_post(standin.last, {"type": "text", "text": {"preview_url": False, "body": "Здравствуйте!"}})


def test_send_link_with_preview(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.L1"))
    sent(standin, OutboundMessage(kind="link", to="77011112233", text="Проекты", media_url="https://ex.kz/p"))
    assert_post(
        standin.last, {"type": "text", "text": {"preview_url": True, "body": "Проекты\nhttps://ex.kz/p"}}
    )


def test_send_image(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.I1"))
    sent(
        standin, OutboundMessage(kind="image", to="77011112233", media_url="https://cdn/a.jpg", caption="Дом")
    )
    assert_post(standin.last, {"type": "image", "image": {"link": "https://cdn/a.jpg", "caption": "Дом"}})


@pytest.mark.parametrize("kind", ["voice", "audio"])
def test_send_audio(standin: StandIn, kind: str) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.A1"))
    sent(
        standin,
        OutboundMessage(kind=kind, to="77011112233", media_url="https://cdn/v.ogg", caption="ignored"),
    )
    assert_post(standin.last, {"type": "audio", "audio": {"link": "https://cdn/v.ogg"}})


def test_send_document(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.D1"))
    sent(
        standin,
        OutboundMessage(
            kind="document", to="77011112233", text="Прайс", media_url="https://cdn/files/price%202025.pdf"
        ),
    )
    assert_post(
        standin.last,
        {
            "type": "document",
            "document": {
                "link": "https://cdn/files/price%202025.pdf",
                "caption": "Прайс",
                "filename": "price 2025.pdf",
            },
        },
    )


def test_send_video(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.V1"))
    sent(standin, OutboundMessage(kind="video", to="77011112233", media_url="https://cdn/v.mp4"))
    assert_post(standin.last, {"type": "video", "video": {"link": "https://cdn/v.mp4"}})


def test_send_album(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.P1")).reply(json=ok("wamid.P2"))
    items = [{"url": "https://cdn/1.jpg", "caption": "Фасад"}, {"url": "https://cdn/2.jpg"}]
    assert sent(standin, OutboundMessage(kind="album", to="77011112233", items=items)) == [
        "wamid.P1",
        "wamid.P2",
    ]
    assert len(standin.requests) == 2
    assert_post(
        standin.requests[0], {"type": "image", "image": {"link": "https://cdn/1.jpg", "caption": "Фасад"}}
    )
    assert_post(standin.requests[1], {"type": "image", "image": {"link": "https://cdn/2.jpg"}})


def test_send_template_even_when_window_closed(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.TPL"))
    template = {
        "name": "followup_1",
        "language": "ru",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ерлан"}]}],
    }
    message = OutboundMessage(kind="template", to="77011112233", template=template)
    assert sent(standin, message, window_open=False) == ["wamid.TPL"]
    assert_post(
        standin.last,
        {
            "type": "template",
            "template": {
                "name": "followup_1",
                "language": {"code": "ru"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ерлан"}]}],
            },
        },
    )


@pytest.mark.parametrize("kind", ["text", "image", "album", "link", "voice", "document", "video"])
def test_window_closed_refuses_free_form_without_http(standin: StandIn, kind: str) -> None:  # noqa: F811
    message = OutboundMessage(
        kind=kind,
        to="77011112233",
        text="hi",
        media_url="https://cdn/x",
        items=[{"url": "https://cdn/1.jpg"}],
    )
    with pytest.raises(SendError) as info:
        sent(standin, message, window_open=False)
    assert info.value.retryable is False
    assert "24-hour" in info.value.detail and "template" in info.value.detail
    assert standin.requests == []


def test_template_needs_a_name(standin: StandIn) -> None:  # noqa: F811
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="template", to="77011112233", template={"language": "ru"}))
    assert info.value.retryable is False and standin.requests == []


def meta_error(code: int, message: str, **extra) -> dict:
    return {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Az", **extra}
    }


def test_meta_4xx_is_not_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(
        400,
        meta_error(
            100,
            "(#100) Invalid parameter",
            error_data={"messaging_product": "whatsapp", "details": "bad link"},
        ),
    )
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is False
    assert "(#100) Invalid parameter" in info.value.detail and "100" in info.value.detail
    assert "bad link" in info.value.detail
    assert info.value.status_code == 400


def test_reengagement_error_not_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(400, meta_error(131047, "Re-engagement message"))
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is False
    assert "131047" in info.value.detail and "24-hour" in info.value.detail


@pytest.mark.parametrize("status", [500, 503, 429])
def test_5xx_and_429_retryable(standin: StandIn, status: int) -> None:  # noqa: F811
    standin.reply(status, meta_error(131000, "Something went wrong"))
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True
    assert "Something went wrong" in info.value.detail and "131000" in info.value.detail


def test_rate_limit_code_retryable_even_with_400(standin: StandIn) -> None:  # noqa: F811
    standin.reply(400, meta_error(130429, "Rate limit hit"))
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True


def test_timeout_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(delay=0.6, json=ok("late"))
    with httpx.Client(timeout=0.2) as client, pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="text", to="77011112233", text="hi"), client=client)
    assert info.value.retryable is True


def test_album_failure_keeps_sent_ids(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json=ok("wamid.P1")).reply(400, meta_error(131053, "Media upload error"))
    items = [{"url": "https://cdn/1.jpg"}, {"url": "https://cdn/2.jpg"}, {"url": "https://cdn/3.jpg"}]
    with pytest.raises(SendError) as info:
        sent(standin, OutboundMessage(kind="album", to="77011112233", items=items))
    assert info.value.sent_ids == ["wamid.P1"] and info.value.retryable is False
    assert len(standin.requests) == 2  # stops at the first failure


def test_mock_transport_client_is_used() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok("wamid.M"))

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = wa.send(CONFIG, OutboundMessage(kind="text", to="77011112233", text="x"), client=client)
    assert result.provider_message_ids == ["wamid.M"]
    assert str(seen[0].url) == f"{API}/1099/messages"
