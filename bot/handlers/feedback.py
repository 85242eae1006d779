"""Residents' reports (/phananh): file one step by step, follow it, add to it, rate it."""

from __future__ import annotations

from typing import Any

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, Msg, Option, Reply, msg
from bot.core.i18n import format_when
from bot.core.router import JOINED, Context, Replies, Router
from bot.handlers import feedback_desk
from bot.handlers.common import typed_text
from bot.handlers.feedback_desk import take_photo
from bot.services import audit
from bot.services import feedback as fb
from bot.services import feedback_lifecycle as life
from bot.services.feedback_notices import (
    card,
    category_label,
    handler_label,
    rating_question,
    reporter_options,
    status_label,
)
from storage.feedback import OPEN_STATUSES, Privacy, Report

FLOW = "feedback"
ADD_FLOW = "feedback-add"
PRIVACY = (Privacy.named, Privacy.hidden, Privacy.anonymous)


def register(router: Router) -> None:
    """Wire the reporter's commands, then the handlers' and the secretary's."""
    router.command("phananh", "report", access=JOINED, help_key="help.feedback")(report)
    router.flow(FLOW, access=JOINED)(report_step)
    router.choice("fbn", access=JOINED)(report_choice)
    router.command("phananhcuatoi", "myreports", access=JOINED, help_key="help.feedback_mine")(
        my_reports
    )
    router.choice("fb", access=JOINED)(reporter_choice)
    router.flow(ADD_FLOW, access=JOINED)(add_step)
    feedback_desk.register(router)


# --- filing -----------------------------------------------------------------------------


async def report(event: Event, ctx: Context) -> Replies:
    """/phananh: file a report; /phananh PA-0142: show one."""
    assert ctx.person is not None and ctx.unit_id is not None
    if event.args:
        number = fb.parse_code(event.args)
        if number is None:
            return Reply(msg("feedback.bad_code"))
        return await show(ctx, number)
    await fb.check_may_file(
        ctx.session, ctx.now(), ctx.unit_id, ctx.person.id, ctx.settings.feedback_daily_limit
    )
    await ctx.start(event, FLOW, "category", photos=[])
    return Reply(
        (msg("feedback.intro"), msg("feedback.ask_category")), options=await _categories(ctx)
    )


async def _categories(ctx: Context) -> tuple[Option, ...]:
    assert ctx.unit_id is not None
    return tuple(
        Option(f"fbn:cat:{c.id}", category_label(c))
        for c in await fb.categories(ctx.session, ctx.unit_id)
    )


def _data(ctx: Context) -> dict[str, Any]:
    if ctx.conversation is None or ctx.conversation.flow != FLOW:
        raise UserError("error.stale_choice")
    return dict(ctx.conversation.data)


async def _question(ctx: Context, step: str) -> Reply:
    """The question of a step, with its options: asked again after bad input."""
    if step == "category":
        return Reply(msg("feedback.ask_category"), options=await _categories(ctx))
    if step == "desc":
        return Reply(
            msg("feedback.ask_description", minimum=fb.DESCRIPTION_MIN, limit=fb.DESCRIPTION_MAX)
        )
    if step == "photos":
        count = len(_data(ctx).get("photos", []))
        return Reply(
            msg("feedback.ask_photos", limit=fb.MAX_PHOTOS, count=count),
            options=_photo_options(count),
        )
    if step == "where":
        return Reply(msg("feedback.ask_where"))
    if step == "now":
        return Reply(msg("feedback.ask_now"), options=_now_options())
    if step == "privacy":
        return Reply(msg("feedback.ask_privacy"), options=_privacy_options())
    return await _review(ctx)


def _photo_options(count: int) -> tuple[Option, ...]:
    key = "feedback.photos_done" if count else "feedback.no_photo"
    return (Option("fbn:ph:done", msg(key), ("xong", "khong", "khong co")),)


def _now_options() -> tuple[Option, ...]:
    return (
        Option("fbn:now:yes", msg("feedback.now_yes"), ("co", "dang")),
        Option("fbn:now:no", msg("feedback.now_no"), ("khong",)),
    )


def _privacy_options() -> tuple[Option, ...]:
    return tuple(Option(f"fbn:pv:{p}", msg(f"feedback.privacy.{p}")) for p in PRIVACY)


async def report_step(event: Event, ctx: Context) -> Replies:
    """Typed answers, photos and locations while filing; bad input asks the question again."""
    assert ctx.conversation is not None
    step = ctx.conversation.step
    try:
        if step == "desc":
            return await _take_description(event, ctx)
        if step == "photos":
            return await _take_photo(event, ctx)
        if step == "where":
            return await _take_where(event, ctx)
        problem = msg("error.choice_expected")
    except UserError as err:
        problem = msg(err.key, **err.params)
    question = await _question(ctx, step)
    texts = question.text if isinstance(question.text, tuple) else (question.text,)
    return Reply((problem, *texts), options=question.options)


async def _take_description(event: Event, ctx: Context) -> Replies:
    assert ctx.person is not None
    kept: list[Msg] = []
    if event.kind is EventKind.photo:
        # A photo with its caption answers two questions at once; without one it is kept.
        if len(_data(ctx).get("photos", [])) >= fb.MAX_PHOTOS:
            raise UserError("feedback.too_many_photos", limit=fb.MAX_PHOTOS)
        photos = [*_data(ctx).get("photos", []), await take_photo(event, ctx)]
        await ctx.step(event, "desc", photos=photos)
        if len(event.text.strip()) < fb.DESCRIPTION_MIN:
            kept.append(msg("feedback.photo_kept", count=len(photos), limit=fb.MAX_PHOTOS))
            return Reply(
                (
                    *kept,
                    msg(
                        "feedback.ask_description",
                        minimum=fb.DESCRIPTION_MIN,
                        limit=fb.DESCRIPTION_MAX,
                    ),
                )
            )
        text = event.text
    else:
        if event.kind is not EventKind.text or not event.text.strip():
            raise UserError("error.text_expected")
        text = event.text
    description = fb.clean_description(text)
    await fb.check_not_repeated(ctx.session, ctx.now(), ctx.person.id, description)
    await ctx.step(event, "photos", desc=description)
    return await _question(ctx, "photos")


async def _take_photo(event: Event, ctx: Context) -> Replies:
    photos = list(_data(ctx).get("photos", []))
    if event.kind is EventKind.text:
        raise UserError("feedback.photo_or_done")
    if event.kind is EventKind.photo and len(photos) >= fb.MAX_PHOTOS:
        raise UserError("feedback.too_many_photos", limit=fb.MAX_PHOTOS)
    photos.append(await take_photo(event, ctx))
    await ctx.step(event, "photos", photos=photos)
    return Reply(
        msg("feedback.photo_kept", count=len(photos), limit=fb.MAX_PHOTOS),
        options=_photo_options(len(photos)),
    )


async def _take_where(event: Event, ctx: Context) -> Replies:
    if event.kind is EventKind.location and event.location is not None:
        lat, lon = event.location
        if not fb.in_ward(ctx.settings, lat, lon):
            raise UserError("feedback.outside_ward")
        place, where = None, {"lat": lat, "lon": lon, "place": None}
    else:
        if event.kind is not EventKind.text:
            raise UserError("feedback.place_expected")
        place = typed_text(event)
        if not 2 <= len(place) <= fb.PLACE_MAX:
            raise UserError("feedback.place_length", limit=fb.PLACE_MAX)
        where = {"lat": None, "lon": None, "place": place}
    assert ctx.unit_id is not None
    cat = await fb.category(ctx.session, ctx.unit_id, int(_data(ctx)["cat"]))
    step = "now" if cat.asks_now else "privacy"
    await ctx.step(event, step, **where)
    return await _question(ctx, step)


async def report_choice(event: Event, ctx: Context) -> Replies:
    """Buttons (or typed numbers) of the filing flow."""
    parts = (event.data or "").split(":")
    data = _data(ctx)
    what = parts[1] if len(parts) > 1 else ""
    assert ctx.unit_id is not None and ctx.conversation is not None
    # An old button of an earlier step must not move the flow back or skip a question.
    expected = {"cat": "category", "ph": "photos", "now": "now", "go": "confirm"}
    if what in expected and ctx.conversation.step != expected[what]:
        return Reply(msg("error.stale_choice"))
    if what == "cat" and len(parts) == 3 and parts[2].isdigit():
        cat = await fb.category(ctx.session, ctx.unit_id, int(parts[2]))
        await ctx.step(event, "desc", cat=cat.id)
        return Reply(
            (
                msg("feedback.category_chosen", category=category_label(cat)),
                msg(
                    "feedback.ask_description", minimum=fb.DESCRIPTION_MIN, limit=fb.DESCRIPTION_MAX
                ),
            ),
            edit=True,
        )
    if what == "ph" and "desc" in data:
        await ctx.step(event, "where")
        return await _question(ctx, "where")
    if what == "now" and len(parts) == 3 and "cat" in data:
        urgent = parts[2] == "yes"
        await ctx.step(event, "privacy", urgent=urgent)
        if not urgent:
            return await _question(ctx, "privacy")
        place = data.get("place") or (
            f"{data.get('lat'):.5f}, {data.get('lon'):.5f}" if data.get("lat") else "-"
        )
        rows = await life.emergency(
            ctx.session, ctx.now(), ctx.unit_id, int(data["cat"]), place, str(data["desc"])
        )
        ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
        await ctx.audit("feedback.emergency", recipients=rows)
        privacy = await _question(ctx, "privacy")
        return [Reply(msg("feedback.emergency")), privacy]
    if what == "pv" and len(parts) == 3 and parts[2] in PRIVACY:
        await ctx.step(event, "confirm", privacy=parts[2])
        return await _review(ctx)
    if what == "go" and "privacy" in data:
        return await _confirm(event, ctx, data)
    if what == "stop":
        await ctx.finish(event)
        return Reply(msg("feedback.cancelled"), edit=True)
    return Reply(msg("error.stale_choice"))


async def _review(ctx: Context) -> Reply:
    data = _data(ctx)
    assert ctx.unit_id is not None
    cat = await fb.category(ctx.session, ctx.unit_id, int(data["cat"]))
    place = data.get("place") or (
        msg("feedback.shared_location") if data.get("lat") is not None else "-"
    )
    parts = [
        msg("feedback.review_title"),
        msg("feedback.card.category", category=category_label(cat)),
        msg("feedback.card.text", text=data["desc"]),
        msg("feedback.card.place", place=place),
        msg("feedback.card.photos", count=len(data.get("photos", []))),
    ]
    if data.get("urgent"):
        parts.append(msg("feedback.card.urgent"))
    parts += [msg(f"feedback.privacy_review.{data['privacy']}"), msg("feedback.ask_confirm")]
    return Reply(
        tuple(parts),
        options=(
            Option("fbn:go", msg("feedback.send"), ("gui",)),
            Option("fbn:stop", msg("feedback.cancel"), ("huy",)),
        ),
        compact=True,
    )


async def _confirm(event: Event, ctx: Context, data: dict[str, Any]) -> Replies:
    assert ctx.person is not None and ctx.unit_id is not None
    draft = fb.Draft(
        category_id=int(data["cat"]),
        description=str(data["desc"]),
        photo_ids=tuple(int(i) for i in data.get("photos", [])),
        place=data.get("place"),
        latitude=data.get("lat"),
        longitude=data.get("lon"),
        urgent=bool(data.get("urgent")),
        privacy=Privacy(str(data["privacy"])),
    )
    try:
        item = await fb.file(ctx.session, ctx.now(), ctx.settings, ctx.unit_id, ctx.person, draft)
    except UserError:
        await ctx.finish(event)
        raise
    await ctx.finish(event)
    rows = await life.route_new(ctx.session, ctx.now(), ctx.settings, item)
    ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
    # An anonymous report is audited without its author: nobody may join the two.
    actor = None if item.privacy == Privacy.anonymous else ctx.person.id
    await audit.record(
        ctx.session,
        ctx.now(),
        "feedback.filed",
        actor_id=actor,
        unit_id=ctx.unit_id,
        report_id=item.id,
    )
    zone, lang = ctx.settings.zone, ctx.lang
    return Reply(
        (
            msg("feedback.filed", code=fb.code(item.id)),
            msg("feedback.card.handler", handler=await handler_label(ctx.session, item)),
            msg("feedback.card.accept_due", when=format_when(item.accept_due, lang, zone)),
            msg("feedback.card.resolve_due", when=format_when(item.resolve_due, lang, zone)),
            msg("feedback.filed_after", code=fb.code(item.id)),
        ),
        edit=True,
        compact=True,
    )


# --- following ---------------------------------------------------------------------------


async def _is_reporter(ctx: Context, item: Report) -> bool:
    assert ctx.person is not None
    return ctx.person.id in await life.reporters(ctx.session, item)


async def show(ctx: Context, number: int) -> Replies:
    """One report, as the viewer's role allows; "not found" for anyone else."""
    assert ctx.person is not None and ctx.unit_id is not None
    item = await fb.get(ctx.session, ctx.unit_id, number)
    if await _is_reporter(ctx, item):
        parts = await card(
            ctx.session,
            item,
            lang=ctx.lang,
            settings=ctx.settings,
            now=ctx.now(),
            viewer_roles=ctx.roles,
            for_reporter=True,
        )
        return Reply(
            tuple(parts), options=reporter_options(item, ctx.now(), ctx.settings), compact=True
        )
    if await fb.may_handle(ctx.session, item, ctx.person.id, ctx.roles):
        return await feedback_desk.handler_view(ctx, item)
    await ctx.audit("feedback.refused", report_id=item.id)
    raise UserError("feedback.not_found", code=fb.code(number))


async def my_reports(event: Event, ctx: Context) -> Replies:
    """/phananhcuatoi: my reports with their status, newest first."""
    assert ctx.person is not None
    items = await fb.mine(ctx.session, ctx.person.id)
    if not items:
        return Reply(msg("feedback.mine_none"))
    return Reply(
        msg("feedback.mine_title", count=len(items)),
        options=tuple(
            Option(
                f"fb:v:{r.id}",
                msg(
                    "feedback.mine_line",
                    code=fb.code(r.id),
                    status=status_label(r.status),
                    date=format_when(r.created_at, ctx.lang, ctx.settings.zone),
                ),
            )
            for r in items
        ),
    )


async def reporter_choice(event: Event, ctx: Context) -> Replies:
    """fb:v (open), fb:add, fb:reopen, fb:fix, fb:rate — only on one's own report."""
    assert ctx.person is not None and ctx.unit_id is not None
    parts = (event.data or "").split(":")
    if len(parts) < 3 or not parts[2].isdigit():
        return Reply(msg("error.stale_choice"))
    what, number = parts[1], int(parts[2])
    if what == "v":
        return await show(ctx, number)
    item = await fb.get(ctx.session, ctx.unit_id, number)
    if not await _is_reporter(ctx, item):
        raise UserError("feedback.not_found", code=fb.code(number))
    if what == "add":
        if item.status not in OPEN_STATUSES:
            raise UserError("feedback.closed", code=fb.code(item.id))
        await ctx.start(event, ADD_FLOW, "info", report=item.id)
        return Reply(msg("feedback.ask_info", code=fb.code(item.id)))
    if what == "reopen":
        rows = await life.reopen(ctx.session, ctx.now(), ctx.settings, item)
        ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
        return Reply(msg("feedback.reopened", code=fb.code(item.id)), edit=True)
    if what == "fix" and len(parts) == 4:
        fixed = parts[3] == "yes"
        await life.rate(ctx.session, ctx.now(), item, fixed=fixed)
        texts: list[Msg] = [msg("feedback.thanks_fixed" if fixed else "feedback.sorry_not_fixed")]
        options = rating_question(item.id)
        if not fixed:
            options = (*reporter_options(item, ctx.now(), ctx.settings), *options)
        texts.append(msg("feedback.ask_rating"))
        return Reply(tuple(texts), options=options, edit=True)
    if what == "rate" and len(parts) == 4 and parts[3].isdigit():
        await life.rate(ctx.session, ctx.now(), item, stars=int(parts[3]))
        return Reply(msg("feedback.rated", stars=int(parts[3])), edit=True)
    return Reply(msg("error.stale_choice"))


async def add_step(event: Event, ctx: Context) -> Replies:
    """More information from the reporter: a text or a photo, passed on to the handlers."""
    assert ctx.conversation is not None and ctx.unit_id is not None
    item = await fb.get(ctx.session, ctx.unit_id, int(ctx.conversation.data["report"]))
    try:
        photo_id = await take_photo(event, ctx) if event.kind is EventKind.photo else None
        text = event.text.strip() or None
        if photo_id is None:
            text = typed_text(event)
            if not 2 <= len(text) <= fb.DESCRIPTION_MAX:
                raise UserError("feedback.info_length", limit=fb.DESCRIPTION_MAX)
        rows = await life.add_info(ctx.session, ctx.now(), item, text, photo_id)
    except UserError as err:
        return Reply((msg(err.key, **err.params), msg("feedback.ask_info", code=fb.code(item.id))))
    ctx.wrote_outbox = ctx.wrote_outbox or rows > 0
    await ctx.finish(event)
    return Reply(msg("feedback.info_sent", code=fb.code(item.id)))
