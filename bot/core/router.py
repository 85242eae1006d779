"""The router: commands (Vietnamese, with English aliases), choices, flows; roles checked here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.core import state
from bot.core.clock import Clock
from bot.core.events import Attachment, Event, Reply
from bot.services import audit
from storage.models import Conversation, Person, Role

Replies = Reply | list[Reply] | None
Handler = Callable[[Event, "Context"], Awaitable[Replies]]

# Who may use a handler: None is anyone (even before joining); JOINED any person.
Access = frozenset[Role] | None
JOINED: frozenset[Role] = frozenset(Role)
MEMBERS: frozenset[Role] = frozenset({Role.secretary, Role.deputy, Role.committee, Role.member})
LEADERS: frozenset[Role] = frozenset({Role.secretary, Role.deputy})
SECRETARY: frozenset[Role] = frozenset({Role.secretary})


@dataclass(frozen=True, slots=True)
class Command:
    """A chat command; `names[0]` is Vietnamese, the rest English aliases."""

    names: tuple[str, ...]
    handler: Handler
    access: Access
    help_key: str
    menu: bool = True


@dataclass(frozen=True, slots=True)
class Route:
    """A handler reached by a choice prefix or a flow name."""

    handler: Handler
    access: Access


@dataclass
class Context:
    """What a handler may use for one update: its session, the clock, who is talking."""

    session: AsyncSession
    settings: Settings
    clock: Clock
    router: Router
    person: Person | None
    unit_id: int | None
    roles: frozenset[Role]
    lang: str
    conversation: Conversation | None
    telegram_username: str | None = None
    menus_to_refresh: set[int] = field(default_factory=set)
    wrote_outbox: bool = False
    no_pending_choice: bool = False
    # Fetches a file the person sent, through their platform's channel.
    download: Callable[[Attachment, int], Awaitable[tuple[bytes, str, str]]] | None = None

    def now(self) -> datetime:
        """Current time from the injected clock."""
        return self.clock.now()

    async def start(self, event: Event, flow: str, step: str, **data: Any) -> None:
        """Enter a flow (replacing any other)."""
        self.conversation = await state.set_conversation(
            self.session, self.now(), event.platform, event.chat_id, flow, step, data
        )

    async def step(self, event: Event, step: str, **data: Any) -> None:
        """Move the current flow to `step`, merging `data` into what it has."""
        assert self.conversation is not None
        merged = {**self.conversation.data, **data}
        self.conversation = await state.set_conversation(
            self.session,
            self.now(),
            event.platform,
            event.chat_id,
            self.conversation.flow,
            step,
            merged,
        )

    async def finish(self, event: Event) -> None:
        """Leave the current flow."""
        await state.end_conversation(self.session, event.platform, event.chat_id)
        self.conversation = None

    async def finish_any(self, event: Event) -> bool:
        """Leave any flow this chat is in; True if there was one."""
        self.conversation = None
        return await state.end_conversation(self.session, event.platform, event.chat_id)

    async def audit(self, action: str, target_id: int | None = None, **detail: Any) -> None:
        """Record an action of the current person in the audit log."""
        await audit.record(
            self.session,
            self.now(),
            action,
            actor_id=self.person.id if self.person else None,
            unit_id=self.unit_id,
            target_id=target_id,
            **detail,
        )

    def may(self, access: Access) -> bool:
        """Whether the current person passes an access rule."""
        if access is None:
            return True
        return bool(self.roles & access)

    def refresh_menu(self, person_id: int) -> None:
        """Ask the adapters to redraw this person's command menu after the update."""
        self.menus_to_refresh.add(person_id)


class Router:
    """Registry of commands, choice prefixes and flows."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self._by_name: dict[str, Command] = {}
        self._choices: dict[str, Route] = {}
        self._flows: dict[str, Route] = {}
        self.fallback: Handler | None = None

    def command(
        self, *names: str, access: Access, help_key: str, menu: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a command under its Vietnamese name and English aliases."""

        def register(fn: Handler) -> Handler:
            cmd = Command(names, fn, access, help_key, menu)
            self.commands.append(cmd)
            for name in names:
                if name in self._by_name:
                    raise ValueError(f"command /{name} registered twice")
                self._by_name[name] = cmd
            return fn

        return register

    def choice(self, prefix: str, access: Access) -> Callable[[Handler], Handler]:
        """Register the handler of options whose data starts with "prefix:"."""

        def register(fn: Handler) -> Handler:
            self._choices[prefix] = Route(fn, access)
            return fn

        return register

    def flow(self, name: str, access: Access) -> Callable[[Handler], Handler]:
        """Register the handler of a multi-step flow's free-text answers."""

        def register(fn: Handler) -> Handler:
            self._flows[name] = Route(fn, access)
            return fn

        return register

    def find_command(self, name: str) -> Command | None:
        """The command for a name or alias."""
        return self._by_name.get(name)

    def find_choice(self, data: str) -> Route | None:
        """The handler for an option's data."""
        return self._choices.get(data.split(":", 1)[0])

    def find_flow(self, name: str) -> Route | None:
        """The handler of a flow."""
        return self._flows.get(name)

    def visible(self, roles: frozenset[Role], joined: bool) -> Iterable[Command]:
        """Commands a person with these roles may use, in registration order."""
        for cmd in self.commands:
            if cmd.menu and (cmd.access is None or (joined and cmd.access & roles)):
                yield cmd
