"""People, their platform identities, roles per cell and member status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.feedback import Report
from storage.models import (
    Identity,
    MemberProfile,
    MemberStatus,
    Person,
    Role,
    RoleAssignment,
    Unit,
    UnitKind,
)

MEMBER_ROLES = frozenset({Role.secretary, Role.deputy, Role.committee, Role.member})


@dataclass(frozen=True, slots=True)
class Membership:
    """A person's standing in their cell: roles and, for party members, status."""

    unit_id: int | None
    roles: frozenset[Role]
    status: MemberStatus | None


async def identity_of(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    """The identity of a platform account, if it belongs to someone."""
    return await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.platform_user_id == user_id)
    )


async def membership(session: AsyncSession, person_id: int) -> Membership:
    """Roles of a person in their (first) cell, and member status there."""
    rows = (
        await session.execute(
            select(RoleAssignment.unit_id, RoleAssignment.role)
            .where(RoleAssignment.person_id == person_id)
            .order_by(RoleAssignment.unit_id)
        )
    ).all()
    if not rows:
        return Membership(None, frozenset(), None)
    unit_id = rows[0].unit_id
    roles = frozenset(Role(r.role) for r in rows if r.unit_id == unit_id)
    status = await session.scalar(
        select(MemberProfile.status).where(
            MemberProfile.person_id == person_id, MemberProfile.unit_id == unit_id
        )
    )
    return Membership(unit_id, roles, MemberStatus(status) if status else None)


async def create_person(
    session: AsyncSession,
    now: datetime,
    *,
    full_name: str,
    language: str,
    platform: str,
    user_id: str,
    chat_id: str,
    residential_group: str | None = None,
    house_number: str | None = None,
    phone: str | None = None,
) -> Person:
    """A new person with their first platform identity."""
    person = Person(
        full_name=full_name,
        language=language,
        residential_group=residential_group,
        house_number=house_number,
        phone=phone,
        created_at=now,
    )
    session.add(person)
    await session.flush()
    session.add(
        Identity(
            person_id=person.id,
            platform=platform,
            platform_user_id=user_id,
            chat_id=chat_id,
            receives_notices=True,
            created_at=now,
        )
    )
    await session.flush()
    return person


async def grant(
    session: AsyncSession, now: datetime, person_id: int, unit_id: int, role: Role
) -> bool:
    """Give a role; False when the person already had it."""
    exists = await session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.person_id == person_id,
            RoleAssignment.unit_id == unit_id,
            RoleAssignment.role == role,
        )
    )
    if exists:
        return False
    session.add(RoleAssignment(person_id=person_id, unit_id=unit_id, role=role, created_at=now))
    await session.flush()
    return True


async def revoke(session: AsyncSession, person_id: int, unit_id: int, role: Role) -> bool:
    """Take a role away; False when the person did not have it."""
    result = await session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.person_id == person_id,
            RoleAssignment.unit_id == unit_id,
            RoleAssignment.role == role,
        )
    )
    return bool(result.rowcount)


async def holders(session: AsyncSession, unit_id: int, role: Role) -> list[Person]:
    """People holding a role in a cell, by name."""
    query = (
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.unit_id == unit_id, RoleAssignment.role == role)
        .order_by(Person.full_name, Person.id)
    )
    return list((await session.scalars(query)).all())


async def set_status(
    session: AsyncSession, now: datetime, person_id: int, unit_id: int, status: MemberStatus
) -> None:
    """Set (or create) a party member's status in the cell."""
    profile = await session.get(MemberProfile, (person_id, unit_id))
    if profile is None:
        session.add(
            MemberProfile(person_id=person_id, unit_id=unit_id, status=status, updated_at=now)
        )
    else:
        profile.status = status
        profile.updated_at = now
    await session.flush()


async def members(session: AsyncSession, unit_id: int) -> list[tuple[Person, str | None]]:
    """Party members of a cell (anyone with a member-type role) with their status."""
    query = (
        select(Person, MemberProfile.status)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .outerjoin(
            MemberProfile,
            (MemberProfile.person_id == Person.id) & (MemberProfile.unit_id == unit_id),
        )
        .where(RoleAssignment.unit_id == unit_id, RoleAssignment.role.in_(list(MEMBER_ROLES)))
        .distinct()
        .order_by(Person.full_name, Person.id)
    )
    return [(p, s) for p, s in (await session.execute(query)).all()]


async def people_of(session: AsyncSession, unit_id: int, exclude_residents: bool) -> list[Person]:
    """Everyone with a role in the cell; optionally only those with more than the resident role."""
    query = (
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.unit_id == unit_id)
        .distinct()
        .order_by(Person.full_name, Person.id)
    )
    if exclude_residents:
        query = query.where(RoleAssignment.role != Role.resident)
    return list((await session.scalars(query)).all())


async def roles_in(session: AsyncSession, person_id: int, unit_id: int) -> frozenset[Role]:
    """A person's roles in one cell."""
    rows = await session.scalars(
        select(RoleAssignment.role).where(
            RoleAssignment.person_id == person_id, RoleAssignment.unit_id == unit_id
        )
    )
    return frozenset(Role(r) for r in rows)


async def identities(session: AsyncSession, person_id: int) -> list[Identity]:
    """A person's platform identities, the one receiving notices first."""
    query = (
        select(Identity)
        .where(Identity.person_id == person_id)
        .order_by(Identity.receives_notices.desc(), Identity.id)
    )
    return list((await session.scalars(query)).all())


async def unit(session: AsyncSession, unit_id: int) -> Unit:
    """A unit by id."""
    found = await session.get(Unit, unit_id)
    if found is None:
        raise LookupError(f"unit {unit_id} not found")
    return found


async def create_cell(
    session: AsyncSession, now: datetime, *, cell: str, ward: str, neighbourhood: str | None
) -> Unit:
    """A cell under its ward (the ward is created once and reused)."""
    ward_unit = await session.scalar(
        select(Unit).where(Unit.kind == UnitKind.ward, Unit.name == ward)
    )
    if ward_unit is None:
        ward_unit = Unit(kind=UnitKind.ward, name=ward, created_at=now)
        session.add(ward_unit)
        await session.flush()
    existing = await session.scalar(
        select(Unit).where(
            Unit.kind == UnitKind.cell, Unit.name == cell, Unit.parent_id == ward_unit.id
        )
    )
    if existing is not None:
        return existing
    if neighbourhood is None:
        neighbourhood = cell.removeprefix("Chi bộ ").strip()
    cell_unit = Unit(
        kind=UnitKind.cell,
        name=cell,
        neighbourhood=neighbourhood,
        parent_id=ward_unit.id,
        created_at=now,
    )
    session.add(cell_unit)
    await session.flush()
    return cell_unit


async def erase_resident(session: AsyncSession, now: datetime, person: Person) -> None:
    """Delete a resident's data: identities, roles, personal fields; keep an empty husk for ids.

    Their reports stay for the neighbourhood's figures, no longer linked to them.
    """
    await session.execute(
        update(Report).where(Report.reporter_id == person.id).values(reporter_id=None)
    )
    await session.execute(delete(Identity).where(Identity.person_id == person.id))
    await session.execute(delete(RoleAssignment).where(RoleAssignment.person_id == person.id))
    await session.execute(delete(MemberProfile).where(MemberProfile.person_id == person.id))
    person.full_name = "-"
    person.residential_group = None
    person.house_number = None
    person.phone = None
    person.deleted_at = now
    await session.flush()


async def unlink_chats(session: AsyncSession, person_id: int) -> int:
    """Remove every chat link of a person (their record stays); returns how many."""
    result = await session.execute(delete(Identity).where(Identity.person_id == person_id))
    return int(result.rowcount or 0)
