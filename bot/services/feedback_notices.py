"""What people read about a report: cards by viewer, action choices, and the outbox renderer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core.events import FileRef, Msg, Option, Reply, msg
from bot.core.i18n import format_when
from bot.services import feedback as fb
from bot.services import people
from storage.feedback import (
    OPEN_STATUSES,
    FeedbackCategory,
    FeedbackNotice,
    Privacy,
    Report,
    ReportStatus,
)
from storage.models import Delivery, Person, Role

ACTIONS = (
    ReportStatus.in_progress,
    ReportStatus.resolved,
    ReportStatus.failed,
    ReportStatus.transferred,
)


def category_label(cat: FeedbackCategory | None) -> Msg:
    """A category's name: translated for the built-in ones, as typed for the added ones."""
    if cat is None:
        return msg("feedback.category_gone")
    if cat.key:
        return msg(f"feedback.category.{cat.key}")
    return msg("feedback.category_named", name=cat.name or "")


def status_label(status: str) -> Msg:
    """A report status in the words of DOMAIN.md."""
    return msg(f"feedback.status.{status}")


async def handler_label(session: AsyncSession, report_or_cat: Report | FeedbackCategory) -> Msg:
    """Who handles it: a person's name or a role's name."""
    if report_or_cat.route_person_id is not None:
        person = await session.get(Person, report_or_cat.route_person_id)
        if person is not None and person.deleted_at is None:
            return msg("feedback.handler_person", name=person.full_name)
    return msg(f"role.{report_or_cat.route_role or Role.secretary}")


def _when(when: datetime, lang: str, settings: Settings) -> str:
    return format_when(when, lang, settings.zone)


async def card(
    session: AsyncSession,
    report: Report,
    *,
    lang: str,
    settings: Settings,
    now: datetime,
    viewer_roles: frozenset[Role],
    for_reporter: bool = False,
) -> list[Msg]:
    """A report as one viewer may see it; the reporter's identity only as privacy allows."""
    cat = await session.get(FeedbackCategory, report.category_id)
    parts = [msg("feedback.card.title", code=fb.code(report.id), category=category_label(cat))]
    if report.urgent:
        parts.append(msg("feedback.card.urgent"))
    parts.append(msg("feedback.card.text", text=report.description))
    if report.place:
        parts.append(msg("feedback.card.place", place=report.place))
    if report.latitude is not None and report.longitude is not None:
        url = f"https://maps.google.com/?q={report.latitude:.6f},{report.longitude:.6f}"
        parts.append(msg("feedback.card.map", url=url))
    if not for_reporter:
        parts.append(await _reporter_line(session, report, viewer_roles))
    shots = await fb.photos(session, report.id, ("report", "info"))
    if shots:
        parts.append(msg("feedback.card.photos", count=len(shots)))
    parts.append(msg("feedback.card.status", status=status_label(report.status)))
    if report.duplicate_of_id:
        parts.append(msg("feedback.card.linked", code=fb.code(report.duplicate_of_id)))
    parts.append(msg("feedback.card.handler", handler=await handler_label(session, report)))
    if report.status in OPEN_STATUSES:
        if report.status == ReportStatus.new:
            parts.append(
                msg("feedback.card.accept_due", when=_when(report.accept_due, lang, settings))
            )
        parts.append(
            msg("feedback.card.resolve_due", when=_when(report.resolve_due, lang, settings))
        )
        if fb.is_overdue(report, now):
            parts.append(msg("feedback.card.overdue"))
    for event in await fb.history(session, report.id):
        if event.kind == "status" and event.note and event.status != ReportStatus.duplicate:
            parts.append(
                msg(
                    "feedback.card.event",
                    when=_when(event.at, lang, settings),
                    status=status_label(event.status or ""),
                    note=event.note,
                )
            )
        elif event.kind == "info" and event.note:
            parts.append(
                msg("feedback.card.info", when=_when(event.at, lang, settings), note=event.note)
            )
    if report.rating:
        parts.append(msg("feedback.card.rating", stars=report.rating))
    return parts


async def _reporter_line(
    session: AsyncSession, report: Report, viewer_roles: frozenset[Role]
) -> Msg:
    if report.privacy == Privacy.anonymous or report.reporter_id is None:
        return msg("feedback.card.reporter_anonymous")
    if not fb.sees_reporter(report, viewer_roles):
        return msg("feedback.card.reporter_hidden")
    person = await session.get(Person, report.reporter_id)
    if person is None or person.deleted_at is not None:
        return msg("feedback.card.reporter_anonymous")
    address = ", ".join(p for p in (person.residential_group, person.house_number) if p) or "-"
    key = (
        "feedback.card.reporter"
        if report.privacy == Privacy.named
        else "feedback.card.reporter_secret"
    )
    return msg(key, name=person.full_name, address=address, phone=person.phone or "-")


def handler_options(report: Report, duplicate_of: int | None = None) -> tuple[Option, ...]:
    """What a handler can do next with a report."""
    if report.status == ReportStatus.new:
        options = [Option(f"fbh:acc:{report.id}", msg("feedback.act.accept"), ("tiep nhan",))]
        if duplicate_of:
            options.append(
                Option(
                    f"fbh:dup:{report.id}:{duplicate_of}",
                    msg("feedback.act.link", code=fb.code(duplicate_of)),
                )
            )
        options += [
            Option(f"fbh:st:{report.id}:{s}", msg(f"feedback.act.{s}"))
            for s in (ReportStatus.failed, ReportStatus.transferred)
        ]
        return tuple(options)
    if report.status in (ReportStatus.accepted, ReportStatus.in_progress):
        return tuple(
            Option(f"fbh:st:{report.id}:{s}", msg(f"feedback.act.{s}"))
            for s in ACTIONS
            if s != report.status
        )
    return ()


def reporter_options(report: Report, now: datetime, settings: Settings) -> tuple[Option, ...]:
    """What a reporter can do with their report: add information, or reopen it."""
    if report.status in OPEN_STATUSES:
        return (Option(f"fb:add:{report.id}", msg("feedback.add_info"), ("bo sung",)),)
    if report.status == ReportStatus.resolved and report.closed_at is not None:
        from datetime import timedelta

        if now <= report.closed_at + timedelta(days=settings.feedback_reopen_days):
            return (Option(f"fb:reopen:{report.id}", msg("feedback.reopen"), ("mo lai",)),)
    return ()


def fixed_question(report_id: int) -> tuple[Option, ...]:
    """After resolution: is it really fixed?"""
    return (
        Option(f"fb:fix:{report_id}:yes", msg("feedback.fixed_yes"), ("da xong", "roi")),
        Option(f"fb:fix:{report_id}:no", msg("feedback.fixed_no"), ("chua",)),
    )


def rating_question(report_id: int) -> tuple[Option, ...]:
    """A 1-5 rating."""
    return tuple(
        Option(f"fb:rate:{report_id}:{n}", msg(f"feedback.stars.{n}")) for n in range(5, 0, -1)
    )


# --- the outbox renderer ----------------------------------------------------------------


Renderer = Callable[[AsyncSession, Sequence[Delivery]], Awaitable[dict[int, Reply]]]


def renderer(settings: Settings, clock: Callable[[], datetime]) -> Renderer:
    """The delivery worker's renderer for feedback notices, bound to the settings and clock."""

    async def render(session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, Reply]:
        notices = {
            n.id: n
            for n in await session.scalars(
                select(FeedbackNotice).where(FeedbackNotice.id.in_({r.source_id for r in rows}))
            )
        }
        langs = dict(
            (
                await session.execute(
                    select(Person.id, Person.language).where(
                        Person.id.in_({r.person_id for r in rows})
                    )
                )
            ).all()
        )
        out: dict[int, Reply] = {}
        for row in rows:
            notice = notices.get(row.source_id)
            if notice is None:
                continue
            lang = langs.get(row.person_id, settings.default_language)
            reply = await _render_one(session, notice, row.person_id, lang, settings, clock())
            if reply is not None:
                out[row.id] = reply
        return out

    return render


async def _render_one(
    session: AsyncSession,
    notice: FeedbackNotice,
    person_id: int,
    lang: str,
    settings: Settings,
    now: datetime,
) -> Reply | None:
    p = notice.params
    file = FileRef(int(p["file_id"]), photo=True) if p.get("file_id") else None
    if notice.kind == "emergency":
        cat = await session.get(FeedbackCategory, int(p["category_id"]))
        return Reply(
            msg(
                "feedback.emergency_alert",
                category=category_label(cat),
                place=p["place"],
                text=p["text"],
            )
        )
    if notice.kind == "summary":
        from bot.services.feedback_stats import summary_reply

        return summary_reply(p)
    report = await session.get(Report, notice.report_id) if notice.report_id else None
    if report is None:
        return None
    code = fb.code(report.id)
    if notice.kind in ("update", "linked"):
        return _reporter_update(notice, report, now, settings)
    roles = await people.roles_in(session, person_id, report.unit_id)
    if notice.kind == "photo":
        return Reply(msg("feedback.photo_of", code=code, n=p["n"], total=p["total"]), file=file)
    parts = await card(session, report, lang=lang, settings=settings, now=now, viewer_roles=roles)
    head: list[Msg] = []
    if notice.kind == "new":
        head.append(msg("feedback.new_for_you"))
        if p.get("dup"):
            head.append(
                msg(
                    "feedback.card.dup_hint",
                    code=fb.code(int(p["dup"])),
                    hours=settings.feedback_duplicate_hours,
                )
            )
    elif notice.kind == "info":
        head.append(msg("feedback.info_added", code=code, note=p.get("note") or "-"))
        return Reply(tuple(head), file=file)
    elif notice.kind == "reopened":
        head.append(msg("feedback.reopened_for_you", code=code))
    elif notice.kind == "remind":
        key = "feedback.remind_half" if p.get("stage") == 1 else "feedback.remind_due"
        head.append(msg(key, code=code, phase=msg(f"feedback.phase.{p['phase']}")))
    elif notice.kind == "escalate":
        head.append(msg("feedback.escalated", code=code, phase=msg(f"feedback.phase.{p['phase']}")))
    options = handler_options(report, p.get("dup"))
    return Reply(
        (*head, *parts), options=options, file=file if notice.kind == "new" else None, compact=True
    )


def _reporter_update(
    notice: FeedbackNotice, report: Report, now: datetime, settings: Settings
) -> Reply:
    p = notice.params
    code = fb.code(report.id)
    file = FileRef(int(p["file_id"]), photo=True) if p.get("file_id") else None
    if notice.kind == "linked":
        return Reply(msg("feedback.you_linked", code=code, original=fb.code(int(p["original"]))))
    parts = [msg("feedback.you_update", code=code, status=status_label(str(p["status"])))]
    if p.get("note"):
        parts.append(msg("feedback.you_note", note=p["note"]))
    options: tuple[Option, ...] = ()
    if p["status"] == ReportStatus.resolved:
        parts.append(msg("feedback.ask_fixed"))
        options = fixed_question(report.id)
    elif p["status"] in (ReportStatus.accepted, ReportStatus.in_progress):
        parts.append(msg("feedback.you_can_add", code=code))
    return Reply(tuple(parts), options=options, file=file)
