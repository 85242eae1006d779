"""The handlers' side of reports: their queue (/viec), actions with notes, the secretary's tools."""

from __future__ import annotations

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, Msg, Option, Reply, fold, msg
from bot.core.ports import DeliveryError
from bot.core.router import LEADERS, SECRETARY, Context, Replies, Router
from bot.handlers.common import role_label, typed_text
from bot.services import feedback as fb
from bot.services import feedback_lifecycle as life
from bot.services import files, people
from bot.services.feedback_notices import (
    card,
    category_label,
    handler_label,
    handler_options,
    status_label,
)
from storage.feedback import FeedbackBar, Report, ReportStatus
from storage.models import Person, Role

HANDLERS = LEADERS | {Role.head, Role.security, Role.handler}
ACT_FLOW = "feedback-act"
CATEGORY_FLOW = "feedback-cat"
LIST_LIMIT = 12


def register(router: Router) -> None:
    """Wire the handlers' and the secretary's commands."""
    router.command("viec", "tasks", access=HANDLERS, help_key="help.feedback_tasks")(tasks)
    router.choice("fbh", access=HANDLERS)(handler_choice)
    router.flow(ACT_FLOW, access=HANDLERS)(act_step)
    router.command("dsphananh", "reports", access=LEADERS, help_key="help.feedback_list")(listing)
    router.choice("fbl", access=LEADERS)(listing_choice)
    router.command("loaiphananh", "reporttypes", access=SECRETARY, help_key="help.feedback_setup")(
        setup
    )
    router.choice("fbs", access=SECRETARY)(setup_choice)
    router.flow(CATEGORY_FLOW, access=SECRETARY)(category_name)
    router.command("champhananh", "barreports", access=SECRETARY, help_key="help.feedback_bar")(bar)


async def handler_view(ctx: Context, item: Report) -> Reply:
    """A report with the actions its status allows; the reporter only as privacy allows."""
    parts = await card(
        ctx.session,
        item,
        lang=ctx.lang,
        settings=ctx.settings,
        now=ctx.now(),
        viewer_roles=ctx.roles,
    )
    return Reply(tuple(parts), options=handler_options(item), compact=True)


def _line(item: Report, cat: Msg, ctx: Context) -> Msg:
    key = "feedback.list_line_overdue" if fb.is_overdue(item, ctx.now()) else "feedback.list_line"
    return msg(key, code=fb.code(item.id), category=cat, status=status_label(item.status))


async def _lines(ctx: Context, items: list[Report]) -> list[Msg]:
    assert ctx.unit_id is not None
    cats = {c.id: c for c in await fb.categories(ctx.session, ctx.unit_id, active_only=False)}
    return [_line(r, category_label(cats.get(r.category_id)), ctx) for r in items]


async def tasks(event: Event, ctx: Context) -> Replies:
    """/viec: open reports routed to me, oldest first, overdue marked."""
    assert ctx.person is not None and ctx.unit_id is not None
    items = await fb.queue(ctx.session, ctx.unit_id, ctx.person.id, ctx.roles)
    if not items:
        return Reply(msg("feedback.tasks_none"))
    lines = await _lines(ctx, items)
    options = tuple(
        Option(f"fbh:v:{r.id}", line) for r, line in zip(items[:LIST_LIMIT], lines, strict=False)
    )
    return Reply(msg("feedback.tasks_title", count=len(items)), options=options)


async def _report_for_handler(ctx: Context, number: int) -> Report:
    assert ctx.person is not None and ctx.unit_id is not None
    item = await fb.get(ctx.session, ctx.unit_id, number)
    if not await fb.may_handle(ctx.session, item, ctx.person.id, ctx.roles):
        await ctx.audit("feedback.refused", report_id=item.id)
        raise UserError("feedback.not_found", code=fb.code(number))
    return item


async def handler_choice(event: Event, ctx: Context) -> Replies:
    """fbh:v (open), fbh:acc (accept), fbh:st (ask the note), fbh:dup (link), fbh:nophoto."""
    assert ctx.person is not None
    parts = (event.data or "").split(":")
    if parts[1:2] == ["nophoto"]:
        return await _apply(event, ctx, None)
    if len(parts) < 3 or not parts[2].isdigit():
        return Reply(msg("error.stale_choice"))
    what, item = parts[1], await _report_for_handler(ctx, int(parts[2]))
    if what == "v":
        return await handler_view(ctx, item)
    if what == "acc":
        rows = await life.change(
            ctx.session,
            ctx.now(),
            ctx.settings,
            item,
            ReportStatus.accepted,
            actor_id=ctx.person.id,
        )
        ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
        await ctx.audit("feedback.status", report_id=item.id, status=item.status)
        return Reply(
            (msg("feedback.accepted", code=fb.code(item.id)), msg("feedback.next_step")),
            options=handler_options(item),
        )
    if what == "dup" and len(parts) == 4 and parts[3].isdigit():
        original = await _report_for_handler(ctx, int(parts[3]))
        rows = await life.link(ctx.session, ctx.now(), item, original, actor_id=ctx.person.id)
        ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
        await ctx.audit("feedback.linked", report_id=item.id, original_id=original.id)
        return Reply(
            msg("feedback.linked", code=fb.code(item.id), original=fb.code(original.id)), edit=True
        )
    if what == "st" and len(parts) == 4 and parts[3] in ReportStatus.__members__:
        status = ReportStatus(parts[3])
        if status not in life.NEXT.get(item.status, frozenset()):
            raise UserError("feedback.bad_transition", code=fb.code(item.id))
        await ctx.start(event, ACT_FLOW, "note", report=item.id, status=status.value)
        return Reply(msg(f"feedback.ask_note.{status}", code=fb.code(item.id)))
    return Reply(msg("error.stale_choice"))


async def act_step(event: Event, ctx: Context) -> Replies:
    """The handler's note (a reason, what was done), then for a resolution a photo of the result."""
    assert ctx.conversation is not None
    data = ctx.conversation.data
    status = ReportStatus(str(data["status"]))
    if ctx.conversation.step == "note":
        try:
            note = life.clean_note(typed_text(event))
        except UserError as err:
            return Reply(
                (
                    msg(err.key, **err.params),
                    msg(f"feedback.ask_note.{status}", code=fb.code(int(data["report"]))),
                )
            )
        if status is ReportStatus.resolved:
            await ctx.step(event, "photo", note=note)
            return _ask_result_photo()
        await ctx.step(event, "note", note=note)
        return await _apply(event, ctx, None)
    problem = msg("feedback.result_photo_expected")
    if event.kind is EventKind.photo:
        try:
            return await _apply(event, ctx, await take_photo(event, ctx))
        except UserError as err:
            problem = msg(err.key, **err.params)
    return Reply((problem, msg("feedback.ask_result_photo")), options=_ask_result_photo().options)


def _ask_result_photo() -> Reply:
    return Reply(
        msg("feedback.ask_result_photo"),
        options=(Option("fbh:nophoto", msg("feedback.no_result_photo"), ("khong", "khong co")),),
    )


async def _apply(event: Event, ctx: Context, photo_id: int | None) -> Replies:
    conv = ctx.conversation
    if conv is None or conv.flow != ACT_FLOW or "note" not in conv.data:
        return Reply(msg("error.stale_choice"))
    assert ctx.person is not None
    item = await _report_for_handler(ctx, int(conv.data["report"]))
    status = ReportStatus(str(conv.data["status"]))
    rows = await life.change(
        ctx.session,
        ctx.now(),
        ctx.settings,
        item,
        status,
        actor_id=ctx.person.id,
        note=str(conv.data["note"]),
        photo_id=photo_id,
    )
    await ctx.finish(event)
    ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
    await ctx.audit("feedback.status", report_id=item.id, status=status)
    done = msg("feedback.status_changed", code=fb.code(item.id), status=status_label(status))
    options = handler_options(item)
    return Reply((done, msg("feedback.next_step")) if options else done, options=options)


async def take_photo(event: Event, ctx: Context) -> int:
    """Download the photo a person sent and keep it; its stored id."""
    if event.kind is not EventKind.photo or event.attachment is None:
        raise UserError("feedback.photo_only")
    if ctx.download is None:
        raise UserError("feedback.photo_failed")
    limit = int(ctx.settings.max_attachment_mb * 1024 * 1024)
    try:
        content, name, mime = await ctx.download(event.attachment, limit)
    except ValueError:
        raise UserError(
            "feedback.photo_too_big", limit=int(ctx.settings.max_attachment_mb)
        ) from None
    except DeliveryError:
        raise UserError("feedback.photo_failed") from None
    stored = await files.store(
        ctx.session, ctx.now(), file_name=life.PHOTO_PREFIX + name, mime_type=mime, content=content
    )
    return stored.id


# --- the secretary's list ---------------------------------------------------------------


async def listing(event: Event, ctx: Context) -> Replies:
    """/dsphananh [quahan]: the cell's reports with filters."""
    if fold(event.args) in ("qua han", "quahan", "overdue"):
        return await _show_list(ctx, overdue=True)
    options = [
        Option("fbl:open", msg("feedback.filter.open")),
        Option("fbl:overdue", msg("feedback.filter.overdue"), ("qua han",)),
        Option("fbl:cats", msg("feedback.filter.by_category")),
    ]
    options += [
        Option(f"fbl:s:{s}", status_label(s)) for s in ReportStatus if s != ReportStatus.new
    ]
    return Reply(msg("feedback.filter.ask"), options=tuple(options))


async def listing_choice(event: Event, ctx: Context) -> Replies:
    """A filter was chosen."""
    assert ctx.unit_id is not None
    parts = (event.data or "").split(":")
    if parts[1] == "overdue":
        return await _show_list(ctx, overdue=True)
    if parts[1] == "cats":
        cats = await fb.categories(ctx.session, ctx.unit_id, active_only=False)
        return Reply(
            msg("feedback.filter.ask_category"),
            options=tuple(Option(f"fbl:c:{c.id}", category_label(c)) for c in cats),
        )
    if parts[1] == "c" and len(parts) == 3 and parts[2].isdigit():
        return await _show_list(ctx, category_id=int(parts[2]))
    if parts[1] == "s" and len(parts) == 3 and parts[2] in ReportStatus.__members__:
        return await _show_list(ctx, status=parts[2])
    return await _show_list(ctx)


async def _show_list(
    ctx: Context,
    *,
    status: str | None = None,
    category_id: int | None = None,
    overdue: bool = False,
) -> Reply:
    assert ctx.unit_id is not None
    items = await fb.listing(
        ctx.session, ctx.unit_id, ctx.now(), status=status, category_id=category_id, overdue=overdue
    )
    if not items:
        return Reply(msg("feedback.list_none"))
    lines = await _lines(ctx, items)
    return Reply(
        (msg("feedback.list_title", count=len(items)), *lines, msg("feedback.list_hint")),
        compact=True,
    )


# --- the secretary's setup: routing, categories, bars ----------------------------------


async def setup(event: Event, ctx: Context) -> Replies:
    """/loaiphananh: categories and who handles each; add one."""
    assert ctx.unit_id is not None
    cats = await fb.categories(ctx.session, ctx.unit_id, active_only=False)
    options = []
    for c in cats:
        key = "feedback.setup_line" if c.active else "feedback.setup_line_off"
        options.append(
            Option(
                f"fbs:c:{c.id}",
                msg(key, category=category_label(c), handler=await handler_label(ctx.session, c)),
            )
        )
    options.append(Option("fbs:add", msg("feedback.setup_add"), ("them",)))
    return Reply(msg("feedback.setup_title"), options=tuple(options))


async def _category_menu(ctx: Context, cat_id: int) -> Reply:
    assert ctx.unit_id is not None
    c = await fb.category(ctx.session, ctx.unit_id, cat_id)
    options = [
        Option(f"fbs:r:{c.id}:{r}", msg("feedback.route_to", handler=role_label(r)))
        for r in fb.ROUTE_ROLES
    ]
    options.append(Option(f"fbs:p:{c.id}", msg("feedback.route_person")))
    options.append(
        Option(f"fbs:t:{c.id}", msg("feedback.setup_off" if c.active else "feedback.setup_on"))
    )
    return Reply(
        msg(
            "feedback.setup_category",
            category=category_label(c),
            handler=await handler_label(ctx.session, c),
        ),
        options=tuple(options),
        edit=True,
    )


async def setup_choice(event: Event, ctx: Context) -> Replies:
    """Routing to a role (fbs:r) or person (fbs:p, fbs:pp), on/off (fbs:t), add, bar a person."""
    assert ctx.unit_id is not None and ctx.person is not None
    parts = (event.data or "").split(":")
    what = parts[1]
    if what == "add":
        await ctx.start(event, CATEGORY_FLOW, "name")
        return Reply(msg("feedback.ask_category_name"))
    if what == "bar" and len(parts) == 3 and parts[2].isdigit():
        person = await _person_here(ctx, int(parts[2]))
        barred = await fb.bar(ctx.session, ctx.now(), ctx.unit_id, person.id, ctx.person.id)
        await ctx.audit("feedback.bar", target_id=person.id, barred=barred)
        key = "feedback.barred_done" if barred else "feedback.unbarred_done"
        return Reply(msg(key, name=person.full_name), edit=True)
    if len(parts) < 3 or not parts[2].isdigit():
        return Reply(msg("error.stale_choice"))
    cat = await fb.category(ctx.session, ctx.unit_id, int(parts[2]))
    if what == "c":
        return await _category_menu(ctx, cat.id)
    if what == "r" and len(parts) == 4 and parts[3] in {r.value for r in fb.ROUTE_ROLES}:
        cat.route_role, cat.route_person_id = parts[3], None
    elif what == "t":
        cat.active = not cat.active
    elif what == "p":
        staff = await people.people_of(ctx.session, ctx.unit_id, exclude_residents=True)
        return Reply(
            msg("feedback.ask_route_person"),
            options=tuple(
                Option(f"fbs:pp:{cat.id}:{p.id}", msg("pick.person", name=p.full_name))
                for p in staff[:LIST_LIMIT]
            ),
        )
    elif what == "pp" and len(parts) == 4 and parts[3].isdigit():
        cat.route_person_id = (await _person_here(ctx, int(parts[3]))).id
    else:
        return Reply(msg("error.stale_choice"))
    await ctx.audit(
        "feedback.routing", category_id=cat.id, role=cat.route_role, person=cat.route_person_id
    )
    return await _category_menu(ctx, cat.id)


async def category_name(event: Event, ctx: Context) -> Replies:
    """The name of a new category."""
    assert ctx.unit_id is not None
    try:
        created = await fb.add_category(ctx.session, ctx.unit_id, typed_text(event))
    except UserError as err:
        return Reply((msg(err.key, **err.params), msg("feedback.ask_category_name")))
    await ctx.finish(event)
    await ctx.audit("feedback.category_added", category_id=created.id)
    return await _category_menu(ctx, created.id)


async def _person_here(ctx: Context, person_id: int) -> Person:
    assert ctx.unit_id is not None
    person = await ctx.session.get(Person, person_id)
    if person is None or person.deleted_at is not None:
        raise UserError("error.stale_choice")
    if not await people.roles_in(ctx.session, person.id, ctx.unit_id):
        raise UserError("error.stale_choice")
    return person


async def bar(event: Event, ctx: Context) -> Replies:
    """/champhananh TÊN: bar (or let again) a person from filing reports."""
    assert ctx.unit_id is not None
    if not event.args:
        return Reply(msg("feedback.bar_usage"))
    needle = fold(event.args)
    found = [
        p
        for p in await people.people_of(ctx.session, ctx.unit_id, exclude_residents=False)
        if needle in fold(p.full_name)
    ]
    if not found:
        return Reply(msg("pick.nobody"))
    options = []
    for p in found[:LIST_LIMIT]:
        barred = await ctx.session.get(FeedbackBar, (ctx.unit_id, p.id)) is not None
        key = "feedback.bar_person_on" if barred else "feedback.bar_person"
        options.append(Option(f"fbs:bar:{p.id}", msg(key, name=p.full_name)))
    return Reply(msg("feedback.bar_ask"), options=tuple(options))
