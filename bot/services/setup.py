"""Setting a cell up from the command line: create it, import members, list invites to print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.member_import import MemberRow, fold
from bot.services import invites, people
from storage.models import Invite, InviteKind, MemberStatus, Role, Unit, UnitKind


@dataclass(frozen=True, slots=True)
class NewCell:
    """What `loaphuong init` prints."""

    cell: Unit
    secretary: Invite
    residents: Invite


async def init_cell(
    session: AsyncSession,
    now: datetime,
    *,
    cell: str,
    ward: str,
    neighbourhood: str | None,
    ttl: timedelta,
) -> NewCell:
    """Create the cell (idempotent), a one-time secretary invite and the residents' code."""
    unit = await people.create_cell(session, now, cell=cell, ward=ward, neighbourhood=neighbourhood)
    secretary = await invites.create(
        session, now, unit_id=unit.id, kind=InviteKind.secretary, ttl=ttl
    )
    residents = await invites.resident_code(session, now, unit.id)
    return NewCell(unit, secretary, residents)


async def cells(session: AsyncSession) -> list[Unit]:
    """Every cell of this deployment."""
    return list((await session.scalars(select(Unit).where(Unit.kind == UnitKind.cell))).all())


MEMBER_TYPE = {"secretary", "deputy", "committee", "member"}


async def import_members(
    session: AsyncSession, now: datetime, unit_id: int, rows: list[MemberRow], ttl: timedelta
) -> tuple[list[Invite], list[MemberRow]]:
    """One invite per new row; rows already in the cell or already invited are skipped."""
    known = {fold(p.full_name) for p in await people.people_of(session, unit_id, False)}
    known |= {fold(i.person_name or "") for i in await invites.pending(session, now, unit_id)}
    created: list[Invite] = []
    skipped: list[MemberRow] = []
    for row in rows:
        if fold(row.name) in known:
            skipped.append(row)
            continue
        if row.role in MEMBER_TYPE:
            kind, role = InviteKind.member, None if row.role == "member" else Role(row.role)
            status: MemberStatus | None = MemberStatus(row.status)
        else:
            kind, role, status = InviteKind.role, Role(row.role), None
        created.append(
            await invites.create(
                session,
                now,
                unit_id=unit_id,
                kind=kind,
                ttl=ttl,
                role=role,
                member_status=status,
                person_name=row.name,
                phone=row.phone,
            )
        )
        known.add(fold(row.name))
    return created, skipped
