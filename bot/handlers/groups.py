"""The secretary's groups (/nhom): mass organisations and the like, to send announcements to."""

from __future__ import annotations

from bot.core.errors import UserError
from bot.core.events import Event, Option, Reply, fold, msg
from bot.core.router import LEADERS, Context, Replies, Router
from bot.handlers.common import typed_text
from bot.services import groups, people

FLOW = "groups"
LIST_LIMIT = 12


def register(router: Router) -> None:
    """Wire /nhom."""
    router.command("nhom", "groups", access=LEADERS, help_key="help.groups")(overview)
    router.choice("gp", access=LEADERS)(choice)
    router.flow(FLOW, access=LEADERS)(typed)


async def overview(event: Event, ctx: Context) -> Replies:
    """/nhom: the groups with their sizes; pick one, or create one."""
    assert ctx.unit_id is not None
    found = await groups.all_of(ctx.session, ctx.unit_id)
    options = [
        Option(f"gp:show:{g.id}", msg("groups.item", name=g.name, count=n)) for g, n in found
    ]
    options.append(Option("gp:new:0", msg("groups.new")))
    key = "groups.list" if found else "groups.none"
    return Reply(msg(key), options=tuple(options))


async def choice(event: Event, ctx: Context) -> Replies:
    """gp:show / gp:new / gp:add / gp:rm / gp:in:<group>:<person> / gp:out:<group>:<person>."""
    assert ctx.unit_id is not None
    parts = (event.data or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "new":
        await ctx.start(event, FLOW, "name")
        return Reply(msg("groups.ask_name"))
    if len(parts) < 3 or not parts[2].isdigit():
        return Reply(msg("error.stale_choice"))
    group = await groups.get(ctx.session, ctx.unit_id, int(parts[2]))
    if action == "show":
        return await _show(ctx, group.id)
    if action == "add":
        await ctx.start(event, FLOW, "find", group_id=group.id)
        return Reply(msg("groups.ask_person", group=group.name))
    if action == "rm":
        inside = await groups.members(ctx.session, group.id)
        if not inside:
            return Reply(msg("groups.empty", group=group.name))
        return Reply(
            msg("groups.pick_remove", group=group.name),
            options=tuple(
                Option(f"gp:out:{group.id}:{p.id}", msg("pick.person", name=p.full_name))
                for p in inside[:30]
            ),
        )
    if action in ("in", "out") and len(parts) == 4 and parts[3].isdigit():
        person_id = int(parts[3])
        if not await people.roles_in(ctx.session, person_id, ctx.unit_id):
            return Reply(msg("error.stale_choice"))
        if action == "in":
            await groups.add(ctx.session, group.id, person_id)
        else:
            await groups.remove(ctx.session, group.id, person_id)
        await ctx.audit(f"groups.{action}", target_id=person_id, group_id=group.id)
        await ctx.finish_any(event)
        return await _show(ctx, group.id)
    return Reply(msg("error.stale_choice"))


async def _show(ctx: Context, group_id: int) -> Reply:
    assert ctx.unit_id is not None
    group = await groups.get(ctx.session, ctx.unit_id, group_id)
    inside = await groups.members(ctx.session, group_id)
    return Reply(
        msg(
            "groups.show",
            name=group.name,
            count=len(inside),
            names=", ".join(p.full_name for p in inside) or "-",
        ),
        options=(
            Option(f"gp:add:{group_id}", msg("groups.add")),
            Option(f"gp:rm:{group_id}", msg("groups.remove")),
        ),
    )


async def typed(event: Event, ctx: Context) -> Replies:
    """A new group's name, or part of a person's name to add."""
    assert ctx.conversation is not None and ctx.unit_id is not None
    try:
        text = typed_text(event)
        if ctx.conversation.step == "name":
            group = await groups.create(ctx.session, ctx.now(), ctx.unit_id, text)
            await ctx.finish(event)
            await ctx.audit("groups.created", group_id=group.id)
            return await _show(ctx, group.id)
    except UserError as err:
        return Reply((msg(err.key, **err.params), msg("groups.ask_name")))
    group_id = int(ctx.conversation.data["group_id"])
    needle = fold(text)
    found = [
        p
        for p in await people.people_of(ctx.session, ctx.unit_id, False)
        if needle in fold(p.full_name)
    ]
    if not found:
        return Reply(msg("pick.nobody"))
    if len(found) > LIST_LIMIT:
        return Reply(msg("groups.too_many", count=len(found)))
    return Reply(
        msg("pick.ask"),
        options=tuple(
            Option(f"gp:in:{group_id}:{p.id}", msg("pick.person", name=p.full_name)) for p in found
        ),
    )
