"""Two sweepers at once on their own database connections: every due row is claimed and sent exactly once."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django_tenants.utils import tenant_context

from conversations.models import Message
from followups import services
from followups.models import FollowUp
from followups.tasks import sweep_due
from leads.models import Lead, Stage, StageKind
from tests.followups.conftest import NO_QUIET, configure

pytestmark = pytest.mark.live
ROWS = 600  # enough that one sweeper cannot finish before the other starts


def _due_rows(tenant, n: int):
    configure(tenant, {"followups": {"quiet_hours": NO_QUIET}})
    now = timezone.now()
    with tenant_context(tenant):
        stage = Stage.objects.get(kind=StageKind.IN_DIALOG)
        leads = Lead.objects.bulk_create([
            Lead(name=f"L{i}", phone=f"7702{i:07d}", stage=stage, waiting_since=now, last_inbound_at=now,
                 last_outbound_at=now) for i in range(n)])
        FollowUp.objects.bulk_create([FollowUp(lead=lead, step=1, text="Актуально?", due_at=now) for lead in leads])
    connection.set_schema_to_public()
    return now


def _in_threads(count: int, target):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not errors, errors
    return results


def test_two_connections_claiming_the_same_due_rows_get_disjoint_batches(live_tenant):
    now = _due_rows(live_tenant, ROWS)

    def claim_all():
        got = []
        with tenant_context(live_tenant):
            while True:
                rows = services._claim(now=now, limit=50, token=uuid.uuid4())
                if not rows:
                    return got
                got.extend(r["id"] for r in rows)

    first, second = _in_threads(2, claim_all)
    assert first and second  # both really worked
    assert not set(first) & set(second)
    assert len(first) + len(second) == ROWS


def test_two_sweepers_at_once_send_each_follow_up_exactly_once(live_tenant, worker):
    now = _due_rows(live_tenant, ROWS)

    def sweep():
        with tenant_context(live_tenant):
            return services.followups_sweep(now=now, batch=20, chunk=5, time_budget=600).sent

    sent = _in_threads(2, sweep)
    assert sum(sent) == ROWS and all(sent)
    with tenant_context(live_tenant):
        assert FollowUp.objects.filter(status="sent").count() == ROWS
        messages = Message.objects.filter(purpose="followup")
        assert messages.count() == ROWS
        assert not messages.values("lead_id").annotate(n=Count("id")).filter(n__gt=1).exists()
        assert not messages.values("meta__followup_id").annotate(n=Count("id")).filter(n__gt=1).exists()
        # Chunks are written in bulk: each row points at its own lead's message, each lead shows its own touch.
        for row_id, lead_id, message_lead_id, message_row_id in FollowUp.objects.values_list(
                "id", "lead_id", "message__lead_id", "message__meta__followup_id"):
            assert (message_lead_id, message_row_id) == (lead_id, row_id)
        touched = {m.lead_id: m for m in messages}
        for lead in Lead.objects.all():
            message = touched[lead.pk]
            assert lead.last_outbound_at == lead.last_message_at == message.created_at
            assert lead.last_message["text"] == message.text and lead.last_message["author_kind"] == "ai"
        # A third sweep finds nothing left.
        assert services.followups_sweep(now=now).claimed == 0


def test_a_cancel_between_claim_and_send_wins(live_tenant):
    """followups_cancel also takes claimed rows: the sweeper's send then finds its claim gone and rolls back."""
    now = _due_rows(live_tenant, 1)
    with tenant_context(live_tenant):
        token = uuid.uuid4()
        [row] = services._claim(now=now, limit=10, token=token)
        lead = Lead.objects.get(pk=row["lead_id"])
        services.followups_cancel(lead=lead, reason="takeover")
        result = services.SweepResult()
        services._send_batch([row], s=services.settings_current(), token=token, clock=lambda: now, result=result,
                             chunk=10, rng=None)
        assert result.cancelled == 1 and result.sent == 0
        assert not Message.objects.filter(lead=lead, purpose="followup").exists()
        assert FollowUp.objects.get(pk=row["id"]).reason == "takeover"


def test_a_claim_left_by_a_dead_worker_returns_to_the_queue(live_tenant):
    now = _due_rows(live_tenant, 1)
    with tenant_context(live_tenant):
        services._claim(now=now, limit=10, token=uuid.uuid4())  # the worker "dies" here
        assert services.followups_sweep(now=now).sent == 0  # still inside the claim timeout
        later = now + services.CLAIM_TIMEOUT + timezone.timedelta(seconds=1)
        assert services.followups_sweep(now=later).sent == 1
        assert Message.objects.filter(purpose="followup").count() == 1


def test_one_beat_tick_drains_a_backlog_through_continuations(live_tenant, worker, settings):
    """A sweep stops at its time budget and queues its own continuation (behind the deliveries it queued), so
    one beat tick sends a backlog larger than one sweep's budget without waiting for the next ticks."""
    settings.FOLLOWUP_SWEEP_BUDGET_SECONDS = 0  # every sweep stops after its first batch of 200
    _due_rows(live_tenant, 450)
    with tenant_context(live_tenant):
        sweep_due.delay()
        deadline = time.monotonic() + 60  # an upper bound for the worker, not a timing assertion
        while time.monotonic() < deadline:
            sent = Message.objects.filter(purpose="followup", status="sent").count()
            if sent == 450:
                break
            time.sleep(0.2)
        assert sent == 450
        assert FollowUp.objects.filter(status="sent").count() == 450
    connection.set_schema_to_public()


def test_a_sweep_out_of_time_returns_the_rows_it_did_not_reach(live_tenant):
    """The time budget is checked per chunk: what the sweep claimed but did not reach goes back to the queue as it
    was (pending, due as before) for the continuation, instead of waiting out a claim timeout."""
    now = _due_rows(live_tenant, 60)
    with tenant_context(live_tenant):
        result = services.followups_sweep(now=now, batch=50, chunk=10, time_budget=0)
        assert (result.claimed, result.sent, result.more) == (10, 10, True)
        assert FollowUp.objects.filter(status="pending", due_at=now, claim_token__isnull=True).count() == 50
        assert not FollowUp.objects.filter(status="claimed").exists()
    connection.set_schema_to_public()


def test_two_reengagement_runs_at_once_plan_one_touch_per_sleeping_lead(live_tenant):
    """Two beats started by mistake queue the hourly re-engagement job twice: each sleeping lead still gets one."""
    configure(live_tenant, {"reengagement": {"enabled": True, "after_days": 7, "every_days": 14,
                                             "window": {"start": "00:00", "end": "23:59"}},
                            "followups": {"quiet_hours": NO_QUIET}})
    long_ago = timezone.now() - timedelta(days=30)
    with tenant_context(live_tenant):
        stage = Stage.objects.get(kind=StageKind.IN_DIALOG)
        leads = Lead.objects.bulk_create([Lead(name=f"Sleeper {i}", phone=f"7703{i:07d}", stage=stage,
                                               last_message_at=long_ago) for i in range(300)])
    connection.set_schema_to_public()

    def plan() -> int:
        with tenant_context(live_tenant):
            return len(services.reengagement_plan())

    planned = _in_threads(2, plan)
    with tenant_context(live_tenant):
        per_lead = (FollowUp.objects.filter(kind="reengagement", lead__in=leads).values("lead_id")
                    .annotate(n=Count("id")))
        assert sum(planned) == len(leads) == per_lead.count()
        assert {row["n"] for row in per_lead} == {1}
    connection.set_schema_to_public()
