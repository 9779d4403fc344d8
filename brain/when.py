"""When the client wants to be called: "завтра в 11", "после 18", "tomorrow 3pm" → a moment in the tenant's zone.

Pure (no Django). `when_parse` reads a bounded prefix of the client's words and answers a local datetime or None;
`when_due` adds the rule for words it cannot read: as soon as possible inside working hours.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

MAX_CHARS = 200

_WEEKDAYS = {
    "понедельник": 0,
    "вторник": 1,
    "сред": 2,
    "четверг": 3,
    "пятниц": 4,
    "суббот": 5,
    "воскресень": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Parts of the day said in words, and the hour they stand for when no hour is named.
_PARTS = (
    (("до обеда", "before lunch"), 11),
    (("утр", "morning"), 10),
    (("после обеда", "обед", "днём", "днем", "afternoon", "lunch"), 14),
    (("вечер", "evening", "tonight"), 18),
)
_NOW_WORDS = ("сейчас", "срочно", "немедленно", "прямо сейчас", "now", "asap", "right away", "as soon as")

_IN_HOURS = re.compile(r"(?:через|in)\s+(\d{1,2}|пол|half an?)?\s*(?:час|hour)")
_IN_MINUTES = re.compile(r"(?:через|in)\s+(\d{1,3})\s*(?:мин|min)")
_AFTER = re.compile(r"(?:после|after|от|from|с)\s+(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|ч)?")
_CLOCK = re.compile(r"(?<![\d.:])(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)")
_AT = re.compile(
    r"(?:\bв|\bк|\bat|\bоколо|\baround|\bby)\s+(\d{1,2})(?:[:.](\d{2}))?"
    r"(?![\d:.]|\s*(?:числ|мин|min|дн|day|шт|окон|двер|м\b|метр))"
)
_BARE = re.compile(r"(?<![\d.:])(\d{1,2})[:.](\d{2})(?![\d.:])")
_MONTHS = ("январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр", "октябр", "ноябр", "декабр")
_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_MONTH = re.compile(r"(?<![\d.:])(\d{1,2})\s+([а-яa-z]{3,10})")
_DATE = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?(?![\d:])")


def _hour_of(hours: str, minutes: str | None, suffix: str | None, text: str) -> tuple[int, int] | None:
    h, m = int(hours), int(minutes or 0)
    suffix = (suffix or "").replace(".", "")
    if suffix == "pm" and h < 12:
        h += 12
    elif suffix == "am" and h == 12:
        h = 0
    elif not suffix and 1 <= h <= 7 and "утр" not in text and "morning" not in text and "ночи" not in text:
        h += 12  # "в 3" said about a business call means 15:00
    if "вечер" in text and h < 12:
        h += 12
    if h > 23 or m > 59:
        return None
    return h, m


def _day_offset(text: str, now: datetime) -> int | None:
    if "послезавтра" in text or "day after tomorrow" in text:
        return 2
    if "завтра" in text or "tomorrow" in text:
        return 1
    if "сегодня" in text or "today" in text or "tonight" in text:
        return 0
    for word, weekday in _WEEKDAYS.items():
        if word in text:
            return (weekday - now.weekday()) % 7 or 7
    return None


def _explicit_date(text: str, now: datetime) -> datetime | None:
    found = _DATE.search(text)
    if found:
        day, month = int(found.group(1)), int(found.group(2))
        year = int(found.group(3)) if found.group(3) else now.year
    else:
        month = 0
        for named in _DAY_MONTH.finditer(text):
            word = named.group(2)
            for index, (ru, en) in enumerate(zip(_MONTHS, _MONTHS_EN, strict=True)):
                if (word.startswith(ru) and (ru != "ма" or word in ("мая", "май"))) or word.startswith(en):
                    day, month = int(named.group(1)), index + 1
                    break
            if month:
                break
        if not month:
            return None
        year = now.year
    year = year + 2000 if year < 100 else year
    try:
        candidate = now.replace(year=year, month=month, day=day)
    except ValueError:
        return None
    if not (found and found.group(3)) and candidate.date() < now.date():
        candidate = candidate.replace(year=year + 1)
    return candidate


def when_parse(
    text: str | None, *, now: datetime, work_start: time = time(10), work_end: time = time(19)
) -> datetime | None:
    """The moment the words name, in `now`'s zone (aware in, aware out); None when they name none."""
    if not text:
        return None
    text = " ".join(str(text)[:MAX_CHARS].lower().replace("ё", "е").split())
    found = _IN_MINUTES.search(text)
    if found:
        return now + timedelta(minutes=int(found.group(1)))
    found = _IN_HOURS.search(text)
    if found:
        amount = found.group(1)
        minutes = 30 if amount and not amount.isdigit() else 60 * int(amount or 1)
        return now + timedelta(minutes=minutes)
    if any(word in text for word in _NOW_WORDS) and not any(w in text for w in ("завтра", "tomorrow")):
        return now
    clock: tuple[int, int] | None = None
    for pattern in (_AFTER, _CLOCK, _AT, _BARE):
        match = pattern.search(text)
        if match:
            groups = match.groups()
            clock = _hour_of(groups[0], groups[1], groups[2] if len(groups) > 2 else None, text)
            if clock:
                break
    if clock is None:
        for words, hour in _PARTS:
            if any(word in text for word in words):
                clock = (hour, 0)
                break
    day = _explicit_date(text, now)
    offset = None if day else _day_offset(text, now)
    if day is None and offset is None and clock is None:
        return None
    if day is None:
        day = now + timedelta(days=offset or 0)
    if clock is None:
        start = day.replace(hour=work_start.hour, minute=work_start.minute, second=0, microsecond=0)
        return max(start, now) if start.date() == now.date() else start
    moment = day.replace(hour=clock[0], minute=clock[1], second=0, microsecond=0)
    if offset is None and moment < now and day.date() == now.date():
        moment += timedelta(days=1)  # "в 11" said at 15:00 means tomorrow
    return moment


def working_next(moment: datetime, *, work_start: time = time(10), work_end: time = time(19)) -> datetime:
    """`moment` if it falls inside working hours, else the next start of them (weekends count as work days:
    the client writes on them too)."""
    start = moment.replace(hour=work_start.hour, minute=work_start.minute, second=0, microsecond=0)
    end = moment.replace(hour=work_end.hour, minute=work_end.minute, second=0, microsecond=0)
    if moment < start:
        return start
    if moment >= end:
        return start + timedelta(days=1)
    return moment


def when_due(
    text: str | None, *, now: datetime, work_start: time = time(10), work_end: time = time(19)
) -> tuple[datetime, bool]:
    """(due moment, whether the client's words named it). Unread words: as soon as possible within working hours."""
    parsed = when_parse(text, now=now, work_start=work_start, work_end=work_end)
    if parsed is not None:
        return parsed, True
    return working_next(now, work_start=work_start, work_end=work_end), False
