"""Scale-out (issue 17): the product as several processes of each kind on this machine — two web processes on two
ports, two Celery workers and two beats (the second started "by mistake") — sharing one PostgreSQL and one Redis.

- a board socket held by web 1 receives the live events of a webhook that web 2 served;
- a burst of due follow-ups is sent once each, with both beats ticking and one worker killed mid-burst.

Real OS processes (tests/faults/stack.py), the ChatFlow gateway stood in by a local HTTP server that records what
it accepted; nothing of the product is imported here.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from tests.faults.conftest import FAULT_SETTINGS, FaultTenant, broker_idle, phones
from tests.faults.stack import OWNER_PASSWORD, WAIT, Stack, kill_sender, wait_until, webhook_path
from tests.faults.standins import ChatFlowStandin

pytestmark = pytest.mark.scale

SCALE_SETTINGS = {
    **FAULT_SETTINGS,
    "FOLLOWUP_SWEEP_SECONDS": "1",  # both beats tick every second: sweeps overlap all the time
    "FOLLOWUP_SWEEP_BUDGET_SECONDS": "0.5",
    "FOLLOWUP_CLAIM_TIMEOUT_SECONDS": "10",  # rows claimed by the killed worker come back in seconds
}
BURST = 240
FOLLOWUP_TEXT = "Подскажите, актуально?"


@pytest.fixture(scope="module")
def chatflow() -> Iterator[ChatFlowStandin]:
    server = ChatFlowStandin()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    product = Stack(settings=SCALE_SETTINGS, webs=2, workers=2, beats=2)
    try:
        product.start()
        yield product
    except BaseException:
        print(product.logs())
        raise
    finally:
        product.stop()


def _quiet_hours_elsewhere() -> dict:
    """Quiet hours (UTC) that start six hours from now: the burst is never deferred by them."""
    now = datetime.now(UTC)
    return {"start": (now + timedelta(hours=6)).strftime("%H:%M"), "end": (now + timedelta(hours=8)).strftime("%H:%M")}


@pytest.fixture(scope="module")
def tenant(stack, chatflow) -> FaultTenant:
    config = {"timezone": "UTC", "ai": {"enabled": True, "debounce_seconds": 0, "provider": "offline"},
              "followups": {"enabled": True, "max_per_lead": 3, "spread_minutes": 0,
                            "steps": [{"after_minutes": 600, "text": FOLLOWUP_TEXT}],
                            "quiet_hours": _quiet_hours_elsewhere()},
              "reengagement": {"enabled": False}, "outbound_channel": "chatflow",
              "channels": {"chatflow": {"api_url": chatflow.url, "token": "scale-token",
                                        "instance_id": "fault-instance"}}}
    made = FaultTenant(slug="scale", provisioned=stack.provision("scale", config), stack=stack)
    answer = made.api("POST", "/api/auth/token/", json={"email": "owner@scale.test", "password": OWNER_PASSWORD})
    assert answer.status_code == 200, answer.text
    made.token = answer.json()["token"]
    return made


@pytest.fixture
def logs_on_failure(stack, request) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.logs())


def test_a_board_socket_on_web_1_receives_the_events_of_a_webhook_served_by_web_2(stack, tenant, logs_on_failure):
    phone = phones(1)[0]
    text = f"Здравствуйте, хочу дом 10 на 12, пишу в web 2 ({phone})"
    events: list[dict] = []

    async def watch() -> None:
        uri = f"ws://{tenant.host}:{stack.ports[0]}/ws/?token={tenant.token}"
        async with websockets.connect(uri, host="127.0.0.1", port=stack.ports[0], open_timeout=30) as socket:
            hello = json.loads(await asyncio.wait_for(socket.recv(), 30))
            assert hello["type"] == "hello" and hello["tenant"] == tenant.slug
            body = {"messageType": "text", "message": text,
                    "metadata": {"remoteJid": f"{phone}@s.whatsapp.net", "messageId": f"scale-{phone}",
                                 "timestamp": int(time.time()), "instanceId": "fault-instance",
                                 "sender": "Клиент web 2"}, "mediaData": None}
            served = await asyncio.to_thread(
                httpx.post, f"{stack.urls[1]}{webhook_path(tenant.provisioned, 'chatflow')}", json=body,
                headers={"Host": "localhost"}, timeout=30)
            assert served.status_code == 200, served.text
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                event = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
                events.append(event)
                sent = event.get("message") or {}
                if event["type"] == "message.created" and sent.get("direction") == "out":
                    return  # the client's message, then the AI's answer: both seen through web 1

    asyncio.run(watch())
    inbound = [e for e in events if e["type"] == "message.created" and (e.get("message") or {}).get("text") == text]
    assert inbound, [e["type"] for e in events]
    assert inbound[0]["lead_id"]
    answers = [e for e in events if e["type"] == "message.created" and e["message"].get("direction") == "out"]
    assert answers and answers[0]["lead_id"] == inbound[0]["lead_id"]


def _seed_due_followups(stack: Stack, numbers: list[str]) -> None:
    """Leads in dialog whose first follow-up falls due now: written by the product's own shell, as an operator
    would reproduce a burst (the same rows a quiet night leaves due at 09:00)."""
    code = f"""
from datetime import timedelta
from django.utils import timezone
from django_tenants.utils import schema_context
from followups.models import FollowUp
from leads.models import Lead, Stage, StageKind
with schema_context("scale"):
    stage = Stage.objects.get(kind=StageKind.IN_DIALOG)
    now = timezone.now()
    ago = now - timedelta(hours=1)
    leads = Lead.objects.bulk_create([Lead(name="Клиент " + phone, phone=phone, stage=stage, provider="chatflow",
                                           channel="whatsapp", last_inbound_at=ago - timedelta(minutes=5),
                                           last_outbound_at=ago, last_message_at=ago, waiting_since=ago)
                                      for phone in {numbers!r}])
    FollowUp.objects.bulk_create([FollowUp(lead=lead, kind="followup", step=1, text={FOLLOWUP_TEXT!r},
                                           due_at=now, planned_at=now, gap_minutes=15) for lead in leads])
"""
    stack.manage("shell", "-c", code)


def _followups(tenant: FaultTenant, numbers: list[str]) -> list[tuple]:
    return tenant.stack.query(
        f"SELECT f.id, l.phone, f.status, f.message_id, f.reason FROM {tenant.schema}.followups_followup f "
        f"JOIN {tenant.schema}.leads_lead l ON l.id = f.lead_id WHERE l.phone = ANY(%s)", [numbers])


def _outbound(tenant: FaultTenant, numbers: list[str]) -> list[tuple]:
    return tenant.stack.query(
        f"SELECT m.id, l.phone, m.status, m.text, m.meta->'provider_ids' FROM {tenant.schema}.conversations_message m "
        f"JOIN {tenant.schema}.leads_lead l ON l.id = m.lead_id WHERE m.direction = 'out' AND l.phone = ANY(%s)",
        [numbers])


def test_a_burst_of_followups_is_sent_once_each_with_two_beats_and_a_worker_killed_mid_burst(
        stack, tenant, chatflow, logs_on_failure):
    numbers = phones(BURST)
    jids = {f"{n}@s.whatsapp.net": n for n in numbers}

    def delivered() -> list:
        return [d for d in chatflow.delivered if d.jid in jids]

    _seed_due_followups(stack, numbers)
    # Mid-burst (some delivered, most not yet): the gateway holds its next requests, and the worker that sent one
    # of them dies with it in flight (SIGKILL to the worker and its pool), as a lost machine would.
    wait_until(lambda: len(delivered()) >= BURST // 6, what="the burst to start", every=0.05,
               detail=lambda: f": {Counter((r[2], r[4]) for r in _followups(tenant, numbers))}")
    aborted = chatflow.aborted
    chatflow.hold()
    try:
        wait_until(lambda: chatflow.held, what="a follow-up in flight")
        victim = kill_sender(stack, chatflow.port, chatflow.held_clients[-1])
        wait_until(lambda: chatflow.aborted > aborted, what="the dead sender's request to end undelivered")
    finally:
        chatflow.release()
    so_far = len(delivered())
    assert so_far < BURST, "the burst ended before a worker could be killed in its middle"

    def unsent() -> list:
        return [row for row in _followups(tenant, numbers) if row[2] != "sent"] + \
               [row for row in _outbound(tenant, numbers) if row[2] != "sent"]

    wait_until(lambda: not unsent(), what="every follow-up sent", timeout=3 * WAIT, every=0.5,
               detail=lambda: f": {len(unsent())} left, e.g. {unsent()[:3]}")
    victim.start()
    stack.wait_worker_ready(victim)
    wait_until(lambda: broker_idle(stack), what="the broker to drain", every=0.3)
    time.sleep(3)  # both beats tick a few more times: nothing more may go out

    rows = _followups(tenant, numbers)
    assert Counter(row[1] for row in rows) == Counter(numbers), "one follow-up row per lead"
    assert {row[2] for row in rows} == {"sent"}
    outbound = _outbound(tenant, numbers)
    assert Counter(row[1] for row in outbound) == Counter(numbers), "one outbound message per lead"
    by_id = {d.provider_id: d for d in delivered()}
    for _, phone, _, text, provider_ids in outbound:  # each went to its own client, as written
        assert [(by_id[pid].jid, by_id[pid].text) for pid in provider_ids] == [(f"{phone}@s.whatsapp.net", text)]
    per_client = Counter(jids[d.jid] for d in delivered())
    assert per_client == Counter(numbers), f"duplicates: {[(p, c) for p, c in per_client.items() if c != 1][:5]}"
    recorded = Counter(pid for row in outbound for pid in (row[4] or []))
    assert recorded == Counter(d.provider_id for d in delivered()), "what the gateway accepted is what we recorded"
    print(f"\nscale: followups={BURST} delivered={len(delivered())} killed worker after {so_far} "
          f"beats={len(stack.beats)} workers={len(stack.workers)} duplicates=0 lost=0")
