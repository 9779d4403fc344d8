"""Meeting reminders to the client in chat, a day and two hours before, each exactly once and never in quiet hours,
with the meeting's time read from Google Calendar (the stand-in): moved there, reminded at the new time; deleted
there, not reminded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conversations.models import Message
from followups.reminders import meeting_reminders_sweep
from meetings.models import Meeting
from meetings.services import calendar_book
from tests.followups.conftest import NO_QUIET, client_writes, configure
from tests.integrations.gstandin import GoogleStandin

TZ = "Asia/Almaty"


@pytest.fixture
def google() -> Iterator[GoogleStandin]:
    server = GoogleStandin().start()
    yield server
    server.stop()


@pytest.fixture
def calendar(alpha, google):
    configure(
        alpha,
        {
            "google_calendar": {
                "api_url": f"{google.url}/",
                "token_uri": f"{google.url}/token",
                "calendar_id": "primary",
                "client_id": google.client_id,
                "client_secret": google.client_secret,
                "refresh_token": "g-refresh-ok",
                "meeting_minutes": 30,
                "working_hours": {"start": "10:00", "end": "19:00"},
            }
        },
    )
    return google


def book(lead, hour: int = 12) -> tuple[Meeting, datetime]:
    """A meeting on a weekday a few days ahead (the sweeps below run with their own clock, `now=`)."""
    day = timezone.now().astimezone(ZoneInfo(TZ)).date() + timedelta(days=3)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(hour), tzinfo=ZoneInfo(TZ))
    booked = calendar_book(lead=lead, start=start, duration_minutes=30, email=None, summary="Замер")
    return Meeting.objects.get(event_id=booked["event_id"]), start


def reminders(lead) -> list[str]:
    return list(Message.objects.filter(lead=lead, purpose="reminder").order_by("id").values_list("text", flat=True))


def test_a_day_before_and_two_hours_before_each_exactly_once(alpha, calendar):
    lead = client_writes("Хочу встречу", name="Айгуль")
    meeting, start = book(lead, 12)
    assert meeting.link.startswith("https://meet.google.com/")
    assert meeting_reminders_sweep(now=start - timedelta(hours=30))["sent"] == 0  # too early
    assert meeting_reminders_sweep(now=start - timedelta(hours=23))["sent"] == 1
    assert meeting_reminders_sweep(now=start - timedelta(hours=22))["sent"] == 0  # the day one went already
    assert meeting_reminders_sweep(now=start - timedelta(hours=1, minutes=50))["sent"] == 1
    assert meeting_reminders_sweep(now=start - timedelta(hours=1))["sent"] == 0
    day, soon = reminders(lead)
    assert day.startswith("Напоминаем: встреча") and meeting.link in day
    assert soon.startswith("Скоро встреча") and meeting.link in soon
    assert meeting_reminders_sweep(now=start + timedelta(minutes=1))["closed"] == 1
    meeting.refresh_from_db()
    assert meeting.closed_at is not None
    # the calendar is the truth: we asked it each time and keep no time of our own
    assert any(r.method == "GET" and meeting.event_id in r.path for r in calendar.requests)


def test_late_booking_gets_only_the_soon_reminder_and_english_for_an_english_client(alpha, calendar):
    lead = client_writes("Hello, I want a meeting", name="John")
    lead.ai_state = {**(lead.ai_state or {}), "language": "en"}
    lead.save(update_fields=["ai_state"])
    meeting, start = book(lead, 13)
    assert meeting_reminders_sweep(now=start - timedelta(hours=1, minutes=20))["sent"] == 1
    assert meeting_reminders_sweep(now=start - timedelta(minutes=30))["sent"] == 0
    (text,) = reminders(lead)
    assert text.startswith("Our meeting is soon") and "Link:" in text


def test_no_reminder_in_quiet_hours_it_waits_for_the_morning(alpha, calendar):
    lead = client_writes("Встреча")
    meeting, start = book(lead, 14)
    # quiet hours cover the whole day: nothing goes, and the claim is not taken
    configure(alpha, {"followups": {"quiet_hours": {"start": "00:00", "end": "23:59"}}})
    result = meeting_reminders_sweep(now=start - timedelta(hours=19))
    assert (result["sent"], result["quiet"]) == (0, 1) and reminders(lead) == []
    configure(alpha, {"followups": {"quiet_hours": NO_QUIET}})
    assert meeting_reminders_sweep(now=start - timedelta(hours=18))["sent"] == 1


def test_a_meeting_moved_in_the_calendar_is_reminded_at_its_new_time_and_a_deleted_one_never(alpha, calendar):
    lead = client_writes("Встреча")
    meeting, start = book(lead, 15)
    moved = start - timedelta(hours=40)  # moved earlier in Google Calendar by a person
    event = calendar.events[meeting.event_id]
    event["start"]["dateTime"] = moved.isoformat()
    assert meeting_reminders_sweep(now=moved - timedelta(hours=20))["sent"] == 1
    other = client_writes("Ещё встреча")
    gone, gone_start = book(other, 16)
    del calendar.events[gone.event_id]
    meeting_reminders_sweep(now=gone_start - timedelta(hours=19))
    gone.refresh_from_db()
    assert gone.closed_at is not None and reminders(other) == []


def test_the_calendar_down_sends_nothing_and_breaks_nothing(alpha, calendar):
    lead = client_writes("Встреча")
    meeting, start = book(lead, 17)
    calendar.refresh_tokens.clear()  # the credential was revoked
    result = meeting_reminders_sweep(now=start - timedelta(hours=19))
    assert (result["sent"], result["errors"]) == (0, 1) and reminders(lead) == []
