"""Linking a second app to the same person (/lienket) and choosing which app gets notices."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.core.events import Event, Option, Reply, msg
from bot.core.router import JOINED, Context, Replies, Router
from bot.services import invites, people
from storage.models import Identity, Invite, InviteKind, Person

LINK_TTL = timedelta(minutes=15)
PLATFORMS = ("zalo", "telegram")


def register(router: Router) -> None:
    """Wire /lienket and the notice-app choice."""
    router.command("lienket", "link", access=JOINED, help_key="help.link")(link)
    router.choice("notify", access=JOINED)(choose_notice_app)


async def link(event: Event, ctx: Context) -> Replies:
    """/lienket: a short-lived code to send from the other app; or, when linked, pick the app."""
    person = ctx.person
    assert person is not None and ctx.unit_id is not None
    linked = {i.platform for i in await people.identities(ctx.session, person.id)}
    if set(PLATFORMS) <= linked:
        return _notice_app_question()
    code = await invites.create(
        ctx.session,
        ctx.now(),
        unit_id=ctx.unit_id,
        kind=InviteKind.link,
        ttl=LINK_TTL,
        person_id=person.id,
        created_by=person.id,
    )
    other = next(p for p in PLATFORMS if p not in linked)
    await ctx.audit("identity.link_code", platform=event.platform)
    return Reply(
        msg(
            "link.code",
            code=code.code,
            minutes=int(LINK_TTL.total_seconds() // 60),
            platform=msg(f"platform.{other}"),
        )
    )


async def redeem(event: Event, ctx: Context, invite: Invite) -> Replies:
    """A link code typed in the other app: attach this chat to the same person."""
    if ctx.person is not None:
        key = "link.same_app" if ctx.person.id == invite.person_id else "link.taken"
        return Reply(msg(key))
    person = await ctx.session.get(Person, invite.person_id) if invite.person_id else None
    if person is None or person.deleted_at is not None:
        return Reply(msg("invite.unknown"))
    ctx.session.add(
        Identity(
            person_id=person.id,
            platform=event.platform,
            platform_user_id=event.user_id,
            chat_id=event.chat_id,
            receives_notices=False,
            created_at=ctx.now(),
        )
    )
    await invites.mark_used(ctx.session, ctx.now(), invite, person.id)
    ctx.person = person
    ctx.lang = person.language
    await ctx.audit("identity.linked", target_id=person.id, platform=event.platform)
    ctx.refresh_menu(person.id)
    return Reply(
        (msg("link.done", name=person.full_name), msg("link.which_app")), options=_app_options()
    )


def _app_options() -> tuple[Option, ...]:
    return tuple(Option(f"notify:{p}", msg(f"platform.{p}"), (p,)) for p in PLATFORMS)


def _notice_app_question() -> Reply:
    return Reply(msg("link.which_app"), options=_app_options())


async def choose_notice_app(event: Event, ctx: Context) -> Replies:
    """Notices go to one app only, so nobody gets everything twice."""
    person = ctx.person
    assert person is not None and event.data
    platform = event.data.split(":", 1)[1]
    if platform not in PLATFORMS:
        return Reply(msg("error.stale_choice"))
    linked = {i.platform for i in await people.identities(ctx.session, person.id)}
    if platform not in linked:
        return Reply(msg("link.not_linked", platform=msg(f"platform.{platform}")))
    await ctx.session.execute(
        update(Identity)
        .where(Identity.person_id == person.id)
        .values(receives_notices=Identity.platform == platform)
    )
    await ctx.audit("identity.notice_app", platform=platform)
    return Reply(msg("link.notices_to", platform=msg(f"platform.{platform}")), edit=True)
