"""Quiet hours and working windows in the tenant's time zone: pure time rules, no database."""
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followups.scheduling import (
    FollowupSettings,
    in_quiet_hours,
    in_window,
    quiet_shift,
    reengagement_shift,
    window_next,
)

ALMATY = "Asia/Almaty"
S = FollowupSettings(tz=ALMATY, quiet_start="21:00", quiet_end="09:00", spread_minutes=20)


def at(tz, *args):
    return datetime(*args, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize("wall, quiet", [
    ((2030, 1, 15, 20, 59), False), ((2030, 1, 15, 21, 0), True), ((2030, 1, 15, 23, 59), True),
    ((2030, 1, 16, 0, 0), True), ((2030, 1, 16, 8, 59), True), ((2030, 1, 16, 9, 0), False),
    ((2030, 1, 16, 13, 0), False),
])
def test_quiet_hours_wrap_midnight(wall, quiet):
    assert in_quiet_hours(at(ALMATY, *wall), S) is quiet


def test_evening_moves_to_next_morning_with_spread():
    when = at(ALMATY, 2030, 1, 15, 21, 5)
    moved = [quiet_shift(when, S, random.Random(i)).astimezone(ZoneInfo(ALMATY)) for i in range(200)]
    for m in moved:
        assert m.date() == datetime(2030, 1, 16).date()
        assert at(ALMATY, 2030, 1, 16, 9, 0) <= m < at(ALMATY, 2030, 1, 16, 9, 20)
    assert len({m.replace(microsecond=0) for m in moved}) > 100  # spread: not all at 09:00:00


def test_after_midnight_moves_to_the_same_morning():
    moved = quiet_shift(at(ALMATY, 2030, 1, 16, 0, 30), S, random.Random(1)).astimezone(ZoneInfo(ALMATY))
    assert at(ALMATY, 2030, 1, 16, 9, 0) <= moved < at(ALMATY, 2030, 1, 16, 9, 20)


def test_daytime_is_left_alone():
    when = at(ALMATY, 2030, 1, 16, 14, 0)
    assert quiet_shift(when, S) == when


def test_time_zone_decides():
    instant = datetime(2030, 1, 16, 3, 30, tzinfo=UTC)  # 08:30 in Almaty (UTC+5), 06:30 in Moscow, 13:30 in Tokyo
    assert in_quiet_hours(instant, S)
    assert not in_quiet_hours(instant, FollowupSettings(tz="Asia/Tokyo"))
    moscow = quiet_shift(instant, FollowupSettings(tz="Europe/Moscow", spread_minutes=0))
    assert moscow.astimezone(ZoneInfo("Europe/Moscow")) == at("Europe/Moscow", 2030, 1, 16, 9, 0)
    almaty = quiet_shift(instant, FollowupSettings(tz=ALMATY, spread_minutes=0))
    assert almaty.astimezone(ZoneInfo(ALMATY)) == at(ALMATY, 2030, 1, 16, 9, 0)
    assert almaty - moscow == timedelta(hours=-2)


def test_daylight_saving_day_keeps_wall_clock():
    # Berlin jumps 02:00 → 03:00 on 2030-03-31; the morning is still 09:00 local.
    s = FollowupSettings(tz="Europe/Berlin", spread_minutes=0)
    moved = quiet_shift(at("Europe/Berlin", 2030, 3, 30, 23, 0), s)
    assert moved.astimezone(ZoneInfo("Europe/Berlin")) == at("Europe/Berlin", 2030, 3, 31, 9, 0)


def test_no_quiet_hours_when_start_equals_end():
    s = FollowupSettings(quiet_start="00:00", quiet_end="00:00")
    assert not in_quiet_hours(at(ALMATY, 2030, 1, 16, 3, 0), s)


def test_daytime_quiet_window_without_wrap():
    s = FollowupSettings(tz=ALMATY, quiet_start="13:00", quiet_end="14:00", spread_minutes=0)
    assert in_quiet_hours(at(ALMATY, 2030, 1, 16, 13, 30), s)
    assert quiet_shift(at(ALMATY, 2030, 1, 16, 13, 30), s) == at(ALMATY, 2030, 1, 16, 14, 0)


def test_reengagement_waits_for_working_window():
    s = FollowupSettings(tz=ALMATY, re_start="10:00", re_end="19:00", spread_minutes=0)
    assert reengagement_shift(at(ALMATY, 2030, 1, 16, 9, 30), s) == at(ALMATY, 2030, 1, 16, 10, 0)
    assert reengagement_shift(at(ALMATY, 2030, 1, 16, 19, 30), s) == at(ALMATY, 2030, 1, 17, 10, 0)
    assert reengagement_shift(at(ALMATY, 2030, 1, 16, 12, 0), s) == at(ALMATY, 2030, 1, 16, 12, 0)


def test_window_edges():
    assert in_window(at(ALMATY, 2030, 1, 16, 10, 0), tz=ALMATY, start="10:00", end="19:00")
    assert not in_window(at(ALMATY, 2030, 1, 16, 19, 0), tz=ALMATY, start="10:00", end="19:00")
    assert window_next(at(ALMATY, 2030, 1, 16, 19, 0), tz=ALMATY, start="10:00", end="19:00") == \
        at(ALMATY, 2030, 1, 17, 10, 0)
