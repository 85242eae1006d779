"""Forget what no longer serves: handled-update ids, abandoned flows, old typed choices."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core import state
from bot.core.clock import Clock
from storage.models import PendingChoice

log = logging.getLogger("loaphuong.jobs")

ABANDONED_FLOW = timedelta(days=2)
STALE_CHOICE = timedelta(days=30)


async def housekeeping(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> dict[str, int]:
    """Delete bookkeeping rows past their use; returns how many of each."""
    now = clock.now()
    async with sessions() as session:
        updates = await state.forget_updates(
            session, now - timedelta(days=settings.processed_update_retention_days)
        )
        flows = await state.forget_conversations(session, now - ABANDONED_FLOW)
        result = await session.execute(
            delete(PendingChoice).where(PendingChoice.created_at < now - STALE_CHOICE)
        )
        await session.commit()
    counts = {"updates": updates, "flows": flows, "choices": int(result.rowcount or 0)}
    log.info("housekeeping: %s", counts)
    return counts
