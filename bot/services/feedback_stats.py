"""Figures about reports: the monthly summary for the secretary and the spreadsheet export."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core.events import Msg, Reply, msg
from bot.core.i18n import t, translate
from bot.services import feedback as fb
from bot.services import feedback_lifecycle as life
from bot.services.feedback_notices import category_label, status_label
from storage.feedback import (
    CLOSED_STATUSES,
    FeedbackNotice,
    Privacy,
    Report,
    ReportStatus,
)
from storage.models import Person, Unit, UnitKind


def month_bounds(day: date, settings: Settings) -> tuple[datetime, datetime]:
    """The local month containing `day`, as UTC instants [start, end)."""
    start = datetime.combine(day.replace(day=1), time(), settings.zone)
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    end = datetime.combine(following, time(), settings.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def reports_between(
    session: AsyncSession, unit_id: int, start: datetime, end: datetime
) -> list[Report]:
    """Reports of a cell filed in [start, end), oldest first."""
    query = (
        select(Report)
        .where(Report.unit_id == unit_id, Report.created_at >= start, Report.created_at < end)
        .order_by(Report.created_at, Report.id)
    )
    return list((await session.scalars(query)).all())


async def summary(
    session: AsyncSession, unit_id: int, start: datetime, end: datetime, settings: Settings
) -> dict[str, Any]:
    """Counts by category and status, on-time share, median working hours, satisfaction."""
    reports = await reports_between(session, unit_id, start, end)
    work = fb.schedule(settings)
    cats = {c.id: c for c in await fb.categories(session, unit_id, active_only=False)}
    by_category = Counter(r.category_id for r in reports)
    by_status = Counter(r.status for r in reports)
    accept_hours = [
        work.between(r.created_at, r.accepted_at).total_seconds() / 3600
        for r in reports
        if r.accepted_at is not None
    ]
    resolved = [r for r in reports if r.status == ReportStatus.resolved and r.closed_at]
    resolve_days = [
        work.between(r.created_at, r.closed_at).total_seconds() / work.day_length.total_seconds()
        for r in resolved
        if r.closed_at is not None
    ]
    judged = [
        r for r in reports if r.status in CLOSED_STATUSES and r.status != ReportStatus.duplicate
    ]
    on_time = [
        r
        for r in judged
        if r.closed_at is not None
        and r.closed_at <= r.resolve_due
        and (r.accepted_at is None or r.accepted_at <= r.accept_due)
    ]
    ratings = [r.rating for r in reports if r.rating]
    fixed = [r.fixed for r in reports if r.fixed is not None]
    return {
        "total": len(reports),
        "by_category": [
            [cats[c].key or "", cats[c].name or "", n]
            for c, n in sorted(by_category.items())
            if c in cats
        ],
        "by_status": sorted(by_status.items()),
        "on_time": round(100 * len(on_time) / len(judged)) if judged else None,
        "accept_hours": round(statistics.median(accept_hours), 1) if accept_hours else None,
        "resolve_days": round(statistics.median(resolve_days), 1) if resolve_days else None,
        "rating": round(statistics.mean(ratings), 1) if ratings else None,
        "rated": len(ratings),
        "fixed": round(100 * sum(fixed) / len(fixed)) if fixed else None,
    }


def summary_reply(p: dict[str, Any]) -> Reply:
    """The monthly summary as the secretary reads it."""
    dash = msg("feedback.summary.none")
    parts: list[Msg] = [msg("feedback.summary.title", month=p["month"], total=p["total"])]
    for key, name, n in p["by_category"]:
        label = (
            msg(f"feedback.category.{key}") if key else msg("feedback.category_named", name=name)
        )
        parts.append(msg("feedback.summary.line", label=label, count=n))
    parts.append(msg("feedback.summary.statuses"))
    for status, n in p["by_status"]:
        parts.append(msg("feedback.summary.line", label=status_label(status), count=n))
    parts.append(
        msg(
            "feedback.summary.figures",
            on_time=p["on_time"] if p["on_time"] is not None else dash,
            accept=p["accept_hours"] if p["accept_hours"] is not None else dash,
            resolve=p["resolve_days"] if p["resolve_days"] is not None else dash,
            rating=p["rating"] if p["rating"] is not None else dash,
            rated=p["rated"],
            fixed=p["fixed"] if p["fixed"] is not None else dash,
        )
    )
    return Reply(tuple(parts), compact=True)


async def send_monthly(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """On the 1st: last month's summary to each cell's secretaries, once per cell and month."""
    local = now.astimezone(settings.zone).date()
    last_month = date(local.year - (local.month == 1), (local.month - 2) % 12 + 1, 1)
    start, end = month_bounds(last_month, settings)
    label = f"{last_month:%m/%Y}"
    written = 0
    for unit_id in await session.scalars(select(Unit.id).where(Unit.kind == UnitKind.cell)):
        sent = await session.scalar(
            select(FeedbackNotice.id).where(
                FeedbackNotice.unit_id == unit_id,
                FeedbackNotice.kind == "summary",
                FeedbackNotice.params["month"].as_string() == label,
            )
        )
        if sent is not None:
            continue
        figures = await summary(session, unit_id, start, end, settings)
        to = await life.secretaries(session, unit_id)
        written += await life.notify(
            session,
            now,
            unit_id=unit_id,
            report_id=None,
            kind="summary",
            to=to,
            month=label,
            **figures,
        )
    return written


async def export(
    session: AsyncSession,
    unit_id: int,
    start: datetime,
    end: datetime,
    settings: Settings,
    out: Path,
) -> Path:
    """Every report of a period as a spreadsheet; a name only where the reporter allowed it."""
    from bot.reports import write_table

    lang = settings.default_language
    cats = {c.id: c for c in await fb.categories(session, unit_id, active_only=False)}

    def local(when: datetime | None) -> str | None:
        return None if when is None else when.astimezone(settings.zone).strftime("%d/%m/%Y %H:%M")

    rows = []
    for r in await reports_between(session, unit_id, start, end):
        # The export leaves the building: hidden and anonymous reporters are never in it.
        if r.privacy == Privacy.named and r.reporter_id is not None:
            person = await session.get(Person, r.reporter_id)
            who = (
                person.full_name
                if person and person.deleted_at is None
                else t(lang, "feedback.xlsx.anonymous")
            )
        elif r.privacy == Privacy.hidden:
            who = t(lang, "feedback.xlsx.hidden")
        else:
            who = t(lang, "feedback.xlsx.anonymous")
        rows.append(
            (
                fb.code(r.id),
                local(r.created_at),
                translate(lang, category_label(cats.get(r.category_id))),
                r.place or "",
                r.description,
                translate(lang, status_label(r.status)),
                who,
                local(r.accept_due),
                local(r.accepted_at),
                local(r.resolve_due),
                local(r.closed_at),
                r.rating,
            )
        )
    columns = (
        "code",
        "created",
        "category",
        "place",
        "text",
        "status",
        "reporter",
        "accept_due",
        "accepted",
        "resolve_due",
        "closed",
        "rating",
    )
    header = [t(lang, f"feedback.xlsx.{c}") for c in columns]
    title = t(lang, "feedback.xlsx.title", start=local(start) or "", end=local(end) or "")
    return write_table(out, title, header, rows)
