"""Google Calendar: free slots, booking with a Meet link, and the admin's OAuth consent helpers.

Pure Python on purpose (no Django): the AI tools `check_availability` / `book_meeting` call these from
Celery tasks. Credentials are per-tenant OAuth user credentials (a refresh token), because service
accounts cannot invite attendees.

Every network call goes through google-api-python-client over httplib2 (token refresh included, via
google_auth_httplib2), so pointing `api_url` and `token_uri` at a local stand-in covers everything.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urljoin
from zoneinfo import ZoneInfo

import httpx

SCOPE = "https://www.googleapis.com/auth/calendar"
DEFAULT_API_URL = "https://www.googleapis.com/"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_MEETING_MINUTES = 30
DEFAULT_WORKING_HOURS = {"start": "10:00", "end": "19:00"}
DEFAULT_WORKING_DAYS = (1, 2, 3, 4, 5)  # ISO weekdays, Monday–Friday
MIN_LEAD_TIME = timedelta(hours=1)  # nobody can join a call that starts in ten minutes
SLOT_STEP = timedelta(minutes=30)
MAX_RANGE_DAYS = 31  # freeBusy refuses very long ranges; an AI asking for months gets the first one


# --- errors ----------------------------------------------------------------------------------------


class CalendarError(Exception):
    """A calendar call that failed; `retryable` says whether trying later can help (5xx, 429, network)."""

    def __init__(self, detail: str, *, retryable: bool = False, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status_code = status_code


class CalendarAuthError(CalendarError):
    """The stored credential is broken (invalid_grant: revoked, expired, wrong client); admin must reconnect."""

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail, retryable=False, status_code=status_code)


class SlotTakenError(CalendarError):
    """The requested time cannot be booked; `reason` is "busy", "past" or "outside_hours"."""

    def __init__(self, detail: str, *, reason: str = "busy") -> None:
        super().__init__(detail, retryable=False)
        self.reason = reason


# --- service ---------------------------------------------------------------------------------------


def _api_endpoint(api_url: str) -> str:
    # googleapiclient uses client_options.api_endpoint AS the base URL (it replaces rootUrl + servicePath,
    # see discovery.build_from_document), so the "calendar/v3/" service path must be appended here.
    root = (api_url or DEFAULT_API_URL).rstrip("/") + "/"
    return urljoin(root, "calendar/v3/")


def build_service(config: dict) -> Any:
    """A Calendar v3 resource for the tenant's `google_calendar` config; no network until first call."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    if not config.get("refresh_token"):
        raise CalendarAuthError("google_calendar: no refresh_token; connect the calendar in admin")
    creds = Credentials(
        token=None,
        refresh_token=config["refresh_token"],
        client_id=config.get("client_id"),
        client_secret=config.get("client_secret"),
        token_uri=config.get("token_uri") or DEFAULT_TOKEN_URI,
        scopes=[SCOPE],
    )
    return build(
        "calendar",
        "v3",
        credentials=creds,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": _api_endpoint(config.get("api_url") or DEFAULT_API_URL)},
    )


def _execute(request: Any, what: str) -> Any:
    """Run one API request, mapping every failure to CalendarError / CalendarAuthError."""
    import httplib2
    from google.auth import exceptions as auth_exceptions
    from googleapiclient.errors import HttpError

    try:
        return request.execute(num_retries=0)
    except auth_exceptions.RefreshError as exc:
        text = str(exc)
        if getattr(exc, "retryable", False) and "invalid_grant" not in text:
            raise CalendarError(f"google_calendar: token refresh failed: {text}", retryable=True) from exc
        raise CalendarAuthError(f"google_calendar: credential refused: {text}") from exc
    except auth_exceptions.TransportError as exc:
        raise CalendarError(f"google_calendar: token endpoint unreachable: {exc}", retryable=True) from exc
    except HttpError as exc:
        status = int(exc.resp.status)
        detail = f"google_calendar: {what}: {status} {_http_error_text(exc)}"
        if status == 401:
            raise CalendarAuthError(detail, status_code=status) from exc
        raise CalendarError(
            detail, retryable=status in (408, 429) or status >= 500, status_code=status
        ) from exc
    except (httplib2.HttpLib2Error, OSError) as exc:
        raise CalendarError(f"google_calendar: {what}: network error: {exc!r}", retryable=True) from exc


def _http_error_text(exc: Any) -> str:
    try:
        data = json.loads(exc.content.decode("utf-8"))
        return str(data.get("error", {}).get("message") or data)[:300]
    except (ValueError, AttributeError, UnicodeDecodeError):
        return str(getattr(exc, "reason", "") or exc)[:300]


# --- time helpers ----------------------------------------------------------------------------------


def _parse_hhmm(value: str, fallback: str) -> time:
    try:
        hours, minutes = str(value or fallback).split(":")[:2]
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        hours, minutes = fallback.split(":")
        return time(int(hours), int(minutes))


def _working_hours(config: dict) -> tuple[time, time]:
    hours = config.get("working_hours") or DEFAULT_WORKING_HOURS
    return (
        _parse_hhmm(hours.get("start"), DEFAULT_WORKING_HOURS["start"]),
        _parse_hhmm(hours.get("end"), DEFAULT_WORKING_HOURS["end"]),
    )


def _working_days(config: dict) -> tuple[int, ...]:
    days = config.get("working_days")
    return tuple(int(d) for d in days) if days else DEFAULT_WORKING_DAYS


def _duration(config: dict, duration_minutes: int | None) -> timedelta:
    minutes = duration_minutes or config.get("meeting_minutes") or DEFAULT_MEETING_MINUTES
    return timedelta(minutes=max(5, int(minutes)))


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    # A naive time from the AI is read as tenant-local wall time.
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _rfc3339(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # 3.11 reads "Z" itself
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _busy_intervals(
    service: Any, calendar_id: str, start: datetime, end: datetime, tz: str
) -> list[tuple[datetime, datetime]]:
    body = {
        "timeMin": _rfc3339(start),
        "timeMax": _rfc3339(end),
        "timeZone": tz,
        "items": [{"id": calendar_id}],
    }
    data = _execute(service.freebusy().query(body=body), "freeBusy") or {}
    calendars = data.get("calendars") or {}
    entry = calendars.get(calendar_id)
    if entry is None and len(calendars) == 1:  # some servers key "primary" by the real address
        entry = next(iter(calendars.values()))
    entry = entry or {}
    errors = entry.get("errors") or []
    if errors:
        reasons = ", ".join(str(e.get("reason")) for e in errors if isinstance(e, dict))
        raise CalendarError(f"google_calendar: freeBusy for {calendar_id!r}: {reasons or errors}")
    intervals = []
    for item in entry.get("busy") or []:
        try:
            intervals.append((_parse_rfc3339(item["start"]), _parse_rfc3339(item["end"])))
        except (KeyError, TypeError, ValueError):
            continue
    return intervals


def _overlaps(start: datetime, end: datetime, busy: list[tuple[datetime, datetime]]) -> bool:
    return any(start < b_end and b_start < end for b_start, b_end in busy)


# --- free slots ------------------------------------------------------------------------------------


def free_slots(
    config: dict,
    *,
    tz: str,
    date_from: date,
    date_to: date,
    now: datetime,
    duration_minutes: int | None = None,
    limit: int = 3,
    service: Any = None,
) -> list[datetime]:
    """Up to `limit` bookable starts (aware, in `tz`) between date_from and date_to inclusive.

    One freeBusy query. Candidates lie on the half hour inside working hours on working days, start at
    least an hour from `now` and do not overlap busy time. The offer is spread over the day (a gap of
    about working-day / limit between picks) so the client sees a morning and an afternoon choice.
    """
    zone = ZoneInfo(tz)
    now = _aware(now, zone).astimezone(zone)
    if date_to < date_from:
        date_from, date_to = date_to, date_from
    date_from = max(date_from, now.date())
    date_to = min(date_to, date_from + timedelta(days=MAX_RANGE_DAYS - 1))
    if date_to < date_from or limit <= 0:
        return []
    length = _duration(config, duration_minutes)
    work_start, work_end = _working_hours(config)
    days = _working_days(config)

    span = (date_to - date_from).days + 1
    if not any((date_from + timedelta(days=i)).isoweekday() in days for i in range(span)):
        return []  # only days off asked for: nothing to offer, no need to ask Google
    range_start = datetime.combine(date_from, time(0, 0), tzinfo=zone)
    range_end = datetime.combine(date_to + timedelta(days=1), time(0, 0), tzinfo=zone)
    service = service or build_service(config)
    busy = _busy_intervals(service, config.get("calendar_id") or "primary", range_start, range_end, tz)

    earliest = now + MIN_LEAD_TIME
    candidates: list[datetime] = []
    day = date_from
    while day <= date_to:
        if day.isoweekday() in days:
            slot = datetime.combine(day, work_start, tzinfo=zone)
            if slot.minute % 30:  # working day starting 09:15 → first slot 09:30
                slot += timedelta(minutes=30 - slot.minute % 30)
            day_end = datetime.combine(day, work_end, tzinfo=zone)
            while slot + length <= day_end:
                if slot >= earliest and not _overlaps(slot, slot + length, busy):
                    candidates.append(slot)
                slot += SLOT_STEP
        day += timedelta(days=1)

    window = datetime.combine(date_from, work_end) - datetime.combine(date_from, work_start)
    gap = max(length, _round_to_step(window / max(limit, 1)))
    picks: list[datetime] = []
    for slot in candidates:
        if not picks or slot.date() != picks[-1].date() or slot - picks[-1] >= gap:
            picks.append(slot)
            if len(picks) >= limit:
                break
    return picks


def _round_to_step(value: timedelta) -> timedelta:
    steps = max(1, int(value / SLOT_STEP))
    return steps * SLOT_STEP


# --- wording ---------------------------------------------------------------------------------------

_RU_WEEKDAYS = (
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
)
_RU_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day_phrase(day: date, today: date, language: str) -> str:
    delta = (day - today).days
    if language == "en":
        if delta == 0:
            return "today"
        if delta == 1:
            return "tomorrow"
        return f"on {_EN_WEEKDAYS[day.weekday()]}, {day.day} {_EN_MONTHS[day.month - 1]},"
    if delta == 0:
        return "сегодня"
    if delta == 1:
        return "завтра"
    if delta == 2:
        return "послезавтра"
    return f"{_RU_WEEKDAYS[day.weekday()]}, {day.day} {_RU_MONTHS[day.month - 1]},"


def describe_slots(slots: list[datetime], *, now: datetime, language: str = "ru") -> str:
    """Slots in words a client understands, relative to `now` in the slots' own time zone.

    ru: «завтра в 11:00 или в 15:30», «в понедельник, 24 ноября, в 10:30»;
    en: «tomorrow at 11:00 or 15:30», «on Monday, 24 November, at 10:30». Empty list → "".
    """
    if not slots:
        return ""
    lang = "en" if (language or "ru").lower().startswith("en") else "ru"
    ordered = sorted(slots)
    zone = ordered[0].tzinfo
    today = (now.astimezone(zone) if (zone and now.tzinfo) else now).date()
    groups: list[tuple[date, list[str]]] = []
    for slot in ordered:
        local = slot.astimezone(zone) if zone else slot
        if not groups or groups[-1][0] != local.date():
            groups.append((local.date(), []))
        groups[-1][1].append(local.strftime("%H:%M"))

    if lang == "en":
        # "tomorrow at 11:00 or 15:30"; several days: "tomorrow at 11:00, or on Monday, … at 10:30"
        phrases = []
        for day, times in groups:
            joined = times[0] if len(times) == 1 else ", ".join(times[:-1]) + " or " + times[-1]
            phrases.append(f"{_day_phrase(day, today, 'en')} at {joined}")
        return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", or " + phrases[-1]

    # «завтра в 11:00 или в 15:30»; several days: «завтра в 11:00, в 15:30 или в понедельник, … в 10:30»
    if len(groups) == 1:
        day, times = groups[0]
        return f"{_day_phrase(day, today, 'ru')} " + " или ".join(f"в {t}" for t in times)
    phrases = [
        f"{_day_phrase(day, today, 'ru')} " + ", ".join(f"в {t}" for t in times) for day, times in groups
    ]
    return ", ".join(phrases[:-1]) + " или " + phrases[-1]


# --- booking ---------------------------------------------------------------------------------------


def _event_id_for(request_id: str) -> str:
    # Google accepts client-chosen ids in base32hex (0-9, a-v); hex digits qualify. Deriving the id from
    # request_id makes a retried task find its own event instead of booking the slot twice.
    return hashlib.sha1(request_id.encode("utf-8")).hexdigest()


def _booking_result(event: dict, start: datetime, end: datetime) -> dict:
    meet = event.get("hangoutLink")
    if not meet:
        for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
            if entry.get("entryPointType") == "video":
                meet = entry.get("uri")
                break
    return {
        "event_id": event.get("id"),
        "html_link": event.get("htmlLink"),
        "meet_link": meet,
        "start": _rfc3339(start),
        "end": _rfc3339(end),
    }


def _existing_event(service: Any, calendar_id: str, event_id: str) -> dict | None:
    try:
        event = _execute(service.events().get(calendarId=calendar_id, eventId=event_id), "events.get")
    except CalendarError as exc:
        if exc.status_code in (404, 410):
            return None
        raise
    if not isinstance(event, dict) or event.get("status") == "cancelled":
        return None
    return event


def book_meeting(
    config: dict,
    *,
    start: datetime,
    duration_minutes: int | None,
    summary: str,
    description: str,
    attendee_email: str | None,
    tz: str,
    request_id: str,
    now: datetime | None = None,
    enforce_working_hours: bool = True,
    service: Any = None,
) -> dict:
    """Book `start` after re-checking it is free; returns {"event_id", "html_link", "meet_link", "start",
    "end"} with start/end as RFC3339 strings in `tz`.

    Raises SlotTakenError when the time is busy, already past, or (enforce_working_hours) outside
    working hours/days — the AI then offers other slots. `request_id` must be stable across retries of
    the same booking: it names the Meet create request and the event id, so a retry returns the event
    it already made.
    """
    zone = ZoneInfo(tz)
    start = _aware(start, zone).astimezone(zone)
    end = start + _duration(config, duration_minutes)
    now = _aware(now, zone) if now else datetime.now(UTC)
    calendar_id = config.get("calendar_id") or "primary"
    event_id = _event_id_for(request_id)

    if start < now:
        raise SlotTakenError(f"{_rfc3339(start)} is in the past", reason="past")
    if enforce_working_hours:
        work_start, work_end = _working_hours(config)
        if (
            start.isoweekday() not in _working_days(config)
            or start.time() < work_start
            or end.date() != start.date()
            or end.time() > work_end
        ):
            raise SlotTakenError(f"{_rfc3339(start)} is outside working hours", reason="outside_hours")

    service = service or build_service(config)
    busy = _busy_intervals(service, calendar_id, start, end, tz)
    if _overlaps(start, end, busy):
        existing = _existing_event(service, calendar_id, event_id)  # our own earlier attempt?
        if existing is not None:
            return _booking_result(existing, start, end)
        raise SlotTakenError(f"{_rfc3339(start)} is busy", reason="busy")

    body: dict[str, Any] = {
        "id": event_id,
        "summary": summary,
        "description": description,
        "start": {"dateTime": _rfc3339(start), "timeZone": tz},
        "end": {"dateTime": _rfc3339(end), "timeZone": tz},
        "conferenceData": {
            "createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}},
        },
    }
    if attendee_email:
        body["attendees"] = [{"email": attendee_email}]
    request = service.events().insert(
        calendarId=calendar_id, body=body, conferenceDataVersion=1, sendUpdates="all"
    )
    try:
        event = _execute(request, "events.insert")
    except CalendarError as exc:
        if exc.status_code != 409:  # 409: the id exists, i.e. an earlier attempt went through
            raise
        event = _existing_event(service, calendar_id, event_id)
        if event is None:
            raise
    return _booking_result(event or {}, start, end)


def event_read(config: dict, event_id: str, *, service: Any = None) -> dict | None:
    """The event's start (aware datetime) and links, read from the calendar (the truth: a meeting moved there is
    moved for us too): {"start", "meet_link", "html_link"}; None when it was deleted or cancelled."""
    service = service or build_service(config)
    event = _existing_event(service, config.get("calendar_id") or "primary", event_id)
    if event is None:
        return None
    raw = (event.get("start") or {}).get("dateTime")
    if not isinstance(raw, str):
        return None
    try:
        start = _parse_rfc3339(raw)
    except ValueError:
        return None
    result = _booking_result(event, start, start)
    return {"start": start, "meet_link": result["meet_link"], "html_link": result["html_link"]}


# --- OAuth consent (admin flow) --------------------------------------------------------------------


def authorize_url(*, auth_uri: str, client_id: str, redirect_uri: str, state: str) -> str:
    """The Google consent URL; offline + consent so Google returns a refresh token every time."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "access_type": "offline",
            "prompt": "consent",
            "state": state,
        }
    )
    return f"{auth_uri}{'&' if '?' in auth_uri else '?'}{query}"


def exchange_code(
    *,
    token_uri: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    client: httpx.Client | None = None,
) -> dict:
    """Trade the consent code for tokens; the dict has refresh_token (always — else CalendarAuthError)."""
    form = {
        "code": code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
    }
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(10.0))
    try:
        response = http.post(token_uri, data=form, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise CalendarError(f"google_oauth: token endpoint unreachable: {exc}", retryable=True) from exc
    finally:
        if own:
            http.close()
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 500:
        raise CalendarError(
            f"google_oauth: {response.status_code}", retryable=True, status_code=response.status_code
        )
    if response.status_code >= 400 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        text = f"{error}: {data.get('error_description', '')}" if error else response.text[:300]
        raise CalendarAuthError(
            f"google_oauth: code exchange refused: {text}", status_code=response.status_code
        )
    if not data.get("refresh_token"):
        raise CalendarAuthError(
            "google_oauth: no refresh_token in the answer (consent without prompt=consent?)"
        )
    return data
