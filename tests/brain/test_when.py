"""brain.when: the client's words for a time, read in the tenant's zone (pure)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from brain.when import when_due, when_parse

ZONE = ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 11, 30, 15, 20, tzinfo=ZONE)  # a Monday afternoon


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


@pytest.mark.parametrize(
    "words, expected",
    [
        ("завтра в 11", at(1, 11, month=12)),
        ("Завтра в 11:30", at(1, 11, 30, month=12)),
        ("после 18", at(30, 18)),
        ("сегодня после 6", at(30, 18)),
        ("tomorrow 3pm", at(1, 15, month=12)),
        ("tomorrow at 10:30 am", at(1, 10, 30, month=12)),
        ("в 11", at(1, 11, month=12)),  # 11:00 has passed today: tomorrow
        ("перезвоните в 3", at(1, 15, month=12)),  # "в 3" about a business call is 15:00
        ("в пятницу после обеда", at(4, 14, month=12)),
        ("вечером", at(30, 18)),
        ("завтра", at(1, 10, month=12)),  # a day alone: the start of the working day
        ("через 2 часа", at(30, 17, 20)),
        ("сейчас", NOW),
        ("3 декабря в 12", at(3, 12, month=12)),
        ("05.12 в 14", at(5, 14, month=12)),
    ],
)
def test_named_times(words, expected):
    assert when_parse(words, now=NOW) == expected


@pytest.mark.parametrize(
    "words", ["", None, "когда удобно", "на 10 окон", "дом 10 на 12", "9" * 5000, "в 99:99", "32.13"]
)
def test_words_without_a_time(words):
    assert when_parse(words, now=NOW) is None


def test_unread_words_mean_as_soon_as_possible_within_working_hours():
    assert when_due("как удобно", now=NOW) == (NOW, False)
    late = NOW.replace(hour=22)
    assert when_due("как удобно", now=late) == (at(1, 10, month=12), False)
    early = NOW.replace(hour=7)
    assert when_due(None, now=early, work_start=time(9), work_end=time(18)) == (at(30, 9), False)
    assert when_due("завтра в 11", now=NOW) == (at(1, 11, month=12), True)
