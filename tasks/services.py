"""Writes of tasks. The AI's call requests and booked meetings arrive as events (tasks.listeners); people create
tasks and mark them done through the API. A person's task and a task done leave an entry in the lead's timeline; the
AI's tasks are told there by the change that made them (call_requested, meeting_booked: one entry per change)."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from brain.when import when_due
from core.events import emit
from leads import services as lead_services
from leads.models import Lead
from tasks.models import Task, TaskAuthor, TaskKind
from tenants.selectors import tenant_config_current

log = logging.getLogger("buildcrm.tasks")

DEFAULT_WORKING_HOURS = {"start": "10:00", "end": "19:00"}


def _hhmm(value: str, default: time) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return default


def working_hours() -> tuple[str, time, time]:
    """(time zone, start, end) of the tenant's working day: the calendar's working hours, 10:00–19:00 without."""
    cfg = tenant_config_current()
    hours = (cfg.get("google_calendar") or {}).get("working_hours") or DEFAULT_WORKING_HOURS
    return (
        cfg.get("timezone") or "UTC",
        _hhmm(hours.get("start", "10:00"), time(10)),
        _hhmm(hours.get("end", "19:00"), time(19)),
    )


def call_due_at(*, preferred_time: str | None, now: datetime | None = None) -> tuple[datetime, bool]:
    """When to call: the time the client named, read in the tenant's zone ("завтра в 11", "после 18", "tomorrow
    3pm"), or as soon as possible within working hours. (aware datetime, whether the client named it)."""
    tz, start, end = working_hours()
    local_now = (now or timezone.now()).astimezone(ZoneInfo(tz))
    return when_due(preferred_time, now=local_now, work_start=start, work_end=end)


def _timeline(task: Task, *, kind: str, actor: lead_services.Actor) -> None:
    lead_services.event_add(
        lead=task.lead,
        actor=actor,
        kind=kind,
        field="task",
        after={
            "id": task.pk,
            "kind": task.kind,
            "title": task.title,
            "due_at": task.due_at.isoformat(),
            "note": task.note,
        },
    )


def task_for_call_request(*, lead_id: int, preferred_time: str = "", due_at: str | None = None) -> Task | None:
    """The AI heard "call me": one open call task for the lead's manager, due when the client said. A repeated
    request moves the open task's time (never a second task)."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        return None
    due, named = None, True
    if due_at:
        try:
            due = datetime.fromisoformat(due_at)
        except ValueError:
            due = None
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=ZoneInfo(working_hours()[0]))
    if due is None:
        due, named = call_due_at(preferred_time=preferred_time)
    else:
        named = bool(preferred_time)
    note = (preferred_time or "")[:200]
    task = Task.objects.filter(
        lead=lead, kind=TaskKind.CALL, created_by_kind=TaskAuthor.AI, done_at__isnull=True
    ).first()
    if task is not None:
        if (task.due_at, task.note) == (due, note):
            return task
        Task.objects.filter(pk=task.pk).update(due_at=due, note=note, due_named=named, reminded_at=None)
        task.due_at, task.note, task.due_named = due, note, named
        log.info("lead=%s task=%s call moved due=%s by=ai", lead.pk, task.pk, due.isoformat())
        return task
    task = Task.objects.create(
        lead=lead,
        kind=TaskKind.CALL,
        note=note,
        due_at=due,
        due_named=named,
        assignee=lead.assignee,
        created_by_kind=TaskAuthor.AI,
    )
    log.info("lead=%s task=%s call due=%s named=%s by=ai", lead.pk, task.pk, due.isoformat(), named)
    return task


def task_for_meeting(*, lead_id: int, event_id: str, start: str) -> Task | None:
    """A meeting booked in the calendar: a task for the lead's manager at its start (once per calendar event)."""
    lead = Lead.objects.filter(pk=lead_id).first()
    try:
        due = datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return None
    if lead is None:
        return None
    if due.tzinfo is None:
        due = due.replace(tzinfo=ZoneInfo(working_hours()[0]))
    task, created = Task.objects.get_or_create(
        lead=lead,
        calendar_event_id=(event_id or f"start:{due.isoformat()}")[:200],
        defaults={"kind": TaskKind.MEETING, "due_at": due, "assignee": lead.assignee, "created_by_kind": TaskAuthor.AI},
    )
    if created:
        log.info("lead=%s task=%s meeting due=%s by=ai", lead.pk, task.pk, due.isoformat())
    return task


def _check_assignee(*, user, assignee_id: int | None):
    if assignee_id is None:
        return None
    assignee = User.objects.filter(pk=assignee_id, is_active=True).exclude(role="").first()
    if assignee is None:
        raise ValidationError({"assignee": ["Нет такого активного сотрудника."]})
    if user.role == Role.MANAGER and assignee != user:
        raise PermissionDenied("Менеджер может назначить задачу только на себя.")
    return assignee


def task_create(
    *,
    lead: Lead,
    user,
    kind: str,
    due_at: datetime,
    title: str = "",
    assignee_id: int | None = None,
    assign_to_me: bool = False,
) -> Task:
    """A person's task on a lead. Managers may assign only to themselves; without an assignee the task goes to the
    lead's manager, or to its author when they are a manager."""
    assignee = _check_assignee(user=user, assignee_id=assignee_id)
    if assignee is None and not assign_to_me:
        assignee = lead.assignee or (user if user.role == Role.MANAGER else None)
    if assign_to_me:
        assignee = user
    task = Task.objects.create(
        lead=lead,
        kind=kind,
        title=title[:200],
        due_at=due_at,
        assignee=assignee,
        created_by=user,
        created_by_kind=TaskAuthor.USER,
    )
    _timeline(task, kind="task_created", actor=lead_services.user_actor(user))
    log.info("lead=%s task=%s %s created by=%s", lead.pk, task.pk, kind, user.email)
    return task


def tasks_due_sweep(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Claims the open tasks due now (or within TASK_DUE_REMIND_BEFORE_MINUTES) that were not reminded yet, marks them
    reminded and emits `task.due` for each, in one transaction: with two beats or workers sweeping at once, a row
    locked by one is skipped by the other and found reminded after its commit — exactly one reminder per task.
    Tasks overdue for longer than a day are left alone (a deploy must not ring for last month's tasks)."""
    now = now or timezone.now()
    ahead = timedelta(minutes=settings.TASK_DUE_REMIND_BEFORE_MINUTES)
    with transaction.atomic():
        due = list(
            Task.objects.select_for_update(skip_locked=True)
            .filter(done_at__isnull=True, reminded_at__isnull=True, due_at__lte=now + ahead,
                    due_at__gte=now - timedelta(days=1))
            .order_by("due_at")
            .values_list("pk", "lead_id", "assignee_id", "due_at")[:limit]
        )
        if not due:
            return []
        Task.objects.filter(pk__in=[row[0] for row in due]).update(reminded_at=now)
        for task_id, lead_id, assignee_id, due_at in due:
            emit("task.due", task_id=task_id, lead_id=lead_id, assignee_id=assignee_id, due_at=due_at.isoformat())
            log.info("lead=%s task=%s due reminder", lead_id, task_id)
    return [row[0] for row in due]


def task_done(*, task: Task, user) -> Task:
    """Marks the task done (once: a second click changes nothing)."""
    if task.done_at is not None:
        return task
    updated = Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=timezone.now(), done_by=user)
    task.refresh_from_db()
    if updated:
        _timeline(task, kind="task_done", actor=lead_services.user_actor(user))
        log.info("lead=%s task=%s done by=%s", task.lead_id, task.pk, user.email)
    return task


def tasks_follow_assignee(*, lead_id: int, assignee_id: int | None) -> int:
    """Gives the lead's open, unassigned tasks to its new assignee; returns how many."""
    if assignee_id is None:
        return 0
    moved = Task.objects.filter(lead_id=lead_id, done_at__isnull=True, assignee__isnull=True).update(
        assignee_id=assignee_id
    )
    if moved:
        log.info("lead=%s tasks=%s assigned to user=%s (followed the lead)", lead_id, moved, assignee_id)
    return moved
