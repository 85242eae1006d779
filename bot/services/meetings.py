"""Meetings: the regular rule, occurrences and their notices; changes and cancellations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from bot.services import outbox
from bot.services.recurrence import months_from, occurrence
from storage.meetings import (
    Meeting,
    MeetingKind,
    MeetingNotice,
    MeetingRule,
    MeetingStatus,
    NoticeStatus,
)
from storage.models import Delivery, DeliveryStatus

NOTICE = "meeting-notice"
CHANGE = "meeting-change"
CANCEL = "meeting-cancel"
NUDGE = "meeting-nudge"
REGULAR_MINUTES = 90
COMBINED_MINUTES = 120


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as typed: a day of the month, or a weekday and its position."""

    day: int | None
    weekday: int | None
    nth: int | None
    at: str
    place: str


def parse_time(text: str) -> time:
    """ "19:30", "19h30", "7:30" → a time; UserError for 25:00 and the like."""
    cleaned = text.strip().lower().replace("h", ":").replace(".", ":")
    hours, _, minutes = cleaned.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise UserError("meetings.bad_time")
    hour, minute = int(hours), int(minutes or 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise UserError("meetings.bad_time")
    return time(hour, minute)


def validate(spec: RuleSpec) -> None:
    """Check a rule before storing it; each problem has its own message."""
    if spec.day is not None and not 1 <= spec.day <= 31:
        raise UserError("meetings.bad_day")
    if spec.day is None and (spec.weekday is None or spec.nth not in (1, 2, 3, 4, -1)):
        raise UserError("meetings.bad_weekday")
    parse_time(spec.at)
    if not spec.place.strip():
        raise UserError("meetings.empty_place")
    if len(spec.place) > 200:
        raise UserError("meetings.place_too_long", limit=200)


async def set_rule(
    session: AsyncSession, now: datetime, unit_id: int, spec: RuleSpec
) -> MeetingRule:
    """Store (or replace) the cell's regular rule."""
    validate(spec)
    rule = await session.scalar(select(MeetingRule).where(MeetingRule.unit_id == unit_id))
    if rule is None:
        rule = MeetingRule(unit_id=unit_id, minutes=REGULAR_MINUTES)
        session.add(rule)
    rule.day, rule.weekday, rule.nth = spec.day, spec.weekday, spec.nth
    rule.time = parse_time(spec.at).strftime("%H:%M")
    rule.place = spec.place.strip()
    rule.updated_at = now
    await session.flush()
    return rule


async def rule_of(session: AsyncSession, unit_id: int) -> MeetingRule | None:
    """The cell's regular rule, if set."""
    return await session.scalar(select(MeetingRule).where(MeetingRule.unit_id == unit_id))


def _notices(meeting: Meeting, offsets: list[int]) -> list[MeetingNotice]:
    first = max(offsets)
    return [
        MeetingNotice(
            meeting_id=meeting.id,
            offset_minutes=o,
            invitation=o == first,
            due_at=meeting.starts_at - timedelta(minutes=o),
            status=NoticeStatus.pending,
        )
        for o in sorted(offsets, reverse=True)
    ]


async def generate(
    session: AsyncSession,
    now: datetime,
    unit_id: int,
    zone: ZoneInfo,
    months: int,
    offsets: list[int],
) -> list[Meeting]:
    """Create the rule's meetings for the coming months (each month once) with their notices."""
    rule = await rule_of(session, unit_id)
    if rule is None:
        return []
    local = now.astimezone(zone)
    made = []
    for year, month in months_from(local.year, local.month, months):
        key = f"{year}-{month:02d}"
        exists = await session.scalar(
            select(Meeting.id).where(Meeting.unit_id == unit_id, Meeting.series_key == key)
        )
        if exists:
            continue
        starts = occurrence(
            year,
            month,
            day=rule.day,
            weekday=rule.weekday,
            nth=rule.nth,
            at=parse_time(rule.time),
            zone=zone,
        )
        if starts <= now:
            continue
        made.append(
            await _create(
                session,
                now,
                unit_id,
                MeetingKind.regular,
                starts,
                rule.minutes,
                rule.place,
                None,
                offsets,
                key,
            )
        )
    return made


async def _create(
    session: AsyncSession,
    now: datetime,
    unit_id: int,
    kind: MeetingKind,
    starts: datetime,
    minutes: int,
    place: str,
    content: str | None,
    offsets: list[int],
    key: str | None,
) -> Meeting:
    meeting = Meeting(
        unit_id=unit_id,
        series_key=key,
        kind=kind,
        starts_at=starts,
        minutes=minutes,
        place=place,
        content=content,
        status=MeetingStatus.scheduled,
        checklist_sent=False,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    session.add_all(_notices(meeting, offsets))
    await session.flush()
    return meeting


async def add_meeting(
    session: AsyncSession,
    now: datetime,
    unit_id: int,
    *,
    kind: MeetingKind,
    starts: datetime,
    place: str,
    content: str | None,
    offsets: list[int],
) -> Meeting:
    """A thematic or extraordinary meeting (or a regular one moved by hand)."""
    if starts <= now:
        raise UserError("meetings.in_past")
    if not place.strip():
        raise UserError("meetings.empty_place")
    minutes = COMBINED_MINUTES if kind is MeetingKind.combined else REGULAR_MINUTES
    return await _create(
        session, now, unit_id, kind, starts, minutes, place.strip(), content, offsets, None
    )


async def upcoming(
    session: AsyncSession, unit_id: int, now: datetime, limit: int = 5
) -> list[Meeting]:
    """The next scheduled meetings."""
    query = (
        select(Meeting)
        .where(
            Meeting.unit_id == unit_id,
            Meeting.status == MeetingStatus.scheduled,
            Meeting.starts_at > now - timedelta(hours=12),
        )
        .order_by(Meeting.starts_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def current(session: AsyncSession, unit_id: int, now: datetime) -> Meeting | None:
    """The meeting to work on: one under way or just over (not closed), else the next one."""
    started = await session.scalar(
        select(Meeting)
        .where(
            Meeting.unit_id == unit_id,
            Meeting.status == MeetingStatus.scheduled,
            Meeting.starts_at <= now,
        )
        .order_by(Meeting.starts_at.desc())
        .limit(1)
    )
    if started is not None:
        return started
    return await session.scalar(
        select(Meeting)
        .where(Meeting.unit_id == unit_id, Meeting.status == MeetingStatus.scheduled)
        .order_by(Meeting.starts_at)
        .limit(1)
    )


async def latest_started(session: AsyncSession, unit_id: int, now: datetime) -> Meeting | None:
    """The most recent meeting that has begun (closed or not), for the minutes."""
    return await session.scalar(
        select(Meeting)
        .where(
            Meeting.unit_id == unit_id,
            Meeting.status != MeetingStatus.cancelled,
            Meeting.starts_at <= now,
        )
        .order_by(Meeting.starts_at.desc())
        .limit(1)
    )


async def get(session: AsyncSession, unit_id: int, meeting_id: int) -> Meeting:
    """A meeting of this cell, or a UserError."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.unit_id != unit_id:
        raise UserError("meetings.not_found")
    return meeting


async def notified(session: AsyncSession, meeting_id: int) -> list[outbox.Recipient]:
    """Everyone a notice of this meeting already reached."""
    notice_ids = list(
        await session.scalars(
            select(MeetingNotice.id).where(MeetingNotice.meeting_id == meeting_id)
        )
    )
    if not notice_ids:
        return []
    rows = await session.execute(
        select(Delivery.person_id, Delivery.platform, Delivery.chat_id)
        .where(
            Delivery.source == NOTICE,
            Delivery.source_id.in_(notice_ids),
            Delivery.status == DeliveryStatus.sent,
        )
        .distinct()
    )
    return [outbox.Recipient(p, pl, c) for p, pl, c in rows]


async def reschedule(
    session: AsyncSession,
    now: datetime,
    meeting: Meeting,
    *,
    starts: datetime | None,
    place: str | None,
) -> int:
    """Move a meeting or its place; pending notices follow; those notified are told (returned)."""
    if meeting.status != MeetingStatus.scheduled:
        raise UserError("meetings.not_open")
    if starts is not None:
        if starts <= now:
            raise UserError("meetings.in_past")
        meeting.starts_at = starts
        for notice in await session.scalars(
            select(MeetingNotice).where(
                MeetingNotice.meeting_id == meeting.id, MeetingNotice.status == NoticeStatus.pending
            )
        ):
            notice.due_at = starts - timedelta(minutes=notice.offset_minutes)
    if place is not None:
        if not place.strip():
            raise UserError("meetings.empty_place")
        meeting.place = place.strip()
    told = await notified(session, meeting.id)
    return await outbox.enqueue(session, source=CHANGE, source_id=meeting.id, to=told, due_at=now)


async def cancel(session: AsyncSession, now: datetime, meeting: Meeting) -> int:
    """Cancel a meeting; pending notices stop; those notified are told. Returns told."""
    if meeting.status != MeetingStatus.scheduled:
        raise UserError("meetings.not_open")
    meeting.status = MeetingStatus.cancelled
    for notice in await session.scalars(
        select(MeetingNotice).where(
            MeetingNotice.meeting_id == meeting.id, MeetingNotice.status == NoticeStatus.pending
        )
    ):
        notice.status = NoticeStatus.cancelled
    told = await notified(session, meeting.id)
    return await outbox.enqueue(session, source=CANCEL, source_id=meeting.id, to=told, due_at=now)
