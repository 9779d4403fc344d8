"""Google Calendar: the exact freeBusy/insert requests, slot choice, wording, booking and OAuth helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from integrations.google_calendar import (
    SCOPE,
    CalendarAuthError,
    CalendarError,
    SlotTakenError,
    _api_endpoint,
    authorize_url,
    book_meeting,
    build_service,
    describe_slots,
    exchange_code,
    free_slots,
)
from tests.integrations.gstandin import GoogleStandin

TZ = "Asia/Almaty"
ALMATY = ZoneInfo(TZ)
FRI = date(2025, 11, 21)  # a Friday; 24 November 2025 is a Monday
MON = date(2025, 11, 24)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ALMATY)


@pytest.fixture
def google() -> Iterator[GoogleStandin]:
    server = GoogleStandin().start()
    yield server
    server.stop()


def config(server: GoogleStandin, **extra) -> dict:
    cfg = {
        "api_url": f"{server.url}/",
        "token_uri": f"{server.url}/token",
        "calendar_id": "primary",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "refresh_token": "g-refresh-ok",
        "meeting_minutes": 30,
        "working_hours": {"start": "10:00", "end": "19:00"},
    }
    cfg.update(extra)
    return cfg


def test_api_endpoint_appends_the_service_path():
    # googleapiclient takes api_endpoint as the whole base URL, replacing rootUrl + servicePath.
    assert _api_endpoint("https://www.googleapis.com/") == "https://www.googleapis.com/calendar/v3/"
    assert _api_endpoint("http://127.0.0.1:9/") == "http://127.0.0.1:9/calendar/v3/"
    assert _api_endpoint("http://127.0.0.1:9") == "http://127.0.0.1:9/calendar/v3/"
    service = build_service(
        {
            "api_url": "http://127.0.0.1:9/",
            "token_uri": "http://127.0.0.1:9/token",
            "refresh_token": "r",
            "client_id": "c",
            "client_secret": "s",
        }
    )
    assert service._baseUrl == "http://127.0.0.1:9/calendar/v3/"


# --- free slots ------------------------------------------------------------------------------------


def test_free_slots_exact_request_and_spread(google):
    google.busy = [(at(FRI, 14, 0), at(FRI, 15, 30)), (at(MON, 10, 0), at(MON, 12, 0))]
    slots = free_slots(config(google), tz=TZ, date_from=FRI, date_to=MON, now=at(FRI, 13, 10))
    # Fri 14:30/15:00 overlap busy time; one slot a morning-ish and one late; Saturday and Sunday skipped;
    # Monday's morning is busy until 12:00.
    assert slots == [at(FRI, 15, 30), at(FRI, 18, 30), at(MON, 12, 0)]
    assert all(s.tzinfo == ALMATY for s in slots)

    token, query = google.requests
    assert (token.method, token.path) == ("POST", "/token")
    form = token.form()
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "g-refresh-ok"
    assert (form["client_id"], form["client_secret"]) == (google.client_id, google.client_secret)

    assert (query.method, query.path) == ("POST", "/calendar/v3/freeBusy")
    assert query.query == {"alt": ["json"]}
    assert query.headers["authorization"] == "Bearer g-access-1"
    assert query.json() == {
        "timeMin": at(FRI, 0).isoformat(),
        "timeMax": at(date(2025, 11, 25), 0).isoformat(),
        "timeZone": TZ,
        "items": [{"id": "primary"}],
    }
    assert query.json()["timeMin"] == "2025-11-21T00:00:00+05:00"


def test_free_slots_respect_every_rule(google):
    google.busy = [
        (at(MON, 11, 15), at(MON, 12, 45)),
        (at(MON, 16, 0), at(MON, 17, 0)),
        (
            datetime(2025, 11, 25, 4, 0, tzinfo=ZoneInfo("UTC")),
            datetime(2025, 11, 25, 6, 0, tzinfo=ZoneInfo("UTC")),
        ),
    ]
    now = at(MON, 9, 40)
    slots = free_slots(
        config(google, meeting_minutes=60),
        tz=TZ,
        date_from=date(2025, 11, 22),
        date_to=date(2025, 11, 30),
        now=now,
        limit=500,
    )
    assert slots, "a week has free time"
    assert slots == sorted(slots)
    for slot in slots:
        end = slot + timedelta(minutes=60)
        assert slot.isoweekday() <= 5, slot
        assert time(10, 0) <= slot.time() and end.time() <= time(19, 0) and end.date() == slot.date(), slot
        assert slot.minute in (0, 30) and slot.second == 0, slot
        assert slot >= now + timedelta(hours=1), slot
        assert not any(slot < b_end and b_start < end for b_start, b_end in google.busy), slot
    assert {s.date() for s in slots} == {date(2025, 11, d) for d in (24, 25, 26, 27, 28)}
    mon = [s.strftime("%H:%M") for s in slots if s.date() == MON]
    # 10:00 is less than an hour away; offers never overlap each other (a gap of at least the duration).
    assert mon == ["13:00", "14:00", "15:00", "17:00", "18:00"]
    tue = [s.strftime("%H:%M") for s in slots if s.date() == date(2025, 11, 25)]
    assert "09:00" not in tue and "10:00" not in tue and tue[0] == "11:00"  # 04:00–06:00 UTC = 09–11 local


def test_free_slots_past_and_late_in_the_day(google):
    # 17:25 on Friday: only 18:30 is an hour away and still ends by 19:00. The range began yesterday.
    slots = free_slots(config(google), tz=TZ, date_from=date(2025, 11, 20), date_to=MON, now=at(FRI, 17, 25))
    assert slots == [at(FRI, 18, 30), at(MON, 10, 0), at(MON, 13, 0)]
    assert google.requests[-1].json()["timeMin"] == "2025-11-21T00:00:00+05:00"
    # Ten minutes later Friday has nothing left.
    slots = free_slots(config(google), tz=TZ, date_from=FRI, date_to=MON, now=at(FRI, 17, 35))
    assert slots == [at(MON, 10, 0), at(MON, 13, 0), at(MON, 16, 0)]


def test_free_slots_weekend_only_asks_nobody(google):
    slots = free_slots(
        config(google), tz=TZ, date_from=date(2025, 11, 22), date_to=date(2025, 11, 23), now=at(FRI, 12, 0)
    )
    assert slots == []
    assert google.requests == []


def test_free_slots_calendar_error_in_answer(google):
    google.missing_calendars.add("nobody@example.com")
    with pytest.raises(CalendarError) as err:
        free_slots(
            config(google, calendar_id="nobody@example.com"),
            tz=TZ,
            date_from=MON,
            date_to=MON,
            now=at(FRI, 12, 0),
        )
    assert "notFound" in err.value.detail


# --- errors ----------------------------------------------------------------------------------------


def test_invalid_grant_is_calendar_auth_error(google):
    cfg = config(google, refresh_token="g-refresh-revoked")
    with pytest.raises(CalendarAuthError) as err:
        free_slots(cfg, tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))
    assert "invalid_grant" in err.value.detail
    assert [r.path for r in google.requests] == ["/token"]
    with pytest.raises(CalendarAuthError):
        book_meeting(
            cfg,
            start=at(MON, 11),
            duration_minutes=None,
            summary="s",
            description="d",
            attendee_email=None,
            tz=TZ,
            request_id="r1",
            now=at(FRI, 12, 0),
        )


def test_missing_refresh_token_is_auth_error(google):
    with pytest.raises(CalendarAuthError):
        free_slots(config(google, refresh_token=""), tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))


def test_403_and_404_are_not_retryable(google):
    google.script(
        403,
        {"error": {"code": 403, "message": "The caller does not have permission"}},
        path="/calendar/v3/freeBusy",
    )
    with pytest.raises(CalendarError) as err:
        free_slots(config(google), tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))
    assert (err.value.retryable, err.value.status_code) == (False, 403)
    assert "does not have permission" in err.value.detail
    assert not isinstance(err.value, CalendarAuthError)

    google.script(404, {"error": {"code": 404, "message": "Not Found"}}, path="/calendar/v3/freeBusy")
    with pytest.raises(CalendarError) as err:
        free_slots(config(google), tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))
    assert (err.value.retryable, err.value.status_code) == (False, 404)


def test_5xx_is_retryable(google):
    google.script(503, {"error": {"code": 503, "message": "Backend Error"}}, path="/calendar/v3/freeBusy")
    with pytest.raises(CalendarError) as err:
        free_slots(config(google), tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))
    assert (err.value.retryable, err.value.status_code) == (True, 503)


def test_unreachable_calendar_is_retryable():
    cfg = {
        "api_url": "http://127.0.0.1:1/",
        "token_uri": "http://127.0.0.1:1/token",
        "refresh_token": "r",
        "client_id": "c",
        "client_secret": "s",
    }
    with pytest.raises(CalendarError) as err:
        free_slots(cfg, tz=TZ, date_from=MON, date_to=MON, now=at(FRI, 12, 0))
    assert err.value.retryable is True
    assert not isinstance(err.value, CalendarAuthError)


# --- wording ---------------------------------------------------------------------------------------


SUN = date(2025, 11, 23)


@pytest.mark.parametrize(
    "slots, now, language, expected",
    [
        ([at(MON, 11), at(MON, 15, 30)], at(SUN, 18), "ru", "завтра в 11:00 или в 15:30"),
        ([at(MON, 16)], at(MON, 9), "ru", "сегодня в 16:00"),
        ([at(MON, 10, 30)], at(date(2025, 11, 20), 12), "ru", "в понедельник, 24 ноября, в 10:30"),
        ([at(date(2025, 11, 25), 10)], at(date(2025, 11, 20), 12), "ru", "во вторник, 25 ноября, в 10:00"),
        ([at(date(2025, 11, 26), 12)], at(MON, 12), "ru", "послезавтра в 12:00"),
        (
            [at(MON, 15, 30), at(MON, 11), at(date(2025, 11, 26), 10)],
            at(SUN, 18),
            "ru",
            "завтра в 11:00, в 15:30 или в среду, 26 ноября, в 10:00",
        ),
        ([at(MON, 11), at(MON, 15, 30)], at(SUN, 18), "en", "tomorrow at 11:00 or 15:30"),
        ([at(MON, 16)], at(MON, 9), "en", "today at 16:00"),
        ([at(MON, 10, 30)], at(date(2025, 11, 20), 12), "en", "on Monday, 24 November, at 10:30"),
        (
            [at(MON, 11), at(date(2025, 11, 25), 10)],
            at(SUN, 18),
            "en",
            "tomorrow at 11:00, or on Tuesday, 25 November, at 10:00",
        ),
        ([], at(SUN, 18), "ru", ""),
    ],
)
def test_describe_slots(slots, now, language, expected):
    assert describe_slots(slots, now=now, language=language) == expected


def test_describe_slots_uses_the_slots_zone_for_today():
    # 23:30 UTC on Sunday is already Monday 04:30 in Almaty: a Monday slot is "today".
    now_utc = datetime(2025, 11, 23, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert describe_slots([at(MON, 11)], now=now_utc) == "сегодня в 11:00"


# --- booking ---------------------------------------------------------------------------------------


def test_book_meeting_exact_requests(google):
    result = book_meeting(
        config(google),
        start=at(MON, 11),
        duration_minutes=None,
        summary="Встреча: Айгуль — дом 10x12",
        description="Лид #42, город Алматы",
        attendee_email="client@example.com",
        tz=TZ,
        request_id="lead42-meeting-1",
        now=at(FRI, 12, 0),
    )
    event_id = hashlib.sha1(b"lead42-meeting-1").hexdigest()
    assert result == {
        "event_id": event_id,
        "html_link": f"https://www.google.com/calendar/event?eid={event_id}",
        "meet_link": f"https://meet.google.com/abc-{event_id[:4]}-xyz",
        "start": "2025-11-24T11:00:00+05:00",
        "end": "2025-11-24T11:30:00+05:00",
    }
    token, check, insert = google.requests
    assert token.path == "/token"
    assert check.path == "/calendar/v3/freeBusy"
    assert check.json() == {
        "timeMin": "2025-11-24T11:00:00+05:00",
        "timeMax": "2025-11-24T11:30:00+05:00",
        "timeZone": TZ,
        "items": [{"id": "primary"}],
    }
    assert (insert.method, insert.path) == ("POST", "/calendar/v3/calendars/primary/events")
    assert insert.query == {"conferenceDataVersion": ["1"], "sendUpdates": ["all"], "alt": ["json"]}
    assert insert.headers["authorization"] == "Bearer g-access-1"
    assert insert.json() == {
        "id": event_id,
        "summary": "Встреча: Айгуль — дом 10x12",
        "description": "Лид #42, город Алматы",
        "start": {"dateTime": "2025-11-24T11:00:00+05:00", "timeZone": TZ},
        "end": {"dateTime": "2025-11-24T11:30:00+05:00", "timeZone": TZ},
        "attendees": [{"email": "client@example.com"}],
        "conferenceData": {
            "createRequest": {
                "requestId": "lead42-meeting-1",
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        },
    }


def test_book_meeting_without_email_and_with_calendar_address(google):
    cfg = config(google, calendar_id="sales@buildco.kz")
    naive = datetime(2025, 11, 24, 15, 30)  # the AI's naive time is tenant-local
    result = book_meeting(
        cfg,
        start=naive,
        duration_minutes=60,
        summary="s",
        description="d",
        attendee_email=None,
        tz=TZ,
        request_id="r-2",
        now=at(FRI, 12, 0),
    )
    assert result["end"] == "2025-11-24T16:30:00+05:00"
    insert = google.requests[-1]
    assert insert.path == "/calendar/v3/calendars/sales@buildco.kz/events"
    assert insert.raw_path.startswith("/calendar/v3/calendars/sales%40buildco.kz/events?")
    assert "attendees" not in insert.json()
    assert google.requests[1].json()["items"] == [{"id": "sales@buildco.kz"}]


def test_book_meeting_slot_taken(google):
    google.busy = [(at(MON, 10, 45), at(MON, 11, 15))]
    with pytest.raises(SlotTakenError) as err:
        book_meeting(
            config(google),
            start=at(MON, 11),
            duration_minutes=30,
            summary="s",
            description="d",
            attendee_email="c@example.com",
            tz=TZ,
            request_id="r-3",
            now=at(FRI, 12, 0),
        )
    assert err.value.reason == "busy"
    assert google.events == {}
    # freeBusy said busy; we only looked for our own earlier event, inserted nothing.
    assert [(r.method, r.path) for r in google.requests] == [
        ("POST", "/token"),
        ("POST", "/calendar/v3/freeBusy"),
        ("GET", f"/calendar/v3/calendars/primary/events/{hashlib.sha1(b'r-3').hexdigest()}"),
    ]


def test_book_meeting_twice_with_same_request_id_books_once(google):
    kwargs = {
        "start": at(MON, 11),
        "duration_minutes": 30,
        "summary": "s",
        "description": "d",
        "attendee_email": None,
        "tz": TZ,
        "request_id": "task-7",
        "now": at(FRI, 12, 0),
    }
    first = book_meeting(config(google), **kwargs)
    second = book_meeting(config(google), **kwargs)  # a retried task: the slot is busy with our own event
    assert first == second
    assert len(google.events) == 1
    with pytest.raises(SlotTakenError):  # someone else's booking of the same time is refused
        book_meeting(config(google), **{**kwargs, "request_id": "task-8"})


def test_book_meeting_insert_conflict_returns_existing(google):
    kwargs = {
        "start": at(MON, 11),
        "duration_minutes": 30,
        "summary": "s",
        "description": "d",
        "attendee_email": None,
        "tz": TZ,
        "request_id": "task-9",
        "now": at(FRI, 12, 0),
    }
    first = book_meeting(config(google), **kwargs)
    google.busy = []
    # Simulate freeBusy not yet showing the event (eventual consistency): the insert answers 409.
    google.script(200, {"calendars": {"primary": {"busy": []}}}, path="/calendar/v3/freeBusy")
    assert book_meeting(config(google), **kwargs) == first
    assert [r.method for r in google.requests[-2:]] == ["POST", "GET"]


@pytest.mark.parametrize(
    "start, reason",
    [
        (at(FRI, 11), "past"),
        (at(date(2025, 11, 22), 11), "outside_hours"),  # Saturday
        (at(MON, 9, 30), "outside_hours"),
        (at(MON, 18, 45), "outside_hours"),  # would end 19:15
    ],
)
def test_book_meeting_refuses_bad_times_without_network(google, start, reason):
    with pytest.raises(SlotTakenError) as err:
        book_meeting(
            config(google),
            start=start,
            duration_minutes=30,
            summary="s",
            description="d",
            attendee_email=None,
            tz=TZ,
            request_id="r",
            now=at(FRI, 12, 0),
        )
    assert err.value.reason == reason
    assert google.requests == []


def test_book_meeting_insert_5xx_is_retryable(google):
    google.script(
        500,
        {"error": {"code": 500, "message": "Backend Error"}},
        method="POST",
        path="/calendar/v3/calendars/primary/events",
    )
    with pytest.raises(CalendarError) as err:
        book_meeting(
            config(google),
            start=at(MON, 11),
            duration_minutes=30,
            summary="s",
            description="d",
            attendee_email=None,
            tz=TZ,
            request_id="r-5",
            now=at(FRI, 12, 0),
        )
    assert err.value.retryable is True
    assert not isinstance(err.value, SlotTakenError)


# --- OAuth consent ---------------------------------------------------------------------------------


def test_authorize_url():
    url = authorize_url(
        auth_uri="https://accounts.google.com/o/oauth2/auth",
        client_id="cid.apps",
        redirect_uri="https://admin.example.com/google/callback",
        state="tenant-7:nonce",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.google.com/o/oauth2/auth"
    assert parse_qs(parts.query) == {
        "client_id": ["cid.apps"],
        "redirect_uri": ["https://admin.example.com/google/callback"],
        "response_type": ["code"],
        "scope": [SCOPE],
        "access_type": ["offline"],
        "prompt": ["consent"],
        "state": ["tenant-7:nonce"],
    }


def test_exchange_code(google):
    with httpx.Client() as client:
        tokens = exchange_code(
            token_uri=f"{google.url}/token",
            client_id=google.client_id,
            client_secret=google.client_secret,
            redirect_uri="https://a.example/cb",
            code="good-code",
            client=client,
        )
    assert tokens["refresh_token"] == "g-refresh-new"
    assert tokens["access_token"].startswith("g-access-")
    (request,) = google.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "code": "good-code",
        "client_id": google.client_id,
        "client_secret": google.client_secret,
        "redirect_uri": "https://a.example/cb",
        "grant_type": "authorization_code",
    }
    # The new refresh token works for the calendar right away.
    slots = free_slots(
        config(google, refresh_token=tokens["refresh_token"]),
        tz=TZ,
        date_from=MON,
        date_to=MON,
        now=at(FRI, 12, 0),
    )
    assert slots


def test_exchange_code_refused_and_server_error(google):
    with pytest.raises(CalendarAuthError) as err:
        exchange_code(
            token_uri=f"{google.url}/token",
            client_id=google.client_id,
            client_secret=google.client_secret,
            redirect_uri="https://a.example/cb",
            code="used",
        )
    assert "invalid_grant" in err.value.detail
    google.script(502, b"bad gateway", path="/token")
    with pytest.raises(CalendarError) as err:
        exchange_code(
            token_uri=f"{google.url}/token",
            client_id=google.client_id,
            client_secret=google.client_secret,
            redirect_uri="https://a.example/cb",
            code="good-code",
        )
    assert err.value.retryable is True
