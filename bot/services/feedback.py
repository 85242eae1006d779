"""Resident reports: categories, routing, filing and its limits, duplicates, who may see what."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core.errors import UserError
from bot.core.events import fold
from bot.services import people
from bot.services.workhours import Schedule
from storage.feedback import (
    OPEN_STATUSES,
    FeedbackBar,
    FeedbackCategory,
    Privacy,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from storage.models import Person, Role

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
PLACE_MAX = 300
MAX_PHOTOS = 3
CODE = re.compile(r"^\s*(?:#|pa\s*-?\s*)?(\d{1,9})\s*$", re.IGNORECASE)
GROUP = re.compile(r"\bto\s*(?:dan pho\s*)?(\d{1,3}[a-z]?)\b")
# Built-in categories: (key, handling role, asks "is it happening now?").
DEFAULT_CATEGORIES: tuple[tuple[str, Role, bool], ...] = (
    ("order", Role.security, True),
    ("noise", Role.head, False),
    ("waste", Role.head, False),
    ("roads", Role.head, False),
    ("building", Role.head, False),
    ("flood", Role.head, False),
    ("other", Role.secretary, False),
)
ROUTE_ROLES = (Role.security, Role.head, Role.handler, Role.secretary)
# Who oversees every report of the cell (and may act on any).
OVERSEERS = frozenset({Role.secretary, Role.deputy})


def code(report_id: int) -> str:
    """The short code residents quote: PA-0142."""
    return f"PA-{report_id:04d}"


def parse_code(text: str) -> int | None:
    """ "PA-0142", "pa0142", "#142" or "142" → 142; None otherwise."""
    found = CODE.match(text)
    return int(found.group(1)) if found else None


def digest(text: str) -> str:
    """A fingerprint of a text that ignores case, accents, spacing and punctuation."""
    return hashlib.sha256(fold(text).encode()).hexdigest()


def area_of(place: str | None, fallback: str | None) -> str | None:
    """The residential group a report is about: "tổ 3" in the place, else the reporter's."""
    for text in (place, fallback):
        if text and (found := GROUP.search(fold(text))):
            return f"to {found.group(1)}"
    return fold(fallback)[:40] if fallback else None


def schedule(settings: Settings) -> Schedule:
    """Office hours from the settings."""
    return Schedule.parse(
        settings.feedback_work_hours,
        settings.feedback_work_days,
        settings.feedback_holidays,
        settings.zone,
    )


# --- categories and routing ------------------------------------------------------------


async def categories(
    session: AsyncSession, unit_id: int, *, active_only: bool = True
) -> list[FeedbackCategory]:
    """A cell's categories in order; the defaults are created on first use."""
    query = select(FeedbackCategory).where(FeedbackCategory.unit_id == unit_id)
    found = list((await session.scalars(query.order_by(FeedbackCategory.position))).all())
    if not found:
        for position, (key, role, asks_now) in enumerate(DEFAULT_CATEGORIES):
            session.add(
                FeedbackCategory(
                    unit_id=unit_id,
                    key=key,
                    route_role=role,
                    asks_now=asks_now,
                    position=position,
                    active=True,
                )
            )
        await session.flush()
        found = list((await session.scalars(query.order_by(FeedbackCategory.position))).all())
    return [c for c in found if c.active or not active_only]


async def category(session: AsyncSession, unit_id: int, category_id: int) -> FeedbackCategory:
    """One category of this cell, or a stale-choice error."""
    found = await session.get(FeedbackCategory, category_id)
    if found is None or found.unit_id != unit_id:
        raise UserError("error.stale_choice")
    return found


async def add_category(session: AsyncSession, unit_id: int, name: str) -> FeedbackCategory:
    """A category the secretary names; handled by the secretary until routed elsewhere."""
    existing = await categories(session, unit_id, active_only=False)
    if len(name) > 80 or len(name) < 2:
        raise UserError("feedback.category_name_bad", limit=80)
    if any(c.name and fold(c.name) == fold(name) for c in existing):
        raise UserError("feedback.category_exists", name=name)
    created = FeedbackCategory(
        unit_id=unit_id,
        name=name,
        route_role=Role.secretary,
        asks_now=False,
        position=max((c.position for c in existing), default=0) + 1,
        active=True,
    )
    session.add(created)
    await session.flush()
    return created


async def handlers_of(
    session: AsyncSession, unit_id: int, role: str | None, person_id: int | None
) -> list[int]:
    """Who receives a report routed to a role or a person (the secretary when nobody holds it)."""
    if person_id is not None:
        person = await session.get(Person, person_id)
        if person is not None and person.deleted_at is None:
            return [person_id]
    if role is not None:
        found = [p.id for p in await people.holders(session, unit_id, Role(role))]
        if found:
            return found
    return [p.id for p in await people.holders(session, unit_id, Role.secretary)]


async def may_handle(
    session: AsyncSession, report: Report, person_id: int, roles: frozenset[Role]
) -> bool:
    """Whether someone may act on a report: its handlers and the overseers of the cell."""
    if roles & OVERSEERS:
        return True
    if report.route_person_id is not None:
        return report.route_person_id == person_id
    handlers = await handlers_of(session, report.unit_id, report.route_role, None)
    return person_id in handlers


def sees_reporter(report: Report, roles: frozenset[Role]) -> bool:
    """The privacy rule: named → handlers; hidden → the secretary only; anonymous → nobody."""
    if report.privacy == Privacy.named:
        return True
    return report.privacy == Privacy.hidden and Role.secretary in roles


# --- filing -----------------------------------------------------------------------------


def clean_description(text: str) -> str:
    """A description of 10 to 2,000 characters, or a `UserError` saying which bound."""
    text = text.strip()
    if len(text) < DESCRIPTION_MIN:
        raise UserError("feedback.too_short", minimum=DESCRIPTION_MIN)
    if len(text) > DESCRIPTION_MAX:
        raise UserError("feedback.too_long", limit=DESCRIPTION_MAX, length=len(text))
    return text


async def check_may_file(
    session: AsyncSession, now: datetime, unit_id: int, person_id: int, limit: int
) -> None:
    """Refuse politely a barred person, or one past the daily limit."""
    if await session.get(FeedbackBar, (unit_id, person_id)) is not None:
        raise UserError("feedback.barred")
    since = now - timedelta(days=1)
    count = await session.scalar(
        select(func.count(Report.id)).where(
            Report.reporter_id == person_id, Report.created_at >= since
        )
    )
    if (count or 0) >= limit:
        raise UserError("feedback.daily_limit", limit=limit)


async def check_not_repeated(
    session: AsyncSession, now: datetime, person_id: int, text: str
) -> None:
    """Refuse the same text from the same person within 30 days."""
    found = await session.scalar(
        select(Report.id).where(
            Report.reporter_id == person_id,
            Report.text_digest == digest(text),
            Report.created_at >= now - timedelta(days=30),
        )
    )
    if found is not None:
        raise UserError("feedback.repeated", code=code(found))


def in_ward(settings: Settings, latitude: float, longitude: float) -> bool:
    """Whether a shared location is inside the ward's box (always, when no box is set)."""
    bounds = settings.ward_bounds
    if bounds is None:
        return True
    south, west, north, east = bounds
    # A little margin: a report from the street just outside the line is still ours.
    margin = 0.01
    return (
        south - margin <= latitude <= north + margin and west - margin <= longitude <= east + margin
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """What the reporter answered, ready to file."""

    category_id: int
    description: str
    photo_ids: tuple[int, ...]
    place: str | None
    latitude: float | None
    longitude: float | None
    urgent: bool
    privacy: Privacy


async def file(
    session: AsyncSession,
    now: datetime,
    settings: Settings,
    unit_id: int,
    reporter: Person,
    draft: Draft,
) -> Report:
    """Store a report with its deadlines and route; checks run again (the draft may be old)."""
    await check_may_file(session, now, unit_id, reporter.id, settings.feedback_daily_limit)
    await check_not_repeated(session, now, reporter.id, draft.description)
    cat = await category(session, unit_id, draft.category_id)
    work = schedule(settings)
    accept_hours = cat.accept_hours or settings.feedback_accept_hours
    if draft.urgent:
        accept_hours = min(accept_hours, settings.feedback_accept_hours_urgent)
    resolve_days = cat.resolve_days or settings.feedback_resolve_days
    report = Report(
        unit_id=unit_id,
        category_id=cat.id,
        description=draft.description,
        text_digest=digest(draft.description),
        place=draft.place,
        latitude=draft.latitude,
        longitude=draft.longitude,
        area=area_of(draft.place, reporter.residential_group),
        urgent=draft.urgent,
        privacy=draft.privacy,
        reporter_id=reporter.id,
        status=ReportStatus.new,
        route_role=cat.route_role,
        route_person_id=cat.route_person_id,
        created_at=now,
        accept_due=work.add(now, timedelta(hours=accept_hours)),
        resolve_due=work.add(now, work.day_length * resolve_days),
        accept_stage=0,
        resolve_stage=0,
        reopened=0,
    )
    session.add(report)
    await session.flush()
    for file_id in draft.photo_ids[:MAX_PHOTOS]:
        session.add(ReportPhoto(report_id=report.id, file_id=file_id, kind="report"))
    session.add(ReportEvent(report_id=report.id, at=now, kind="status", status=ReportStatus.new))
    await session.flush()
    return report


async def duplicate_candidate(
    session: AsyncSession, report: Report, window: timedelta
) -> Report | None:
    """An open report of the same category and tổ filed shortly before, to offer linking."""
    if report.area is None:
        return None
    return await session.scalar(
        select(Report)
        .where(
            Report.unit_id == report.unit_id,
            Report.category_id == report.category_id,
            Report.area == report.area,
            Report.id != report.id,
            Report.duplicate_of_id.is_(None),
            Report.status.in_(list(OPEN_STATUSES)),
            Report.created_at >= report.created_at - window,
            Report.created_at <= report.created_at,
        )
        .order_by(Report.created_at)
        .limit(1)
    )


# --- reading ----------------------------------------------------------------------------


async def get(session: AsyncSession, unit_id: int, report_id: int) -> Report:
    """A report of this cell, or "not found" (the same answer whether it exists or not)."""
    found = await session.get(Report, report_id)
    if found is None or found.unit_id != unit_id:
        raise UserError("feedback.not_found", code=code(report_id))
    return found


async def photos(
    session: AsyncSession, report_id: int, kinds: tuple[str, ...] = ("report", "info", "result")
) -> list[ReportPhoto]:
    """A report's photos of some kinds, in the order received."""
    query = (
        select(ReportPhoto)
        .where(ReportPhoto.report_id == report_id, ReportPhoto.kind.in_(kinds))
        .order_by(ReportPhoto.id)
    )
    return list((await session.scalars(query)).all())


async def history(session: AsyncSession, report_id: int) -> list[ReportEvent]:
    """A report's events, oldest first."""
    query = select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
    return list((await session.scalars(query)).all())


async def mine(session: AsyncSession, person_id: int, limit: int = 15) -> list[Report]:
    """A reporter's own reports, newest first."""
    query = (
        select(Report)
        .where(Report.reporter_id == person_id)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def queue(
    session: AsyncSession, unit_id: int, person_id: int, roles: frozenset[Role]
) -> list[Report]:
    """Open reports a handler should work on, oldest first."""
    routed = [Report.route_person_id == person_id]
    for role in roles & frozenset(ROUTE_ROLES):
        routed.append((Report.route_role == role) & Report.route_person_id.is_(None))
    query = (
        select(Report)
        .where(
            Report.unit_id == unit_id,
            Report.status.in_(list(OPEN_STATUSES)),
            or_(*routed),
        )
        .order_by(Report.created_at, Report.id)
        .limit(50)
    )
    return list((await session.scalars(query)).all())


async def listing(
    session: AsyncSession,
    unit_id: int,
    now: datetime,
    *,
    status: str | None = None,
    category_id: int | None = None,
    overdue: bool = False,
    limit: int = 40,
) -> list[Report]:
    """The secretary's list with filters (open reports when no status is given)."""
    query = select(Report).where(Report.unit_id == unit_id)
    if status is not None:
        query = query.where(Report.status == status)
    else:
        query = query.where(Report.status.in_(list(OPEN_STATUSES)))
    if category_id is not None:
        query = query.where(Report.category_id == category_id)
    if overdue:
        query = query.where(
            Report.status.in_(list(OPEN_STATUSES)),
            or_(
                (Report.status == ReportStatus.new) & (Report.accept_due < now),
                Report.resolve_due < now,
            ),
        )
    query = query.order_by(Report.created_at, Report.id).limit(limit)
    return list((await session.scalars(query)).all())


def is_overdue(report: Report, now: datetime) -> bool:
    """Past the deadline of its current phase while still open."""
    if report.status not in OPEN_STATUSES:
        return False
    if report.status == ReportStatus.new and now > report.accept_due:
        return True
    return now > report.resolve_due


async def bar(
    session: AsyncSession, now: datetime, unit_id: int, person_id: int, by: int | None
) -> bool:
    """Bar or un-bar a person from filing; True when they are now barred."""
    existing = await session.get(FeedbackBar, (unit_id, person_id))
    if existing is not None:
        await session.delete(existing)
        await session.flush()
        return False
    session.add(FeedbackBar(unit_id=unit_id, person_id=person_id, barred_by=by, at=now))
    await session.flush()
    return True
