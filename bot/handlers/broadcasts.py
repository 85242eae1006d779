"""Directives and announcements in chat: compose (/thongbao), acknowledge, reread, report, mute."""

from __future__ import annotations

from datetime import datetime

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, Msg, Option, Reply, msg
from bot.core.i18n import format_when
from bot.core.ports import DeliveryError
from bot.core.router import JOINED, LEADERS, MEMBERS, Context, Replies, Router
from bot.handlers.common import typed_text
from bot.services import broadcasts, files, groups
from storage.models import Broadcast, BroadcastKind, Role

FLOW = "broadcast"
SENDERS = LEADERS | {Role.head}
READERS = MEMBERS | {Role.follower}
AUDIENCE_LABEL = "broadcast.audience."
DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M")


def register(router: Router) -> None:
    """Wire the broadcast commands and choices."""
    router.command("thongbao", "broadcast", access=SENDERS, help_key="help.broadcast")(compose)
    router.flow(FLOW, access=SENDERS)(compose_step)
    router.choice("bc", access=SENDERS)(compose_choice)
    router.command("lichgui", "scheduled", access=SENDERS, help_key="help.scheduled")(scheduled)
    router.choice("cz", access=SENDERS)(cancel_scheduled)
    router.command("chithi", "directives", access=READERS | LEADERS, help_key="help.directives")(
        directives
    )
    router.choice("cr", access=LEADERS)(report_choice)
    router.choice("cx", access=JOINED)(reread)
    router.choice("ack", access=JOINED)(acknowledge)
    router.command("tatthongbao", "mute", access=JOINED, help_key="help.mute")(mute)
    router.command("batthongbao", "unmute", access=JOINED, help_key="help.unmute")(unmute)


# --- composing ------------------------------------------------------------------------


async def compose(event: Event, ctx: Context) -> Replies:
    """/thongbao: a directive (leaders) or an announcement, step by step."""
    if ctx.roles & LEADERS:
        await ctx.start(event, FLOW, "kind")
        return Reply(
            msg("broadcast.ask_kind"),
            options=(
                Option("bc:kind:directive", msg("broadcast.kind.directive")),
                Option("bc:kind:announcement", msg("broadcast.kind.announcement")),
            ),
        )
    await ctx.start(event, FLOW, "title", kind=BroadcastKind.announcement.value)
    return Reply(msg("broadcast.ask_title_announcement"))


def _in_flow(ctx: Context) -> dict[str, object]:
    if ctx.conversation is None or ctx.conversation.flow != FLOW:
        raise UserError("error.stale_choice")
    return dict(ctx.conversation.data)


async def compose_step(event: Event, ctx: Context) -> Replies:
    """Typed answers and files while composing."""
    assert ctx.conversation is not None
    step = ctx.conversation.step
    data = ctx.conversation.data
    try:
        if step == "title":
            title = typed_text(event)
            if len(title) > broadcasts.TITLE_LIMIT:
                raise UserError("broadcast.title_too_long", limit=broadcasts.TITLE_LIMIT)
            await ctx.step(event, "body", title=title, body="")
            return _ask_body(first=True)
        if step == "body":
            return await _add_body(event, ctx, str(data.get("body", "")))
        if step == "file":
            return await _take_file(event, ctx)
        if step == "group":
            group = typed_text(event)[:40]
            await ctx.step(event, "when", audience=f"group:{group}")
            return _ask_when()
        if step == "at":
            return await _take_time(event, ctx)
    except UserError as err:
        return Reply(
            (msg(err.key, **err.params), _question(step, data)),
            options=_question_options(step, data),
        )
    return Reply(
        (msg("error.choice_expected"), _question(step, data)), options=_question_options(step, data)
    )


def _question(step: str, data: dict[str, object]) -> Msg:
    keys = {
        "kind": "broadcast.ask_kind",
        "title": "broadcast.ask_title",
        "body": "broadcast.ask_more",
        "file": "broadcast.ask_file",
        "audience": "broadcast.ask_audience",
        "group": "broadcast.ask_group",
        "when": "broadcast.ask_when",
        "at": "broadcast.ask_time",
        "confirm": "broadcast.ask_confirm",
    }
    return msg(keys.get(step, "broadcast.ask_title"))


def _question_options(step: str, data: dict[str, object]) -> tuple[Option, ...]:
    if step == "kind":
        return (
            Option("bc:kind:directive", msg("broadcast.kind.directive")),
            Option("bc:kind:announcement", msg("broadcast.kind.announcement")),
        )
    if step == "body":
        return _ask_body(first=False).options
    if step == "file":
        return _ask_file().options
    if step == "audience":
        return _ask_audience(str(data.get("kind"))).options
    if step == "when":
        return _ask_when().options
    if step == "confirm":
        return _confirm_options()
    return ()


def _ask_body(first: bool) -> Reply:
    key = "broadcast.ask_body" if first else "broadcast.ask_more"
    return Reply(msg(key), options=(Option("bc:body:done", msg("broadcast.body_done"), ("xong",)),))


async def _add_body(event: Event, ctx: Context, body: str) -> Replies:
    text = typed_text(event) if event.kind is EventKind.text else None
    if text is None:
        raise UserError("error.text_expected")
    # Keep the secretary's paragraphs: typed_text folds spaces, so use the raw text here.
    added = f"{body}\n\n{event.text.strip()}" if body else event.text.strip()
    if len(added) > broadcasts.BODY_LIMIT:
        raise UserError("broadcast.body_too_long", limit=broadcasts.BODY_LIMIT)
    await ctx.step(event, "body", body=added)
    return _ask_body(first=False)


def _ask_file() -> Reply:
    return Reply(
        msg("broadcast.ask_file"),
        options=(Option("bc:file:none", msg("broadcast.no_file"), ("khong",)),),
    )


async def _take_file(event: Event, ctx: Context) -> Replies:
    if event.kind not in (EventKind.document, EventKind.photo) or event.attachment is None:
        raise UserError("broadcast.file_expected")
    channel_download = ctx.download
    if channel_download is None:
        raise UserError("broadcast.file_failed")
    limit = int(ctx.settings.max_attachment_mb * 1024 * 1024)
    try:
        content, name, mime = await channel_download(event.attachment, limit)
    except ValueError:
        raise UserError(
            "broadcast.file_too_big", limit=int(ctx.settings.max_attachment_mb)
        ) from None
    except DeliveryError:
        raise UserError("broadcast.file_failed") from None
    photo = event.kind is EventKind.photo
    stored = await files.store(
        ctx.session, ctx.now(), file_name=name, mime_type=mime, content=content
    )
    await ctx.step(event, "audience", file_id=stored.id, file_is_photo=photo)
    assert ctx.conversation is not None
    return Reply(
        (msg("broadcast.file_kept", name=name), msg("broadcast.ask_audience")),
        options=(await _audience_question(ctx, str(ctx.conversation.data["kind"]))).options,
    )


def _ask_audience(kind: str, orgs: list[tuple[int, str]] | None = None) -> Reply:
    ids = (
        broadcasts.DIRECTIVE_AUDIENCES if kind == BroadcastKind.directive else broadcasts.AUDIENCES
    )
    options = [Option(f"bc:aud:{a}", msg(AUDIENCE_LABEL + a)) for a in ids]
    if kind != BroadcastKind.directive:
        options.append(Option("bc:aud:group", msg(AUDIENCE_LABEL + "group")))
        options += [
            Option(f"bc:org:{gid}", msg("broadcast.audience.org", name=name))
            for gid, name in orgs or []
        ]
    return Reply(msg("broadcast.ask_audience"), options=tuple(options))


async def _audience_question(ctx: Context, kind: str) -> Reply:
    """The audiences, with the cell's non-empty groups for announcements."""
    assert ctx.unit_id is not None
    orgs = [(g.id, g.name) for g, n in await groups.all_of(ctx.session, ctx.unit_id) if n]
    return _ask_audience(kind, orgs)


def _ask_when() -> Reply:
    return Reply(
        msg("broadcast.ask_when"),
        options=(
            Option("bc:when:now", msg("broadcast.when_now"), ("ngay",)),
            Option("bc:when:later", msg("broadcast.when_later"), ("hen gio",)),
        ),
    )


async def _take_time(event: Event, ctx: Context) -> Replies:
    text = typed_text(event)
    when = None
    for fmt in DATE_FORMATS:
        try:
            when = datetime.strptime(text, fmt).replace(tzinfo=ctx.settings.zone)
            break
        except ValueError:
            continue
    if when is None:
        raise UserError("broadcast.bad_time")
    if when <= ctx.now():
        raise UserError("broadcast.past")
    await ctx.step(event, "confirm", send_at=when.isoformat())
    return await _preview(event, ctx)


def _audience_label(data: dict[str, object]) -> Msg:
    audience = str(data["audience"])
    if audience.startswith("org:"):
        return msg("broadcast.audience.org", name=str(data.get("audience_name", "")))
    return msg(AUDIENCE_LABEL + audience.split(":", 1)[0])


def _confirm_options() -> tuple[Option, ...]:
    return (
        Option("bc:go", msg("broadcast.send"), ("gui",)),
        Option("bc:stop", msg("broadcast.cancel"), ("huy",)),
    )


def _draft(ctx: Context, data: dict[str, object]) -> Broadcast:
    kind = BroadcastKind(str(data["kind"]))
    return Broadcast(
        id=0,
        kind=kind,
        title=str(data["title"]),
        body=str(data["body"]),
        file_id=data.get("file_id"),
        file_is_photo=bool(data.get("file_is_photo")),
        needs_ack=kind is BroadcastKind.directive,
    )


async def _preview(event: Event, ctx: Context) -> Replies:
    """Exactly what recipients will see, then how many on each app, then confirm."""
    data = _in_flow(ctx)
    assert ctx.unit_id is not None
    kind = BroadcastKind(str(data["kind"]))
    plan = await broadcasts.plan(ctx.session, ctx.unit_id, str(data["audience"]), kind)
    if not plan.person_ids:
        await ctx.step(event, "audience")
        return Reply(
            (msg("broadcast.nobody"), msg("broadcast.ask_audience")),
            options=_ask_audience(kind).options,
        )
    content = broadcasts.content(_draft(ctx, data))
    preview = Reply(
        content.text if isinstance(content.text, tuple) else (content.text,), file=content.file
    )
    when = data.get("send_at")
    when_text = (
        msg(
            "broadcast.when_at",
            when=format_when(datetime.fromisoformat(str(when)), ctx.lang, ctx.settings.zone),
        )
        if when
        else msg("broadcast.when_now_summary")
    )
    summary = Reply(
        (
            msg("broadcast.preview_above"),
            msg(
                "broadcast.summary",
                total=len(plan.person_ids),
                zalo=plan.by_platform.get("zalo", 0),
                telegram=plan.by_platform.get("telegram", 0),
                audience=_audience_label(data),
            ),
            *(
                [msg("broadcast.summary_unlinked", count=plan.unreachable)]
                if plan.unreachable
                else []
            ),
            when_text,
            msg("broadcast.ask_confirm"),
        ),
        options=_confirm_options(),
    )
    return [preview, summary]


async def compose_choice(event: Event, ctx: Context) -> Replies:
    """Buttons (or typed numbers) of the compose flow."""
    parts = (event.data or "").split(":")
    data = _in_flow(ctx)
    what = parts[1] if len(parts) > 1 else ""
    if what == "kind" and len(parts) == 3:
        kind = BroadcastKind(parts[2])
        if kind is BroadcastKind.directive and not ctx.roles & LEADERS:
            return Reply(msg("access.refused"))
        await ctx.step(event, "title", kind=kind.value)
        key = (
            "broadcast.ask_title"
            if kind is BroadcastKind.directive
            else "broadcast.ask_title_announcement"
        )
        return Reply(msg(key), edit=True)
    if what == "body":
        if not str(data.get("body", "")).strip():
            return Reply((msg("broadcast.empty"), msg("broadcast.ask_body")))
        await ctx.step(event, "file")
        return _ask_file()
    if what == "file":
        await ctx.step(event, "audience", file_id=None)
        return await _audience_question(ctx, str(data["kind"]))
    if what == "org" and len(parts) == 3 and parts[2].isdigit():
        if data["kind"] == BroadcastKind.directive:
            return Reply(msg("error.stale_choice"))
        group = await groups.get(ctx.session, ctx.unit_id or 0, int(parts[2]))
        await ctx.step(event, "when", audience=f"org:{group.id}", audience_name=group.name)
        return _ask_when()
    if what == "aud" and len(parts) == 3:
        if parts[2] == "group":
            await ctx.step(event, "group")
            return Reply(msg("broadcast.ask_group"))
        if parts[2] not in broadcasts.AUDIENCES:
            return Reply(msg("error.stale_choice"))
        if (
            data["kind"] == BroadcastKind.directive
            and parts[2] not in broadcasts.DIRECTIVE_AUDIENCES
        ):
            return Reply(msg("error.stale_choice"))
        await ctx.step(event, "when", audience=parts[2])
        return _ask_when()
    if what == "when" and len(parts) == 3:
        if parts[2] == "later":
            await ctx.step(event, "at")
            return Reply(msg("broadcast.ask_time"))
        await ctx.step(event, "confirm", send_at=None)
        return await _preview(event, ctx)
    if what == "go":
        return await _confirm(event, ctx, data)
    if what == "stop":
        await ctx.finish(event)
        return Reply(msg("broadcast.cancelled"), edit=True)
    return Reply(msg("error.stale_choice"))


async def _confirm(event: Event, ctx: Context, data: dict[str, object]) -> Replies:
    assert ctx.unit_id is not None and ctx.person is not None
    if "audience" not in data or "title" not in data:
        return Reply(msg("error.stale_choice"))
    send_at = datetime.fromisoformat(str(data["send_at"])) if data.get("send_at") else ctx.now()
    item, count = await broadcasts.create(
        ctx.session,
        ctx.now(),
        unit_id=ctx.unit_id,
        kind=BroadcastKind(str(data["kind"])),
        title=str(data["title"]),
        body=str(data["body"]),
        audience=str(data["audience"]),
        send_at=send_at,
        created_by=ctx.person.id,
        file_id=int(str(data["file_id"])) if data.get("file_id") else None,
        file_is_photo=bool(data.get("file_is_photo")),
    )
    await ctx.finish(event)
    ctx.wrote_outbox = True
    await ctx.audit(
        "broadcast.created",
        broadcast_id=item.id,
        kind=item.kind,
        audience=item.audience,
        recipients=count,
    )
    if data.get("send_at"):
        when = format_when(item.send_at, ctx.lang, ctx.settings.zone)
        return Reply(msg("broadcast.scheduled", number=item.id, when=when, count=count), edit=True)
    return Reply(msg("broadcast.queued", number=item.id, count=count), edit=True)


# --- after sending ---------------------------------------------------------------------


async def acknowledge(event: Event, ctx: Context) -> Replies:
    """Đã nhận: the time is stored; the button goes away."""
    assert ctx.person is not None
    raw = (event.data or "").split(":", 1)[1]
    if not raw.isdigit() or not await broadcasts.acknowledge(
        ctx.session, ctx.now(), int(raw), ctx.person.id
    ):
        return Reply(msg("error.stale_choice"))
    await ctx.audit("broadcast.acknowledged", broadcast_id=int(raw))
    return Reply(msg("broadcast.acknowledged"))


async def directives(event: Event, ctx: Context) -> Replies:
    """/chithi: members reread what they received; leaders see who acknowledged (/chithi SỐ)."""
    assert ctx.person is not None and ctx.unit_id is not None
    if ctx.roles & LEADERS:
        if event.args.strip().lstrip("#").isdigit():
            return await _report(ctx, int(event.args.strip().lstrip("#")))
        items = await broadcasts.recent(ctx.session, ctx.unit_id)
        if not items:
            return Reply(msg("directives.none_sent"))
        return Reply(
            msg("directives.pick_report"),
            options=tuple(Option(f"cr:{b.id}", _label(ctx, b)) for b in items),
        )
    received = await broadcasts.received(ctx.session, ctx.person.id)
    if not received:
        return Reply(msg("directives.none_received"))
    return Reply(
        msg("directives.pick_reread"),
        options=tuple(
            Option(
                f"cx:{b.id}",
                msg(
                    "directives.item_acked"
                    if acked or not b.needs_ack
                    else "directives.item_waiting",
                    number=b.id,
                    title=b.title,
                    date=format_when(b.send_at, ctx.lang, ctx.settings.zone),
                ),
            )
            for b, acked in received
        ),
    )


def _label(ctx: Context, item: Broadcast) -> Msg:
    return msg(
        "directives.item",
        number=item.id,
        title=item.title,
        status=msg(f"broadcast.status.{item.status}"),
    )


async def report_choice(event: Event, ctx: Context) -> Replies:
    """A leader picked a broadcast from the list."""
    return await _report(ctx, int((event.data or "cr:0").split(":", 1)[1]))


async def _report(ctx: Context, number: int) -> Replies:
    assert ctx.unit_id is not None
    rep = await broadcasts.report(ctx.session, ctx.unit_id, number)
    zone = ctx.settings.zone
    parts: list[Msg] = [msg("report.title", number=number, title=rep.item.title)]
    if rep.item.needs_ack:
        parts.append(msg("report.acked", count=len(rep.acknowledged)))
        parts += [
            msg("report.line_at", name=n, at=format_when(at, ctx.lang, zone))
            for n, at in rep.acknowledged
        ]
        parts.append(msg("report.waiting", count=len(rep.waiting)))
        parts += [msg("report.line", name=n) for n in rep.waiting]
    else:
        parts.append(msg("report.sent_count", count=len(rep.acknowledged) + len(rep.waiting)))
    if rep.unreachable:
        parts.append(msg("report.unreachable", count=len(rep.unreachable)))
        parts += [msg("report.line", name=n) for n in rep.unreachable]
    if rep.pending:
        parts.append(msg("report.pending", count=rep.pending))
    parts.append(msg("report.export_hint", number=number))
    return Reply(tuple(parts), compact=True)


async def reread(event: Event, ctx: Context) -> Replies:
    """Send a received directive again (with "Đã nhận" if not yet acknowledged)."""
    assert ctx.person is not None
    number = int((event.data or "cx:0").split(":", 1)[1])
    for item, acked in await broadcasts.received(ctx.session, ctx.person.id, limit=50):
        if item.id == number:
            return broadcasts.content(item, acknowledged=acked is not None)
    return Reply(msg("error.stale_choice"))


async def scheduled(event: Event, ctx: Context) -> Replies:
    """/lichgui: broadcasts waiting for their time, each with a cancel choice."""
    assert ctx.unit_id is not None
    items = await broadcasts.scheduled(ctx.session, ctx.unit_id)
    if not items:
        return Reply(msg("scheduled.none"))
    return Reply(
        msg("scheduled.pick_cancel"),
        options=tuple(
            Option(
                f"cz:{b.id}",
                msg(
                    "scheduled.item",
                    number=b.id,
                    title=b.title,
                    when=format_when(b.send_at, ctx.lang, ctx.settings.zone),
                ),
            )
            for b in items
        ),
    )


async def cancel_scheduled(event: Event, ctx: Context) -> Replies:
    """Cancel one scheduled broadcast before it starts."""
    assert ctx.unit_id is not None
    number = int((event.data or "cz:0").split(":", 1)[1])
    cancelled = await broadcasts.cancel(ctx.session, ctx.unit_id, number)
    await ctx.audit("broadcast.cancelled", broadcast_id=number, rows=cancelled)
    return Reply(msg("scheduled.cancelled", number=number), edit=True)


async def mute(event: Event, ctx: Context) -> Replies:
    """/tatthongbao: no more neighbourhood announcements (directives still come to members)."""
    assert ctx.person is not None
    ctx.person.announcements_muted = True
    await ctx.audit("announcements.muted")
    key = "mute.done_member" if ctx.roles & READERS else "mute.done"
    return Reply(msg(key))


async def unmute(event: Event, ctx: Context) -> Replies:
    """/batthongbao: announcements again."""
    assert ctx.person is not None
    ctx.person.announcements_muted = False
    await ctx.audit("announcements.unmuted")
    return Reply(msg("mute.undone"))
