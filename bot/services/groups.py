"""Named groups of a neighbourhood (women's union, veterans…), used as broadcast audiences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from storage.models import Group, GroupMember, Person

NAME_LIMIT = 80


async def all_of(session: AsyncSession, unit_id: int) -> list[tuple[Group, int]]:
    """The cell's groups with how many people each has."""
    rows = await session.execute(
        select(Group, func.count(GroupMember.person_id))
        .outerjoin(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.unit_id == unit_id)
        .group_by(Group.id)
        .order_by(Group.name)
    )
    return [(g, int(n)) for g, n in rows]


async def create(session: AsyncSession, now: datetime, unit_id: int, name: str) -> Group:
    """A new group; the name must be new in the cell."""
    name = " ".join(name.split())
    if not 2 <= len(name) <= NAME_LIMIT:
        raise UserError("groups.bad_name", limit=NAME_LIMIT)
    exists = await session.scalar(
        select(Group.id).where(Group.unit_id == unit_id, Group.name == name)
    )
    if exists:
        raise UserError("groups.exists", name=name)
    group = Group(unit_id=unit_id, name=name, created_at=now)
    session.add(group)
    await session.flush()
    return group


async def get(session: AsyncSession, unit_id: int, group_id: int) -> Group:
    """A group of this cell, or a UserError."""
    group = await session.get(Group, group_id)
    if group is None or group.unit_id != unit_id:
        raise UserError("error.stale_choice")
    return group


async def members(session: AsyncSession, group_id: int) -> list[Person]:
    """The people in a group, by name."""
    query = (
        select(Person)
        .join(GroupMember, GroupMember.person_id == Person.id)
        .where(GroupMember.group_id == group_id, Person.deleted_at.is_(None))
        .order_by(Person.full_name)
    )
    return list((await session.scalars(query)).all())


async def add(session: AsyncSession, group_id: int, person_id: int) -> bool:
    """Put a person in a group; False when already there."""
    if await session.get(GroupMember, (group_id, person_id)) is not None:
        return False
    session.add(GroupMember(group_id=group_id, person_id=person_id))
    await session.flush()
    return True


async def remove(session: AsyncSession, group_id: int, person_id: int) -> bool:
    """Take a person out of a group."""
    result = await session.execute(
        delete(GroupMember).where(
            GroupMember.group_id == group_id, GroupMember.person_id == person_id
        )
    )
    return bool(result.rowcount)


async def person_ids(session: AsyncSession, group_id: int) -> list[int]:
    """Ids of a group's people (for audiences)."""
    return list(
        await session.scalars(select(GroupMember.person_id).where(GroupMember.group_id == group_id))
    )
