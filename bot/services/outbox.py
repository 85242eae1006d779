"""The outbox: one delivery row per recipient, claimed by workers, retried, never lost."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery, DeliveryStatus, Identity

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where one person gets notices."""

    person_id: int
    platform: str
    chat_id: str


async def recipients(session: AsyncSession, person_ids: Iterable[int]) -> list[Recipient]:
    """Each person's notice chat: the identity marked for notices, else their first one."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(Identity.person_id, Identity.platform, Identity.chat_id, Identity.receives_notices)
        .where(Identity.person_id.in_(ids))
        .order_by(Identity.person_id, Identity.receives_notices.desc(), Identity.id)
    )
    chosen: dict[int, Recipient] = {}
    for person_id, platform, chat_id, _ in rows:
        chosen.setdefault(person_id, Recipient(person_id, platform, chat_id))
    return list(chosen.values())


async def enqueue(
    session: AsyncSession,
    *,
    source: str,
    source_id: int,
    to: Sequence[Recipient],
    due_at: datetime,
) -> int:
    """Write one pending row per recipient (in bulk); returns how many."""
    if not to:
        return 0
    rows = [
        {
            "source": source,
            "source_id": source_id,
            "person_id": r.person_id,
            "platform": r.platform,
            "chat_id": r.chat_id,
            "status": DeliveryStatus.pending,
            "due_at": due_at,
            "attempts": 0,
        }
        for r in to
    ]
    await session.execute(insert(Delivery), rows)
    return len(rows)


async def claim(
    session: AsyncSession, now: datetime, limit: int, worker: str = "worker"
) -> list[Delivery]:
    """Take up to `limit` due rows for this worker; on PostgreSQL no two workers get the same."""
    query = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.pending, Delivery.due_at <= now)
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.scalars(query)).all())
    if rows:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]))
            .values(status=DeliveryStatus.sending, claimed_at=now, claimed_by=worker[:64])
        )
        for row in rows:
            row.status, row.claimed_at = DeliveryStatus.sending, now
    return rows


async def release_own(session: AsyncSession, worker: str, *, everyone: bool) -> int:
    """At start: rows this worker (by name) had claimed before a crash go back to pending.

    `everyone` (SQLite, one writer process) takes back every claim. Those rows may have
    gone out just before the crash: they are sent again rather than lost.
    """
    query = update(Delivery).where(Delivery.status == DeliveryStatus.sending)
    if not everyone:
        query = query.where(Delivery.claimed_by == worker[:64])
    result = await session.execute(query.values(status=DeliveryStatus.pending))
    return int(result.rowcount or 0)


async def release_stale(session: AsyncSession, now: datetime) -> int:
    """Rows claimed by a worker that died: pending again (they may go twice, nothing is lost)."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.sending, Delivery.claimed_at < now - STALE_CLAIM)
        .values(status=DeliveryStatus.pending)
    )
    return int(result.rowcount or 0)


async def release_mine(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give back rows this worker claimed but did not send (it is stopping)."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(ids)), Delivery.status == DeliveryStatus.sending)
            .values(status=DeliveryStatus.pending)
        )


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 5 s, 10 s, 20 s… capped at 10 minutes."""
    base = min(5.0 * 2 ** (attempts - 1), 600.0)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed row, as the values to store."""

    delivery_id: int
    status: DeliveryStatus
    attempts: int
    due_at: datetime
    sent_at: datetime | None
    error: str | None


async def record(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Store outcomes in one executemany (an UPDATE by primary key per row)."""
    if not outcomes:
        return
    await session.execute(
        update(Delivery),
        [
            {
                "id": o.delivery_id,
                "status": o.status,
                "attempts": o.attempts,
                "due_at": o.due_at,
                "sent_at": o.sent_at,
                "error": o.error,
            }
            for o in outcomes
        ],
    )


async def counts(session: AsyncSession, source: str, source_id: int) -> dict[str, int]:
    """Deliveries of one source by status."""
    rows = await session.execute(
        select(Delivery.status, func.count(Delivery.id))
        .where(Delivery.source == source, Delivery.source_id == source_id)
        .group_by(Delivery.status)
    )
    return {status: int(n) for status, n in rows}


async def cancel(session: AsyncSession, source: str, source_id: int) -> int:
    """Cancel the rows of a source not yet sent."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.source == source,
            Delivery.source_id == source_id,
            Delivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.cancelled)
    )
    return int(result.rowcount or 0)
