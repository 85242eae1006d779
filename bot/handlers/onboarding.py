"""Joining: a code, the consent notice, then name (and address for residents)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, Msg, Option, Reply, msg
from bot.core.router import Context, Replies, Router
from bot.handlers import linking
from bot.handlers.common import clean_name, clean_short, role_label
from bot.services import codes, invites, people
from storage.models import Consent, Invite, InviteKind, MemberStatus, Role, Unit

FLOW = "join"
CONSENT_VERSION = "2026-11-v1"
CONSENT_PURPOSE = "onboarding"


def register(router: Router) -> None:
    """Wire the joining handlers."""
    router.command("start", "batdau", access=None, help_key="help.start", menu=False)(start)
    router.choice("consent", access=None)(consent_answer)
    router.choice("name", access=None)(use_platform_name)
    router.flow(FLOW, access=None)(join_step)


async def start(event: Event, ctx: Context) -> Replies:
    """/start [CODE]: join with a code, or hear what this bot is."""
    if event.args:
        return await begin(event, ctx, event.args)
    if ctx.person is not None:
        return Reply(msg("start.welcome_back", name=ctx.person.full_name))
    return Reply(msg("start.intro"))


async def begin(event: Event, ctx: Context, text: str) -> Replies:
    """Check a typed code, then show the consent notice (or apply it for someone known)."""
    window = timedelta(minutes=ctx.settings.code_attempt_window_minutes)
    invite = await invites.check(
        ctx.session,
        ctx.now(),
        text,
        subject=codes.subject(event.platform, event.user_id),
        max_failures=ctx.settings.code_attempts_per_window,
        window=window,
    )
    if invite.kind == InviteKind.link:
        return await linking.redeem(event, ctx, invite)
    unit = await people.unit(ctx.session, invite.unit_id)
    if ctx.person is not None:
        return await _apply_to_known(event, ctx, invite)
    await ctx.start(event, FLOW, "consent", invite_id=invite.id)
    return consent_notice(unit, invite)


def consent_notice(unit: Unit, invite: Invite) -> Reply:
    """What the bot is, what it stores, why, for how long, who sees it; then the question."""
    body = (
        "consent.notice_resident" if invite.kind == InviteKind.resident else "consent.notice_member"
    )
    return Reply(
        (msg("consent.intro", cell=unit.name), msg(body), msg("consent.question")),
        options=(
            Option("consent:yes", msg("consent.agree"), ("đồng ý", "dong y", "co", "có", "ok")),
            Option("consent:no", msg("consent.refuse"), ("không đồng ý", "khong dong y", "khong")),
        ),
    )


async def consent_answer(event: Event, ctx: Context) -> Replies:
    """Đồng ý / Không đồng ý: without consent only the refusal is kept."""
    conv = ctx.conversation
    if conv is None or conv.flow != FLOW or conv.step != "consent":
        return Reply(msg("error.stale_choice"))
    invite = await ctx.session.get(Invite, conv.data["invite_id"])
    if invite is None:
        await ctx.finish(event)
        return Reply(msg("invite.unknown"))
    if event.data == "consent:no":
        ctx.session.add(
            Consent(
                person_id=None,
                subject=codes.subject(event.platform, event.user_id),
                purpose=CONSENT_PURPOSE,
                notice_version=CONSENT_VERSION,
                accepted=False,
                at=ctx.now(),
            )
        )
        await ctx.finish(event)
        return Reply(msg("consent.refused"))
    await ctx.step(event, "name", consented_at=ctx.now().isoformat())
    if invite.person_name:
        await ctx.step(event, "name", name=invite.person_name)
        return await _after_name(event, ctx, invite)
    return _ask_name(event, invite)


def _ask_name(event: Event, invite: Invite) -> Reply:
    key = "join.ask_name_resident" if invite.kind == InviteKind.resident else "join.ask_name_member"
    options: tuple[Option, ...] = ()
    if event.display_name:
        options = (Option("name:platform", msg("join.use_name", name=event.display_name)),)
    return Reply(msg(key), options=options)


async def use_platform_name(event: Event, ctx: Context) -> Replies:
    """The person taps to use the name their chat app shows."""
    conv = ctx.conversation
    if conv is None or conv.flow != FLOW or conv.step != "name" or not event.display_name:
        return Reply(msg("error.stale_choice"))
    invite = await ctx.session.get(Invite, conv.data["invite_id"])
    if invite is None:
        return Reply(msg("invite.unknown"))
    await ctx.step(event, "name", name=event.display_name[:100])
    return await _after_name(event, ctx, invite)


async def join_step(event: Event, ctx: Context) -> Replies:
    """Typed answers while joining."""
    conv = ctx.conversation
    assert conv is not None
    invite = await ctx.session.get(Invite, conv.data["invite_id"])
    if invite is None:
        await ctx.finish(event)
        return Reply(msg("invite.unknown"))
    if conv.step == "consent":
        unit = await people.unit(ctx.session, invite.unit_id)
        again = consent_notice(unit, invite)
        return Reply((msg("error.choice_expected"), msg("consent.question")), options=again.options)
    try:
        if conv.step == "name":
            await ctx.step(event, "name", name=clean_name(event))
            return await _after_name(event, ctx, invite)
        if conv.step == "group":
            await ctx.step(event, "house", group=clean_short(event, 40, "join.group_too_long"))
            return Reply(msg("join.ask_house"))
        if conv.step == "house":
            house = clean_short(event, 60, "join.house_too_long")
            await ctx.step(event, "house", house=house)
            return await _complete(event, ctx, invite)
    except UserError as err:
        return Reply((msg(err.key, **err.params), _question(conv.step, invite)))
    await ctx.finish(event)
    return Reply(msg("error.stale_choice"))


def _question(step: str, invite: Invite) -> Msg:
    if step == "name":
        key = (
            "join.ask_name_resident"
            if invite.kind == InviteKind.resident
            else "join.ask_name_member"
        )
        return msg(key)
    return msg("join.ask_group") if step == "group" else msg("join.ask_house")


async def _after_name(event: Event, ctx: Context, invite: Invite) -> Replies:
    if invite.kind == InviteKind.resident:
        await ctx.step(event, "group")
        return Reply(msg("join.ask_group"))
    return await _complete(event, ctx, invite)


async def _complete(event: Event, ctx: Context, invite: Invite) -> Replies:
    """Create the person with what they gave, record consent, give roles, use the code."""
    assert ctx.conversation is not None
    data = ctx.conversation.data
    now = ctx.now()
    await ctx.session.refresh(invite)
    if invite.revoked_at is not None or (invite.used_at is not None and not invite.reusable):
        await ctx.finish(event)
        return Reply(msg("invite.used"))
    if invite.expires_at is not None and invite.expires_at <= now:
        await ctx.finish(event)
        return Reply(msg("invite.expired"))
    if await people.identity_of(ctx.session, event.platform, event.user_id) is not None:
        await ctx.finish(event)
        return Reply(msg("join.already"))
    person = await people.create_person(
        ctx.session,
        now,
        full_name=data["name"],
        language=ctx.lang,
        platform=event.platform,
        user_id=event.user_id,
        chat_id=event.chat_id,
        residential_group=data.get("group"),
        house_number=data.get("house"),
        phone=invite.phone,
    )
    ctx.session.add(
        Consent(
            person_id=person.id,
            subject=codes.subject(event.platform, event.user_id),
            purpose=CONSENT_PURPOSE,
            notice_version=CONSENT_VERSION,
            accepted=True,
            at=datetime.fromisoformat(data["consented_at"]),
        )
    )
    roles = await _grant_invite(ctx, invite, person.id)
    await invites.mark_used(ctx.session, now, invite, person.id)
    await ctx.finish(event)
    ctx.person = person
    ctx.unit_id = invite.unit_id
    await ctx.audit(
        "person.joined", target_id=person.id, invite=invite.kind, platform=event.platform
    )
    ctx.refresh_menu(person.id)
    unit = await people.unit(ctx.session, invite.unit_id)
    replies = [_welcome(invite, person.full_name, unit, roles)]
    if invite.created_by is not None and invite.kind != InviteKind.resident:
        replies.append(
            Reply(
                msg("join.notify_inviter", name=person.full_name, roles=_labels(roles)),
                to_person=invite.created_by,
            )
        )
    return replies


async def _grant_invite(ctx: Context, invite: Invite, person_id: int) -> list[Role]:
    now = ctx.now()
    roles: list[Role] = []
    if invite.kind == InviteKind.secretary:
        roles = [Role.secretary, Role.member]
    elif invite.kind == InviteKind.member:
        roles = [Role.member] + ([Role(invite.role)] if invite.role else [])
    elif invite.kind == InviteKind.role and invite.role:
        roles = [Role(invite.role)]
    elif invite.kind == InviteKind.resident:
        roles = [Role.resident]
    for role in roles:
        await people.grant(ctx.session, now, person_id, invite.unit_id, role)
    if Role.member in roles:
        status = MemberStatus(invite.member_status or MemberStatus.official)
        await people.set_status(ctx.session, now, person_id, invite.unit_id, status)
    return roles


def _welcome(invite: Invite, name: str, unit: Unit, roles: list[Role]) -> Reply:
    if invite.kind == InviteKind.resident:
        return Reply(
            msg("join.welcome_resident", name=name, neighbourhood=unit.neighbourhood or unit.name)
        )
    if Role.secretary in roles:
        return Reply(msg("join.welcome_secretary", name=name, cell=unit.name))
    if Role.member in roles:
        return Reply(msg("join.welcome_member", name=name, cell=unit.name))
    return Reply(msg("join.welcome_role", name=name, cell=unit.name, roles=_labels(roles)))


def _labels(roles: list[Role]) -> tuple[Msg, ...]:
    """Role names, the plain "member" role left out when a higher one is given."""
    shown = [r for r in roles if r is not Role.member] or roles
    return tuple(role_label(r) for r in shown)


async def _apply_to_known(event: Event, ctx: Context, invite: Invite) -> Replies:
    """Someone already in the bot uses another code: add what it grants."""
    assert ctx.person is not None
    existing = await people.roles_in(ctx.session, ctx.person.id, invite.unit_id)
    if invite.kind == InviteKind.resident and Role.resident in existing:
        return Reply(msg("join.already"))
    if invite.kind == InviteKind.member and Role.member in existing:
        return Reply(msg("join.already"))
    roles = await _grant_invite(ctx, invite, ctx.person.id)
    if invite.kind != InviteKind.resident:
        await invites.mark_used(ctx.session, ctx.now(), invite, ctx.person.id)
    await ctx.audit("person.role_code_used", target_id=ctx.person.id, invite=invite.kind)
    ctx.refresh_menu(ctx.person.id)
    return Reply(msg("join.roles_added", roles=_labels(roles)))


async def fallback(event: Event, ctx: Context) -> Replies:
    """Text outside any flow: a code, or a gentle pointer to /giupdo."""
    if event.kind is EventKind.text and codes.looks_like_code(event.text):
        return await begin(event, ctx, event.text)
    if event.kind in (
        EventKind.photo,
        EventKind.sticker,
        EventKind.document,
        EventKind.unsupported,
    ):
        return Reply(msg("error.unsupported_content"))
    if ctx.person is None:
        return Reply(msg("start.intro"))
    return Reply(msg("error.not_understood"))
