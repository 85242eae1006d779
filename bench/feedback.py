"""Feedback benchmark: R residents each file a report with a photo at the same moment.

    python bench/feedback.py [--residents 500] [--platform telegram|zalo|both]
                             [--database sqlite|postgres]

The simulator and the real bot (bot.app.App, polling, real clock) run in this process on a
fresh database. The residents are created directly in the database (joining is measured
elsewhere); the neighbourhood head, who receives noise reports, too. Then every resident
at once goes through /phananh: category, description, one photo, "Xong", a typed place,
privacy, "Gửi". Measured: the time from "Gửi" to the acknowledgement with the report's
code (p99_ack_ms), how many reports were stored (exactly one per resident is right; any
more are duplicates), and whether every report reached the head through the outbox.
Rate limits are lifted on both sides: this measures the pipeline, not the pacing.
The last line is one JSON object. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.core.clock import SystemClock
from bot.services import feedback_lifecycle, people
from bot.simulator.client import SimulatorClient, SimUser
from bot.simulator.stack import TELEGRAM_TOKEN, ZALO_TOKEN, Stack, running_stack
from storage import db
from storage.feedback import Report
from storage.models import Delivery, DeliveryStatus, Identity, Role

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TOKENS = {"telegram": TELEGRAM_TOKEN, "zalo": ZALO_TOKEN}
NUMBERED = re.compile(r"^\s*(\d+)\s*[.)]\s*(.+?)\s*$", re.MULTILINE)
NO_LIMITS: dict[str, Any] = {"telegram_limits": None, "zalo_limits": None}
UNPACED = {
    f"{platform}_{name}": value
    for platform in ("telegram", "zalo")
    for name, value in (("rate_per_s", 1e6), ("chat_rate_per_s", 1e6), ("chat_burst", 10**6))
}
STEP_TIMEOUT = 300.0  # seconds a resident waits for any one answer
ROUTE_TIMEOUT = 300.0  # seconds to wait for every report to reach the head


@contextlib.asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A temporary SQLite file (the bot migrates it), or PostgreSQL reset and migrated."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    engine = db.create_engine(POSTGRES_URL)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await db.upgrade(engine)
    await engine.dispose()
    yield POSTGRES_URL


async def enrol(
    stack: Stack, client: SimulatorClient, unit_id: int, platform: str, name: str, role: Role
) -> SimUser:
    """A simulated person who already joined the cell with one role."""
    user = await client.new_user(platform, name)
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        person = await people.create_person(
            session,
            stack.clock.now(),
            full_name=name,
            language="vi",
            platform=platform,
            user_id=str(user.user_id),
            chat_id=str(user.chat_id),
            residential_group="Tổ 3",
            house_number="Số 1",
        )
        await people.grant(session, stack.clock.now(), person.id, unit_id, role)
        await session.commit()
    return user


class Inbox:
    """What the bot sends, sorted per chat as the simulator records it (no long polls).

    500 people long-polling the control API would each rescan the whole log on every
    message the bot sends; wrapping the simulator's state is linear.
    """

    def __init__(self, stack: Stack) -> None:
        self.queues: dict[tuple[str, str], asyncio.Queue[dict[str, Any]]] = {}
        state = stack.simulator.state
        record = state.record_sent

        def record_sent(bot: Any, chat_id: Any, method: str, **fields: Any) -> None:
            record(bot, chat_id, method, **fields)
            self.queue(bot.platform, chat_id).put_nowait(state.sent[-1])

        state.record_sent = record_sent  # type: ignore[method-assign]

    def queue(self, platform: str, chat_id: Any) -> asyncio.Queue[dict[str, Any]]:
        """The queue of one chat."""
        return self.queues.setdefault((platform, str(chat_id)), asyncio.Queue())


class Resident:
    """A simulated resident driven through the control API, reading from an `Inbox`."""

    def __init__(self, client: SimulatorClient, inbox: Inbox, user: SimUser) -> None:
        self.client, self.user = client, user
        self.inbox = inbox.queue(user.platform, user.chat_id)
        self.last: dict[str, Any] = {}

    async def send(self, **content: Any) -> None:
        """Write to the bot."""
        await self.client.send_message(
            self.user.platform, self.user.user_id, token=TOKENS[self.user.platform], **content
        )

    async def expect(self, fragment: str) -> None:
        """Wait for a message containing `fragment`."""
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                item = await self.inbox.get()
                shown = item.get("text") or item.get("caption") or ""
                if item.get("buttons") or NUMBERED.search(shown):
                    self.last = item
                if fragment in shown:
                    return

    async def choose(self, label: str) -> None:
        """Press the button (Telegram) or type the number (Zalo) of an option."""
        if self.user.platform == "telegram":
            buttons = [b for row in self.last.get("buttons") or [] for b in row]
            found = next(b for b in buttons if label.casefold() in b["text"].casefold())
            await self.client.press(
                self.user.user_id,
                found["data"],
                message_id=self.last["message_id"],
                token=TOKENS["telegram"],
            )
            return
        options = NUMBERED.findall(self.last.get("text") or "")
        number = next(n for n, text in options if label.casefold() in text.casefold())
        await self.send(text=number)


async def file_one(resident: Resident, index: int) -> float:
    """One resident's whole report; returns the seconds from "Gửi" to the acknowledgement."""
    steps: list[tuple[str, str, str]] = [
        ("say", "/phananh", "việc gì"),
        ("choose", "Tiếng ồn", "mô tả"),
        ("say", f"Hàng xóm mở nhạc to sau 22 giờ, lần thứ {index}.", "tối đa 3 ảnh"),
        ("photo", "", "Đã nhận ảnh"),
        ("choose", "Xong", "ở đâu"),
        ("say", f"Số {index}, ngõ 5, Tổ 3", "biết tên"),
        ("choose", "Ẩn danh", "kiểm tra lại"),
    ]
    for action, value, expected in steps:
        if action == "say":
            await resident.send(text=value)
        elif action == "choose":
            await resident.choose(value)
        else:
            await resident.send(photo={})
        await resident.expect(expected)
    started = time.perf_counter()
    await resident.choose("Gửi")
    await resident.expect("Đã nhận phản ánh")
    return time.perf_counter() - started


async def routed(stack: Stack, head_id: int) -> int:
    """Report notices the head has been sent so far."""
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        count = await session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.source == feedback_lifecycle.SOURCE,
                Delivery.person_id == head_id,
                Delivery.status == DeliveryStatus.sent,
            )
        )
    return int(count or 0)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Create the people, let them all file at once, count what was stored and routed."""
    platforms = ["telegram", "zalo"] if args.platform == "both" else [args.platform]
    http = httpx.AsyncClient(timeout=STEP_TIMEOUT + 30, limits=httpx.Limits(max_connections=None))
    async with (
        fresh_database(args.database) as url,
        running_stack(url, clock=SystemClock(), limits=NO_LIMITS, **UNPACED) as stack,
        SimulatorClient(stack.simulator.base_url, http=http) as client,
    ):
        unit_id = (await stack.init_cell()).cell.id
        head = await enrol(stack, client, unit_id, "zalo", "Đặng Văn Tư", Role.head)
        await head.say("/viec")  # on Zalo a person must write first before the bot may
        await head.expect_text("không có phản ánh")
        inbox = Inbox(stack)
        users = [
            await enrol(
                stack,
                client,
                unit_id,
                platforms[i % 2 % len(platforms)],
                f"Cư Dân {i}",
                Role.resident,
            )
            for i in range(args.residents)
        ]
        residents = [Resident(client, inbox, user) for user in users]
        assert stack.app.dispatcher is not None
        async with stack.app.dispatcher.sessions() as session:
            head_id = await session.scalar(
                select(Identity.person_id).where(Identity.platform_user_id == str(head.user_id))
            )
        began = time.perf_counter()
        outcomes = await asyncio.gather(
            *(file_one(user, i) for i, user in enumerate(residents)), return_exceptions=True
        )
        latencies = [o for o in outcomes if isinstance(o, float)]
        failures = [o for o in outcomes if not isinstance(o, float)]
        acked = time.perf_counter()
        deadline = acked + ROUTE_TIMEOUT
        while time.perf_counter() < deadline:  # the outbox is in the database: poll it
            if await routed(stack, head_id or 0) >= len(latencies):
                break
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - began
        async with stack.app.dispatcher.sessions() as session:
            per_reporter = list(
                await session.scalars(select(func.count(Report.id)).group_by(Report.reporter_id))
            )
        head_got = await routed(stack, head_id or 0)
        async with stack.app.dispatcher.sessions() as session:
            statuses = dict(
                (
                    await session.execute(
                        select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
                    )
                ).all()
            )
        print(f"deliveries by status: {statuses}", flush=True)
    await http.aclose()
    p99 = (
        statistics.quantiles(latencies, n=100, method="inclusive")[98] * 1000
        if len(latencies) > 1
        else float("nan")
    )
    for failure in failures[:3]:
        print(f"a resident failed: {type(failure).__name__}: {failure}", file=sys.stderr)
    print(
        f"{args.residents} residents on {'+'.join(platforms)}/{args.database}: "
        f"{len(latencies)} acknowledged, {sum(per_reporter)} stored, {head_got} routed to the "
        f"head, {seconds:.1f} s in all; ack p50 "
        f"{statistics.median(latencies) * 1000 if latencies else float('nan'):.0f} ms, "
        f"p99 {p99:.0f} ms; {len(failures)} failed",
        flush=True,
    )
    return {
        "bench": "feedback",
        "reports": args.residents,
        "stored": sum(per_reporter),
        "duplicates": sum(max(0, n - 1) for n in per_reporter),
        "routed": head_got,
        "seconds": round(seconds, 1),
        "p99_ack_ms": round(p99, 1),
        "database": args.database,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--platform", choices=["telegram", "zalo", "both"], default="both")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.disable(logging.INFO)
    figures = asyncio.run(run(args))
    print(json.dumps(figures), flush=True)
    ok = figures["stored"] == figures["reports"] == figures["routed"]
    return 0 if ok and not figures["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
