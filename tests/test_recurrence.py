"""Recurrence rules across years: short months, leap years, first and last weekdays."""

from __future__ import annotations

import calendar
import itertools
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.services.recurrence import day_of_month, months_from, nth_weekday

years = st.integers(min_value=2000, max_value=2100)
months = st.integers(min_value=1, max_value=12)
weekdays = st.integers(min_value=0, max_value=6)


@given(years, months, st.integers(min_value=1, max_value=31))
def test_a_day_past_the_end_of_the_month_is_its_last_day(year: int, month: int, day: int) -> None:
    """Day 31 in a 30-day month, 29-31 in February: the last day; otherwise that very day."""
    last = calendar.monthrange(year, month)[1]

    got = day_of_month(year, month, day)

    assert got == date(year, month, min(day, last))


@given(years, months, weekdays, st.integers(min_value=1, max_value=4))
def test_the_nth_weekday_is_that_weekday_in_the_right_week(
    year: int, month: int, weekday: int, nth: int
) -> None:
    """The first Saturday falls on days 1-7, the second on 8-14, and so on."""
    got = nth_weekday(year, month, weekday, nth)

    assert got.weekday() == weekday
    assert got.month == month
    assert 7 * (nth - 1) < got.day <= 7 * nth


@given(years, months, weekdays)
def test_the_last_weekday_has_no_later_one_in_the_month(
    year: int, month: int, weekday: int
) -> None:
    """ "Thứ Sáu cuối cùng": a Friday, and a week later is next month."""
    got = nth_weekday(year, month, weekday, -1)

    assert got.weekday() == weekday and got.month == month
    assert got.day + 7 > calendar.monthrange(year, month)[1]


def test_known_dates() -> None:
    """A few dates checked by hand, including leap years."""
    assert day_of_month(2024, 2, 31) == date(2024, 2, 29)
    assert day_of_month(2026, 2, 30) == date(2026, 2, 28)
    assert nth_weekday(2026, 12, 5, 1) == date(2026, 12, 5)  # first Saturday of December 2026
    assert nth_weekday(2026, 12, 4, -1) == date(2026, 12, 25)  # last Friday


@given(years, months, st.integers(min_value=1, max_value=36))
def test_months_run_on_without_gaps(year: int, month: int, count: int) -> None:
    """Consecutive months, across year ends."""
    got = months_from(year, month, count)

    assert len(got) == count
    assert got[0] == (year, month)
    for (y1, m1), (y2, m2) in itertools.pairwise(got):
        assert (y2 * 12 + m2) - (y1 * 12 + m1) == 1
