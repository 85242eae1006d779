"""A report's life after filing: notices via the outbox, status changes, deadlines, retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core.errors import UserError
from bot.services import feedback as fb
from bot.services import outbox, people
from storage.feedback import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    FeedbackNotice,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from storage.models import Delivery, Role, StoredFile

SOURCE = "feedback"
PHOTO_PREFIX = "phananh-"  # stored photo names start with this, so orphans can be found
ORPHAN_AFTER = timedelta(days=3)  # photos of a report never sent (the flow was abandoned)
# Which status may follow which; a note is required for every change but acceptance.
NEXT: dict[str, frozenset[str]] = {
    ReportStatus.new: frozenset(
        {ReportStatus.accepted, ReportStatus.failed, ReportStatus.transferred}
    ),
    ReportStatus.accepted: frozenset(
        {
            ReportStatus.in_progress,
            ReportStatus.resolved,
            ReportStatus.failed,
            ReportStatus.transferred,
        }
    ),
    ReportStatus.in_progress: frozenset(
        {ReportStatus.resolved, ReportStatus.failed, ReportStatus.transferred}
    ),
}
NOTE_MAX = 1000


async def notify(
    session: AsyncSession,
    now: datetime,
    *,
    unit_id: int,
    report_id: int | None,
    kind: str,
    to: list[int],
    **params: Any,
) -> int:
    """Write a notice and one outbox row per person; returns how many rows."""
    recipients = await outbox.recipients(session, to)
    if not recipients:
        return 0
    notice = FeedbackNotice(
        unit_id=unit_id, report_id=report_id, kind=kind, params=params, created_at=now
    )
    session.add(notice)
    await session.flush()
    return await outbox.enqueue(
        session, source=SOURCE, source_id=notice.id, to=recipients, due_at=now
    )


async def handlers(session: AsyncSession, report: Report) -> list[int]:
    """The people a report is routed to."""
    return await fb.handlers_of(session, report.unit_id, report.route_role, report.route_person_id)


async def reporters(session: AsyncSession, report: Report) -> list[int]:
    """Whoever filed this report or a report linked to it as a duplicate."""
    found = {report.reporter_id} if report.reporter_id else set()
    linked = await session.scalars(
        select(Report.reporter_id).where(
            Report.duplicate_of_id == report.id, Report.reporter_id.is_not(None)
        )
    )
    found.update(p for p in linked if p is not None)
    return sorted(found)


async def secretaries(session: AsyncSession, unit_id: int) -> list[int]:
    """The cell's secretaries (they oversee reports)."""
    return [p.id for p in await people.holders(session, unit_id, Role.secretary)]


async def route_new(
    session: AsyncSession, now: datetime, settings: Settings, report: Report
) -> int:
    """Send a new report to its handlers: the card with the first photo, then the others."""
    window = timedelta(hours=settings.feedback_duplicate_hours)
    original = await fb.duplicate_candidate(session, report, window)
    to = await handlers(session, report)
    shots = await fb.photos(session, report.id, ("report",))
    count = await notify(
        session,
        now,
        unit_id=report.unit_id,
        report_id=report.id,
        kind="new",
        to=to,
        dup=original.id if original else None,
        file_id=shots[0].file_id if shots else None,
    )
    for n, shot in enumerate(shots[1:], start=2):
        count += await notify(
            session,
            now,
            unit_id=report.unit_id,
            report_id=report.id,
            kind="photo",
            to=to,
            file_id=shot.file_id,
            n=n,
            total=len(shots),
        )
    return count


async def emergency(
    session: AsyncSession, now: datetime, unit_id: int, category_id: int, place: str, text: str
) -> int:
    """Alert the security team (the secretary when there is none) before the report is filed."""
    to = await fb.handlers_of(session, unit_id, Role.security, None)
    return await notify(
        session,
        now,
        unit_id=unit_id,
        report_id=None,
        kind="emergency",
        to=to,
        category_id=category_id,
        place=place[:300],
        text=text[:500],
    )


def clean_note(text: str) -> str:
    """A handler's note or a reason: 2 to 1,000 characters."""
    text = text.strip()
    if len(text) < 2:
        raise UserError("feedback.note_short")
    if len(text) > NOTE_MAX:
        raise UserError("feedback.note_long", limit=NOTE_MAX)
    return text


async def change(
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    report: Report,
    status: ReportStatus,
    *,
    actor_id: int,
    note: str | None = None,
    photo_id: int | None = None,
) -> int:
    """Move a report on, record it, and tell every reporter; returns outbox rows written."""
    if status not in NEXT.get(report.status, frozenset()):
        raise UserError("feedback.bad_transition", code=fb.code(report.id))
    if status is not ReportStatus.accepted and not (note and note.strip()):
        raise UserError("feedback.note_required")
    report.status = status
    if status is ReportStatus.accepted or report.accepted_at is None:
        report.accepted_at = report.accepted_at or now
    if status in CLOSED_STATUSES:
        report.closed_at = now
    session.add(
        ReportEvent(
            report_id=report.id, at=now, actor_id=actor_id, kind="status", status=status, note=note
        )
    )
    if photo_id is not None:
        session.add(ReportPhoto(report_id=report.id, file_id=photo_id, kind="result"))
    await session.flush()
    return await notify(
        session,
        now,
        unit_id=report.unit_id,
        report_id=report.id,
        kind="update",
        to=await reporters(session, report),
        status=status.value,
        note=note,
        file_id=photo_id,
    )


async def link(
    session: AsyncSession, now: datetime, report: Report, original: Report, *, actor_id: int
) -> int:
    """Close a report as a duplicate of an open one; its reporter follows the original."""
    if report.id == original.id or original.unit_id != report.unit_id:
        raise UserError("error.stale_choice")
    if report.status not in OPEN_STATUSES or original.status not in OPEN_STATUSES:
        raise UserError("feedback.bad_transition", code=fb.code(report.id))
    report.status = ReportStatus.duplicate
    report.duplicate_of_id = original.id
    report.closed_at = now
    session.add(
        ReportEvent(
            report_id=report.id,
            at=now,
            actor_id=actor_id,
            kind="status",
            status=ReportStatus.duplicate,
            note=fb.code(original.id),
        )
    )
    await session.flush()
    to = [report.reporter_id] if report.reporter_id else []
    return await notify(
        session,
        now,
        unit_id=report.unit_id,
        report_id=report.id,
        kind="linked",
        to=to,
        original=original.id,
        status=original.status,
    )


async def add_info(
    session: AsyncSession, now: datetime, report: Report, text: str | None, photo_id: int | None
) -> int:
    """The reporter adds something while the report is open; the handlers get it."""
    if report.status not in OPEN_STATUSES:
        raise UserError("feedback.closed", code=fb.code(report.id))
    # The reporter is not named as the actor: their id stays on the report row alone.
    session.add(ReportEvent(report_id=report.id, at=now, kind="info", note=text))
    if photo_id is not None:
        session.add(ReportPhoto(report_id=report.id, file_id=photo_id, kind="info"))
    await session.flush()
    return await notify(
        session,
        now,
        unit_id=report.unit_id,
        report_id=report.id,
        kind="info",
        to=await handlers(session, report),
        note=text,
        file_id=photo_id,
    )


async def reopen(session: AsyncSession, now: datetime, settings: Settings, report: Report) -> int:
    """The reporter says it is not fixed, within the reopening window: back to the handlers."""
    window = timedelta(days=settings.feedback_reopen_days)
    if report.status != ReportStatus.resolved or report.closed_at is None:
        raise UserError("feedback.cannot_reopen", days=settings.feedback_reopen_days)
    if now > report.closed_at + window:
        raise UserError("feedback.cannot_reopen", days=settings.feedback_reopen_days)
    work = fb.schedule(settings)
    report.status = ReportStatus.in_progress
    report.closed_at = None
    report.reopened += 1
    report.resolve_stage = 0
    report.resolve_due = work.add(now, work.day_length * settings.feedback_resolve_days)
    session.add(ReportEvent(report_id=report.id, at=now, kind="reopen", status=report.status))
    await session.flush()
    return await notify(
        session,
        now,
        unit_id=report.unit_id,
        report_id=report.id,
        kind="reopened",
        to=await handlers(session, report),
    )


async def rate(
    session: AsyncSession,
    now: datetime,
    report: Report,
    *,
    fixed: bool | None = None,
    stars: int | None = None,
) -> None:
    """Store the reporter's answer: fixed or not, and a 1-5 rating."""
    if fixed is not None:
        report.fixed = fixed
    if stars is not None:
        if not 1 <= stars <= 5:
            raise UserError("error.stale_choice")
        report.rating = stars
        session.add(ReportEvent(report_id=report.id, at=now, kind="rating", note=str(stars)))
    await session.flush()


# --- deadlines --------------------------------------------------------------------------


def _stage(
    report: Report, now: datetime, settings: Settings, start: datetime, due: datetime
) -> int:
    work = fb.schedule(settings)
    escalate_at = work.add(due, timedelta(hours=settings.feedback_escalate_after_hours))
    if now >= escalate_at:
        return 3
    if now >= due:
        return 2
    half = work.add(start, work.between(start, due) / 2)
    return 1 if now >= half else 0


async def follow_deadlines(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Remind handlers at half time and at the deadline, then escalate to the secretary."""
    query = select(Report).where(Report.status.in_(list(OPEN_STATUSES))).order_by(Report.id)
    written = 0
    for report in (await session.scalars(query)).all():
        accepting = report.status == ReportStatus.new
        due = report.accept_due if accepting else report.resolve_due
        stage_now = report.accept_stage if accepting else report.resolve_stage
        target = _stage(report, now, settings, report.created_at, due)
        if target <= stage_now:
            continue
        phase = "accept" if accepting else "resolve"
        # After downtime only the latest stage is sent: one message, not three at once.
        if target == 3:
            to = await secretaries(session, report.unit_id)
            written += await notify(
                session,
                now,
                unit_id=report.unit_id,
                report_id=report.id,
                kind="escalate",
                to=to,
                phase=phase,
            )
        else:
            to = await handlers(session, report)
            written += await notify(
                session,
                now,
                unit_id=report.unit_id,
                report_id=report.id,
                kind="remind",
                to=to,
                phase=phase,
                stage=target,
            )
        if accepting:
            report.accept_stage = target
        else:
            report.resolve_stage = target
    return written


# --- retention --------------------------------------------------------------------------


async def purge(session: AsyncSession, now: datetime, retention: timedelta) -> int:
    """Photos and the reporter's identity go N days after closing; statistics stay."""
    query = select(Report).where(
        Report.closed_at.is_not(None),
        Report.closed_at < now - retention,
        Report.purged_at.is_(None),
    )
    reports = list((await session.scalars(query)).all())
    for report in reports:
        file_ids = list(
            await session.scalars(
                select(ReportPhoto.file_id).where(ReportPhoto.report_id == report.id)
            )
        )
        await session.execute(delete(ReportPhoto).where(ReportPhoto.report_id == report.id))
        if file_ids:
            await session.execute(delete(StoredFile).where(StoredFile.id.in_(file_ids)))
        # Outbox rows tie a person to the report: they go with the notices they carried.
        notice_ids = list(
            await session.scalars(
                select(FeedbackNotice.id).where(FeedbackNotice.report_id == report.id)
            )
        )
        if notice_ids:
            await session.execute(
                delete(Delivery).where(
                    Delivery.source == SOURCE, Delivery.source_id.in_(notice_ids)
                )
            )
            await session.execute(delete(FeedbackNotice).where(FeedbackNotice.id.in_(notice_ids)))
        await session.execute(
            update(ReportEvent)
            .where(ReportEvent.report_id == report.id, ReportEvent.kind == "info")
            .values(note=None)
        )
        report.reporter_id = None
        report.latitude = report.longitude = None
        report.purged_at = now
    # Emergency alerts carry a description and a place but no report: they go the same way.
    alerts = list(
        await session.scalars(
            select(FeedbackNotice.id).where(
                FeedbackNotice.report_id.is_(None),
                FeedbackNotice.kind == "emergency",
                FeedbackNotice.created_at < now - retention,
            )
        )
    )
    if alerts:
        await session.execute(
            delete(Delivery).where(Delivery.source == SOURCE, Delivery.source_id.in_(alerts))
        )
        await session.execute(delete(FeedbackNotice).where(FeedbackNotice.id.in_(alerts)))
    orphans = select(ReportPhoto.file_id)
    await session.execute(
        delete(StoredFile).where(
            StoredFile.file_name.startswith(PHOTO_PREFIX),
            StoredFile.created_at < now - ORPHAN_AFTER,
            StoredFile.id.not_in(orphans),
        )
    )
    await session.flush()
    return len(reports)
