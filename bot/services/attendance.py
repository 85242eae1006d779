"""Answers (RSVP), the live tally, attendance marking, the figures the rules ask for, and flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from bot.services.notices import COUNTED, members_by_status
from storage.meetings import Meeting, MeetingAnswer, MeetingStatus
from storage.models import Person

REASON_LIMIT = 300


async def answer(
    session: AsyncSession,
    now: datetime,
    meeting: Meeting,
    person_id: int,
    *,
    coming: bool,
    reason: str | None = None,
) -> MeetingAnswer:
    """Record Tham dự / Vắng mặt (the latest answer wins) until the meeting starts."""
    if meeting.status == MeetingStatus.cancelled:
        raise UserError("meetings.rsvp_cancelled")
    if meeting.status != MeetingStatus.scheduled or meeting.starts_at <= now:
        raise UserError("meetings.rsvp_too_late")
    statuses = await members_by_status(session, meeting.unit_id)
    if statuses.get(person_id) not in COUNTED:
        raise UserError("meetings.rsvp_not_expected")
    row = await session.get(MeetingAnswer, (meeting.id, person_id))
    if row is None:
        row = MeetingAnswer(meeting_id=meeting.id, person_id=person_id)
        session.add(row)
    row.answer = "yes" if coming else "no"
    row.reason = None if coming else (reason or None)
    if row.reason is not None and len(row.reason) > REASON_LIMIT:
        raise UserError("meetings.reason_too_long", limit=REASON_LIMIT)
    row.answered_at = now
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Tally:
    """Who comes, who is away (with reasons), who has not answered."""

    coming: list[str]
    absent: list[tuple[str, str | None]]
    silent: list[tuple[int, str]]
    counted: int


async def tally(session: AsyncSession, meeting: Meeting) -> Tally:
    """The live RSVP tally of counted members."""
    statuses = await members_by_status(session, meeting.unit_id)
    counted_ids = [p for p, s in statuses.items() if s in COUNTED]
    names = dict(
        (
            await session.execute(
                select(Person.id, Person.full_name).where(Person.id.in_(counted_ids))
            )
        ).all()
    )
    answers = {
        a.person_id: a
        for a in await session.scalars(
            select(MeetingAnswer).where(MeetingAnswer.meeting_id == meeting.id)
        )
    }
    coming, absent, silent = [], [], []
    for pid in sorted(counted_ids, key=lambda p: names.get(p, "")):
        row = answers.get(pid)
        if row is None or row.answer is None:
            silent.append((pid, names[pid]))
        elif row.answer == "yes":
            coming.append(names[pid])
        else:
            absent.append((names[pid], row.reason))
    return Tally(coming, absent, silent, len(counted_ids))


async def start_marking(
    session: AsyncSession, now: datetime, meeting: Meeting
) -> list[MeetingAnswer]:
    """Rows for every counted member, pre-filled from the answers (Tham dự → present)."""
    if meeting.status == MeetingStatus.cancelled:
        raise UserError("meetings.not_open")
    if meeting.starts_at - timedelta(hours=2) > now:
        raise UserError("meetings.marking_too_early")
    statuses = await members_by_status(session, meeting.unit_id)
    rows = []
    for pid, status in statuses.items():
        row = await session.get(MeetingAnswer, (meeting.id, pid))
        counted = status in COUNTED
        if row is None:
            if not counted:
                continue
            row = MeetingAnswer(meeting_id=meeting.id, person_id=pid)
            session.add(row)
        if row.counted is None:
            row.counted = counted
        if row.present is None and row.counted:
            row.present = row.answer == "yes"
        if row.counted:
            rows.append(row)
    await session.flush()
    return rows


async def roll(session: AsyncSession, meeting_id: int) -> list[tuple[MeetingAnswer, str]]:
    """The counted members of a meeting with their marks, by name."""
    rows = await session.execute(
        select(MeetingAnswer, Person.full_name)
        .join(Person, Person.id == MeetingAnswer.person_id)
        .where(MeetingAnswer.meeting_id == meeting_id, MeetingAnswer.counted.is_(True))
        .order_by(Person.full_name)
    )
    return [(a, n) for a, n in rows]


async def toggle(session: AsyncSession, meeting: Meeting, person_id: int) -> None:
    """Present ↔ absent for one member, until the meeting is closed."""
    if meeting.status != MeetingStatus.scheduled:
        raise UserError("meetings.not_open")
    row = await session.get(MeetingAnswer, (meeting.id, person_id))
    if row is None or not row.counted:
        raise UserError("error.stale_choice")
    row.present = not row.present


@dataclass(frozen=True, slots=True)
class Figures:
    """The attendance figures the rules ask for."""

    present: int
    counted: int
    excused: list[tuple[str, str | None]]
    unexcused: list[str]

    @property
    def rate(self) -> float:
        """Present over counted members, in per cent."""
        return 100.0 * self.present / self.counted if self.counted else 0.0


async def figures(session: AsyncSession, meeting_id: int) -> Figures:
    """Present x/y, absent with reason (names, reasons), absent without reason (names)."""
    present, excused, unexcused = 0, [], []
    marked = await roll(session, meeting_id)
    for row, name in marked:
        if row.present:
            present += 1
        elif row.excused:
            excused.append((name, row.reason))
        else:
            unexcused.append(name)
    return Figures(present, len(marked), excused, unexcused)


async def close(session: AsyncSession, now: datetime, meeting: Meeting) -> Figures:
    """Close after marking: an absence with no decision counts as without reason."""
    if meeting.status != MeetingStatus.scheduled:
        raise UserError("meetings.not_open")
    for row, _ in await roll(session, meeting.id):
        if not row.present and row.excused is None:
            row.excused = False
    meeting.status = MeetingStatus.closed
    meeting.closed_at = now
    await session.flush()
    return await figures(session, meeting.id)


@dataclass(frozen=True, slots=True)
class Flag:
    """Something the secretary should know about one member."""

    person_id: int
    name: str
    kind: (
        str  # "warn" (2 without reason), "alert" (3: the removal rule), "streak" (excused in a row)
    )
    count: int


async def flags(
    session: AsyncSession,
    meeting: Meeting,
    *,
    since: datetime,
    warn_at: int,
    alert_at: int,
    streak_over: int,
) -> list[Flag]:
    """Flags raised by this meeting: unexcused absences since `since`, long excused streaks."""
    closed = list(
        await session.scalars(
            select(Meeting.id)
            .where(
                Meeting.unit_id == meeting.unit_id,
                Meeting.status == MeetingStatus.closed,
                Meeting.starts_at >= since,
                Meeting.starts_at <= meeting.starts_at,
            )
            .order_by(Meeting.starts_at)
        )
    )
    out = []
    for row, name in await roll(session, meeting.id):
        if row.present:
            continue
        history = {
            a.meeting_id: a
            for a in await session.scalars(
                select(MeetingAnswer).where(
                    MeetingAnswer.person_id == row.person_id, MeetingAnswer.meeting_id.in_(closed)
                )
            )
        }
        unexcused = sum(
            1 for a in history.values() if a.counted and not a.present and a.excused is False
        )
        if not row.excused and unexcused >= alert_at:
            out.append(Flag(row.person_id, name, "alert", unexcused))
        elif not row.excused and unexcused >= warn_at:
            out.append(Flag(row.person_id, name, "warn", unexcused))
        streak = 0
        for mid in reversed(closed):
            a = history.get(mid)
            if a is None or not a.counted:
                continue
            if a.present or not a.excused:
                break
            streak += 1
        if row.excused and streak > streak_over:
            out.append(Flag(row.person_id, name, "streak", streak))
    return out
