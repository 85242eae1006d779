"""Directives and announcements: audiences, scheduling, what a recipient sees, acknowledgements."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from bot.core.events import FileRef, Msg, Option, Reply, fold, msg
from bot.services import groups, outbox
from storage.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Delivery,
    DeliveryStatus,
    Person,
    Role,
    RoleAssignment,
)

SOURCE = "broadcast"
REMINDER = "broadcast-reminder"
TITLE_LIMIT = 200
BODY_LIMIT = 20_000
MEMBER_ROLES = (Role.secretary, Role.deputy, Role.committee, Role.member)
# Audience ids (ASCII, they travel in button data); a residential group is "group:<name>".
AUDIENCES = ("members", "committee", "members_follower", "residents", "everyone")
DIRECTIVE_AUDIENCES = ("members", "committee", "members_follower")


@dataclass(frozen=True, slots=True)
class Plan:
    """Who a broadcast would reach, before it is confirmed."""

    person_ids: list[int]
    by_platform: dict[str, int]
    unreachable: int


async def audience_people(
    session: AsyncSession, unit_id: int, audience: str, kind: BroadcastKind
) -> list[int]:
    """The people an audience means in a cell (announcements skip those who muted them)."""
    roles: tuple[Role, ...]
    group = None
    only: set[int] | None = None
    if audience == "members":
        roles = MEMBER_ROLES
    elif audience == "committee":
        roles = (Role.secretary, Role.deputy, Role.committee)
    elif audience == "members_follower":
        roles = (*MEMBER_ROLES, Role.follower)
    elif audience == "residents":
        roles = (Role.resident,)
    elif audience.startswith("group:"):
        roles, group = (Role.resident,), fold(audience.split(":", 1)[1])
    elif audience == "everyone":
        roles = tuple(Role)
    elif audience.startswith("org:") and audience[4:].isdigit():
        group_ids = await groups.person_ids(session, int(audience[4:]))
        roles, only = tuple(Role), set(group_ids)
    else:
        raise UserError("broadcast.bad_audience")
    query = (
        select(Person.id, Person.residential_group, Person.announcements_muted)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(
            RoleAssignment.unit_id == unit_id,
            RoleAssignment.role.in_([r.value for r in roles]),
            Person.deleted_at.is_(None),
        )
        .distinct()
    )
    ids = []
    for person_id, person_group, muted in await session.execute(query):
        if group is not None and fold(person_group or "") != group:
            continue
        if only is not None and person_id not in only:
            continue
        if kind is BroadcastKind.announcement and muted:
            continue
        ids.append(person_id)
    return sorted(ids)


async def plan(session: AsyncSession, unit_id: int, audience: str, kind: BroadcastKind) -> Plan:
    """Count recipients per platform; people with no chat linked are unreachable."""
    people_ids = await audience_people(session, unit_id, audience, kind)
    reachable = await outbox.recipients(session, people_ids)
    by_platform = Counter(r.platform for r in reachable)
    return Plan(people_ids, dict(by_platform), len(people_ids) - len(reachable))


async def create(
    session: AsyncSession,
    now: datetime,
    *,
    unit_id: int,
    kind: BroadcastKind,
    title: str,
    body: str,
    audience: str,
    send_at: datetime,
    created_by: int | None,
    file_id: int | None = None,
    file_is_photo: bool = False,
) -> tuple[Broadcast, int]:
    """Store the broadcast and write every delivery row before anything is sent."""
    if not body.strip():
        raise UserError("broadcast.empty")
    if send_at < now - timedelta(minutes=1):
        raise UserError("broadcast.past")
    recipients_ = await outbox.recipients(
        session, await audience_people(session, unit_id, audience, kind)
    )
    if not recipients_:
        raise UserError("broadcast.nobody")
    item = Broadcast(
        unit_id=unit_id,
        kind=kind,
        title=title[:TITLE_LIMIT],
        body=body[:BODY_LIMIT],
        audience=audience,
        file_id=file_id,
        file_is_photo=file_is_photo,
        needs_ack=kind is BroadcastKind.directive,
        status=BroadcastStatus.scheduled,
        send_at=max(send_at, now),
        created_by=created_by,
        created_at=now,
        reminders_sent=0,
        progress_step=0,
    )
    session.add(item)
    await session.flush()
    count = await outbox.enqueue(
        session, source=SOURCE, source_id=item.id, to=recipients_, due_at=item.send_at
    )
    return item, count


def content(item: Broadcast, *, acknowledged: bool = False, reminder: bool = False) -> Reply:
    """What a recipient sees: a heading, the title, the text, the file and "Đã nhận"."""
    heading = f"broadcast.heading.{item.kind}"
    parts: list[Msg] = []
    if reminder:
        parts.append(msg("broadcast.reminder"))
    parts += [msg(heading, title=item.title), msg("broadcast.body", text=item.body)]
    options: tuple[Option, ...] = ()
    if item.needs_ack and not acknowledged:
        parts.append(msg("broadcast.ack_hint"))
        options = (Option(f"ack:{item.id}", msg("broadcast.ack"), ("da nhan", "nhan", "ok")),)
    file = FileRef(item.file_id, photo=item.file_is_photo) if item.file_id else None
    return Reply(tuple(parts), options=options, file=file)


async def acknowledge(
    session: AsyncSession, now: datetime, broadcast_id: int, person_id: int
) -> bool:
    """Record "Đã nhận"; False when there was nothing to acknowledge (not a recipient)."""
    row = await session.scalar(
        select(Delivery)
        .where(
            Delivery.source == SOURCE,
            Delivery.source_id == broadcast_id,
            Delivery.person_id == person_id,
        )
        .order_by(Delivery.id)
        .limit(1)
    )
    if row is None:
        return False
    if row.acked_at is None:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.source == SOURCE,
                Delivery.source_id == broadcast_id,
                Delivery.person_id == person_id,
            )
            .values(acked_at=now)
        )
    return True


@dataclass(frozen=True, slots=True)
class AckReport:
    """Who acknowledged a directive, who has not yet, who could not be reached."""

    item: Broadcast
    acknowledged: list[tuple[str, datetime]]
    waiting: list[str]
    unreachable: list[str]
    pending: int


async def report(session: AsyncSession, unit_id: int, broadcast_id: int) -> AckReport:
    """The acknowledgement report of one broadcast of this cell."""
    item = await session.get(Broadcast, broadcast_id)
    if item is None or item.unit_id != unit_id:
        raise UserError("broadcast.not_found", number=broadcast_id)
    rows = await session.execute(
        select(Person.full_name, Delivery.status, Delivery.acked_at)
        .join(Person, Person.id == Delivery.person_id)
        .where(Delivery.source == SOURCE, Delivery.source_id == broadcast_id)
        .order_by(Person.full_name)
    )
    acknowledged, waiting, unreachable, pending = [], [], [], 0
    for name, status, acked_at in rows:
        if acked_at is not None:
            acknowledged.append((name, acked_at))
        elif status in (DeliveryStatus.unreachable, DeliveryStatus.failed):
            unreachable.append(name)
        elif status in (DeliveryStatus.pending, DeliveryStatus.sending):
            pending += 1
            waiting.append(name)
        elif status == DeliveryStatus.sent:
            waiting.append(name)
    return AckReport(item, acknowledged, waiting, unreachable, pending)


async def recent(session: AsyncSession, unit_id: int, limit: int = 10) -> list[Broadcast]:
    """The cell's latest broadcasts, newest first."""
    query = (
        select(Broadcast)
        .where(Broadcast.unit_id == unit_id)
        .order_by(Broadcast.send_at.desc(), Broadcast.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def received(
    session: AsyncSession, person_id: int, limit: int = 10
) -> list[tuple[Broadcast, datetime | None]]:
    """Directives and announcements a person was sent, newest first, with when they acknowledged."""
    query = (
        select(Broadcast, Delivery.acked_at)
        .join(Delivery, (Delivery.source_id == Broadcast.id) & (Delivery.source == SOURCE))
        .where(Delivery.person_id == person_id, Delivery.status == DeliveryStatus.sent)
        .order_by(Broadcast.send_at.desc())
        .limit(limit)
    )
    return [(b, acked) for b, acked in await session.execute(query)]


async def cancel(session: AsyncSession, unit_id: int, broadcast_id: int) -> int:
    """Cancel a scheduled broadcast that has not started; returns the rows cancelled."""
    item = await session.get(Broadcast, broadcast_id)
    if item is None or item.unit_id != unit_id:
        raise UserError("broadcast.not_found", number=broadcast_id)
    if item.status != BroadcastStatus.scheduled:
        raise UserError("broadcast.too_late")
    item.status = BroadcastStatus.cancelled
    return await outbox.cancel(session, SOURCE, item.id)


async def scheduled(session: AsyncSession, unit_id: int) -> list[Broadcast]:
    """Broadcasts waiting for their time."""
    query = (
        select(Broadcast)
        .where(Broadcast.unit_id == unit_id, Broadcast.status == BroadcastStatus.scheduled)
        .order_by(Broadcast.send_at)
    )
    return list((await session.scalars(query)).all())


async def due_reminders(
    session: AsyncSession, now: datetime, delay: timedelta, max_reminders: int
) -> int:
    """Queue a reminder to members who have not acknowledged; returns how many rows."""
    query = select(Broadcast).where(
        Broadcast.needs_ack.is_(True),
        Broadcast.status == BroadcastStatus.done,
        Broadcast.reminders_sent < max_reminders,
    )
    total = 0
    for item in (await session.scalars(query)).all():
        if item.finished_at is None or now < item.finished_at + delay * (item.reminders_sent + 1):
            continue
        rows = await session.execute(
            select(Delivery.person_id, Delivery.platform, Delivery.chat_id).where(
                Delivery.source == SOURCE,
                Delivery.source_id == item.id,
                Delivery.status == DeliveryStatus.sent,
                Delivery.acked_at.is_(None),
            )
        )
        to = [outbox.Recipient(p, pl, c) for p, pl, c in rows]
        total += await outbox.enqueue(
            session, source=REMINDER, source_id=item.id, to=to, due_at=now
        )
        item.reminders_sent += 1
    return total
