"""Reads of tasks: a lead's, "my tasks", and until when a lead has a call or meeting ahead (follow-ups pause)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max, Q, QuerySet

from accounts.models import Role
from leads.selectors import leads_visible_to
from tasks.models import Task, TaskKind


def tasks_of_lead(*, lead_id: int, include_done: bool = True) -> QuerySet[Task]:
    qs = Task.objects.filter(lead_id=lead_id).select_related("assignee", "created_by", "done_by", "lead")
    return qs if include_done else qs.filter(done_at__isnull=True)


def tasks_mine(*, user, include_done: bool = False) -> QuerySet[Task]:
    """The user's tasks on leads they may see; owners and heads also get the unassigned ones (nobody else will)."""
    mine = Q(assignee=user)
    if user.role in (Role.OWNER, Role.HEAD):
        mine |= Q(assignee__isnull=True)
    qs = Task.objects.filter(mine, lead__in=leads_visible_to(user=user).values("pk")).select_related(
        "assignee", "created_by", "done_by", "lead"
    )
    return qs if include_done else qs.filter(done_at__isnull=True)


def lead_busy_until(*, lead_id: int) -> datetime | None:
    """The latest due time of the lead's open calls and meetings: follow-ups wait until after it."""
    return Task.objects.filter(
        lead_id=lead_id, done_at__isnull=True, kind__in=(TaskKind.CALL, TaskKind.MEETING)
    ).aggregate(until=Max("due_at"))["until"]


def leads_busy_after(*, since: datetime) -> QuerySet:
    """Ids (a subquery) of the leads with an open call or meeting due after `since`."""
    return Task.objects.filter(
        done_at__isnull=True, due_at__gt=since, kind__in=(TaskKind.CALL, TaskKind.MEETING)
    ).values("lead_id")
