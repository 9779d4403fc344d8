"""ChatFlow adapter: inbound normalisation and the exact GET requests we send."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import httpx
import pytest

from integrations import chatflow
from integrations.base import InboundMessage, OutboundMessage, SendError, WebhookError
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

TOKEN = "cf-secret-token"


def cfg(server: StandIn) -> dict:
    return {"api_url": f"{server.url}/api/v1", "token": TOKEN, "instance_id": "inst-1"}


def event(
    message_type: str = "text", message: str = "Здравствуйте", media: dict | None = None, **meta
) -> dict:
    metadata = {
        "remoteJid": "77011112233@s.whatsapp.net",
        "messageId": "3EB0C1",
        "timestamp": 1735000000,
        "instanceId": "inst-1",
        "sender": "Айгуль",
    }
    metadata.update(meta)
    return {"messageType": message_type, "message": message, "metadata": metadata, "mediaData": media}


def parse(payload: object) -> list:
    return chatflow.parse_webhook(json.dumps(payload).encode(), {}, {"token": TOKEN})


# --- inbound ---------------------------------------------------------------------------------------


def test_text_message() -> None:
    [msg] = parse(event())
    assert isinstance(msg, InboundMessage)
    assert msg.provider == "chatflow"
    assert msg.provider_message_id == "3EB0C1"
    assert msg.identity == "77011112233"
    assert msg.phone == "77011112233"
    assert msg.name == "Айгуль"
    assert msg.kind == "text"
    assert msg.text == "Здравствуйте"
    assert msg.media_url is None and msg.mimetype is None and msg.caption is None
    assert msg.timestamp == datetime(2024, 12, 24, 0, 26, 40, tzinfo=UTC)
    assert msg.raw["metadata"]["messageId"] == "3EB0C1"


def test_wrapped_body_is_unwrapped() -> None:
    [msg] = parse({"body": event(message="hi")})
    assert msg.text == "hi"
    assert msg.raw["messageType"] == "text"


@pytest.mark.parametrize(
    ("message_type", "kind", "mimetype"),
    [
        ("image", "image", "image/jpeg"),
        ("audio", "audio", "audio/ogg; codecs=opus"),
        ("video", "video", "video/mp4"),
        ("document", "document", "application/pdf"),
    ],
)
def test_media_messages(message_type: str, kind: str, mimetype: str) -> None:
    media = {"url": f"https://cdn.example/{message_type}", "mimetype": mimetype, "caption": "Мой дом"}
    [msg] = parse(event(message_type, message="", media=media))
    assert msg.kind == kind
    assert msg.media_url == f"https://cdn.example/{message_type}"
    assert msg.mimetype == mimetype
    assert msg.caption == "Мой дом"
    assert msg.text == "Мой дом"  # the caption is the readable text of a media message


def test_media_without_caption() -> None:
    [msg] = parse(
        event("image", message="", media={"url": "https://cdn.example/p.jpg", "mimetype": "image/jpeg"})
    )
    assert msg.kind == "image" and msg.text == "" and msg.caption is None


def test_push_to_talk_audio_is_voice() -> None:
    media = {"url": "https://cdn.example/v.ogg", "mimetype": "audio/ogg", "ptt": True}
    [msg] = parse(event("audio", message="", media=media))
    assert msg.kind == "voice"


def test_unknown_type_and_numeric_sender() -> None:
    [msg] = parse(event("poll", message="", sender="77011112233@s.whatsapp.net"))
    assert msg.kind == "unknown"
    assert msg.name is None  # a jid is not a display name


def test_group_chat_ignored() -> None:
    assert parse(event(remoteJid="120363025@g.us")) == []


@pytest.mark.parametrize("flag", [True, "true"])
def test_own_echo_ignored(flag: object) -> None:
    assert parse(event(fromMe=flag)) == []
    payload = event()
    payload["fromMe"] = flag
    assert parse(payload) == []


@pytest.mark.parametrize(
    ("drop", "field_name"), [("messageId", "metadata.messageId"), ("remoteJid", "metadata.remoteJid")]
)
def test_missing_fields_are_400(drop: str, field_name: str) -> None:
    payload = event()
    del payload["metadata"][drop]
    with pytest.raises(WebhookError) as info:
        parse(payload)
    assert info.value.status_code == 400
    assert field_name in info.value.detail


def test_missing_metadata_is_400() -> None:
    with pytest.raises(WebhookError) as info:
        parse({"messageType": "text", "message": "hi"})
    assert info.value.status_code == 400 and "metadata" in info.value.detail


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bad_json_is_400(body: bytes) -> None:
    with pytest.raises(WebhookError) as info:
        chatflow.parse_webhook(body, {}, {})
    assert info.value.status_code == 400


# --- outbound --------------------------------------------------------------------------------------


def base_query(**extra: str) -> dict[str, str]:
    return {"token": TOKEN, "instance_id": "inst-1", "jid": "77011112233@s.whatsapp.net", **extra}


def test_send_text(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "messageId": "M1"})
    result = chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="Привет & ?"))
    assert result.provider_message_ids == ["M1"]
    [req] = standin.requests
    assert req.method == "GET"
    assert req.path == "/api/v1/send-text"
    assert req.query == base_query(msg="Привет & ?")


def test_send_image_with_caption(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "key": {"id": "K1"}})
    message = OutboundMessage(
        kind="image", to="77011112233", media_url="https://cdn.example/a.jpg", caption="Дом"
    )
    assert chatflow.send(cfg(standin), message).provider_message_ids == ["K1"]
    assert standin.last.path == "/api/v1/send-image"
    assert standin.last.query == base_query(imageurl="https://cdn.example/a.jpg", caption="Дом")


def test_text_is_the_caption_when_caption_missing(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "id": "I1"})
    message = OutboundMessage(
        kind="video", to="77011112233", text="Обзор", media_url="https://cdn.example/v.mp4"
    )
    assert chatflow.send(cfg(standin), message).provider_message_ids == ["I1"]
    assert standin.last.path == "/api/v1/send-video"
    assert standin.last.query == base_query(videourl="https://cdn.example/v.mp4", caption="Обзор")


@pytest.mark.parametrize("kind", ["voice", "audio"])
def test_send_audio(standin: StandIn, kind: str) -> None:  # noqa: F811
    standin.reply(json={"success": True})
    message = OutboundMessage(kind=kind, to="77011112233", media_url="https://cdn.example/v.ogg")
    assert chatflow.send(cfg(standin), message).provider_message_ids == []  # no id reported, none invented
    assert standin.last.path == "/api/v1/send-audio"
    assert standin.last.query == base_query(audiourl="https://cdn.example/v.ogg")


def test_send_document(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "messageId": "D1"})
    message = OutboundMessage(
        kind="document", to="77011112233", media_url="https://cdn.example/price.pdf", caption="Прайс"
    )
    chatflow.send(cfg(standin), message)
    assert standin.last.path == "/api/v1/send-doc"
    assert standin.last.query == base_query(docurl="https://cdn.example/price.pdf", caption="Прайс")


def test_send_video_without_caption(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True})
    chatflow.send(
        cfg(standin), OutboundMessage(kind="video", to="77011112233", media_url="https://cdn.example/v")
    )
    assert standin.last.query == base_query(videourl="https://cdn.example/v")


def test_send_album_one_image_after_another(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "messageId": "A1"}).reply(json={"success": True, "messageId": "A2"})
    items = [{"url": "https://cdn.example/1.jpg", "caption": "Фасад"}, {"url": "https://cdn.example/2.jpg"}]
    result = chatflow.send(cfg(standin), OutboundMessage(kind="album", to="77011112233", items=items))
    assert result.provider_message_ids == ["A1", "A2"]
    assert [r.path for r in standin.requests] == ["/api/v1/send-image", "/api/v1/send-image"]
    assert standin.requests[0].query == base_query(imageurl="https://cdn.example/1.jpg", caption="Фасад")
    assert standin.requests[1].query == base_query(imageurl="https://cdn.example/2.jpg")


def test_album_partial_failure_reports_sent_parts(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "messageId": "A1"}).reply(503, {"message": "busy"})
    items = [{"url": "https://cdn.example/1.jpg"}, {"url": "https://cdn.example/2.jpg"}]
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="album", to="77011112233", items=items))
    assert info.value.retryable is True
    assert info.value.sent_ids == ["A1"]


def test_send_link(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True})
    message = OutboundMessage(kind="link", to="77011112233", text="Наш каталог", media_url="https://ex.kz/c")
    chatflow.send(cfg(standin), message)
    assert standin.last.path == "/api/v1/send-text"
    assert standin.last.query == base_query(msg="Наш каталог\nhttps://ex.kz/c")


def test_success_false_is_a_refusal(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": False, "message": "Instance is not authorized"})
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is False
    assert "Instance is not authorized" in info.value.detail
    assert TOKEN not in info.value.detail


def test_5xx_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(502, {"error": "Bad gateway"})
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True
    assert "Bad gateway" in info.value.detail and "502" in info.value.detail


def test_429_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(429, {"message": "Too many requests"}, headers={"Retry-After": "7"})
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True and info.value.retry_after == 7.0


def test_4xx_is_not_retryable_with_provider_text(standin: StandIn) -> None:  # noqa: F811
    standin.reply(400, {"success": False, "message": "Invalid jid"})
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is False
    assert "Invalid jid" in info.value.detail
    assert info.value.status_code == 400


def test_non_json_error_body(standin: StandIn) -> None:  # noqa: F811
    standin.reply(500, body=b"<html>Internal Server Error</html>")
    with pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True and "Internal Server Error" in info.value.detail


def test_timeout_is_retryable(standin: StandIn) -> None:  # noqa: F811
    standin.reply(delay=1.0, json={"success": True})
    with httpx.Client(timeout=0.2) as client, pytest.raises(SendError) as info:
        chatflow.send(cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"), client=client)
    assert info.value.retryable is True
    assert "timed out" in info.value.detail


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {"api_url": f"http://127.0.0.1:{port}/api/v1", "token": TOKEN, "instance_id": "i"}
    with pytest.raises(SendError) as info:
        chatflow.send(config, OutboundMessage(kind="text", to="77011112233", text="hi"))
    assert info.value.retryable is True
    assert TOKEN not in info.value.detail


def test_template_and_empty_messages_rejected_without_http(standin: StandIn) -> None:  # noqa: F811
    for message in (
        OutboundMessage(kind="template", to="77011112233", template={"name": "hello", "language": "ru"}),
        OutboundMessage(kind="text", to="77011112233", text=""),
        OutboundMessage(kind="image", to="77011112233"),
        OutboundMessage(kind="album", to="77011112233", items=[]),
    ):
        with pytest.raises(SendError) as info:
            chatflow.send(cfg(standin), message)
        assert info.value.retryable is False
    assert standin.requests == []


def test_window_flag_does_not_matter(standin: StandIn) -> None:  # noqa: F811
    standin.reply(json={"success": True, "messageId": "W1"})
    result = chatflow.send(
        cfg(standin), OutboundMessage(kind="text", to="77011112233", text="hi"), window_open=False
    )
    assert result.provider_message_ids == ["W1"]
