"""The audit log: ids and action names only, so a breach can be traced without leaking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def record(
    session: AsyncSession,
    at: datetime,
    action: str,
    *,
    actor_id: int | None = None,
    unit_id: int | None = None,
    target_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one audit row (never message text or names)."""
    session.add(
        AuditEntry(
            at=at,
            action=action,
            actor_id=actor_id,
            unit_id=unit_id,
            target_id=target_id,
            detail=detail,
        )
    )


async def entries(session: AsyncSession, action: str | None = None) -> list[AuditEntry]:
    """Audit rows, oldest first, optionally of one action."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list((await session.scalars(query)).all())
