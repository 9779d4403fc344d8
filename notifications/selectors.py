"""Reads of notifications: a user's list and unread count, preferences with defaults, who may be told of a lead."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from accounts.models import Role, User
from leads.selectors import leads_visible_to
from notifications.models import Kind, Notification, NotificationPrefs, Way

DEFAULT_WAYS = {Way.IN_APP: True, Way.PUSH: True, Way.TELEGRAM: True}


def notifications_of(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def prefs_ways(prefs: NotificationPrefs | None) -> dict[str, dict[str, bool]]:
    """{kind: {way: on}} for every kind and way: the stored choices over the defaults (all on; Telegram only
    reaches a linked chat anyway)."""
    stored = (prefs.ways if prefs else None) or {}
    return {
        kind: {way: bool((stored.get(kind) or {}).get(way, DEFAULT_WAYS[way])) for way in Way.values}
        for kind in Kind.values
    }


def in_quiet_hours(*, prefs: NotificationPrefs | None, now: datetime, tz: str) -> bool:
    """Whether `now` falls in the user's quiet hours, read in the tenant's zone (a span over midnight included)."""
    if prefs is None or prefs.quiet_start is None or prefs.quiet_end is None or prefs.quiet_start == prefs.quiet_end:
        return False
    try:
        local: time = now.astimezone(ZoneInfo(tz)).time()
    except (KeyError, ValueError):
        local = now.time()
    start, end = prefs.quiet_start, prefs.quiet_end
    return start <= local < end if start < end else (local >= start or local < end)


def quiet_hours_end(*, prefs: NotificationPrefs, now: datetime, tz: str) -> datetime:
    """The moment the quiet hours `now` falls in end (their end time, today or tomorrow, in the tenant's zone)."""
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    end = datetime.combine(local.date(), prefs.quiet_end, tzinfo=zone)
    return end if end > local else datetime.combine(local.date() + timedelta(days=1), prefs.quiet_end, tzinfo=zone)


def staff_ids() -> list[int]:
    """Owners and heads: told of every new lead and of what nobody else is there for."""
    staff = User.objects.filter(is_active=True, role__in=(Role.OWNER, Role.HEAD)).order_by("id")
    return list(staff.values_list("pk", flat=True))


def users_who_see_lead(*, user_ids: list[int], lead_id: int) -> list[User]:
    """Of these active users, those allowed to see the lead (a manager only their own when the tenant hides the
    others' leads)."""
    found = []
    for user in User.objects.filter(pk__in=set(user_ids), is_active=True).exclude(role="").order_by("id"):
        if leads_visible_to(user=user).filter(pk=lead_id).exists():
            found.append(user)
    return found
