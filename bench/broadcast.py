"""Broadcast benchmark: one directive to N members (half Zalo, half Telegram) through the outbox.

    python bench/broadcast.py [--n 2000] [--database sqlite|postgres]
                              [--run pacing|ceiling|crash|all] [--shuffle]

The simulator runs in this process; the real bot (bot.app.App, polling) runs in a child
process (`--child`) on a file database, so that it can be SIGKILLed while the simulator's
counts survive. Runs: pacing (30/s per token on both sides), ceiling (every limit lifted),
crash (SIGKILL half-way, restart). Each prints a human line; the last line is one JSON object.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App
from bot.services import broadcasts, outbox, people
from bot.simulator.client import SimulatorClient
from bot.simulator.server import RunningSimulator, run_simulator
from bot.simulator.stack import TELEGRAM_TOKEN, ZALO_TOKEN, stack_settings
from bot.simulator.state import SimulatorState
from storage import db
from storage.models import BroadcastKind, Identity, Person, RoleAssignment

SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# Its own database on that server: other benchmarks reset `test`'s schema while this one runs.
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_broadcast"
TOKENS = {"telegram": TELEGRAM_TOKEN, "zalo": ZALO_TOKEN}
LIMIT = 30.0  # per token, on both sides, in the pacing and crash runs
SIM_PACED = {
    "telegram_limits": {"global_per_s": 30, "global_burst": 30, "per_chat_per_s": 1,
                        "per_chat_burst": 3},
    "zalo_limits": {"global_per_s": 30, "global_burst": 30},
}  # fmt: skip
SIM_OPEN: dict[str, Any] = {"telegram_limits": None, "zalo_limits": None}
BOT_PACED = {"telegram_rate_per_s": LIMIT, "zalo_rate_per_s": LIMIT}  # per chat: defaults
BOT_OPEN = {
    f"{p}_{name}": value
    for p in TOKENS
    for name, value in (("rate_per_s", 1e5), ("chat_rate_per_s", 1e5), ("chat_burst", 10**6))
}
CRASH_KEYS = ("in_flight_at_kill", "sent_unrecorded_at_kill", "stuck_after_restart",
              "missing_after_restart", "restarts", "lost", "duplicates")  # fmt: skip
STALE_SECONDS = 5.0  # outbox.STALE_CLAIM in the child (production: 5 minutes)
CHILD_SECONDS = 900  # a bot left behind stops by itself after this
CREATORS = 50  # concurrent control-API calls while creating simulated people
children: list[asyncio.subprocess.Process] = []
Check = Callable[[], Awaitable[bool]]


class BenchError(RuntimeError):
    """A wait timed out or the bot died: the script exits non-zero with this message."""


async def child_main(args: argparse.Namespace) -> None:
    """Run the App until SIGTERM (or CHILD_SECONDS), pointed at the parent's simulator."""
    outbox.STALE_CLAIM = timedelta(seconds=STALE_SECONDS)  # bench only: see bench/README.md
    sim = RunningSimulator.at(args.simulator, None)  # type: ignore[arg-type]  # URLs only
    settings = stack_settings(sim, args.database_url, log_level="WARNING", **json.loads(args.rates))
    app = App(settings)
    logging.getLogger("telegram").setLevel(logging.WARNING)  # App's log setup made it INFO
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await app.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHILD_SECONDS)
    finally:
        await app.stop()
    print(peak_rss_mb(), flush=True)


def peak_rss_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries the parent's across fork+exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def make_users(client: SimulatorClient, state: SimulatorState, n: int, shuffle: bool):
    """N simulated people who wrote to the bot (else both platforms answer 403)."""
    platforms = ["telegram" if i % 2 == 0 else "zalo" for i in range(n)]
    if shuffle:
        random.Random(7).shuffle(platforms)
    gate = asyncio.Semaphore(CREATORS)

    async def one(i: int, platform: str) -> tuple[str, str]:
        async with gate:
            made = await client.create_user(platform, f"Đảng viên {i:04d}")
            await client.send_message(platform, made["user_id"], token=TOKENS[platform], text="hi")
            return platform, str(made["user_id"])

    users = await asyncio.gather(*(one(i, p) for i, p in enumerate(platforms)))
    for platform, token in TOKENS.items():  # the bot is not running yet: drop those greetings
        state.bot(platform, token).updates.clear()
    return users


async def fresh_database(kind: str, file: str) -> str:
    """An empty migrated database: a new SQLite file, or bench_broadcast's schema reset."""
    url = POSTGRES_URL if kind == "postgres" else f"sqlite+aiosqlite:///{file}"
    engine = db.create_engine(url)
    if kind == "postgres":
        server = db.create_engine(SERVER_URL)
        async with server.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            with contextlib.suppress(DBAPIError):  # it exists already
                await auto.exec_driver_sql("CREATE DATABASE bench_broadcast")
        await server.dispose()
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
    await db.upgrade(engine)
    await engine.dispose()
    return url


async def seed(engine: AsyncEngine, users: list[tuple[str, str]], marker: str) -> int:
    """A cell, one person per user (the first is the secretary), and the directive."""
    now = datetime.now(UTC)
    async with db.sessionmaker(engine)() as s:
        cell = await people.create_cell(s, now, cell="Chi bộ bench", ward="Phường bench",
                                        neighbourhood=None)  # fmt: skip
        persons = [Person(full_name=f"Đảng viên {i:04d}", created_at=now) for i, _ in enumerate(users)]  # fmt: skip # noqa: E501
        s.add_all(persons)
        await s.flush()
        for i, (person, (platform, uid)) in enumerate(zip(persons, users, strict=True)):
            s.add(Identity(person_id=person.id, platform=platform, platform_user_id=uid,
                           chat_id=uid, receives_notices=True, created_at=now))  # fmt: skip
            role = "secretary" if i == 0 else "member"
            s.add(RoleAssignment(person_id=person.id, unit_id=cell.id, role=role, created_at=now))
        item, count = await broadcasts.create(
            s, now, unit_id=cell.id, kind=BroadcastKind.directive, title="Chỉ thị bench",
            body=f"Nội dung chỉ thị. [{marker}]", audience="members", send_at=now,
            created_by=persons[0].id,
        )  # fmt: skip
        await s.commit()
    assert count == len(users), (count, len(users))
    return item.id


@dataclass
class Run:
    """What one run works with."""

    n: int
    url: str
    engine: AsyncEngine
    client: SimulatorClient
    simulator: str
    rates: dict[str, float]
    broadcast_id: int = 0
    marker: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    bot_rss_mb: float = 0.0

    @property
    def budget(self) -> float:  # seconds any one wait may take
        return 60 + self.n / 15

    async def spawn(self) -> asyncio.subprocess.Process:
        """Start the bot in a child process."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", "--database-url", self.url,
            "--simulator", self.simulator, "--rates", json.dumps(self.rates),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        children.append(proc)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM (SIGKILL after 20 s); keep the peak RSS the bot printed on its way out."""
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out = (await asyncio.wait_for(proc.communicate(), 20))[0].split()
        except TimeoutError:
            proc.kill()
            raise BenchError("the bot did not stop within 20 s of SIGTERM") from None
        self.bot_rss_mb = max(self.bot_rss_mb, float(out[-1]) if out else 0.0)

    async def until(self, check: Check, what: str, proc: asyncio.subprocess.Process) -> None:
        """Poll `check()` until true; BenchError on timeout or if the bot process died."""
        deadline = time.monotonic() + self.budget
        while not await check():
            if proc.returncode is not None:
                raise BenchError(f"the bot exited (code {proc.returncode}) before {what}")
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {self.budget:.0f} s waiting for {what}")
            await asyncio.sleep(0.25)

    async def received(self) -> Counter[tuple[str, str]]:
        """How many times each chat got the directive (its body marker: progress lacks it)."""
        got: Counter[tuple[str, str]] = Counter()
        for platform in TOKENS:
            for item in (await self.client.sent(platform))["items"]:
                if self.marker in (item.get("text") or item.get("caption") or ""):
                    got[platform, str(item["chat_id"])] += 1
        return got

    async def tokens(self) -> list[dict[str, Any]]:
        """The simulator's statistics, one dict per bot token."""
        stats = (await self.client.stats()).values()
        return [{**s, "token": t} for tokens in stats for t, s in tokens.items()]

    async def statuses(self) -> dict[str, int]:
        async with db.sessionmaker(self.engine)() as s:
            return await outbox.counts(s, broadcasts.SOURCE, self.broadcast_id)

    async def drained(self) -> bool:
        counts = await self.statuses()
        return counts.get("pending", 0) + counts.get("sending", 0) == 0

    async def deliver(self) -> dict[str, Any]:
        proc = await self.spawn()
        await self.until(self.drained, "the outbox to drain", proc)
        await self.stop(proc)
        return {}

    async def crash(self) -> dict[str, Any]:
        """SIGKILL the bot half-way, restart it at once, then once more if rows stay claimed."""
        proc = await self.spawn()

        async def half_sent() -> bool:
            return sum(s["sent"] for s in await self.tokens()) >= self.n // 2

        await self.until(half_sent, f"{self.n // 2} deliveries before the kill", proc)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        killed_at = time.monotonic()
        counts = await self.statuses()
        unrecorded = len(await self.received()) - counts.get("sent", 0)
        proc = await self.spawn()  # at once, as a supervisor (systemd, docker) would
        seen = {"got": -1, "at": time.monotonic()}

        async def settled() -> bool:  # nothing left to claim, and nothing new for 3 s
            got, pending = len(await self.received()), (await self.statuses()).get("pending", 0)
            if got != seen["got"]:
                seen.update(got=got, at=time.monotonic())
                return False
            return pending == 0 and (got == self.n or time.monotonic() - seen["at"] > 3)

        await self.until(settled, "the restarted bot to settle", proc)
        stuck = (await self.statuses()).get("sending", 0)
        missing = self.n - len(await self.received())
        await self.stop(proc)
        if stuck:  # claims younger than STALE_CLAIM at start are never looked at again
            await asyncio.sleep(max(0.0, killed_at + STALE_SECONDS + 1 - time.monotonic()))
            proc = await self.spawn()
            await self.until(self.drained, "a second restart to send the stranded rows", proc)
            await self.stop(proc)
        return {"in_flight_at_kill": counts.get("sending", 0), "restarts": 2 if stuck else 1,
                "sent_unrecorded_at_kill": unrecorded, "stuck_after_restart": stuck,
                "missing_after_restart": missing}  # fmt: skip


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def run(kind: str, args: argparse.Namespace, folder: str) -> dict[str, Any]:
    paced = kind != "ceiling"
    cpu0, started = (cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)), time.monotonic()
    async with (
        run_simulator(**(SIM_PACED if paced else SIM_OPEN)) as sim,
        SimulatorClient(sim.base_url) as client,
    ):
        users = await make_users(client, sim.state, args.n, args.shuffle)
        url = await fresh_database(args.database, f"{folder}/{kind}.db")
        r = Run(args.n, url, db.create_engine(url), client, sim.base_url,
                BOT_PACED if paced else BOT_OPEN)  # fmt: skip
        try:
            r.broadcast_id = await seed(r.engine, users, r.marker)
            extra = await (r.crash() if kind == "crash" else r.deliver())
            got, per_token = await r.received(), await r.tokens()
        finally:
            await r.engine.dispose()
    spans = {s["token"]: (s["first_at"], s["last_at"], s["sent"]) for s in per_token if s["sent"]}
    rates = {t: sent / (last - first) for t, (first, last, sent) in spans.items() if sent > 1}
    first, last = min(v[0] for v in spans.values()), max(v[1] for v in spans.values())
    result = {
        "achieved_per_s": round(min(rates.values()), 2),
        "total_per_s": round(sum(v[2] for v in spans.values()) / (last - first), 1),
        "max_in_any_second": max(s["max_in_any_second"] for s in per_token),
        "429s": sum(s["rate_limited"] for s in per_token),
        "lost": sum(1 for p, u in users if got[p, u] == 0),
        "duplicates": sum(1 for n in got.values() if n > 1),
        "seconds": round(time.monotonic() - started, 1),
        "cpu_bot_s": round(cpu(resource.RUSAGE_CHILDREN) - cpu0[1], 1),
        "cpu_simulator_s": round(cpu(resource.RUSAGE_SELF) - cpu0[0], 1),
        "bot_rss_mb": round(r.bot_rss_mb, 1),
        **extra,
    }
    per = ", ".join(f"{p} {rates.get(t, 0):.1f}/s" for p, t in TOKENS.items())
    print(f"{kind:8} {args.database:8} n={args.n}: {per}; " + ", ".join(
        f"{k} {v}" for k, v in result.items() if k != "achieved_per_s"), flush=True)  # fmt: skip
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    kinds = ["pacing", "ceiling", "crash"] if args.run == "all" else [args.run]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as folder:
        try:
            for kind in kinds:
                results[kind] = await run(kind, args, folder)
        finally:
            for proc in children:  # only the bot processes this script started
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    paced = results.get("pacing") or results.get("crash") or {}
    return {
        "bench": "broadcast",
        "database": args.database,
        "n": args.n,
        "limit_per_s": LIMIT if paced else None,
        "achieved_per_s": paced.get("achieved_per_s"),
        "max_in_any_second": paced.get("max_in_any_second"),
        "429s": sum(r["429s"] for r in results.values()),
        "lost": sum(r["lost"] for r in results.values()),
        "duplicates": sum(r["duplicates"] for r in results.values()),
        "ceiling_per_s": results.get("ceiling", {}).get("total_per_s"),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bot_rss_mb": max(r["bot_rss_mb"] for r in results.values()),
        **{f"crash_{k}": results["crash"].get(k) for k in CRASH_KEYS if "crash" in results},
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--run", choices=["pacing", "ceiling", "crash", "all"], default="all")
    parser.add_argument("--shuffle", action="store_true", help="a random platform per person")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--database-url", "--simulator", "--rates"):  # the child's arguments
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.n < 4:
        parser.error("--n must be at least 4")
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    arguments = parse()
    if arguments.child:
        asyncio.run(child_main(arguments))
        sys.exit(0)
    try:
        print(json.dumps(asyncio.run(main(arguments)), ensure_ascii=False), flush=True)
    except BenchError as exc:
        print(f"bench/broadcast.py: {exc}", file=sys.stderr)
        sys.exit(2)
