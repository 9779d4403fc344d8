"""Meetings in the tenant's Google Calendar, for the AI tools `check_availability` and `book_meeting`.

Google Calendar is the truth (seed 000): a Meeting row keeps only the event's id and link (and when the client's
reminders went out); the time is read from the calendar when needed (`meeting_read`). A booking says so
(`meeting.booked`: crmsync adds a note in amoCRM when the lead came from there; tasks puts it on the manager's list;
follow-ups wait until after it). Broken credentials
raise CalendarUnavailable and show in the admin health view; a slot taken meanwhile raises SlotTaken
with two or three other slots in words the client understands.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone

from core.events import emit
from integrations import google_calendar as gc
from leads import services as lead_services
from leads.models import Lead
from meetings.models import Meeting
from tenants.models import Tenant
from tenants.selectors import tenant_config_get
from tenants.services import health_record

log = logging.getLogger("buildcrm.calendar")

ALTERNATIVE_DAYS = 7


class CalendarUnavailable(Exception):
    """The calendar cannot be used now (not connected, credential refused, no access, Google down)."""

    def __init__(self, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable


class SlotTaken(Exception):
    """The requested time cannot be booked; `alternatives_text` offers other slots («завтра в 11:00…»)."""

    def __init__(self, detail: str, alternatives_text: str, alternatives: list[str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.alternatives_text = alternatives_text
        self.alternatives = list(alternatives or [])


def _settings(lead: Lead) -> tuple[int, dict, str, str, str]:
    """(tenant id, google_calendar config, time zone, language, company) from a fresh tenant row."""
    tenant = Tenant.objects.get(pk=connection.tenant.pk)
    config = tenant_config_get(tenant)
    language = (lead.ai_state or {}).get("language") or config.get("language") or "ru"
    return tenant.pk, dict(config.get("google_calendar") or {}), config.get("timezone") or "UTC", language, \
        config.get("company") or ""


def _unavailable(tenant_id: int, detail: str, *, retryable: bool = False) -> CalendarUnavailable:
    health_record(tenant_id=tenant_id, error=detail, source="google_calendar")
    log.warning("google_calendar unavailable: %s", detail)
    return CalendarUnavailable(detail, retryable=retryable)


def _check_configured(tenant_id: int, config: dict) -> None:
    missing = [key for key in ("client_id", "client_secret", "refresh_token") if not config.get(key)]
    if missing:
        raise _unavailable(tenant_id, f"google_calendar: not connected (missing {', '.join(missing)})")


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def calendar_availability(*, lead: Lead, date_from: date, date_to: date) -> dict:
    """Two or three free slots between the dates (tenant time zone, working hours):
    {"slots": [ISO start], "text": «завтра в 11:00 или в 15:30»}. Raises CalendarUnavailable."""
    tenant_id, config, tz, language, _company = _settings(lead)
    _check_configured(tenant_id, config)
    now = timezone.now().astimezone(ZoneInfo(tz))
    try:
        slots = gc.free_slots(config, tz=tz, date_from=_as_date(date_from), date_to=_as_date(date_to), now=now)
    except gc.CalendarError as exc:
        raise _unavailable(tenant_id, exc.detail, retryable=exc.retryable) from exc
    log.info("lead=%s calendar slots=%s", lead.pk, len(slots))
    return {"slots": [slot.isoformat(timespec="seconds") for slot in slots],
            "text": gc.describe_slots(slots, now=now, language=language)}


def _alternatives(config: dict, *, tz: str, around: datetime, now: datetime, duration: int | None,
                  language: str) -> tuple[list[datetime], str]:
    day = max(around.date(), now.date())
    try:
        slots = gc.free_slots(config, tz=tz, date_from=day, date_to=day + timedelta(days=ALTERNATIVE_DAYS),
                              now=now, duration_minutes=duration, limit=4)
    except gc.CalendarError:
        return [], ""
    slots = [slot for slot in slots if slot != around][:3]
    return slots, gc.describe_slots(slots, now=now, language=language)


def _description(lead: Lead, company: str) -> str:
    lines = [f"Клиент: {lead.name or '—'}", f"Телефон: +{lead.phone}" if lead.phone else ""]
    if lead.email:
        lines.append(f"Email: {lead.email}")
    if lead.source_info:
        lines.append(f"Информация: {lead.source_info}")
    for key, value in (lead.data or {}).items():
        lines.append(f"{key}: {value}")
    lines.append(f"BuildCRM{' · ' + company if company else ''}: заявка #{lead.pk}")
    return "\n".join(line for line in lines if line)


def _booked_text(*, when: str, meet: str | None, email: str | None, language: str) -> str:
    if language.startswith("en"):
        parts = [f"Done, the meeting is booked for {when}."]
        if meet:
            parts.append(f"Video call link: {meet}")
        if email:
            parts.append(f"The invitation has been sent to {email}.")
        return " ".join(parts)
    parts = [f"Готово, встреча назначена на {when}."]
    if meet:
        parts.append(f"Ссылка на видеозвонок: {meet}")
    if email:
        parts.append(f"Приглашение отправлено на {email}.")
    return " ".join(parts)


def meeting_record(*, lead: Lead, event_id: str, link: str) -> Meeting | None:
    """The booked event's id and link (once per event: a retried booking finds its row)."""
    if not event_id:
        return None
    meeting, _ = Meeting.objects.get_or_create(event_id=event_id[:200], defaults={"lead": lead, "link": link[:1000]})
    return meeting


def meeting_read(meeting: Meeting) -> dict | None:
    """The meeting as the calendar has it now: {"start": aware datetime, "meet_link", "html_link"}; None when it
    was deleted or cancelled there. Raises CalendarUnavailable."""
    tenant_id, config, _tz, _language, _company = _settings(meeting.lead)
    _check_configured(tenant_id, config)
    try:
        return gc.event_read(config, meeting.event_id)
    except gc.CalendarError as exc:
        raise _unavailable(tenant_id, exc.detail, retryable=exc.retryable) from exc


def describe_moment(moment: datetime, *, lead: Lead, now: datetime | None = None) -> str:
    """«завтра в 11:00» / «tomorrow at 11:00» in the tenant's zone and the lead's language."""
    _tenant_id, _config, tz, language, _company = _settings(lead)
    zone = ZoneInfo(tz)
    return gc.describe_slots([moment.astimezone(zone)], now=(now or timezone.now()).astimezone(zone),
                             language=language)


def calendar_book(*, lead: Lead, start: datetime, duration_minutes: int | None = None, email: str | None = None,
                  summary: str | None = None) -> dict:
    """Books `start` (naive = tenant wall time) after re-checking it is free; invites `email` with
    sendUpdates=all and a Google Meet link. Returns {"event_id", "html_link", "meet_link", "start", "end",
    "text"}. Raises SlotTaken (with alternatives) or CalendarUnavailable."""
    tenant_id, config, tz, language, company = _settings(lead)
    _check_configured(tenant_id, config)
    zone = ZoneInfo(tz)
    start = _as_datetime(start)
    start = (start.replace(tzinfo=zone) if start.tzinfo is None else start).astimezone(zone)
    now = timezone.now().astimezone(zone)
    email = (email or "").strip() or None
    if email:
        try:
            validate_email(email)
        except ValidationError:
            log.info("lead=%s calendar invalid attendee email ignored", lead.pk)
            email = None
    attendee = email or lead.email or None
    title = (summary or "").strip() or f"Встреча: {lead.name or ('+' + lead.phone if lead.phone else f'#{lead.pk}')}"
    request_id = f"{connection.schema_name}:lead{lead.pk}:{start.astimezone(ZoneInfo('UTC')).isoformat()}"
    try:
        booked = gc.book_meeting(
            config, start=start, duration_minutes=duration_minutes, summary=title[:200],
            description=_description(lead, company), attendee_email=attendee, tz=tz, request_id=request_id, now=now,
        )
    except gc.SlotTakenError as exc:
        slots, text = _alternatives(config, tz=tz, around=start, now=now, duration=duration_minutes,
                                    language=language)
        log.info("lead=%s calendar slot %s taken (%s) alternatives=%s", lead.pk, start.isoformat(), exc.reason,
                 len(slots))
        raise SlotTaken(exc.detail, text, [slot.isoformat(timespec="seconds") for slot in slots]) from exc
    except gc.CalendarError as exc:
        raise _unavailable(tenant_id, exc.detail, retryable=exc.retryable) from exc

    when = gc.describe_slots([start], now=now, language=language)
    if email and not lead.email:
        lead_services.lead_update(lead=lead, actor=lead_services.AI, email=email)
    link = booked.get("meet_link") or booked.get("html_link") or ""
    meeting_record(lead=lead, event_id=str(booked.get("event_id") or ""), link=link)
    # Seed 000: the calendar keeps the meeting; our timeline keeps its id and link only.
    lead_services.event_add(lead=lead, actor=lead_services.AI, kind="meeting_booked", field="meeting",
                            after={"event_id": booked.get("event_id"), "link": link})
    note = f"Назначена встреча {start.strftime('%d.%m.%Y %H:%M')} ({tz})."
    if booked.get("meet_link"):
        note += f" Google Meet: {booked['meet_link']}"
    if booked.get("html_link"):
        note += f" Календарь: {booked['html_link']}"
    emit("meeting.booked", lead_id=lead.pk, event_id=str(booked.get("event_id") or ""), start=booked["start"],
         text=note)
    log.info("lead=%s meeting booked event=%s start=%s by=ai", lead.pk, booked.get("event_id"), booked["start"])
    return {**booked, "text": _booked_text(when=when, meet=booked.get("meet_link"), email=attendee,
                                           language=language)}
