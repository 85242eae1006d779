"""Meeting jobs: occurrences ahead, due notices, the checklist and the thematic reminder."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import Clock
from bot.services import meeting_checks, meetings, notices, setup

log = logging.getLogger("loaphuong.jobs")


async def generate_occurrences(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> int:
    """Every cell with a rule has its meetings for the coming months."""
    made = 0
    async with sessions() as session:
        for cell in await setup.cells(session):
            made += len(
                await meetings.generate(
                    session,
                    clock.now(),
                    cell.id,
                    settings.zone,
                    settings.meeting_horizon_months,
                    settings.notice_offsets,
                )
            )
        await session.commit()
    if made:
        log.info("created %d meetings from the rules", made)
    return made


async def meeting_tick(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    kick: Callable[[], None] | None = None,
) -> int:
    """Due notices, checklists and thematic reminders become outbox rows, once each."""
    now = clock.now()
    async with sessions() as session:
        written = await notices.dispatch_due(session, now, settings.meeting_inform_uncounted)
        written += await meeting_checks.checklists_due(session, now)
        written += await meeting_checks.thematic_due(session, now, settings.zone)
        await session.commit()
    if written:
        log.info("meeting tick queued %d messages", written)
        if kick is not None:
            kick()
    return written
