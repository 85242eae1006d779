"""Invites: creating, checking, redeeming and revoking codes; guessing is rate-limited."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from bot.services import codes
from storage.models import CodeAttempt, Invite, InviteKind, MemberStatus, Role


async def create(
    session: AsyncSession,
    now: datetime,
    *,
    unit_id: int,
    kind: InviteKind,
    ttl: timedelta | None,
    role: Role | None = None,
    member_status: MemberStatus | None = None,
    person_name: str | None = None,
    phone: str | None = None,
    person_id: int | None = None,
    created_by: int | None = None,
    reusable: bool = False,
) -> Invite:
    """A new invite with a fresh code (retries on the rare collision)."""
    for _ in range(5):
        invite = Invite(
            code=codes.new_code(),
            unit_id=unit_id,
            kind=kind,
            role=role,
            member_status=member_status,
            person_name=person_name,
            phone=phone,
            person_id=person_id,
            created_by=created_by,
            reusable=reusable,
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
        try:
            async with session.begin_nested():
                session.add(invite)
        except IntegrityError:
            continue
        return invite
    raise RuntimeError("could not find a free invite code")


async def resident_code(session: AsyncSession, now: datetime, unit_id: int) -> Invite:
    """The neighbourhood's one reusable resident code (made on first use)."""
    invite = await session.scalar(
        select(Invite).where(
            Invite.unit_id == unit_id,
            Invite.kind == InviteKind.resident,
            Invite.revoked_at.is_(None),
        )
    )
    if invite is None:
        invite = await create(
            session, now, unit_id=unit_id, kind=InviteKind.resident, ttl=None, reusable=True
        )
    return invite


async def recent_failures(
    session: AsyncSession, now: datetime, subject: str, window: timedelta
) -> int:
    """Wrong codes a sender typed within the window."""
    count = await session.scalar(
        select(func.count(CodeAttempt.id)).where(
            CodeAttempt.subject == subject, CodeAttempt.at >= now - window
        )
    )
    return int(count or 0)


async def record_failure(session: AsyncSession, now: datetime, subject: str) -> None:
    """Remember one wrong code (and forget day-old ones)."""
    session.add(CodeAttempt(subject=subject, at=now))
    await session.execute(delete(CodeAttempt).where(CodeAttempt.at < now - timedelta(days=1)))


async def check(
    session: AsyncSession,
    now: datetime,
    text: str,
    *,
    subject: str,
    max_failures: int,
    window: timedelta,
) -> Invite:
    """The usable invite for a typed code, or a `UserError` that says what is wrong.

    Rate limiting comes first so a guesser learns nothing once over the limit.
    """
    if await recent_failures(session, now, subject, window) >= max_failures:
        raise UserError("invite.too_many_attempts", minutes=int(window.total_seconds() // 60))
    code = codes.normalise(text)
    invite = None
    if code is not None:
        invite = await session.scalar(select(Invite).where(Invite.code == code))
    if invite is None:
        await record_failure(session, now, subject)
        raise UserError("invite.unknown")
    if invite.revoked_at is not None:
        raise UserError("invite.revoked")
    if invite.used_at is not None and not invite.reusable:
        raise UserError("invite.used")
    if invite.expires_at is not None and invite.expires_at <= now:
        raise UserError("invite.expired")
    return invite


async def mark_used(session: AsyncSession, now: datetime, invite: Invite, person_id: int) -> None:
    """Consume a single-use invite (a reusable one only remembers its last use)."""
    invite.used_at = now
    invite.used_by = person_id
    await session.flush()


async def revoke(session: AsyncSession, now: datetime, unit_id: int, text: str) -> Invite:
    """Revoke an unused invite of this cell by its code."""
    code = codes.normalise(text)
    invite = None
    if code is not None:
        invite = await session.scalar(
            select(Invite).where(Invite.code == code, Invite.unit_id == unit_id)
        )
    if invite is None:
        raise UserError("invite.revoke_unknown")
    if invite.used_at is not None and not invite.reusable:
        raise UserError("invite.revoke_used")
    invite.revoked_at = now
    await session.flush()
    return invite


async def pending(session: AsyncSession, now: datetime, unit_id: int) -> list[Invite]:
    """Unused, unexpired, unrevoked single-use invites of a cell (for printing)."""
    query = (
        select(Invite)
        .where(
            Invite.unit_id == unit_id,
            Invite.reusable.is_(False),
            Invite.kind != InviteKind.link,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            (Invite.expires_at.is_(None)) | (Invite.expires_at > now),
        )
        .order_by(Invite.person_name, Invite.id)
    )
    return list((await session.scalars(query)).all())
