"""Turns one incoming event into stored changes and outgoing messages, exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core import state
from bot.core.clock import Clock
from bot.core.errors import UserError
from bot.core.events import (
    Event,
    EventKind,
    FileRef,
    Msg,
    OutFile,
    OutMessage,
    OutOption,
    Reply,
    msg,
)
from bot.core.i18n import format_when, t, translate
from bot.core.ports import Channel, DeliveryError, Unreachable
from bot.core.router import Context, Replies, Router
from bot.services import files, people
from storage.models import PendingChoice, Person, StoredFile

log = logging.getLogger("loaphuong.core")

CHOICE_TTL = timedelta(days=7)
DB_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered message bound for one chat."""

    platform: str
    chat_id: str
    message: OutMessage


@dataclass(frozen=True, slots=True)
class MenuUpdate:
    """A command menu to redraw for one chat."""

    platform: str
    chat_id: str
    lang: str
    commands: list[tuple[str, str]]


class Dispatcher:
    """The core's entry point: adapters hand it events; it answers through their channels."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        router: Router,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.router = router
        self.settings = settings
        self.clock = clock
        self.channels: dict[str, Channel] = {}
        self.telegram_username: str | None = None
        # Called after a commit that wrote outbox rows, so the worker looks at once.
        self.on_outbox: Callable[[], None] | None = None
        self._wrote_outbox = False
        self._inflight: set[asyncio.Task[object]] = set()
        # Where file links point; None when no public address is known (then no links).
        self.public_url: str | None = settings.public_base_url

    async def _file(self, session: AsyncSession, ref: FileRef, lang: str) -> OutFile | None:
        """Load a stored file and sign a link to it when the bot has a public address."""
        stored = await session.get(StoredFile, ref.file_id)
        if stored is None:
            return None
        url, link_text = None, ""
        if self.public_url:
            expires = self.clock.now() + timedelta(hours=self.settings.file_link_hours)
            path = files.signed_path(self.settings.link_key, stored.id, stored.file_name, expires)
            url = self.public_url.rstrip("/") + path
            link_text = t(
                lang,
                "file.link",
                name=stored.file_name,
                url=url,
                expires=format_when(expires, lang, self.settings.zone),
            )
        return OutFile(
            stored.file_name, stored.mime_type, stored.content, ref.photo, url, link_text, stored.id
        )

    def attach(self, channel: Channel) -> None:
        """Register a platform's outbound port."""
        self.channels[channel.platform] = channel

    async def handle(self, event: Event) -> None:
        """The one error handler: nothing an update does may crash the adapter's loop."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._handle(event)
        except Exception:
            log.exception("handling an update failed")
            lang = self.settings.default_language
            await self.deliver(
                Outgoing(event.platform, event.chat_id, OutMessage(t(lang, "error.internal")))
            )
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def drain(self, grace: float) -> None:
        """Wait for updates being handled (at shutdown, before the database closes)."""
        others = [t for t in self._inflight if t is not asyncio.current_task()]
        if others:
            await asyncio.wait(others, timeout=grace)

    async def _handle(self, event: Event) -> None:
        """Process an event once; retry on a database hiccup; deliver the replies."""
        outgoing: list[Outgoing] | None = None
        menus: list[MenuUpdate] = []
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                async with self.sessions() as session:
                    result = await self._process(session, event)
                    if result is None:
                        break  # already handled earlier
                    outgoing, menus = result
                    await session.commit()
                break
            except (OperationalError, DBAPIError) as exc:
                if (
                    isinstance(exc, DBAPIError)
                    and not isinstance(exc, OperationalError)
                    and not exc.connection_invalidated
                ):
                    raise
                log.warning(
                    "database unavailable (attempt %d/%d): %s",
                    attempt,
                    DB_ATTEMPTS,
                    type(exc).__name__,
                )
                outgoing = None
                if attempt < DB_ATTEMPTS:
                    await asyncio.sleep(0.2 * 2**attempt)
        else:
            lang = self.settings.default_language
            outgoing = [
                Outgoing(event.platform, event.chat_id, OutMessage(t(lang, "error.database")))
            ]
        if event.kind is EventKind.choice and event.callback_ref:
            await self._acknowledge(event)
        if self._wrote_outbox and self.on_outbox is not None:
            self._wrote_outbox = False
            self.on_outbox()
        for out in outgoing or ():
            await self.deliver(out)
        for menu in menus:
            await self._set_menu(menu)

    async def _acknowledge(self, event: Event) -> None:
        channel = self.channels.get(event.platform)
        if channel is not None:
            try:
                await channel.acknowledge(event)
            except DeliveryError as exc:
                log.info("could not acknowledge a button press: %s", type(exc).__name__)

    async def deliver(self, out: Outgoing) -> str | None:
        """Send one rendered message; a failure is logged, never raised into the update."""
        channel = self.channels.get(out.platform)
        if channel is None:
            log.error("no channel for platform %s", out.platform)
            return None
        try:
            return await channel.send(out.chat_id, out.message)
        except Unreachable:
            log.info("recipient unreachable on %s", out.platform)
        except DeliveryError as exc:
            log.warning("delivery failed on %s: %s", out.platform, exc)
        return None

    async def _set_menu(self, menu: MenuUpdate) -> None:
        channel = self.channels.get(menu.platform)
        if channel is None:
            return
        try:
            await channel.set_menu(menu.chat_id, menu.commands, menu.lang)
        except DeliveryError as exc:
            log.info("could not set the command menu: %s", type(exc).__name__)

    async def _process(
        self, session: AsyncSession, event: Event
    ) -> tuple[list[Outgoing], list[MenuUpdate]] | None:
        now = self.clock.now()
        if not await state.claim_update(session, now, event.platform, event.update_id):
            log.debug("update already handled")
            return None
        ctx = await self._context(session, event)
        event = await self._typed_choice(ctx, event)
        try:
            replies = await self._route(event, ctx)
        except UserError as err:
            replies = Reply(Msg(err.key, err.params))
        outgoing = await self._render(ctx, event, _as_list(replies))
        menus = [m for pid in ctx.menus_to_refresh for m in await self.menus_for(session, pid)]
        self._wrote_outbox = self._wrote_outbox or ctx.wrote_outbox
        return outgoing, menus

    async def _context(self, session: AsyncSession, event: Event) -> Context:
        identity = await people.identity_of(session, event.platform, event.user_id)
        person = None
        membership = people.Membership(None, frozenset(), None)
        if identity is not None:
            person = await session.get(Person, identity.person_id)
            membership = await people.membership(session, identity.person_id)
        lang = person.language if person else self._guess_language(event)
        return Context(
            session=session,
            settings=self.settings,
            clock=self.clock,
            router=self.router,
            person=person,
            unit_id=membership.unit_id,
            roles=membership.roles,
            lang=lang,
            conversation=await state.conversation(session, event.platform, event.chat_id),
            telegram_username=self.telegram_username,
            download=channel.download if (channel := self.channels.get(event.platform)) else None,
        )

    def _guess_language(self, event: Event) -> str:
        code = (event.language_code or "").lower()
        if code.startswith("en") and self.settings.default_language != "en":
            return "en"
        return self.settings.default_language

    async def _typed_choice(self, ctx: Context, event: Event) -> Event:
        """A typed "1" or keyword answering the last options becomes the same choice as a tap."""
        if event.kind is not EventKind.text or not event.text.strip():
            return event
        if await ctx.session.get(PendingChoice, (event.platform, event.chat_id)) is None:
            ctx.no_pending_choice = True  # so no DELETE is needed when answering
            return event
        data = await state.match_typed(
            ctx.session,
            ctx.now(),
            event.platform,
            event.chat_id,
            event.text,
            CHOICE_TTL,
            older_too=ctx.conversation is None,
        )
        if data is None:
            return event
        return replace(event, kind=EventKind.choice, data=data)

    async def _route(self, event: Event, ctx: Context) -> Replies:
        if len(event.text) > self.settings.max_text_length:
            return Reply(msg("error.too_long", limit=self.settings.max_text_length))
        if event.kind is EventKind.command:
            return await self._command(event, ctx)
        if event.kind is EventKind.choice and event.data:
            route = self.router.find_choice(event.data)
            if route is None:
                return Reply(msg("error.stale_choice"))
            if not ctx.may(route.access):
                return await self._refuse(event, ctx, event.data.split(":", 1)[0])
            return await route.handler(event, ctx)
        if ctx.conversation is not None:
            route = self.router.find_flow(ctx.conversation.flow)
            if route is not None and ctx.may(route.access):
                return await route.handler(event, ctx)
            await ctx.finish(event)
        if self.router.fallback is not None:
            return await self.router.fallback(event, ctx)
        return None

    async def _command(self, event: Event, ctx: Context) -> Replies:
        cmd = self.router.find_command(event.command or "")
        if cmd is None:
            return Reply(msg("error.unknown_command", command=event.command or ""))
        if not ctx.may(cmd.access):
            return await self._refuse(event, ctx, cmd.names[0])
        return await cmd.handler(event, ctx)

    async def _refuse(self, event: Event, ctx: Context, what: str) -> Reply:
        if ctx.person is None:
            return Reply(msg("access.join_first"))
        await ctx.audit("access.refused", what=what)
        return Reply(msg("access.refused"))

    async def _render(self, ctx: Context, event: Event, replies: list[Reply]) -> list[Outgoing]:
        out: list[Outgoing] = []
        offered_here = False
        for reply in replies:
            if reply.to_person is None:
                targets = [(event.platform, event.chat_id, ctx.lang)]
            else:
                targets = await self._person_targets(ctx.session, reply.to_person)
            for platform, chat_id, lang in targets:
                edit_ref = None
                if reply.edit and reply.to_person is None and event.message_ref and not reply.file:
                    edit_ref = event.message_ref
                message = await self.prepare(ctx.session, platform, chat_id, lang, reply, edit_ref)
                offered_here = offered_here or bool(reply.options and reply.to_person is None)
                out.append(Outgoing(platform, chat_id, message))
        # A new question without options supersedes the last offer's numbers, unless this
        # was itself an answer (the rest of that offer is closed; other questions stay open).
        if (
            not offered_here
            and not ctx.no_pending_choice
            and event.kind is not EventKind.choice
            and any(r.to_person is None for r in replies)
        ):
            await state.withdraw(ctx.session, event.platform, event.chat_id)
        return out

    async def prepare(
        self,
        session: AsyncSession,
        platform: str,
        chat_id: str,
        lang: str,
        reply: Reply,
        edit_ref: str | None = None,
    ) -> OutMessage:
        """Translate a reply for one chat, attach its file, and remember its options."""
        message = render(reply, lang)
        if reply.file is not None:
            message = replace(message, file=await self._file(session, reply.file, lang))
        if edit_ref is not None:
            message = replace(message, edit_ref=edit_ref)
        if reply.options:
            await state.offer(
                session,
                self.clock.now(),
                platform,
                chat_id,
                message.options,
                [o.keywords for o in reply.options],
            )
        return message

    async def _person_targets(
        self, session: AsyncSession, person_id: int
    ) -> list[tuple[str, str, str]]:
        person = await session.get(Person, person_id)
        if person is None:
            return []
        ids = await people.identities(session, person_id)
        chosen = [i for i in ids if i.receives_notices][:1] or ids[:1]
        return [(i.platform, i.chat_id, person.language) for i in chosen]

    async def menus_for(self, session: AsyncSession, person_id: int) -> list[MenuUpdate]:
        """The command menus a person should see, one per linked chat."""
        person = await session.get(Person, person_id)
        ids = await people.identities(session, person_id)
        if person is None or not ids:
            return []
        roles = (await people.membership(session, person_id)).roles
        commands = [
            (cmd.names[0], t(person.language, cmd.help_key))
            for cmd in self.router.visible(roles, joined=True)
        ]
        return [MenuUpdate(i.platform, i.chat_id, person.language, commands) for i in ids]


def render(reply: Reply, lang: str) -> OutMessage:
    """Translate a reply for one reader."""
    parts = reply.text if isinstance(reply.text, tuple) else (reply.text,)
    text = ("\n" if reply.compact else "\n\n").join(translate(lang, p) for p in parts)
    options = tuple(OutOption(o.data, translate(lang, o.label)) for o in reply.options)
    hint = ""
    if options:
        hint = t(lang, "choice.hint", numbers=_numbers(len(options), lang))
    return OutMessage(text=text, options=options, choice_hint=hint, columns=reply.columns)


def _numbers(n: int, lang: str) -> str:
    if n == 1:
        return "1"
    return f"{', '.join(str(i) for i in range(1, n))} {t(lang, 'choice.or')} {n}"


def _as_list(replies: Replies) -> list[Reply]:
    if replies is None:
        return []
    return replies if isinstance(replies, list) else [replies]
