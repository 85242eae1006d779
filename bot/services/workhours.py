"""Working-time arithmetic: deadlines counted in office hours, skipping weekends and holidays."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Schedule", "hours", "parse_days", "parse_holidays", "parse_periods"]

MAX_DAYS_AHEAD = 3660  # a deadline more than ten years of calendar away is a configuration bug


def parse_periods(text: str) -> tuple[tuple[time, time], ...]:
    """ "07:30-11:30,13:30-17:00" → ((07:30, 11:30), (13:30, 17:00)); sorted, non-overlapping."""
    periods = []
    for chunk in text.split(","):
        if not chunk.strip():
            continue
        start_text, sep, end_text = chunk.strip().partition("-")
        if not sep:
            raise ValueError(f"{chunk.strip()!r} is not like 07:30-11:30")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        if start >= end:
            raise ValueError(f"{chunk.strip()!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    if not periods:
        raise ValueError("at least one working period is needed")
    for (_, end), (start, _) in itertools.pairwise(periods):
        if start < end:
            raise ValueError("working periods overlap")
    return tuple(periods)


def parse_days(text: str) -> frozenset[int]:
    """ "1-5" or "1,2,3,4,5,6" (ISO weekdays, Monday = 1) → {1, …}."""
    days: set[int] = set()
    for chunk in text.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        low, _, high = chunk.partition("-")
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 7:
            raise ValueError(f"{chunk!r}: weekdays are 1 (Monday) to 7 (Sunday)")
        days.update(range(first, last + 1))
    if not days:
        raise ValueError("at least one working day is needed")
    return frozenset(days)


def parse_holidays(text: str) -> frozenset[date]:
    """ "2026-09-02, 2027-01-01" → dates (ISO format, comma-separated; blank is none)."""
    return frozenset(date.fromisoformat(d.strip()) for d in text.split(",") if d.strip())


@dataclass(frozen=True, slots=True)
class Schedule:
    """Office hours in a time zone: periods of each working day, minus public holidays."""

    periods: tuple[tuple[time, time], ...]
    days: frozenset[int]
    holidays: frozenset[date]
    zone: ZoneInfo

    @classmethod
    def parse(cls, periods: str, days: str, holidays: str, zone: ZoneInfo) -> Schedule:
        """A schedule from the settings' text forms."""
        return cls(parse_periods(periods), parse_days(days), parse_holidays(holidays), zone)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (a "working day" of a deadline)."""
        return sum((_span(start, end) for start, end in self.periods), timedelta())

    def is_working_day(self, day: date) -> bool:
        """Whether offices are open at all that day."""
        return day.isoweekday() in self.days and day not in self.holidays

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) from the local day of `start` onwards, in order."""
        day = start.astimezone(self.zone).date()
        for offset in range(MAX_DAYS_AHEAD):
            current = day + timedelta(days=offset)
            if not self.is_working_day(current):
                continue
            for begin, end in self.periods:
                yield (
                    datetime.combine(current, begin, self.zone).astimezone(UTC),
                    datetime.combine(current, end, self.zone).astimezone(UTC),
                )
        raise ValueError("no working time in the next ten years: check the settings")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (zero: `start` itself)."""
        if duration < timedelta():
            raise ValueError("a duration of working time cannot be negative")
        if duration == timedelta():
            return start
        left = duration
        for begin, end in self._intervals(start):
            if end <= start:
                continue
            begin = max(begin, start)
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise AssertionError("unreachable: _intervals is endless or raises")

    def between(self, start: datetime, stop: datetime) -> timedelta:
        """Working time elapsed from `start` to `stop` (zero when `stop` is not after it)."""
        if stop <= start:
            return timedelta()
        total = timedelta()
        for begin, end in self._intervals(start):
            if begin >= stop:
                break
            if end <= start:
                continue
            total += min(end, stop) - max(begin, start)
        return total

    def is_working(self, moment: datetime) -> bool:
        """Whether `moment` falls in office hours (a period's end counts as inside)."""
        local = moment.astimezone(self.zone)
        if not self.is_working_day(local.date()):
            return False
        return any(begin <= local.time() <= end for begin, end in self.periods)


def _span(start: time, end: time) -> timedelta:
    anchor = date(2000, 1, 3)
    return datetime.combine(anchor, end) - datetime.combine(anchor, start)


def hours(values: Iterable[timedelta]) -> list[float]:
    """Durations as hours, for statistics."""
    return [v.total_seconds() / 3600 for v in values]
