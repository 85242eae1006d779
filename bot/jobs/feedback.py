"""Report jobs: deadline reminders and escalation, retention, and the monthly summary."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock
from bot.services import feedback_lifecycle as life
from bot.services import feedback_stats

log = logging.getLogger("loaphuong.jobs")
Kick = Callable[[], None] | None


async def feedback_deadlines(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, kick: Kick = None
) -> int:
    """Remind handlers at half time and at the deadline, then escalate; returns rows written."""
    async with sessions() as session:
        count = await life.follow_deadlines(session, clock.now(), settings)
        await session.commit()
    if count:
        log.info("queued %d report deadline messages", count)
        if kick is not None:
            kick()
    return count


async def feedback_retention(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> int:
    """Delete photos and reporters' identity of reports closed long ago; returns how many."""
    async with sessions() as session:
        count = await life.purge(
            session, clock.now(), timedelta(days=settings.feedback_retention_days)
        )
        await session.commit()
    if count:
        log.info("retention: %d closed reports lost their photos and reporter", count)
    return count


async def feedback_monthly(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, kick: Kick = None
) -> int:
    """Last month's summary to each cell's secretary (once per month); returns rows written."""
    async with sessions() as session:
        count = await feedback_stats.send_monthly(session, clock.now(), settings)
        await session.commit()
    if count and kick is not None:
        kick()
    return count


def schedule(
    scheduler: Any,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    kick: Kick,
) -> None:
    """Register the report jobs on an APScheduler scheduler (explicit ids, replaced on restart)."""
    common = {"replace_existing": True, "coalesce": True, "timezone": settings.zone}
    scheduler.add_job(
        feedback_deadlines,
        "interval",
        minutes=5,
        args=[sessions, clock, settings, kick],
        id="feedback-deadlines",
        misfire_grace_time=3600,
        **common,
    )
    scheduler.add_job(
        feedback_retention,
        "cron",
        hour=3,
        minute=20,
        args=[sessions, clock, settings],
        id="feedback-retention",
        misfire_grace_time=6 * 3600,
        **common,
    )
    # Idempotent per cell and month: a restart on the 1st does not send it twice.
    scheduler.add_job(
        feedback_monthly,
        "cron",
        day=1,
        hour=7,
        minute=0,
        args=[sessions, clock, settings, kick],
        id="feedback-monthly-summary",
        misfire_grace_time=12 * 3600,
        **common,
    )
