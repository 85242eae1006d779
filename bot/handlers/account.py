"""A person's own data: see it (/toi) and delete it (/xoa)."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.events import Event, Msg, Option, Reply, msg
from bot.core.i18n import format_day
from bot.core.router import JOINED, Context, Replies, Router
from bot.handlers.common import ROLE_ORDER, role_label, status_label
from bot.services import codes, people
from bot.services.people import MEMBER_ROLES
from storage.models import Consent, Role

ERASE_PURPOSE = "withdrawal"


def register(router: Router) -> None:
    """Wire /toi and /xoa."""
    router.command("toi", "me", access=JOINED, help_key="help.me")(show_me)
    router.command("xoa", "delete", access=JOINED, help_key="help.delete")(ask_erase)
    router.choice("erase", access=JOINED)(erase)


async def show_me(event: Event, ctx: Context) -> Replies:
    """/toi: everything the bot stores about me, and who sees it."""
    person = ctx.person
    assert person is not None
    zone = ctx.settings.zone
    parts: list[Msg] = [msg("me.title"), msg("me.name", name=person.full_name)]
    roles = [r for r in ROLE_ORDER if r in ctx.roles]
    if roles:
        parts.append(msg("me.roles", roles=tuple(role_label(r) for r in roles)))
    membership = await people.membership(ctx.session, person.id)
    if membership.status:
        parts.append(msg("me.status", status=status_label(membership.status)))
    if person.residential_group or person.house_number:
        parts.append(
            msg(
                "me.address",
                group=person.residential_group or "-",
                house=person.house_number or "-",
            )
        )
    if person.phone:
        parts.append(msg("me.phone", phone=person.phone))
    for identity in await people.identities(ctx.session, person.id):
        key = "me.platform_notices" if identity.receives_notices else "me.platform"
        parts.append(msg(key, platform=msg(f"platform.{identity.platform}")))
    consent = await ctx.session.scalar(
        select(Consent)
        .where(Consent.person_id == person.id, Consent.accepted.is_(True))
        .order_by(Consent.at.desc())
    )
    if consent is not None:
        parts.append(
            msg("me.consent", version=consent.notice_version, date=format_day(consent.at, zone))
        )
    parts.append(msg("me.language", language=msg(f"language.{person.language}")))
    parts.append(msg("me.who_sees_member" if ctx.roles & MEMBER_ROLES else "me.who_sees_resident"))
    parts.append(msg("me.delete_hint"))
    return Reply(tuple(parts), compact=True)


async def ask_erase(event: Event, ctx: Context) -> Replies:
    """/xoa: explain what happens, then confirm."""
    key = "erase.ask_member" if ctx.roles & MEMBER_ROLES else "erase.ask_resident"
    return Reply(
        msg(key),
        options=(
            Option("erase:yes", msg("erase.confirm"), ("xoa", "dong y", "co")),
            Option("erase:no", msg("erase.keep"), ("khong", "giu")),
        ),
    )


async def erase(event: Event, ctx: Context) -> Replies:
    """Delete a resident's data at once; a member's chat is unlinked and the secretary told."""
    person = ctx.person
    assert person is not None
    if event.data != "erase:yes":
        return Reply(msg("erase.kept"), edit=True)
    ctx.session.add(
        Consent(
            person_id=None,
            subject=codes.subject(event.platform, event.user_id),
            purpose=ERASE_PURPOSE,
            notice_version="-",
            accepted=False,
            at=ctx.now(),
        )
    )
    if not ctx.roles & MEMBER_ROLES:
        await ctx.audit("person.erased", target_id=person.id)
        await people.erase_resident(ctx.session, ctx.now(), person)
        return Reply(msg("erase.done_resident"), edit=True)
    await ctx.audit("person.erase_requested", target_id=person.id)
    name = person.full_name
    await people.unlink_chats(ctx.session, person.id)
    replies = [Reply(msg("erase.done_member"), edit=True)]
    if ctx.unit_id is not None:
        for secretary in await people.holders(ctx.session, ctx.unit_id, Role.secretary):
            if secretary.id != person.id:
                replies.append(
                    Reply(msg("erase.notify_secretary", name=name), to_person=secretary.id)
                )
    return replies
