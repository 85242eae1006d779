"""The composition root: the only place that wires settings, storage, core, adapters and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from datetime import datetime
from typing import Any

import uvicorn
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.error import InvalidToken as TelegramInvalidToken
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot import logs
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.adapter import to_event as telegram_event
from bot.channels.zalo.adapter import ZaloChannel, poll
from bot.channels.zalo.client import ZaloBotClient
from bot.channels.zalo.errors import InvalidToken as ZaloInvalidToken
from bot.channels.zalo.errors import ZaloError
from bot.config import ConfigError, Mode, Settings
from bot.core.clock import Clock, SystemClock
from bot.core.dispatcher import Dispatcher
from bot.core.i18n import t
from bot.core.ratelimit import RateLimiter
from bot.delivery import DeliveryWorker
from bot.handlers import build_router
from bot.jobs.feedback import schedule as schedule_feedback
from bot.jobs.housekeeping import housekeeping
from bot.jobs.meetings import generate_occurrences, meeting_tick
from bot.jobs.reminders import remind_unacknowledged
from bot.services.meeting_checks import CHECKLIST, THEMATIC, CheckRenderer
from bot.services.meetings import CANCEL, CHANGE, NOTICE, NUDGE
from bot.services.notices import NoticeRenderer
from bot.web.server import create_web_app
from storage import db

log = logging.getLogger("loaphuong.app")

SHUTDOWN_GRACE = 10.0  # seconds to let running work finish before cutting it off


def _schema_is_current(conn: Connection) -> bool:
    current = MigrationContext.configure(conn).get_current_heads()
    heads = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    return set(current) == set(heads)


async def prepare_database(engine: AsyncEngine, url: str) -> None:
    """SQLite is migrated on start; PostgreSQL is upgraded on purpose (`loaphuong db upgrade`)."""
    if db.is_sqlite(url):
        await db.upgrade(engine)
        return
    async with engine.connect() as conn:
        if not await conn.run_sync(_schema_is_current):
            raise ConfigError(
                "DATABASE_URL: the database schema is not up to date; run `loaphuong db upgrade`"
            )


class App:
    """The running bot: start it, serve until told, stop it; every resource closed explicitly."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        if settings.telegram_bot_token is None and settings.zalo_bot_token is None:
            raise ConfigError("TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN: set at least one")
        settings.require_webhook()
        # Whoever embeds the app (CLI, tests, benchmarks), its secrets never reach a log line.
        logs.install_redaction(
            s.get_secret_value()
            for s in (settings.telegram_bot_token, settings.zalo_bot_token, settings.webhook_secret)
            if s is not None
        )
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine: AsyncEngine | None = None
        self.dispatcher: Dispatcher | None = None
        self.telegram: Application | None = None  # type: ignore[type-arg]
        self.zalo: ZaloBotClient | None = None
        self.http_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._worker_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self.worker: DeliveryWorker | None = None

    async def start(self) -> None:
        """Open storage, connect the platforms, serve HTTP, start jobs. Order matters."""
        s = self.settings
        # 1. Storage first: nothing may be received before updates can be recorded.
        self.engine = db.create_engine(s.database_url)
        await prepare_database(self.engine, s.database_url)
        sessions = db.sessionmaker(self.engine)
        self.dispatcher = Dispatcher(sessions, build_router(), s, self.clock)
        # 2. Platforms: verify tokens (fail fast with the key's name), attach channels.
        if s.telegram_bot_token is not None:
            await self._start_telegram()
        if s.zalo_bot_token is not None:
            await self._start_zalo()
        # 3. HTTP: webhooks and /healthz.
        await self._start_http()
        # 4. Receiving: register webhooks or start polling, now that handlers are ready.
        await self._start_receiving()
        # 5. The outbox worker and the jobs last: they send through the channels above.
        meeting_renderer = NoticeRenderer(s.zone, self.clock.now)
        check_renderer = CheckRenderer(s.zone, self.clock.now)
        self.worker = DeliveryWorker(
            self.dispatcher,
            rates={"telegram": s.telegram_rate_per_s, "zalo": s.zalo_rate_per_s},
            name=s.worker_name,
            extra_renderers={
                **dict.fromkeys((NOTICE, CHANGE, CANCEL, NUDGE), meeting_renderer),
                CHECKLIST: check_renderer,
                THEMATIC: check_renderer,
            },
        )
        self.dispatcher.on_outbox = self.worker.kick
        self._worker_task = asyncio.create_task(self.worker.run(self._stop))
        self._tasks.append(self._worker_task)
        self._scheduler = AsyncIOScheduler(timezone=s.zone)
        kick = self.worker.kick
        # The truth is in SQL; jobs only look at it. Explicit ids with replace_existing; a
        # missed run is made up by the next one (coalesce), so a late start never doubles.
        every = self._every
        every(housekeeping, [sessions, self.clock, s], "housekeeping", hours=1)
        every(
            remind_unacknowledged,
            [sessions, self.clock, s, kick],
            "directive-reminders",
            minutes=15,
        )
        every(
            generate_occurrences,
            [sessions, self.clock, s],
            "meeting-occurrences",
            hours=1,
            now=True,
        )
        every(
            meeting_tick,
            [sessions, self.clock, s, kick],
            "meeting-notices",
            minutes=1,
            grace=300,
            now=True,
        )
        schedule_feedback(self._scheduler, sessions, self.clock, s, kick)
        self._scheduler.start()
        log.info("loa phường started (mode=%s)", s.mode)

    def _every(
        self,
        job: Any,
        args: list[Any],
        job_id: str,
        *,
        grace: int = 3600,
        now: bool = False,
        **interval: int,
    ) -> None:
        """Schedule a module-level job at an interval; `now` also runs it at start."""
        assert self._scheduler is not None
        extra = {"next_run_time": datetime.now(self.settings.zone)} if now else {}
        self._scheduler.add_job(
            job,
            "interval",
            args=args,
            id=job_id,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=grace,
            **interval,
            **extra,
        )

    async def _start_telegram(self) -> None:
        s = self.settings
        assert s.telegram_bot_token is not None and self.dispatcher is not None
        builder = (
            ApplicationBuilder()
            .token(s.telegram_bot_token.get_secret_value())
            .base_url(s.telegram_api_base_url)
        )
        if s.telegram_file_base_url:
            builder = builder.base_file_url(s.telegram_file_base_url)
        if s.mode is Mode.webhook:
            builder = builder.updater(None)
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_telegram_update))
        try:
            await application.initialize()
        except TelegramError as exc:
            # A failed initialize leaves the HTTP clients open: close them before failing.
            for request in application.bot._request:  # PTB keeps no public handle on both
                await request.shutdown()
            if isinstance(exc, TelegramInvalidToken):
                raise ConfigError("TELEGRAM_BOT_TOKEN was rejected by Telegram") from None
            raise ConfigError(
                f"TELEGRAM_API_BASE_URL: Telegram unreachable ({type(exc).__name__})"
            ) from None
        self.telegram = application
        self.dispatcher.telegram_username = application.bot.username
        limiter = RateLimiter(
            s.telegram_rate_per_s, s.telegram_chat_rate_per_s, s.telegram_chat_burst
        )
        channel = TelegramChannel(application, limiter)
        self.dispatcher.attach(channel)
        await application.start()
        lang = s.default_language
        stranger = [
            (c.names[0], t(lang, c.help_key))
            for c in self.dispatcher.router.visible(frozenset(), False)
        ]
        with contextlib.suppress(Exception):
            await channel.set_menu(None, stranger, lang)

    async def _on_telegram_update(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Every Telegram update goes through the one neutral path."""
        event = telegram_event(update)
        if event is not None and self.dispatcher is not None:
            await self.dispatcher.handle(event)

    async def _telegram_webhook_sink(self, payload: dict[str, Any]) -> bool:
        assert self.telegram is not None
        update = Update.de_json(payload, self.telegram.bot)
        if update is None:
            return False
        await self.telegram.process_update(update)
        return True

    async def _start_zalo(self) -> None:
        s = self.settings
        assert s.zalo_bot_token is not None and self.dispatcher is not None
        client = ZaloBotClient(s.zalo_bot_token.get_secret_value(), base_url=s.zalo_api_base_url)
        try:
            await client.get_me()
        except ZaloInvalidToken:
            await client.aclose()
            raise ConfigError("ZALO_BOT_TOKEN was rejected by Zalo") from None
        except ZaloError as exc:
            await client.aclose()
            raise ConfigError(
                f"ZALO_API_BASE_URL: Zalo unreachable ({type(exc).__name__})"
            ) from None
        self.zalo = client
        limiter = RateLimiter(s.zalo_rate_per_s, s.zalo_chat_rate_per_s, s.zalo_chat_burst)
        self.dispatcher.attach(ZaloChannel(client, limiter))

    async def _start_http(self) -> None:
        s = self.settings
        assert self.engine is not None and self.dispatcher is not None
        web = create_web_app(
            engine=self.engine,
            sessions=self.dispatcher.sessions,
            clock=self.clock,
            link_key=s.link_key,
            webhook_secret=s.webhook_secret.get_secret_value() if s.webhook_secret else None,
            handle=self.dispatcher.handle,
            telegram_sink=self._telegram_webhook_sink if self.telegram else None,
            zalo_enabled=self.zalo is not None,
        )
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else ~40 ms per reply).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((s.http_host, s.http_port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"HTTP_PORT: cannot listen on {s.http_host}:{s.http_port} ({exc.strerror})"
            ) from None
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(web, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # uvicorn offers no event to await
            if self._http_task.done():
                self._http_task.result()
                raise ConfigError(f"HTTP_PORT: the server on {s.http_host} did not start")
            await asyncio.sleep(0.01)

    async def _start_receiving(self) -> None:
        s = self.settings
        secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
        base = (s.public_base_url or "").rstrip("/")
        if self.telegram is not None:
            if s.mode is Mode.webhook:
                await self.telegram.bot.set_webhook(
                    f"{base}/webhook/telegram",
                    secret_token=secret,
                    allowed_updates=["message", "callback_query"],
                )
            else:
                await self.telegram.bot.delete_webhook()
                assert self.telegram.updater is not None
                await self.telegram.updater.start_polling(
                    poll_interval=0.0, timeout=10, allowed_updates=["message", "callback_query"]
                )
        if self.zalo is not None:
            assert self.dispatcher is not None
            if s.mode is Mode.webhook:
                await self.zalo.set_webhook(f"{base}/webhook/zalo", secret)
            else:
                await self.zalo.delete_webhook()
                self._tasks.append(
                    asyncio.create_task(poll(self.zalo, self.dispatcher.handle, self._stop))
                )

    async def wait(self) -> None:
        """Serve until `stop()` is called or a background task dies."""
        stopper = asyncio.create_task(self._stop.wait())
        watched = [stopper, *self._tasks, *([self._http_task] if self._http_task else [])]
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def stop(self) -> None:
        """Stop receiving, then jobs, HTTP, platforms and storage, in that order."""
        self._stop.set()
        if self.worker is not None:
            self.worker.kick()  # wake it from its idle wait so it sees the stop at once
        if self._scheduler is not None and self._scheduler.running:
            # No new runs, and the running ones finish: a job cut off mid-transaction
            # would leave a database connection behind. (The asyncio executor keeps its
            # running jobs in _pending_futures and can only cancel them itself.)
            self._scheduler.pause()
            running = list(
                getattr(self._scheduler._lookup_executor("default"), "_pending_futures", ())
            )
            if running:
                await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
            self._scheduler.shutdown(wait=False)
        if self.telegram is not None:
            if self.telegram.updater is not None and self.telegram.updater.running:
                await self.telegram.updater.stop()
            if self.telegram.running:
                await self.telegram.stop()
            await self.telegram.shutdown()
        if self._tasks:
            # A Zalo long poll is cut off at once (updates it took are handled in shielded
            # tasks, drained below); the worker sees the stop event after its batch.
            for task in self._tasks:
                if task is not self._worker_task:
                    task.cancel()
            _, late = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._server is not None and self._http_task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._http_task
        if self.dispatcher is not None:
            await self.dispatcher.drain(SHUTDOWN_GRACE)
        if self.zalo is not None:
            await self.zalo.aclose()
        if self.engine is not None:
            await self.engine.dispose()
