"""Retell AI adapter: the x-retell-signature scheme (HMAC-SHA256 of body + timestamp with the API key, 5 minutes),
the call webhooks as Retell documents them, and create-phone-call against a stand-in that checks what we send."""

from __future__ import annotations

import json
import time

import pytest

from integrations import retell
from integrations.base import SendError, WebhookError
from tests.integrations.standin import StandIn, standin  # noqa: F401  (fixture)

API_KEY = "key_retell_webhook_badge"
CONFIG = {
    "api_url": "https://api.retell.example",
    "api_key": API_KEY,
    "agent_id": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
    "from_number": "+77270000000",
    "enabled": True,
}


def call(**fields) -> dict:
    """Retell's call object (documented fields), as its webhooks carry it."""
    return {
        "call_type": "phone_call",
        "from_number": "+77270000000",
        "to_number": "+77011112233",
        "direction": "outbound",
        "call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
        "agent_id": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
        "call_status": "ended",
        "metadata": {"lead_id": 42},
        "retell_llm_dynamic_variables": {"name": "Ерлан"},
        "start_timestamp": 1703302407333,
        "end_timestamp": 1703302428855,
        "duration_ms": 21522,
        **fields,
    }


def parse(payload: dict, *, key: str = API_KEY, now_ms: int | None = None) -> list:
    body = json.dumps(payload).encode()
    return retell.parse_webhook(body, {"X-Retell-Signature": retell.sign(body, key, now_ms=now_ms)}, CONFIG)


def test_signature_scheme() -> None:
    body = b'{"event":"call_started","call":{"call_id":"c1"}}'
    stamp = int(time.time() * 1000)
    header = retell.sign(body, API_KEY, now_ms=stamp)
    assert header.startswith(f"v={stamp},d=") and len(header.split(",d=")[1]) == 64
    retell.check_signature(body, {"x-retell-signature": header}, API_KEY, now_ms=stamp + 1000)
    bad = [
        ({}, API_KEY, stamp),
        ({"x-retell-signature": header}, "another-key", stamp),
        ({"x-retell-signature": header}, API_KEY, stamp + 6 * 60 * 1000),
        ({"x-retell-signature": "sha256=abc"}, API_KEY, stamp),
        ({"x-retell-signature": header}, "", stamp),
    ]
    for headers, key, now in bad:
        with pytest.raises(WebhookError) as exc:
            retell.check_signature(body, headers, key, now_ms=now)
        assert exc.value.status_code == 403
    with pytest.raises(WebhookError):  # another body under the same signature
        retell.check_signature(body + b" ", {"x-retell-signature": header}, API_KEY, now_ms=stamp)


def test_call_ended_and_analyzed() -> None:
    [ended] = parse(
        {
            "event": "call_ended",
            "call": call(transcript="Agent: Здравствуйте!\nUser: Да, слушаю.", disconnection_reason="user_hangup"),
        }
    )
    assert (ended.event, ended.lead_id, ended.duration_ms, ended.missed) == ("call_ended", 42, 21522, False)
    assert ended.transcript.startswith("Agent: Здравствуйте!")
    [analyzed] = parse(
        {
            "event": "call_analyzed",
            "call": call(
                call_analysis={
                    "call_summary": "Клиент хочет дом 10×12 в Алматы.",
                    "in_voicemail": False,
                    "user_sentiment": "Positive",
                    "call_successful": True,
                    "custom_analysis_data": {"city": "Алматы", "windows": 6, "Bad Key": 1, "nested": {"x": 1}},
                }
            ),
        }
    )
    assert analyzed.summary == "Клиент хочет дом 10×12 в Алматы."
    assert analyzed.fields == {"city": "Алматы", "windows": 6}


@pytest.mark.parametrize(
    "reason, voicemail, missed",
    [
        ("dial_no_answer", False, True),
        ("dial_busy", False, True),
        ("voicemail_reached", False, True),
        ("agent_hangup", True, True),
        ("user_hangup", False, False),
    ],
)
def test_missed_calls(reason: str, voicemail: bool, missed: bool) -> None:
    [event] = parse(
        {"event": "call_analyzed", "call": call(disconnection_reason=reason, call_analysis={"in_voicemail": voicemail})}
    )
    assert event.missed is missed


def test_other_events_are_no_items_and_malformed_is_400() -> None:
    assert parse({"event": "transcript_updated", "call": call()}) == []
    for payload in (
        {"call": call()},
        {"event": "call_ended", "call": "x"},
        {"event": "call_ended", "call": {}},
        {"event": "call_ended", "call": call(transcript=5)},
    ):
        with pytest.raises(WebhookError) as exc:
            parse(payload)
        assert exc.value.status_code == 400
    assert parse({"event": "call_started", "call": call(metadata={"lead_id": "x"})})[0].lead_id is None
    assert parse({"event": "call_started", "call": call(metadata={"lead_id": "17"})})[0].lead_id == 17


def test_create_phone_call(standin: StandIn) -> None:  # noqa: F811
    standin.reply(201, {"call_id": "call_123", "call_status": "registered"})
    config = {**CONFIG, "api_url": standin.url}
    call_id = retell.create_phone_call(
        config, to_number="77011112233", metadata={"lead_id": 7}, variables={"name": "Ерлан"}
    )
    assert call_id == "call_123"
    request = standin.last
    assert (request.method, request.path, request.headers["authorization"]) == (
        "POST",
        "/v2/create-phone-call",
        f"Bearer {API_KEY}",
    )
    assert request.json == {
        "from_number": "+77270000000",
        "to_number": "+77011112233",
        "metadata": {"lead_id": 7},
        "retell_llm_dynamic_variables": {"name": "Ерлан"},
        "override_agent_id": CONFIG["agent_id"],
    }


def test_create_phone_call_errors(standin: StandIn) -> None:  # noqa: F811
    config = {**CONFIG, "api_url": standin.url}
    standin.reply(402, {"message": "insufficient balance"})
    with pytest.raises(SendError) as refused:
        retell.create_phone_call(config, to_number="77011112233", metadata={}, variables={})
    assert not refused.value.retryable and "insufficient balance" in refused.value.detail
    standin.reply(503, body=b"down")
    with pytest.raises(SendError) as down:
        retell.create_phone_call(config, to_number="77011112233", metadata={}, variables={})
    assert down.value.retryable
    with pytest.raises(SendError) as bad:
        retell.create_phone_call(config, to_number="not a phone", metadata={}, variables={})
    assert not bad.value.retryable and len(standin.requests) == 2
