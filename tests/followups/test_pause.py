"""A call arranged or a meeting booked pauses the lead's follow-ups until after that time (no "актуально?" before
the manager's call), and a schedule started later keeps the pause."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.events import emit
from followups.models import FollowUp
from followups.scheduling import PAUSE_AFTER
from tests.followups.conftest import ai_says, client_writes


def pending_due(lead) -> list:
    return list(
        FollowUp.objects.filter(lead=lead, status="pending").order_by("due_at").values_list("due_at", flat=True)
    )


def test_a_call_arranged_moves_the_pending_touches_after_the_call(alpha):
    lead = client_writes("Позвоните мне завтра в 11")
    ai_says(lead)
    before = pending_due(lead)
    assert len(before) == 2 and before[0] < timezone.now() + timedelta(hours=1)
    call_at = timezone.now() + timedelta(hours=20)
    emit("lead.call_requested", lead_id=lead.pk, preferred_time="завтра в 11", due_at=call_at.isoformat())
    after = pending_due(lead)
    assert len(after) == 2 and all(due >= call_at + PAUSE_AFTER for due in after)
    assert after[1] - after[0] >= before[1] - before[0] - timedelta(seconds=1)  # order and spacing kept


def test_a_schedule_started_after_the_call_was_arranged_waits_too(alpha):
    lead = client_writes("Наберите послезавтра")
    call_at = timezone.now() + timedelta(days=2)
    emit("lead.call_requested", lead_id=lead.pk, preferred_time="послезавтра", due_at=call_at.isoformat())
    ai_says(lead, "Хорошо, менеджер позвонит послезавтра.")
    due = pending_due(lead)
    assert due and all(d >= call_at + PAUSE_AFTER for d in due)


def test_the_pause_ends_when_the_call_is_done(alpha):
    from tasks.models import Task

    lead = client_writes("Позвоните сегодня вечером")
    emit(
        "lead.call_requested",
        lead_id=lead.pk,
        preferred_time="вечером",
        due_at=(timezone.now() + timedelta(hours=5)).isoformat(),
    )
    Task.objects.filter(lead=lead).update(done_at=timezone.now())
    ai_says(lead, "Как прошёл разговор с менеджером?")
    assert pending_due(lead)[0] < timezone.now() + timedelta(hours=1)


def test_a_booked_meeting_pauses_the_touches(alpha):
    lead = client_writes("Давайте встретимся")
    ai_says(lead)
    start = timezone.now() + timedelta(days=1)
    emit("meeting.booked", lead_id=lead.pk, event_id="ev-pause", start=start.isoformat(), text="note")
    assert all(d >= start + PAUSE_AFTER for d in pending_due(lead))


def test_a_past_or_unreadable_time_changes_nothing(alpha):
    lead = client_writes("Позвоните")
    ai_says(lead)
    before = pending_due(lead)
    emit("lead.call_requested", lead_id=lead.pk, preferred_time="", due_at="not a time")
    emit(
        "lead.call_requested",
        lead_id=lead.pk,
        preferred_time="",
        due_at=(timezone.now() - timedelta(days=1)).isoformat(),
    )
    assert pending_due(lead) == before


def test_no_reengagement_touch_while_a_call_is_ahead(alpha):
    from followups.services import reengagement_plan
    from leads.models import Lead

    lead = client_writes("Позвоните через неделю")
    ai_says(lead)
    FollowUp.objects.filter(lead=lead).delete()
    long_ago = timezone.now() - timedelta(days=30)
    Lead.objects.filter(pk=lead.pk).update(last_message_at=long_ago, created_at=long_ago)
    emit(
        "lead.call_requested",
        lead_id=lead.pk,
        preferred_time="через неделю",
        due_at=(timezone.now() + timedelta(days=7)).isoformat(),
    )
    assert [row.lead_id for row in reengagement_plan()] == []
    from tasks.models import Task

    Task.objects.filter(lead=lead).update(done_at=timezone.now())  # the call happened: the sleeping lead may be woken
    assert [row.lead_id for row in reengagement_plan()] == [lead.pk]
