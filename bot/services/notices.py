"""Meeting notices: who gets which notice, sending each once, and what it says."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import Msg, Option, Reply, When, msg
from bot.services import outbox
from bot.services.meetings import CANCEL, CHANGE, NOTICE
from storage.meetings import Meeting, MeetingAnswer, MeetingNotice, MeetingStatus, NoticeStatus
from storage.models import Delivery, MemberProfile, MemberStatus, Person, Role, RoleAssignment

COUNTED = (MemberStatus.official, MemberStatus.probationary)
MEMBER_ROLES = (Role.secretary, Role.deputy, Role.committee, Role.member)


async def members_by_status(session: AsyncSession, unit_id: int) -> dict[int, MemberStatus]:
    """Every party member of the cell with their status (official when unset)."""
    rows = await session.execute(
        select(RoleAssignment.person_id, MemberProfile.status)
        .outerjoin(
            MemberProfile,
            (MemberProfile.person_id == RoleAssignment.person_id)
            & (MemberProfile.unit_id == RoleAssignment.unit_id),
        )
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(
            RoleAssignment.unit_id == unit_id,
            RoleAssignment.role.in_([r.value for r in MEMBER_ROLES]),
            Person.deleted_at.is_(None),
        )
    )
    return {pid: MemberStatus(status or MemberStatus.official) for pid, status in rows}


async def followers(session: AsyncSession, unit_id: int) -> list[int]:
    """Upper-level followers of the cell: every notice, no RSVP duty."""
    rows = await session.scalars(
        select(RoleAssignment.person_id).where(
            RoleAssignment.unit_id == unit_id, RoleAssignment.role == Role.follower
        )
    )
    return list(rows)


async def audience(
    session: AsyncSession, meeting: Meeting, *, invitation: bool, inform_uncounted: bool
) -> list[int]:
    """Who gets a notice: counted members (later notices skip those who declined), followers,
    and with the invitation, uncounted members (exempt, away, contact) for information."""
    statuses = await members_by_status(session, meeting.unit_id)
    declined = set()
    if not invitation:
        declined = set(
            await session.scalars(
                select(MeetingAnswer.person_id).where(
                    MeetingAnswer.meeting_id == meeting.id, MeetingAnswer.answer == "no"
                )
            )
        )
    people = {p for p, s in statuses.items() if s in COUNTED and p not in declined}
    if invitation and inform_uncounted:
        people |= {p for p, s in statuses.items() if s not in COUNTED}
    people |= set(await followers(session, meeting.unit_id))
    return sorted(people)


async def dispatch_due(session: AsyncSession, now: datetime, inform_uncounted: bool) -> int:
    """Send what is due, once. After downtime: a notice still before its meeting goes late
    (the invitation first; older reminders it supersedes are marked missed); once the
    meeting has started every pending notice is missed. Returns deliveries written."""
    query = (
        select(MeetingNotice, Meeting)
        .join(Meeting, Meeting.id == MeetingNotice.meeting_id)
        .where(MeetingNotice.status == NoticeStatus.pending, MeetingNotice.due_at <= now)
        .order_by(MeetingNotice.meeting_id, MeetingNotice.due_at)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # A second process running the same job skips notices this one is sending.
        query = query.with_for_update(skip_locked=True, of=MeetingNotice)
    due = list(await session.execute(query))
    by_meeting: dict[int, list[MeetingNotice]] = {}
    meetings: dict[int, Meeting] = {}
    for notice, meeting in due:
        by_meeting.setdefault(meeting.id, []).append(notice)
        meetings[meeting.id] = meeting
    total = 0
    for meeting_id, notices in by_meeting.items():
        meeting = meetings[meeting_id]
        if meeting.starts_at <= now or meeting.status != MeetingStatus.scheduled:
            for n in notices:
                n.status = NoticeStatus.missed
            continue
        chosen = next((n for n in notices if n.invitation), notices[-1])
        for n in notices:
            if n is not chosen:
                n.status = NoticeStatus.missed
        if not chosen.invitation and not await _invitation_sent(session, meeting_id):
            chosen.invitation = True  # the invitation was never sent: this one invites
        people = await audience(
            session, meeting, invitation=chosen.invitation, inform_uncounted=inform_uncounted
        )
        to = await outbox.recipients(session, people)
        total += await outbox.enqueue(
            session, source=NOTICE, source_id=chosen.id, to=to, due_at=now
        )
        chosen.status, chosen.sent_at = NoticeStatus.sent, now
    return total


async def _invitation_sent(session: AsyncSession, meeting_id: int) -> bool:
    found = await session.scalar(
        select(MeetingNotice.id).where(
            MeetingNotice.meeting_id == meeting_id,
            MeetingNotice.invitation.is_(True),
            MeetingNotice.status == NoticeStatus.sent,
        )
    )
    return found is not None


def describe(meeting: Meeting, zone: ZoneInfo) -> Msg:
    """The kind, the moment (in the reader's language), the place and the expected end."""
    end = (meeting.starts_at + timedelta(minutes=meeting.minutes)).astimezone(zone)
    return msg(
        "meetings.describe",
        kind=msg(f"meetings.kind.{meeting.kind}"),
        when=When(meeting.starts_at, zone),
        place=meeting.place,
        end=end.strftime("%H:%M"),
    )


def rsvp_options(meeting_id: int) -> tuple[Option, ...]:
    """Tham dự / Vắng mặt, with typed fallbacks."""
    return (
        Option(f"rsvp:{meeting_id}:yes", msg("meetings.attend"), ("co", "tham du", "di")),
        Option(f"rsvp:{meeting_id}:no", msg("meetings.absent"), ("vang", "vang mat", "khong")),
    )


class NoticeRenderer:
    """Renders the outbox rows of meeting notices in each reader's language."""

    def __init__(self, zone: ZoneInfo, now: Callable[[], datetime]) -> None:
        self.zone = zone
        self.now = now

    async def __call__(self, session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, Reply]:
        """{delivery id: reply}; rows of meetings that started or were cancelled get nothing."""
        out: dict[int, Reply] = {}
        for row in rows:
            reply = await self._one(session, row)
            if reply is not None:
                out[row.id] = reply
        return out

    async def _one(self, session: AsyncSession, row: Delivery) -> Reply | None:
        if row.source == NOTICE:
            notice = await session.get(MeetingNotice, row.source_id)
            meeting = await session.get(Meeting, notice.meeting_id) if notice else None
        else:
            notice, meeting = None, await session.get(Meeting, row.source_id)
        if meeting is None:
            return None
        if row.source == CANCEL:
            return Reply(msg("meetings.cancelled_notice", what=describe(meeting, self.zone)))
        if meeting.status != MeetingStatus.scheduled or meeting.starts_at <= self.now():
            return None  # never a notice after the meeting has begun
        what = describe(meeting, self.zone)
        statuses = await members_by_status(session, meeting.unit_id)
        status = statuses.get(row.person_id)
        asks = status in COUNTED
        answered = await session.get(MeetingAnswer, (meeting.id, row.person_id))
        parts: list[Msg] = []
        if row.source == CHANGE:
            parts.append(msg("meetings.changed_notice"))
        elif notice is not None and notice.invitation:
            parts.append(msg("meetings.invitation_title"))
        else:
            parts.append(msg("meetings.reminder_title"))
        parts.append(what)
        if meeting.content and (row.source != NOTICE or (notice is not None and notice.invitation)):
            parts.append(msg("meetings.content", text=meeting.content))
        options: tuple[Option, ...] = ()
        if asks and (answered is None or answered.answer is None):
            parts.append(msg("meetings.rsvp_question"))
            options = rsvp_options(meeting.id)
        elif asks and answered is not None:
            parts.append(msg(f"meetings.your_answer_{answered.answer}"))
        elif status is not None:
            parts.append(msg("meetings.for_information"))
        else:
            parts.append(msg("meetings.for_follower"))
        return Reply(tuple(parts), options=options)
