"""The secretary's reminders: the checklist two days before, and the quarter's thematic meeting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import Msg, Reply, msg
from bot.services import audit, outbox, people
from bot.services.meetings import NOTICE
from bot.services.notices import describe
from storage.meetings import Meeting, MeetingKind, MeetingNotice, MeetingStatus
from storage.models import AuditEntry, Delivery, Role, Unit, UnitKind

CHECKLIST = "meeting-checklist"
THEMATIC = "meeting-thematic"
CHECKLIST_BEFORE = timedelta(days=2)
QUARTER_LAST_MONTHS = (3, 6, 9, 12)


async def _secretaries(session: AsyncSession, unit_id: int) -> list[outbox.Recipient]:
    ids = [p.id for p in await people.holders(session, unit_id, Role.secretary)]
    return await outbox.recipients(session, ids)


async def checklists_due(session: AsyncSession, now: datetime) -> int:
    """Queue the checklist for meetings starting within two days (once each)."""
    query = select(Meeting).where(
        Meeting.status == MeetingStatus.scheduled,
        Meeting.checklist_sent.is_(False),
        Meeting.starts_at > now,
        Meeting.starts_at <= now + CHECKLIST_BEFORE,
    )
    total = 0
    for meeting in await session.scalars(query):
        meeting.checklist_sent = True
        to = await _secretaries(session, meeting.unit_id)
        total += await outbox.enqueue(
            session, source=CHECKLIST, source_id=meeting.id, to=to, due_at=now
        )
    return total


def _quarter(local: datetime) -> tuple[int, int]:
    return local.year, (local.month - 1) // 3 + 1


async def thematic_due(session: AsyncSession, now: datetime, zone: ZoneInfo) -> int:
    """In a quarter's last month, remind once if no thematic meeting is held or scheduled."""
    local = now.astimezone(zone)
    if local.month not in QUARTER_LAST_MONTHS:
        return 0
    year, quarter = _quarter(local)
    start_local = datetime(year, 3 * quarter - 2, 1, tzinfo=zone)
    end_local = datetime(year + (quarter == 4), (3 * quarter) % 12 + 1, 1, tzinfo=zone)
    marker = f"{year}-Q{quarter}"
    total = 0
    for unit in await session.scalars(select(Unit).where(Unit.kind == UnitKind.cell)):
        thematic = await session.scalar(
            select(Meeting.id).where(
                Meeting.unit_id == unit.id,
                Meeting.kind.in_([MeetingKind.thematic, MeetingKind.combined]),
                Meeting.status != MeetingStatus.cancelled,
                Meeting.starts_at >= start_local,
                Meeting.starts_at < end_local,
            )
        )
        if thematic is not None:
            continue
        reminded = await session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.unit_id == unit.id,
                AuditEntry.action == "meetings.thematic_reminder",
                AuditEntry.at >= start_local,
            )
        )
        if reminded is not None:
            continue
        await audit.record(
            session, now, "meetings.thematic_reminder", unit_id=unit.id, quarter=marker
        )
        to = await _secretaries(session, unit.id)
        total += await outbox.enqueue(
            session, source=THEMATIC, source_id=unit.id, to=to, due_at=now
        )
    return total


class CheckRenderer:
    """Renders the checklist and the thematic reminder for the secretary."""

    def __init__(self, zone: ZoneInfo, now: Callable[[], datetime]) -> None:
        self.zone = zone
        self.now = now

    async def __call__(self, session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, Reply]:
        """{delivery id: reply}."""
        out = {}
        for row in rows:
            if row.source == THEMATIC:
                local = self.now().astimezone(self.zone)
                year, quarter = _quarter(local)
                out[row.id] = Reply(msg("meetings.thematic_reminder", quarter=quarter, year=year))
                continue
            meeting = await session.get(Meeting, row.source_id)
            if meeting is not None and meeting.status == MeetingStatus.scheduled:
                out[row.id] = Reply(await self._checklist(session, meeting))
        return out

    async def _checklist(self, session: AsyncSession, meeting: Meeting) -> tuple[Msg, ...]:
        notice_ids = list(
            await session.scalars(
                select(MeetingNotice.id).where(MeetingNotice.meeting_id == meeting.id)
            )
        )
        sent: Counter[str] = Counter()
        if notice_ids:
            rows = await session.execute(
                select(Delivery.platform, Delivery.status).where(
                    Delivery.source == NOTICE, Delivery.source_id.in_(notice_ids)
                )
            )
            sent = Counter(platform for platform, status in rows if status == "sent")
        return (
            msg("meetings.checklist_title"),
            describe(meeting, self.zone),
            msg(
                "meetings.check_content_ok" if meeting.content else "meetings.check_content_missing"
            ),
            msg("meetings.check_documents"),
            msg(
                "meetings.check_notices", zalo=sent.get("zalo", 0), telegram=sent.get("telegram", 0)
            ),
        )
