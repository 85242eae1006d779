"""The one clock: real in production, fast-forwarded in tests and the demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, aware and in UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 12, 1, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The pretended time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move forward."""
        self._now += delta

    def set(self, when: datetime) -> None:
        """Jump to a moment."""
        self._now = when.astimezone(UTC)
