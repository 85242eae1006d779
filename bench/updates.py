"""Updates benchmark: the real bot's whole pipeline against a bare echo bot, on the simulator.

    python bench/updates.py [--n 5000] [--platform telegram|zalo|both]
                            [--database sqlite|postgres|both] [--users 50] [--window 0]

Ours: simulator → polling → Dispatcher.handle (claim, identity, conversation, route, commit)
→ reply. Bare: python-telegram-bot echo (Telegram) or an httpx getUpdates/sendMessage loop
(Zalo). Rate limits are lifted on both sides: this measures the pipeline, not the pacing.
Each run prints a human line, then one JSON line. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.core.clock import SystemClock
from bot.simulator.client import SimulatorClient
from bot.simulator.server import RunningSimulator, run_simulator
from bot.simulator.stack import TELEGRAM_TOKEN, ZALO_TOKEN, running_stack
from storage import db

# Our own database on the test server: tests and bench/broadcast.py reset `test` at any time.
POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
POSTGRES_URL = f"{POSTGRES_SERVER}/bench_updates"
TEXT = "xin chào"  # a stranger's plain text: claim → identity → conversation → fallback intro
INJECTORS = 20
RUN_TIMEOUT = 600.0  # seconds per measurement
TOKENS = {"telegram": TELEGRAM_TOKEN, "zalo": ZALO_TOKEN}
NO_LIMITS: dict[str, Any] = {"telegram_limits": None, "zalo_limits": None}
UNPACED = {  # the bot's own pacing, raised out of the way
    f"{platform}_{name}": value
    for platform in ("telegram", "zalo")
    for name, value in (("rate_per_s", 1e6), ("chat_rate_per_s", 1e6), ("chat_burst", 10**6))
}


@dataclass
class Result:
    """Replies matched to injected messages, and when."""

    latencies: list[float] = field(default_factory=list)
    first: float = 0.0  # first message queued by the simulator
    last: float = 0.0  # last reply recorded
    replies: set[str] = field(default_factory=set)  # distinct reply texts (should be one)
    cpu: float = 0.0  # CPU seconds of this process (all threads) while measuring
    timed_out: bool = False

    @property
    def per_s(self) -> float:
        span = self.last - self.first
        return len(self.latencies) / span if span > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU per reply: steadier than throughput when other work shares the cores."""
        return 1000 * self.cpu / len(self.latencies) if self.latencies else float("nan")

    def ms(self, pct: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[pct - 1]


class Probe:
    """Wraps the simulator's state: time from an update being queued to its reply being logged.

    Replies are matched first-in first-out per chat: both bots answer one chat in order.
    """

    def __init__(self, sim: RunningSimulator, platform: str, n: int) -> None:
        self.result, self.done = Result(), asyncio.Event()
        self.replied: asyncio.StreamWriter | None = None  # the injector's stdin: one line a reply
        queued: dict[str, deque[float]] = defaultdict(deque)
        state = sim.state
        push, record = state.push_update, state.record_sent

        def push_update(bot: Any, update: dict[str, Any]) -> None:
            if bot.platform == platform:
                now = time.perf_counter()
                self.result.first = self.result.first or now
                queued[str(update["message"]["chat"]["id"])].append(now)
            push(bot, update)

        def record_sent(bot: Any, chat_id: Any, method: str, **fields: Any) -> None:
            record(bot, chat_id, method, **fields)
            waiting = queued.get(str(chat_id))
            if bot.platform != platform or method != "sendMessage" or not waiting:
                return
            r = self.result
            r.last = time.perf_counter()
            r.latencies.append(r.last - waiting.popleft())
            if len(r.replies) < 5:
                r.replies.add(str(fields.get("text"))[:60])
            if self.replied is not None:
                self.replied.write(b"\n")
            if len(r.latencies) >= n:
                self.done.set()

        state.push_update, state.record_sent = push_update, record_sent  # type: ignore[method-assign]


async def measure(sim: RunningSimulator, platform: str, n: int, users: int, window: int) -> Result:
    """Create people, inject n messages round-robin, wait for n replies (or the timeout).

    The injectors run in a child process (see `inject`), so that their HTTP client does not
    take CPU from the bot under test; the simulator still answers them in this process.
    """
    probe = Probe(sim, platform, n)
    async with SimulatorClient(sim.base_url) as client:
        ids = [
            (await client.create_user(platform, f"Người Thử {i}"))["user_id"] for i in range(users)
        ]
    spec = {"url": sim.base_url, "platform": platform, "ids": ids, "n": n, "window": window}
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--inject", json.dumps(spec), stdin=asyncio.subprocess.PIPE
    )
    probe.replied = child.stdin if window else None
    cpu = time.process_time()
    waits = [asyncio.create_task(probe.done.wait()), asyncio.create_task(child.wait())]
    try:  # until every reply came, the injector failed, or the time is up
        await asyncio.wait(waits, timeout=RUN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        probe.result.cpu = time.process_time() - cpu
        probe.replied = None
        for task in waits:
            task.cancel()
        if child.returncode is None:
            child.kill()
        await child.wait()
    probe.result.timed_out = not probe.done.is_set()
    return probe.result


async def inject(spec: dict[str, Any]) -> None:
    """The child process: INJECTORS tasks post the n messages through the control API.

    With a window, a message goes only while fewer than `window` await a reply; the parent
    writes one line to our stdin per reply.
    """
    platform, ids, n, window = spec["platform"], spec["ids"], spec["n"], spec["window"]
    free = asyncio.Semaphore(window) if window else None
    replies = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(replies), sys.stdin)

    async def count_replies() -> None:
        while await replies.readline():
            if free is not None:
                free.release()

    numbers = iter(range(n))  # shared: each injector takes the next message
    async with SimulatorClient(spec["url"]) as client:

        async def injector() -> None:
            for i in numbers:
                if free is not None:
                    await free.acquire()
                for attempt in range(3):  # a kept-alive connection may close under us
                    try:
                        await client.send_message(
                            platform, ids[i % len(ids)], token=TOKENS[platform], text=TEXT
                        )
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise

        # Then read replies until the parent, having them all, ends us.
        await asyncio.gather(count_replies(), *(injector() for _ in range(INJECTORS)))


@contextlib.asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A temporary SQLite file (the bot migrates it), or PostgreSQL bench_updates, reset."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    server = create_async_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    async with server.connect() as conn:
        if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'bench_updates'")):
            await conn.exec_driver_sql("CREATE DATABASE bench_updates")
    await server.dispose()
    engine = db.create_engine(POSTGRES_URL)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await db.upgrade(engine)
    await engine.dispose()
    yield POSTGRES_URL


@contextlib.asynccontextmanager
async def bare_telegram(sim: RunningSimulator) -> AsyncIterator[None]:
    """python-telegram-bot with one echo handler, polling without pause."""
    app = ApplicationBuilder().token(TELEGRAM_TOKEN).base_url(sim.telegram_base_url).build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        await context.bot.send_message(message.chat_id, message.text or "?")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


@contextlib.asynccontextmanager
async def bare_zalo(sim: RunningSimulator) -> AsyncIterator[None]:
    """A raw httpx loop: getUpdates (one update per call) → sendMessage echo."""
    base = f"{sim.zalo_base_url}/bot{ZALO_TOKEN}"
    async with httpx.AsyncClient(timeout=40) as http:

        async def loop() -> None:
            while True:
                body = (await http.post(f"{base}/getUpdates", json={"timeout": "30"})).json()
                if body.get("ok"):
                    message = body["result"]["message"]
                    text = {"chat_id": message["chat"]["id"], "text": message["text"]}
                    await http.post(f"{base}/sendMessage", json=text)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


BARE = {"telegram": bare_telegram, "zalo": bare_zalo}


async def run(platform: str, database: str, args: argparse.Namespace) -> bool:
    """One platform × database: ours, then bare; print both lines. False if it timed out."""
    n, users, window = args.n, args.users, args.window
    async with (
        fresh_database(database) as url,
        running_stack(url, clock=SystemClock(), limits=NO_LIMITS, **UNPACED) as stack,
    ):
        ours = await measure(stack.simulator, platform, n, users, window)
    bare = Result(timed_out=True)
    if not ours.timed_out:
        async with run_simulator(**NO_LIMITS) as sim, BARE[platform](sim):
            bare = await measure(sim, platform, n, users, window)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = ours.per_s / bare.per_s if bare.per_s else 0.0
    print(
        f"{platform}/{database} n={n} users={users} window={window or 'none'} text={TEXT!r}: "
        f"ours {ours.per_s:.0f}/s p50 {ours.ms(50):.0f} ms p99 {ours.ms(99):.0f} ms "
        f"cpu {ours.cpu_ms:.2f} ms/reply | bare {bare.per_s:.0f}/s p50 {bare.ms(50):.0f} ms "
        f"p99 {bare.ms(99):.0f} ms cpu {bare.cpu_ms:.2f} ms/reply | ratio {ratio:.2f} "
        f"(cpu {bare.cpu_ms / ours.cpu_ms:.2f}) | peak rss {rss_mb:.0f} MB | "
        f"ours replied {sorted(ours.replies)}",
        flush=True,
    )
    for name, result in (("ours", ours), ("bare", bare)):
        if result.timed_out:
            got = f"{len(result.latencies)}/{n}"
            print(f"INCOMPLETE: {name} got {got} replies (timeout or injector failure)", flush=True)
    figures = {
        "bench": "updates" if platform == "telegram" else "updates-zalo", "n": n,
        "ours_per_s": round(ours.per_s, 1), "bare_per_s": round(bare.per_s, 1),
        "ratio": round(ratio, 3), "p50_ms": round(ours.ms(50), 1),
        "p99_ms": round(ours.ms(99), 1), "rss_mb": round(rss_mb, 1), "database": database,
    }  # fmt: skip
    no_nan = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}
    print(json.dumps(no_nan), flush=True)
    return not (ours.timed_out or bare.timed_out)


def main() -> int:
    if sys.argv[1:2] == ["--inject"]:
        asyncio.run(inject(json.loads(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="messages per run")
    parser.add_argument("--platform", choices=["telegram", "zalo", "both"], default="telegram")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--users", type=int, default=50, help="people the messages come from")
    parser.add_argument(
        "--window", type=int, default=0,
        help="at most this many messages awaiting a reply (0: inject as fast as possible)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.disable(logging.INFO)  # the bot raises some library loggers to INFO itself
    platforms = ["telegram", "zalo"] if args.platform == "both" else [args.platform]
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for platform in platforms:
        for database in databases:
            try:  # measurements have their own timeout; this one catches a hung start or stop
                complete = asyncio.run(asyncio.wait_for(run(platform, database, args), 1500))
            except TimeoutError:
                print(f"TIMEOUT: {platform}/{database} did not finish", flush=True)
                return 1
            if not complete:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
