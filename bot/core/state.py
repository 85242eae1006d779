"""Durable chat state: updates handled once, conversation steps, pending typed choices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import OutOption, fold
from storage.models import Conversation, PendingChoice, ProcessedUpdate


async def claim_update(session: AsyncSession, now: datetime, platform: str, update_id: str) -> bool:
    """Record an update as handled; False if it already was (a retry or a restart)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ProcessedUpdate)
        .values(platform=platform, update_id=update_id, received_at=now)
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)


async def forget_updates(session: AsyncSession, before: datetime) -> int:
    """Drop handled-update records older than `before` (platforms stop retrying long before)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
    )
    return int(result.rowcount or 0)


async def conversation(session: AsyncSession, platform: str, chat_id: str) -> Conversation | None:
    """The flow a chat is in, if any."""
    return await session.get(Conversation, (platform, chat_id))


async def set_conversation(
    session: AsyncSession,
    now: datetime,
    platform: str,
    chat_id: str,
    flow: str,
    step: str,
    data: dict[str, Any],
) -> Conversation:
    """Start or move a flow to `step` with `data` (replaces what was there)."""
    row = await session.get(Conversation, (platform, chat_id))
    if row is None:
        row = Conversation(
            platform=platform, chat_id=chat_id, flow=flow, step=step, data=data, updated_at=now
        )
        session.add(row)
    else:
        row.flow, row.step, row.data, row.updated_at = flow, step, dict(data), now
    await session.flush()
    return row


async def end_conversation(session: AsyncSession, platform: str, chat_id: str) -> bool:
    """Leave any flow; True if there was one."""
    result = await session.execute(
        delete(Conversation).where(
            Conversation.platform == platform, Conversation.chat_id == chat_id
        )
    )
    return bool(result.rowcount)


async def forget_conversations(session: AsyncSession, before: datetime) -> int:
    """Drop flows nobody touched since `before` (abandoned half-way)."""
    result = await session.execute(delete(Conversation).where(Conversation.updated_at < before))
    return int(result.rowcount or 0)


# A chat may have several open questions (a directive to acknowledge, then a meeting
# invitation): the latest offer answers numbers and words; older ones, still open, answer
# their own words ("đã nhận") outside any flow. Each entry: data, words, current, at.
MAX_ENTRIES = 24


async def offer(
    session: AsyncSession,
    now: datetime,
    platform: str,
    chat_id: str,
    options: tuple[OutOption, ...],
    keywords: list[tuple[str, ...]],
) -> None:
    """Remember the options just shown in a chat, with their typed keywords."""
    fresh = [
        {
            "data": o.data,
            "words": sorted({fold(o.label), *(fold(k) for k in kws)} - {""}),
            "current": True,
            "at": now.isoformat(),
        }
        for o, kws in zip(options, keywords, strict=True)
    ]
    row = await session.get(PendingChoice, (platform, chat_id))
    if row is None:
        session.add(
            PendingChoice(platform=platform, chat_id=chat_id, options=fresh, created_at=now)
        )
    else:
        data = {o["data"] for o in fresh}
        older = [{**o, "current": False} for o in row.options if o["data"] not in data]
        row.options, row.created_at = (fresh + older)[:MAX_ENTRIES], now
    await session.flush()


async def withdraw(session: AsyncSession, platform: str, chat_id: str) -> None:
    """A new question without options: numbers no longer answer the last offer."""
    row = await session.get(PendingChoice, (platform, chat_id))
    if row is not None and any(o.get("current") for o in row.options):
        row.options = [{**o, "current": False} for o in row.options]


async def match_typed(
    session: AsyncSession,
    now: datetime,
    platform: str,
    chat_id: str,
    text: str,
    ttl: timedelta,
    *,
    older_too: bool = True,
) -> str | None:
    """The option a typed answer picks ("1", "đồng ý"), or None; a match closes its question.

    Numbers answer the latest offer only; words answer it first, then (with `older_too`,
    outside any flow) questions still open from before.
    """
    row = await session.get(PendingChoice, (platform, chat_id))
    if row is None:
        return None
    cutoff = now - ttl
    live = [
        o
        for o in row.options
        if datetime.fromisoformat(o.get("at", row.created_at.isoformat())) >= cutoff
    ]
    current = [o for o in live if o.get("current", True)]
    answer = fold(text)
    picked = None
    if answer.isdigit() and 1 <= int(answer) <= len(current):
        picked = current[int(answer) - 1]
    else:
        candidates = current + (
            [o for o in live if not o.get("current", True)] if older_too else []
        )
        picked = next((o for o in candidates if answer in o["words"]), None)
    if picked is None:
        if len(live) != len(row.options):
            row.options = live
        return None
    if picked.get("current", True):
        # The latest question is answered: its other options stop answering.
        remaining = [o for o in live if not o.get("current", True)]
    else:
        remaining = [o for o in live if o is not picked]
    if remaining:
        row.options = remaining
    else:
        await session.delete(row)
    return str(picked["data"])
