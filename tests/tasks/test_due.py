"""Due reminders: a beat sweep emits `task.due` once per task as it comes due (a few minutes ahead), whatever the
number of sweepers; a task done, far ahead or long overdue is left alone; a call moved to a new time is reminded
again. Notifications turn the event into the assignee's reminder."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.events import emit
from notifications.models import Notification
from tasks.models import Task
from tasks.services import tasks_due_sweep
from tests.conftest import user_of
from tests.leads.conftest import make_lead
from tests.notifications.conftest import eager  # noqa: F401


def task(tenant, lead, *, minutes: float, **fields) -> Task:
    with tenant_context(tenant):
        return Task.objects.create(lead=lead, kind="call", due_at=timezone.now() + timedelta(minutes=minutes), **fields)


@pytest.mark.usefixtures("eager")
def test_a_due_task_is_reminded_once_to_its_assignee(tenant_a, django_capture_on_commit_callbacks):
    manager = user_of(tenant_a, "manager")
    lead = make_lead(tenant_a, name="Марат", assignee=manager)
    now_due = task(tenant_a, lead, minutes=5, assignee=manager, title="Перезвонить")  # within the 10 minutes ahead
    task(tenant_a, lead, minutes=60, assignee=manager)  # later
    task(tenant_a, lead, minutes=-3 * 24 * 60, assignee=manager)  # last week's: overdue, not rung again
    task(tenant_a, lead, minutes=-1, assignee=manager, done_at=timezone.now())
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        assert tasks_due_sweep() == [now_due.pk]
        assert tasks_due_sweep() == []
    with tenant_context(tenant_a):
        (note,) = Notification.objects.filter(lead_id=lead.pk)
        assert (note.user_id, note.kind) == (manager.pk, "task_due")
        assert note.body.startswith("Марат: Перезвонить ")


@pytest.mark.usefixtures("eager")
def test_an_unassigned_due_task_goes_to_the_owner_and_heads(tenant_a, django_capture_on_commit_callbacks):
    lead = make_lead(tenant_a)
    task(tenant_a, lead, minutes=0)
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        tasks_due_sweep()
    with tenant_context(tenant_a):
        emails = sorted(Notification.objects.filter(lead_id=lead.pk).values_list("user__email", flat=True))
    assert emails == ["head@alpha.test", "owner@alpha.test"]


def test_a_call_moved_to_a_new_time_is_reminded_again(tenant_a):
    lead = make_lead(tenant_a)
    with tenant_context(tenant_a):
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="",
             due_at=(timezone.now() + timedelta(minutes=1)).isoformat())
        (first,) = tasks_due_sweep()
        emit("lead.call_requested", lead_id=lead.pk, preferred_time="",
             due_at=(timezone.now() + timedelta(minutes=2)).isoformat())
        assert tasks_due_sweep() == [first]


def test_two_sweepers_at_once_remind_each_task_exactly_once(live_tenant):
    lead = make_lead(live_tenant)
    due = {task(live_tenant, lead, minutes=-i).pk for i in range(40)}
    start = threading.Barrier(3)
    found: list[list[int]] = []

    def sweep() -> None:
        try:
            with tenant_context(live_tenant):
                start.wait()
                mine: list[int] = []
                while batch := tasks_due_sweep(limit=7):
                    mine += batch
                found.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    reminded = [pk for batch in found for pk in batch]
    assert sorted(reminded) == sorted(due)  # all of them, none twice
