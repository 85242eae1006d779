"""Working-time arithmetic: office hours, weekends and holidays skipped, properties that hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.workhours import Schedule, parse_days, parse_periods

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
WORK = Schedule.parse("07:30-11:30,13:30-17:00", "1-5", "2026-09-02,2027-01-01", HANOI)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HANOI)


def test_a_working_day_is_seven_and_a_half_hours() -> None:
    """Two periods: 4 h in the morning, 3.5 h after lunch."""
    assert timedelta(hours=7, minutes=30) == WORK.day_length


def test_eight_working_hours_from_tuesday_morning_end_wednesday_at_half_past_eight() -> None:
    """From Tuesday 08:00: 3.5 h before lunch, 3.5 h after, then 1 h on Wednesday."""
    assert local(2026, 12, 2, 8, 30) == WORK.add(local(2026, 12, 1, 8), timedelta(hours=8))


def test_a_report_sent_on_friday_evening_counts_from_monday_morning() -> None:
    """Weekend skipped: 4 working hours from Friday 20:00 is Monday 11:30."""
    assert local(2026, 12, 7, 11, 30) == WORK.add(local(2026, 12, 4, 20), timedelta(hours=4))


def test_lunch_time_is_not_working_time() -> None:
    """From 11:00, one hour ends at 14:00 (half an hour before lunch, half an hour after)."""
    assert local(2026, 12, 1, 14) == WORK.add(local(2026, 12, 1, 11), timedelta(hours=1))


def test_a_public_holiday_is_skipped() -> None:
    """Tuesday 1/9/2026 at 16:00 plus 2 h: Wednesday 2/9 is a holiday, so Thursday 08:30."""
    assert local(2026, 9, 3, 8, 30) == WORK.add(local(2026, 9, 1, 16), timedelta(hours=2))


def test_between_counts_only_working_time() -> None:
    """Friday 16:00 to Monday 08:30: one hour on Friday, one on Monday."""
    assert timedelta(hours=2) == WORK.between(local(2026, 12, 4, 16), local(2026, 12, 7, 8, 30))


def test_bad_settings_are_refused() -> None:
    """Overlapping periods, a period ending before it starts, weekday 8: each a ValueError."""
    for bad in ("08:00-12:00,11:00-13:00", "12:00-08:00", "", "8"):
        with pytest.raises(ValueError):
            parse_periods(bad)
    with pytest.raises(ValueError):
        parse_days("1-8")


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(), max_value=timedelta(days=30))


@settings(max_examples=200, deadline=None)
@given(start=moments, duration=durations)
def test_a_deadline_never_falls_outside_working_hours(start: datetime, duration: timedelta) -> None:
    """For any start and positive duration, the end is inside office hours."""
    end = WORK.add(start, duration)

    assert duration == timedelta() or WORK.is_working(end)


@settings(max_examples=200, deadline=None)
@given(start=moments)
def test_adding_nothing_is_the_identity(start: datetime) -> None:
    """Zero working time from any moment is that moment."""
    assert start == WORK.add(start, timedelta())


@settings(max_examples=200, deadline=None)
@given(start=moments, a=durations, b=durations)
def test_adding_is_monotonic_and_between_undoes_it(
    start: datetime, a: timedelta, b: timedelta
) -> None:
    """More working time never ends earlier; the time between start and end is what was added."""
    short, long = sorted((a, b))

    assert WORK.add(start, short) <= WORK.add(start, long)
    assert long == WORK.between(start, WORK.add(start, long))


@settings(max_examples=100, deadline=None)
@given(a=moments, b=moments)
def test_later_starts_never_end_earlier(a: datetime, b: datetime) -> None:
    """Monotonic in the start as well."""
    first, second = sorted((a, b))
    hours = timedelta(hours=8)

    assert WORK.add(first, hours) <= WORK.add(second, hours)


def test_no_working_day_at_all_is_reported() -> None:
    """Every weekday a holiday for ten years would loop forever: it raises instead."""
    days = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(4000))
    never = Schedule(WORK.periods, WORK.days, days, HANOI)

    with pytest.raises(ValueError):
        never.add(local(2026, 1, 1, 8), timedelta(hours=1))
