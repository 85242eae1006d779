"""The secretary's tools: invite (/moi), revoke (/thuhoi), roles (/vaitro), status (/trangthai)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, FileRef, Msg, Option, Reply, fold, msg
from bot.core.i18n import format_day
from bot.core.router import LEADERS, SECRETARY, Context, Replies, Router
from bot.handlers.common import ROLE_ORDER, clean_name, role_label, status_label
from bot.services import codes, invites, people, posters
from storage.models import InviteKind, MemberStatus, Person, Role

INVITE_FLOW = "invite"
# What the secretary can invite someone as: (option id, invite kind, role, member status).
INVITE_KINDS: dict[str, tuple[InviteKind, Role | None, MemberStatus | None]] = {
    "official": (InviteKind.member, None, MemberStatus.official),
    "probationary": (InviteKind.member, None, MemberStatus.probationary),
    "contact": (InviteKind.member, None, MemberStatus.contact),
    "deputy": (InviteKind.member, Role.deputy, MemberStatus.official),
    "committee": (InviteKind.member, Role.committee, MemberStatus.official),
    "follower": (InviteKind.role, Role.follower, None),
    "head": (InviteKind.role, Role.head, None),
    "security": (InviteKind.role, Role.security, None),
}
ONLY_SECRETARY_KINDS = frozenset({"deputy", "committee"})
ASSIGNABLE = tuple(r for r in ROLE_ORDER if r is not Role.resident)
LIST_LIMIT = 12
COMMITTEE = LEADERS | {Role.committee}


def register(router: Router) -> None:
    """Wire the secretary's commands."""
    router.command("moi", "invite", access=LEADERS, help_key="help.invite")(invite)
    router.flow(INVITE_FLOW, access=LEADERS)(invite_name)
    router.choice("inv", access=LEADERS)(invite_kind)
    router.command("thuhoi", "revoke", access=LEADERS, help_key="help.revoke")(revoke)
    router.command("vaitro", "roles", access=SECRETARY, help_key="help.roles")(roles)
    router.choice("vr", access=SECRETARY)(role_choice)
    router.command("trangthai", "status", access=LEADERS, help_key="help.status")(status)
    router.choice("st", access=LEADERS)(status_choice)
    router.command("thanhvien", "members", access=COMMITTEE, help_key="help.members")(member_list)
    router.command(
        "madan", "residentcode", access=LEADERS | {Role.head}, help_key="help.resident_code"
    )(resident_code)


async def invite(event: Event, ctx: Context) -> Replies:
    """/moi [họ tên]: ask the name if not given, then what the person is invited as."""
    await ctx.start(event, INVITE_FLOW, "name")
    if event.args:
        return await invite_name(replace(event, kind=EventKind.text, text=event.args), ctx)
    return Reply(msg("invite.ask_name"))


async def invite_name(event: Event, ctx: Context) -> Replies:
    """The invitee's name, then the kind of invite."""
    try:
        name = clean_name(event)
    except UserError as err:
        return Reply((msg(err.key, **err.params), msg("invite.ask_name")))
    await ctx.step(event, "kind", name=name)
    kinds = [
        k for k in INVITE_KINDS if Role.secretary in ctx.roles or k not in ONLY_SECRETARY_KINDS
    ]
    return Reply(
        msg("invite.ask_kind", name=name),
        options=tuple(Option(f"inv:{k}", msg(f"invite.kind.{k}")) for k in kinds),
    )


async def invite_kind(event: Event, ctx: Context) -> Replies:
    """Create the invite and show the code to pass on."""
    conv = ctx.conversation
    kind_id = (event.data or "").split(":", 1)[1]
    if conv is None or conv.flow != INVITE_FLOW or kind_id not in INVITE_KINDS:
        return Reply(msg("error.stale_choice"))
    if kind_id in ONLY_SECRETARY_KINDS and Role.secretary not in ctx.roles:
        return Reply(msg("access.refused"))
    assert ctx.unit_id is not None and ctx.person is not None
    kind, role, status_ = INVITE_KINDS[kind_id]
    ttl = timedelta(days=ctx.settings.invite_ttl_days)
    created = await invites.create(
        ctx.session,
        ctx.now(),
        unit_id=ctx.unit_id,
        kind=kind,
        ttl=ttl,
        role=role,
        member_status=status_,
        person_name=conv.data["name"],
        created_by=ctx.person.id,
    )
    await ctx.finish(event)
    await ctx.audit("invite.created", invite_id=created.id, kind=kind_id)
    assert created.expires_at is not None
    return Reply(
        invite_card(
            ctx,
            created.code,
            conv.data["name"],
            msg(f"invite.kind.{kind_id}"),
            format_day(created.expires_at, ctx.settings.zone),
        ),
        edit=True,
    )


def invite_card(ctx: Context, code: str, name: str, kind: Msg, expires: str) -> tuple[Msg, ...]:
    """The text a secretary forwards to the invitee."""
    parts = [
        msg(
            "invite.created",
            name=name,
            kind=kind,
            code=code,
            grouped=codes.grouped(code),
            expires=expires,
        ),
        msg("invite.how_to", code=code),
    ]
    if ctx.telegram_username:
        parts.append(msg("invite.telegram_link", link=telegram_link(ctx.telegram_username, code)))
    return tuple(parts)


def telegram_link(username: str, code: str) -> str:
    """The deep link that opens the bot on Telegram and sends /start CODE."""
    return f"https://t.me/{username}?start={code}"


async def revoke(event: Event, ctx: Context) -> Replies:
    """/thuhoi MÃ: revoke an unused invite of this cell."""
    if not event.args:
        return Reply(msg("revoke.usage"))
    assert ctx.unit_id is not None
    found = await invites.revoke(ctx.session, ctx.now(), ctx.unit_id, event.args)
    await ctx.audit("invite.revoked", invite_id=found.id)
    return Reply(msg("revoke.done", code=found.code))


async def _pick_person(ctx: Context, event: Event, prefix: str, members_only: bool) -> Reply:
    """A numbered list of people to choose from, filtered by a typed part of the name."""
    assert ctx.unit_id is not None
    if members_only:
        found = [p for p, _ in await people.members(ctx.session, ctx.unit_id)]
    else:
        found = await people.people_of(ctx.session, ctx.unit_id, exclude_residents=not event.args)
    if event.args:
        needle = fold(event.args)
        found = [p for p in found if needle in fold(p.full_name)]
    if not found:
        return Reply(msg("pick.nobody"))
    if len(found) > LIST_LIMIT:
        return Reply(msg("pick.too_many", count=len(found), command=event.command or ""))
    return Reply(
        msg("pick.ask"),
        options=tuple(
            Option(f"{prefix}:{p.id}", msg("pick.person", name=p.full_name)) for p in found
        ),
    )


async def roles(event: Event, ctx: Context) -> Replies:
    """/vaitro [tên]: choose a person, then toggle their roles."""
    return await _pick_person(ctx, event, "vr", members_only=False)


async def _person_in_unit(ctx: Context, raw_id: str) -> Person:
    assert ctx.unit_id is not None
    person = await ctx.session.get(Person, int(raw_id))
    if person is None or person.deleted_at is not None:
        raise UserError("error.stale_choice")
    if not await people.roles_in(ctx.session, person.id, ctx.unit_id):
        raise UserError("error.stale_choice")
    return person


async def role_choice(event: Event, ctx: Context) -> Replies:
    """vr:<id> shows roles; vr:<id>:<role> toggles one; vr:<id>:done closes."""
    parts = (event.data or "").split(":")
    person = await _person_in_unit(ctx, parts[1])
    assert ctx.unit_id is not None
    if len(parts) == 3 and parts[2] == "done":
        return Reply(msg("roles.closed", name=person.full_name), edit=True)
    if len(parts) == 3:
        role = Role(parts[2])
        current = await people.roles_in(ctx.session, person.id, ctx.unit_id)
        if role in current:
            if (
                role is Role.secretary
                and len(await people.holders(ctx.session, ctx.unit_id, role)) == 1
            ):
                raise UserError("roles.last_secretary")
            await people.revoke(ctx.session, person.id, ctx.unit_id, role)
            await ctx.audit("role.revoked", target_id=person.id, role=role)
            change = "roles.notify_revoked"
        else:
            await people.grant(ctx.session, ctx.now(), person.id, ctx.unit_id, role)
            if role is Role.member:
                membership = await people.membership(ctx.session, person.id)
                if membership.status is None:
                    await people.set_status(
                        ctx.session, ctx.now(), person.id, ctx.unit_id, MemberStatus.official
                    )
            await ctx.audit("role.granted", target_id=person.id, role=role)
            change = "roles.notify_granted"
        ctx.refresh_menu(person.id)
        menu = await _role_menu(ctx, person)
        if person.id == (ctx.person.id if ctx.person else None):
            return menu
        return [menu, Reply(msg(change, role=role_label(role)), to_person=person.id)]
    return await _role_menu(ctx, person)


async def _role_menu(ctx: Context, person: Person) -> Reply:
    assert ctx.unit_id is not None
    current = await people.roles_in(ctx.session, person.id, ctx.unit_id)
    options = [
        Option(
            f"vr:{person.id}:{r}",
            msg("roles.on" if r in current else "roles.off", role=role_label(r)),
        )
        for r in ASSIGNABLE
    ]
    options.append(Option(f"vr:{person.id}:done", msg("roles.done"), ("xong", "done")))
    return Reply(msg("roles.menu", name=person.full_name), options=tuple(options), edit=True)


async def status(event: Event, ctx: Context) -> Replies:
    """/trangthai [tên]: choose a party member, then their status."""
    return await _pick_person(ctx, event, "st", members_only=True)


async def status_choice(event: Event, ctx: Context) -> Replies:
    """st:<id> shows statuses; st:<id>:<status> sets one."""
    parts = (event.data or "").split(":")
    person = await _person_in_unit(ctx, parts[1])
    assert ctx.unit_id is not None
    if len(parts) == 3:
        new = MemberStatus(parts[2])
        await people.set_status(ctx.session, ctx.now(), person.id, ctx.unit_id, new)
        await ctx.audit("member.status", target_id=person.id, status=new)
        return Reply(msg("status.set", name=person.full_name, status=status_label(new)), edit=True)
    return Reply(
        msg("status.ask", name=person.full_name),
        options=tuple(Option(f"st:{person.id}:{s}", status_label(s)) for s in MemberStatus),
        edit=True,
    )


async def member_list(event: Event, ctx: Context) -> Replies:
    """/thanhvien: party members with their status, and counts."""
    assert ctx.unit_id is not None
    rows = await people.members(ctx.session, ctx.unit_id)
    lines = [
        msg("members.line", n=i, name=p.full_name, status=status_label(s or MemberStatus.official))
        for i, (p, s) in enumerate(rows, start=1)
    ]
    counted = sum(
        1 for _, s in rows if s in (None, MemberStatus.official, MemberStatus.probationary)
    )
    return Reply((msg("members.title", total=len(rows), counted=counted), *lines), compact=True)


async def resident_code(event: Event, ctx: Context) -> Replies:
    """/madan: the neighbourhood's resident code to post on the notice board."""
    assert ctx.unit_id is not None
    invite_ = await invites.resident_code(ctx.session, ctx.now(), ctx.unit_id)
    unit = await people.unit(ctx.session, ctx.unit_id)
    parts = [
        msg(
            "resident_code.text",
            code=invite_.code,
            grouped=codes.grouped(invite_.code),
            neighbourhood=unit.neighbourhood or unit.name,
        )
    ]
    if ctx.telegram_username:
        parts.append(
            msg("invite.telegram_link", link=telegram_link(ctx.telegram_username, invite_.code))
        )
    parts.append(msg("resident_code.poster"))
    poster = await posters.stored_poster(
        ctx.session, ctx.now(), unit, invite_.code, ctx.lang, ctx.telegram_username
    )
    return Reply(tuple(parts), file=FileRef(poster.id, photo=True))
