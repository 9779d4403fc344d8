"""The channel registry: one Channel per messenger, answering what callers used to decide by provider name
(pure, no database)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations import chatflow, sandbox, telegram, whatsapp_cloud
from integrations.base import WebhookError
from integrations.media import MediaFetchError
from integrations.registry import channel, channels, find

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_every_messenger_has_one_channel_with_its_config_section_and_lead_channel():
    assert [(c.provider, c.config_key, c.lead_channel, c.webhook) for c in channels()] == [
        ("chatflow", "chatflow", "whatsapp", True), ("whatsapp", "whatsapp_cloud", "whatsapp", True),
        ("telegram", "telegram", "telegram", True), ("sandbox", None, "sandbox", False),
        ("instagram", "instagram", "instagram", True), ("wwebjs", "wwebjs", "whatsapp", True)]
    assert find("amocrm") is None and find("nope") is None
    with pytest.raises(KeyError):
        channel("amocrm")


def test_the_channels_methods_are_their_modules_functions():
    assert channel("chatflow").parse_webhook is chatflow.parse_webhook and channel("chatflow").send is chatflow.send
    assert channel("whatsapp").verify_subscription is whatsapp_cloud.verify_subscription
    assert channel("whatsapp").fetch_media is whatsapp_cloud.fetch_media
    assert channel("telegram").fetch_media is telegram.fetch_media and channel("sandbox").send is sandbox.send


@pytest.mark.parametrize(("provider", "section", "get_too"), [
    ("chatflow", {"token": "t", "instance_id": "i"}, ()),
    ("whatsapp", {"app_secret": "s"}, ("verify_token",)),
    ("telegram", {"bot_token": "b", "secret_token": "s"}, ()),
    ("instagram", {"app_secret": "s", "ig_account_id": "178414"}, ("verify_token",)),
    ("wwebjs", {"bridge_url": "http://bridge:3100", "session": "alpha", "secret": "s"}, ()),
])
def test_a_webhook_opens_only_with_every_required_key(provider, section, get_too):
    found = channel(provider)
    assert found.configured(section)
    assert found.configured({**section, **dict.fromkeys(get_too, "v")}, method="GET")
    assert found.configured(section, method="GET") == (not get_too)
    for key in section:
        assert not found.configured({**section, key: ""})
    assert not found.configured(None) and not found.configured("not a section")


def test_the_sandbox_has_no_webhook():
    assert not channel("sandbox").configured({})
    with pytest.raises(WebhookError) as refused:
        channel("sandbox").parse_webhook(b"{}", {}, {})
    assert refused.value.status_code == 404


def test_only_meta_channels_have_a_subscription_handshake():
    query = {"hub.mode": "subscribe", "hub.verify_token": "v", "hub.challenge": "42"}
    assert channel("whatsapp").verify_subscription(query, {"verify_token": "v"}) == "42"
    assert channel("instagram").verify_subscription(query, {"verify_token": "v"}) == "42"
    for provider in ("chatflow", "telegram", "sandbox"):
        with pytest.raises(WebhookError) as refused:
            channel(provider).verify_subscription(query, {"verify_token": "v"})
        assert refused.value.status_code == 405


def test_only_meta_channels_have_a_24_hour_window():
    for provider in ("whatsapp", "instagram"):
        cloud = channel(provider)
        assert cloud.window_open(NOW - timedelta(hours=23, minutes=59), NOW)
        assert not cloud.window_open(NOW - timedelta(hours=24), NOW)
        assert not cloud.window_open(None, NOW)  # a client who never wrote opened no window


def test_only_instagram_lets_a_person_reply_for_7_days():
    assert channel("instagram").human_window_open(NOW - timedelta(days=6, hours=23), NOW)
    assert not channel("instagram").human_window_open(NOW - timedelta(days=7), NOW)
    assert not channel("instagram").human_window_open(None, NOW)
    for provider in ("whatsapp", "chatflow", "telegram", "sandbox"):
        assert not channel(provider).human_window_open(NOW - timedelta(hours=25), NOW)
    for provider in ("chatflow", "telegram", "sandbox"):
        assert channel(provider).window_open(None, NOW) and channel(provider).window_open(NOW - timedelta(days=9), NOW)


def test_media_references_are_read_by_their_own_channel():
    assert channel("whatsapp").media_ref("https://graph.facebook.com/v21.0/1234567890") == "1234567890"
    assert channel("whatsapp").media_ref("https://cdn.example/photo.jpg") is None
    assert channel("telegram").media_ref("tg-file:AgACAgIAAxkBAAIB") == "AgACAgIAAxkBAAIB"
    assert channel("telegram").media_ref("tg-file:") is None and channel("telegram").media_ref("https://x/1") is None
    assert channel("chatflow").media_ref("https://cdn.chatflow.kz/123") is None
    with pytest.raises(MediaFetchError) as refused:
        channel("chatflow").fetch_media({}, "123", max_bytes=10)
    assert not refused.value.retryable
