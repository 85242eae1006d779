"""In-memory state of one simulator: bots, users, updates, sent messages, files, limits."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.simulator.limits import (
    TELEGRAM_LIMITS,
    ZALO_LIMITS,
    RateLimits,
    SendLimiter,
    coerce_limits,
)

__all__ = ["PLATFORMS", "ApiError", "BotRecord", "SimulatorState", "StoredFile", "UserRecord"]

PLATFORMS = ("telegram", "zalo")  # the values of every `platform` argument
FIRST_TELEGRAM_USER_ID = 6100001
SECRET_HEADERS = {"telegram": "X-Telegram-Bot-Api-Secret-Token", "zalo": "X-Bot-Api-Secret-Token"}


class ApiError(Exception):
    """An error answer of a fake Bot API: ``{"ok": false, "error_code", "description"}``."""

    def __init__(
        self,
        code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters
        self.http_status = code if http_status is None else http_status

    def body(self) -> dict[str, Any]:
        """The JSON envelope both platforms use."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code}
        body["description"] = self.description
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class UserRecord:
    """A simulated person on one platform (private chat id equals user id)."""

    platform: str
    user_id: int | str
    name: str
    first_name: str
    last_name: str | None
    language_code: str | None
    blocked: bool = False

    @property
    def key(self) -> str:
        """The id as a string, the key used in every table."""
        return str(self.user_id)


@dataclass
class StoredFile:
    """Bytes behind a Telegram file_id (or a URL the bot gave instead of bytes)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes | None
    mime_type: str | None = None
    file_name: str | None = None
    url: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class BotRecord:
    """One bot token on one platform, created the first time the token is used."""

    platform: str
    token: str
    bot_id: str
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_updated_at: float = 0.0
    webhook_bare: bool = False
    webhook_last_error: str | None = None
    started: set[str] = field(default_factory=set)  # chats that wrote to this bot
    limiter: SendLimiter = field(default_factory=SendLimiter)
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    messages: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    message_ids: dict[str, int] = field(default_factory=dict)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivery_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def next_message_id(self, chat_key: str) -> int:
        """Telegram message ids increase per chat, shared by both sides."""
        self.message_ids[chat_key] = self.message_ids.get(chat_key, 0) + 1
        return self.message_ids[chat_key]


class SimulatorState:
    """Everything one simulator holds; create one per simulator, never share module state."""

    def __init__(
        self,
        *,
        bot_username: str = "loaphuong_sim_bot",
        telegram_limits: RateLimits | Mapping[str, Any] | None = TELEGRAM_LIMITS,
        zalo_limits: RateLimits | Mapping[str, Any] | None = ZALO_LIMITS,
        zalo_bare_webhook: bool = False,
        webhook_retries: int = 3,
        webhook_backoff: float = 0.1,
        seed: int | None = 0,
        base_url: str | None = None,
    ) -> None:
        self.bot_username = bot_username
        self.default_limits: dict[str, RateLimits] = {
            "telegram": coerce_limits(telegram_limits, TELEGRAM_LIMITS),
            "zalo": coerce_limits(zalo_limits, ZALO_LIMITS),
        }
        self.zalo_bare_webhook = zalo_bare_webhook
        self.webhook_retries = webhook_retries
        self.webhook_backoff = webhook_backoff
        self.seed = seed
        self.base_url = base_url
        self.reject_tokens: set[str] = set()
        self.closing = False
        self._tick = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        """Forget bots, users, messages, files, deliveries and stats; restore default limits."""
        self.rng = random.Random(self.seed)
        self.limits = dict(self.default_limits)
        self.bots: dict[str, dict[str, BotRecord]] = {p: {} for p in PLATFORMS}
        self.users: dict[str, dict[str, UserRecord]] = {p: {} for p in PLATFORMS}
        self.sent: list[dict[str, Any]] = []
        self.seq = 0
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, str] = {}
        self.zalo_media: dict[str, bytes] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.reject_tokens.clear()
        self.notify()

    # ----- waking long polls -------------------------------------------------

    def notify(self) -> None:
        """Wake every waiter so it re-checks its condition."""
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until `predicate()` is true or `seconds` pass; return its last value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, seconds)
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                return False
            tick = self._tick
            try:
                await asyncio.wait_for(tick.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    # ----- ids, users and bots ----------------------------------------------

    def hex_id(self) -> str:
        """An opaque 20-hex-character id, the way Zalo spells message and user ids."""
        return f"{self.rng.getrandbits(80):020x}"

    def add_user(
        self,
        platform: str,
        name: str,
        *,
        user_id: int | str | None = None,
        language_code: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> UserRecord:
        """Create a person; a Vietnamese name's last word is the given (first) name."""
        table = self.users[platform]
        if user_id is None:
            if platform == "telegram":
                user_id = FIRST_TELEGRAM_USER_ID + len(table)
                while str(user_id) in table:
                    user_id += 1
            else:
                user_id = self.hex_id()
        elif platform == "telegram":
            user_id = int(user_id)
        else:
            user_id = str(user_id)
        if str(user_id) in table:
            raise ValueError(f"user {user_id} already exists")
        words = name.split()
        if first_name is None:
            first_name = words[-1] if words else name
            last_name = last_name or (" ".join(words[:-1]) or None)
        user = UserRecord(platform, user_id, name, first_name, last_name, language_code)
        table[user.key] = user
        return user

    def user(self, platform: str, user_id: Any) -> UserRecord | None:
        """Look a person up by id (int or string)."""
        return self.users[platform].get(str(user_id))

    def bot(self, platform: str, token: str) -> BotRecord:
        """Return the bot for `token`, creating it the first time."""
        table = self.bots[platform]
        if token not in table:
            table[token] = BotRecord(
                platform, token, token.split(":", 1)[0], webhook_bare=self.zalo_bare_webhook
            )
        return table[token]

    # ----- sends: limits, stats, log ----------------------------------------

    def set_limits(self, platform: str, changes: Mapping[str, Any]) -> RateLimits:
        """Change some limits (None disables one) and restart every bucket."""
        self.limits[platform] = coerce_limits(changes, self.limits[platform])
        for bot in self.bots[platform].values():
            bot.limiter.restart()
        return self.limits[platform]

    def admit_send(self, bot: BotRecord, chat_key: str) -> int:
        """Apply the platform's limits to one send: 0 if accepted, else seconds to wait."""
        return bot.limiter.admit(self.limits[bot.platform], chat_key)

    def record_sent(self, bot: BotRecord, chat_id: Any, method: str, **fields: Any) -> None:
        """Append what the bot sent or edited to the global log and wake waiters."""
        self.seq += 1
        item = {
            "seq": self.seq,
            "platform": bot.platform,
            "token": bot.token,
            "chat_id": chat_id,
            "method": method,
            "message_id": None,
            "text": None,
            "caption": None,
            "photo": None,
            "document": None,
            "buttons": None,
            "date": None,
        }
        item.update(fields)
        self.sent.append(item)
        self.notify()

    def sent_items(
        self, platform: str, chat_id: Any = None, after: int = 0
    ) -> list[dict[str, Any]]:
        """Logged items of one platform (one chat if given) with seq > after."""
        return [
            item
            for item in self.sent
            if item["seq"] > after
            and item["platform"] == platform
            and (chat_id is None or str(item["chat_id"]) == str(chat_id))
        ]

    # ----- incoming updates and webhooks ------------------------------------

    def push_update(self, bot: BotRecord, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates, or deliver it to the bot's webhook."""
        if bot.webhook_url:
            task = asyncio.get_running_loop().create_task(self._deliver(bot, update))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            bot.updates.append(update)
            self.notify()

    async def _deliver(self, bot: BotRecord, update: dict[str, Any]) -> None:
        """POST one update to the webhook, retrying on failure, recording every attempt."""
        body: dict[str, Any] = update
        if bot.platform == "zalo" and not bot.webhook_bare:
            body = {"ok": True, "result": update}
        async with bot.delivery_lock:
            url, secret = bot.webhook_url, bot.webhook_secret
            if not url:
                bot.updates.append(update)
                self.notify()
                return
            headers = {SECRET_HEADERS[bot.platform]: secret} if secret else {}
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=10.0)
            for attempt in range(1, self.webhook_retries + 2):
                status: int | None = None
                error: str | None = None
                try:
                    response = await self._http.post(url, json=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                ok = status is not None and 200 <= status < 300
                self.deliveries.append(
                    {
                        "platform": bot.platform,
                        "token": bot.token,
                        "url": url,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "ok": ok,
                        "update": update.get(
                            "update_id", update.get("message", {}).get("message_id")
                        ),
                    }
                )
                self.notify()
                if ok:
                    bot.webhook_last_error = None
                    return
                bot.webhook_last_error = error or f"Wrong response from the webhook: {status}"
                if attempt <= self.webhook_retries:
                    await asyncio.sleep(self.webhook_backoff * 2 ** (attempt - 1))

    async def begin_shutdown(self) -> None:
        """Make every long poll return now and refuse to wait again."""
        self.closing = True
        self.notify()
        await asyncio.sleep(0)

    async def aclose(self) -> None:
        """Stop webhook deliveries and close the HTTP client (idempotent)."""
        await self.begin_shutdown()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
