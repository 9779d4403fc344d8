"""The WhatsApp Web bridge adapter: the bridge's signed webhook events (messages of every kind, voice notes, acks,
groups and privacy ids), and the exact signed requests we send to a stand-in bridge."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from integrations import wwebjs
from integrations.base import InboundMessage, OutboundMessage, SendError, StatusUpdate, WebhookError
from integrations.registry import channel
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

SECRET = wwebjs.tenant_secret("platform-bridge-secret", "alpha")
CONFIG = {"bridge_url": "http://bridge.test", "session": "alpha", "secret": SECRET}


def signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-Bridge-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def parse(payload: dict, config: dict = CONFIG) -> list:
    body, headers = signed(payload)
    return wwebjs.parse_webhook(body, headers, config)


def message(**fields) -> dict:
    return {
        "event": "message",
        "message": {
            "id": "false_77011112233@c.us_3EB0A1",
            "from": "77011112233@c.us",
            "type": "chat",
            "body": "Нужен дом",
            "timestamp": 1735000000,
            "name": "Айгуль",
            "media_url": None,
            "mimetype": None,
            **fields,
        },
    }


def test_registered_as_a_whatsapp_channel() -> None:
    found = channel("wwebjs")
    assert (found.lead_channel, found.config_key, found.window) == ("whatsapp", "wwebjs", None)
    assert found.configured(CONFIG) and not found.configured({**CONFIG, "secret": ""})


def test_the_secret_is_derived_as_the_bridge_derives_it() -> None:
    # node -e "console.log(require('./bridge').tenantSecret('platform-bridge-secret','alpha'))"
    expected = hmac.new(b"platform-bridge-secret", b"alpha", hashlib.sha256).hexdigest()
    assert SECRET == expected


def test_text_from_a_phone_number() -> None:
    [item] = parse(message())
    assert isinstance(item, InboundMessage)
    assert (item.provider, item.provider_message_id, item.identity, item.phone, item.name, item.kind, item.text) == (
        "wwebjs",
        "false_77011112233@c.us_3EB0A1",
        "77011112233",
        "77011112233",
        "Айгуль",
        "text",
        "Нужен дом",
    )
    assert item.timestamp.year == 2024


def test_a_privacy_id_stays_the_identity_without_a_phone() -> None:
    [item] = parse(message(**{"from": "123456789012345@lid"}))
    assert (item.identity, item.phone) == ("123456789012345@lid", None)


def test_voice_note_image_and_document() -> None:
    url = "http://bridge.test/media/alpha/" + "a" * 32 + "?exp=1&sig=" + "b" * 64
    [voice] = parse(message(type="ptt", body="", media_url=url, mimetype="audio/ogg; codecs=opus"))
    assert (voice.kind, voice.media_url, voice.mimetype, voice.text) == ("voice", url, "audio/ogg; codecs=opus", "")
    [photo] = parse(message(type="image", body="Вот участок", media_url=url, mimetype="image/jpeg"))
    assert (photo.kind, photo.caption, photo.text) == ("image", "Вот участок", "Вот участок")
    [doc] = parse(message(type="document", body="", media_url=url, mimetype="application/pdf"))
    assert doc.kind == "document"
    [odd] = parse(message(type="poll_creation", body=""))
    assert odd.kind == "unknown"


def test_groups_broadcasts_and_notifications_are_no_leads() -> None:
    assert parse(message(**{"from": "120363025@g.us"})) == []
    assert parse(message(**{"from": "status@broadcast"})) == []
    assert parse(message(type="e2e_notification")) == []
    assert parse({"event": "state", "state": "connected"}) == []


def test_acks_are_delivery_statuses() -> None:
    [status] = parse({"event": "ack", "message": {"id": "true_77011112233@c.us_OUT1", "status": "read", "ack": 3}})
    assert isinstance(status, StatusUpdate)
    assert (status.provider_message_id, status.status) == ("true_77011112233@c.us_OUT1", "read")
    [failed] = parse({"event": "ack", "message": {"id": "true_x", "status": "failed"}})
    assert failed.status == "failed" and failed.error


@pytest.mark.parametrize(
    "payload",
    [
        {"event": "message", "message": "x"},
        {"event": "message", "message": {"id": "1", "from": "abc@c.us", "type": "chat"}},
        {"event": "message", "message": {"from": "77011112233@c.us", "type": "chat"}},
        {"event": "message", "message": {"id": "1", "from": "x@lid", "type": "chat"}},
        {
            "event": "message",
            "message": {"id": "1", "from": "77011112233@c.us", "media_url": "file:///etc/passwd", "type": "image"},
        },
        {"event": "ack", "message": {"id": "1", "status": "exploded"}},
        {"event": "nope"},
    ],
)
def test_malformed_is_400(payload) -> None:
    with pytest.raises(WebhookError) as bad:
        parse(payload)
    assert bad.value.status_code == 400


def test_a_bad_or_missing_signature_is_403_before_the_json_is_read() -> None:
    body, _ = signed(message())
    for headers in ({}, {"X-Bridge-Signature": "0" * 64}, signed(message(), "another")[1]):
        with pytest.raises(WebhookError) as bad:
            wwebjs.parse_webhook(body, headers, CONFIG)
        assert bad.value.status_code == 403
    with pytest.raises(WebhookError) as bad:
        wwebjs.parse_webhook(b"{broken", {"X-Bridge-Signature": "0" * 64}, CONFIG)
    assert bad.value.status_code == 403
    with pytest.raises(WebhookError) as bad:  # no secret configured: nothing is trusted
        wwebjs.parse_webhook(body, signed(message(), "")[1], {**CONFIG, "secret": ""})
    assert bad.value.status_code == 403


def expected_signature(request, secret: str = SECRET) -> str:
    text = f"{request.headers['x-bridge-timestamp']}.{request.method} {request.path}.".encode() + request.body
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def test_sends_are_signed_requests_to_the_bridge(standin: StandIn) -> None:  # noqa: F811
    config = {**CONFIG, "bridge_url": standin.url}
    standin.reply(json={"id": "true_77011112233@c.us_OUT1"})
    result = wwebjs.send(config, OutboundMessage(kind="text", to="77011112233", text="Здравствуйте"))
    assert result.provider_message_ids == ["true_77011112233@c.us_OUT1"]
    request = standin.last
    assert (request.method, request.path) == ("POST", "/sessions/alpha/send")
    assert request.json == {"to": "77011112233", "kind": "text", "text": "Здравствуйте"}
    assert request.headers["x-bridge-signature"] == expected_signature(request)
    assert abs(int(request.headers["x-bridge-timestamp"]) - time.time()) < 60
    standin.reply(json={"id": "V1"})
    wwebjs.send(config, OutboundMessage(kind="voice", to="123@lid", media_url="https://crm.test/m/v.ogg"))
    assert standin.last.json == {"to": "123@lid", "kind": "voice", "media_url": "https://crm.test/m/v.ogg", "text": ""}
    standin.reply(json={"id": "A1"}).reply(json={"id": "A2"})
    album = OutboundMessage(
        kind="album", to="77011112233", items=[{"url": "https://x/1.jpg", "caption": "Дом"}, {"url": "https://x/2.jpg"}]
    )
    assert wwebjs.send(config, album).provider_message_ids == ["A1", "A2"]


def test_send_failures_say_whether_a_retry_helps(standin: StandIn) -> None:  # noqa: F811
    config = {**CONFIG, "bridge_url": standin.url}
    standin.reply(409, {"detail": "session is not connected"})
    with pytest.raises(SendError) as offline:
        wwebjs.send(config, OutboundMessage(kind="text", to="77011112233", text="x"))
    assert offline.value.retryable and "not connected" in offline.value.detail
    standin.reply(400, {"detail": "to must be a phone number"})
    with pytest.raises(SendError) as refused:
        wwebjs.send(config, OutboundMessage(kind="text", to="77011112233", text="x"))
    assert not refused.value.retryable
    with pytest.raises(SendError) as unset:
        wwebjs.send({}, OutboundMessage(kind="text", to="77011112233", text="x"))
    assert not unset.value.retryable


def test_session_state_reads_the_qr(standin: StandIn) -> None:  # noqa: F811
    config = {**CONFIG, "bridge_url": standin.url}
    standin.reply(json={"state": "pairing", "qr": "data:image/png;base64,iVBORw0KGgo="})
    assert wwebjs.session_state(config) == {"state": "pairing", "qr": "data:image/png;base64,iVBORw0KGgo="}
    assert (standin.last.method, standin.last.path, standin.last.body) == ("GET", "/sessions/alpha/state", b"")
    assert standin.last.headers["x-bridge-signature"] == expected_signature(standin.last)
    standin.reply(json={"state": "connected", "qr": "javascript:alert(1)"})
    assert wwebjs.session_state(config) == {"state": "connected", "qr": None}
    assert wwebjs.session_state({**config, "bridge_url": "http://127.0.0.1:9"})["state"] == "unreachable"
