"""Meeting reminders to the client in chat: a day before and two hours before, each exactly once, never in quiet
hours. The meeting's time is read from Google Calendar at each sweep (seed 000: the calendar is the truth, we keep
only the event's id and link), so a meeting moved there is reminded at its new time and one deleted is not."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from conversations.services import message_send
from followups import scheduling
from leads.models import Lead
from meetings.models import Meeting
from meetings.services import CalendarUnavailable, describe_moment, meeting_read

log = logging.getLogger("buildcrm.followups")

DAY_BEFORE = timedelta(hours=24)
SOON_BEFORE = timedelta(hours=2)
# A sweep looks at meetings booked this long ago at most (older ones are long over).
HORIZON = timedelta(days=90)

TEXTS = {
    "day": {"ru": "Напоминаем: встреча {when}.{link}", "en": "A reminder: our meeting is {when}.{link}"},
    "soon": {"ru": "Скоро встреча — {when}.{link} До встречи!", "en": "Our meeting is soon — {when}.{link} See you!"},
    "link": {"ru": " Ссылка: {url}", "en": " Link: {url}"},
}


def reminder_text(*, which: str, when: str, link: str, language: str) -> str:
    lang = "en" if (language or "").startswith("en") else "ru"
    link_text = TEXTS["link"][lang].format(url=link) if link else ""
    return TEXTS[which][lang].format(when=when, link=link_text)


def _due_reminder(meeting: Meeting, start: datetime, now: datetime) -> str | None:
    left = start - now
    if left <= timedelta(0):
        return None
    if left <= SOON_BEFORE:
        return None if meeting.reminded_soon_at else "soon"
    if left <= DAY_BEFORE:
        return None if meeting.reminded_day_at else "day"
    return None


def meeting_reminders_sweep(*, now: datetime | None = None, limit: int = 200) -> dict:
    """One pass over the tenant's open meetings: closes those that began or vanished, sends the reminders due.
    Exactly once: a reminder is claimed by a conditional UPDATE in the transaction that queues its message."""
    now = now or timezone.now()
    s = scheduling.settings_current()
    result = {"sent": 0, "closed": 0, "quiet": 0, "errors": 0}
    meetings = list(
        Meeting.objects.filter(closed_at__isnull=True, created_at__gte=now - HORIZON)
        .select_related("lead")
        .order_by("id")[:limit]
    )
    for meeting in meetings:
        try:
            event = meeting_read(meeting)
        except CalendarUnavailable:
            result["errors"] += 1
            continue
        if event is None or event["start"] <= now:
            Meeting.objects.filter(pk=meeting.pk, closed_at__isnull=True).update(closed_at=now)
            result["closed"] += 1
            continue
        which = _due_reminder(meeting, event["start"], now)
        if which is None:
            continue
        if scheduling.in_quiet_hours(now, s):
            result["quiet"] += 1  # the next sweep after quiet hours sends it, if the meeting has not begun
            continue
        result["sent"] += _remind(meeting, which=which, start=event["start"], now=now, settings=s)
    if result["sent"] or result["closed"]:
        log.info("meeting reminders sent=%s closed=%s", result["sent"], result["closed"])
    return result


def _remind(
    meeting: Meeting, *, which: str, start: datetime, now: datetime, settings: scheduling.FollowupSettings
) -> int:
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).select_related("stage").filter(pk=meeting.lead_id).first()
        if lead is None:
            return 0
        block = scheduling.lead_block_reason(lead, settings)
        if block in ("refused",) or block.startswith("stage"):
            Meeting.objects.filter(pk=meeting.pk).update(closed_at=now)
            return 0
        stamps = {"reminded_soon_at": now} if which == "soon" else {"reminded_day_at": now}
        if which == "soon":
            stamps["reminded_day_at"] = meeting.reminded_day_at or now  # the day-before one is too late now
        claim = "reminded_soon_at" if which == "soon" else "reminded_day_at"
        claimed = Meeting.objects.filter(pk=meeting.pk, **{f"{claim}__isnull": True}).update(**stamps)
        if not claimed:
            return 0
        language = (lead.ai_state or {}).get("language") or settings.language
        text = reminder_text(
            which=which, when=describe_moment(start, lead=lead, now=now), link=meeting.link, language=language
        )
        message_send(
            lead=lead,
            author_kind="system",
            text=text,
            purpose="reminder",
            meta={"meeting": meeting.event_id, "reminder": which},
        )
    log.info("lead=%s meeting=%s reminder=%s", lead.pk, meeting.event_id, which)
    return 1
