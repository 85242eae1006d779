"""When a regular meeting falls: a day of the month, or the nth (or last) weekday."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def day_of_month(year: int, month: int, day: int) -> date:
    """The `day`th of the month; a day past the month's end means its last day."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day, last))


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The nth `weekday` (0 = Monday) of the month; nth = -1 is the last one."""
    if nth == -1:
        last = calendar.monthrange(year, month)[1]
        back = (date(year, month, last).weekday() - weekday) % 7
        return date(year, month, last - back)
    first = date(year, month, 1)
    ahead = (weekday - first.weekday()) % 7
    return date(year, month, 1 + ahead + 7 * (nth - 1))


def occurrence(
    year: int,
    month: int,
    *,
    day: int | None,
    weekday: int | None,
    nth: int | None,
    at: time,
    zone: ZoneInfo,
) -> datetime:
    """The rule's meeting in one month, as an aware datetime in the cell's zone."""
    if day is not None:
        when = day_of_month(year, month, day)
    elif weekday is not None and nth is not None:
        when = nth_weekday(year, month, weekday, nth)
    else:
        raise ValueError("a rule needs a day, or a weekday and its position")
    return datetime.combine(when, at, tzinfo=zone)


def months_from(year: int, month: int, count: int) -> list[tuple[int, int]]:
    """(year, month) for `count` months starting at the given one."""
    out = []
    for i in range(count):
        index = (year * 12 + month - 1) + i
        out.append((index // 12, index % 12 + 1))
    return out
