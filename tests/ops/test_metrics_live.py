"""Metrics moved by live flows through a real worker: an AI turn whose model fails (latency histogram, LLM
errors by reason, the reply sent), a follow-up sent late, and open websockets."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.aiagent.conftest import configure
from tests.aiagent.openai_standin import OpenAIStandin
from tests.ops.metrics_helpers import TOKEN, scrape, value

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_ai_turn_llm_failure_and_send_are_counted(chat, ai_tenant):
    before = scrape()
    with OpenAIStandin() as llm:
        configure(
            ai_tenant,
            {
                "ai": {
                    "provider": "openai",
                    "base_url": llm.url,
                    "api_key": "sk",
                    "model": "m",
                    "timeout_seconds": 2,
                    "max_retries": 0,
                }
            },
        )
        llm.script(llm.error(503))
        c = chat()
        reply = c.say("Здравствуйте, сколько стоит дом 10 на 12?")
    assert reply
    after = wait_for(
        lambda: (
            (s := scrape())
            and value(s, "buildcrm_messages_total", channel="sandbox", event="sent")
            > value(before, "buildcrm_messages_total", channel="sandbox", event="sent")
            and s
        )
    )

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("buildcrm_llm_errors_total", reason="http_5xx") == 1
    assert moved("buildcrm_ai_turn_seconds_count", result="ok") >= 1
    assert moved("buildcrm_messages_total", channel="sandbox", event="stored") >= 1
    assert moved("buildcrm_outbound_provider_seconds_count", provider="sandbox") >= 1


def test_followup_sent_late_is_counted(live_tenant):
    from followups.models import FollowUp
    from followups.services import followups_sweep
    from leads.models import Lead, Stage

    before = scrape()
    with tenant_context(live_tenant):
        lead = Lead.objects.create(
            name="Late",
            phone="+77010000002",
            stage=Stage.objects.first(),
            waiting_since=timezone.now() - timedelta(minutes=20),
        )
        FollowUp.objects.create(
            lead=lead, kind="followup", step=1, text="Актуально?", due_at=timezone.now() - timedelta(seconds=90)
        )
        result = followups_sweep(time_budget=5)
    after = scrape()
    assert result.claimed == 1
    assert value(after, "buildcrm_followups_due_total") - value(before, "buildcrm_followups_due_total") == 1
    sent = value(after, "buildcrm_followups_sent_total") - value(before, "buildcrm_followups_sent_total")
    late = value(after, "buildcrm_followup_lateness_seconds_bucket", le="60.0") - value(
        before, "buildcrm_followup_lateness_seconds_bucket", le="60.0"
    )
    assert sent == 1 and late == 0  # 90 s late: above the 60 s bucket
    assert (
        value(after, "buildcrm_followup_lateness_seconds_bucket", le="120.0")
        - value(before, "buildcrm_followup_lateness_seconds_bucket", le="120.0")
    ) == 1


@pytest.fixture
def fresh_channel_layer():
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


@pytest.mark.asyncio
async def test_websocket_connections_gauge(live_tenant, fresh_channel_layer):
    from tests.conversations.test_realtime import socket

    def gauge() -> float:
        return value(scrape(), "buildcrm_websocket_connections")

    start = await sync_to_async(gauge)()
    first = await socket(live_tenant, "owner")
    second = await socket(live_tenant, "manager")
    assert await sync_to_async(gauge)() == start + 2
    await first.disconnect()
    assert await sync_to_async(gauge)() == start + 1
    await second.disconnect()
    assert await sync_to_async(gauge)() == start
