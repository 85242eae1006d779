"""Remind members who have not acknowledged a directive (at most a set number of times)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock
from bot.services import broadcasts

log = logging.getLogger("loaphuong.jobs")


async def remind_unacknowledged(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    kick: Callable[[], None] | None = None,
) -> int:
    """Queue reminders that are due; returns how many deliveries were written."""
    async with sessions() as session:
        count = await broadcasts.due_reminders(
            session,
            clock.now(),
            timedelta(hours=settings.directive_reminder_hours),
            settings.directive_max_reminders,
        )
        await session.commit()
    if count:
        log.info("queued %d directive reminders", count)
        if kick is not None:
            kick()
    return count
