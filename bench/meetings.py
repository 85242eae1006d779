"""Meeting-notice benchmark: C cells of M members, every invitation due in the same minute.

    python bench/meetings.py [--cells 1000] [--members 40] [--database sqlite|postgres|both]
                             [--at 2026-11-10T01:00+00:00] [--profile] [--tracemalloc]

Builds the data with bulk inserts (not timed), then times one `meeting_tick` (find the due
notices, write every delivery row), checks the rows, and ticks again (must write nothing).
Prints a human line, then one JSON line per database. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import resource
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import FakeClock
from bot.jobs.meetings import meeting_tick
from bot.services.meetings import NOTICE
from storage import db
from storage.meetings import Meeting, MeetingNotice
from storage.models import Delivery, Identity, MemberProfile, Person, RoleAssignment, Unit

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CHUNK = 100  # cells per bulk insert: keeps the setup's own memory small
TIMEOUT = 600.0  # seconds allowed for one tick


def vm(key: str) -> float:
    """A /proc/self/status figure (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark, so VmHWM is the tick's own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def populate(
    sessions: async_sessionmaker[AsyncSession], cells: int, members: int, now: datetime
) -> None:
    """Bulk inserts, CHUNK cells at a time, explicit ids (not timed)."""
    starts = now + timedelta(days=7)
    async with sessions() as session:
        for first in range(0, cells, CHUNK):
            units, people, idents, roles, profiles, meetings, notices = ([] for _ in range(7))
            for c in range(first + 1, min(first + CHUNK, cells) + 1):
                units.append({"id": c, "kind": "cell", "name": f"Chi bộ {c}", "created_at": now})
                meetings.append({"id": c, "unit_id": c, "kind": "regular", "starts_at": starts,
                                 "minutes": 90, "place": "Nhà văn hóa", "status": "scheduled",
                                 "checklist_sent": False, "created_at": now})  # fmt: skip
                notices.append({"id": c, "meeting_id": c, "offset_minutes": 10080, "due_at": now,
                                "invitation": True, "status": "pending"})  # fmt: skip
                for m in range(members):
                    p = (c - 1) * members + m + 1
                    platform = ("zalo", "telegram")[p % 2]
                    people.append({"id": p, "full_name": f"Đảng viên {p}", "created_at": now})
                    idents.append({"person_id": p, "platform": platform, "platform_user_id": str(p),
                                   "chat_id": f"{platform}-{p}", "receives_notices": True,
                                   "created_at": now})  # fmt: skip
                    roles.append({"person_id": p, "unit_id": c, "role": "member",
                                  "created_at": now})  # fmt: skip
                    profiles.append({"person_id": p, "unit_id": c, "status": "official",
                                     "updated_at": now})  # fmt: skip
            for model, rows in ((Unit, units), (Person, people), (Identity, idents),
                                (RoleAssignment, roles), (MemberProfile, profiles),
                                (Meeting, meetings), (MeetingNotice, notices)):  # fmt: skip
                await session.execute(insert(model), rows)
        await session.commit()


async def run(url: str, name: str, args: argparse.Namespace) -> bool:
    now = datetime.fromisoformat(args.at)
    engine = db.create_engine(url)
    try:
        if name == "postgres":
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await db.upgrade(engine)
        sessions = db.sessionmaker(engine)
        t0 = time.perf_counter()
        await populate(sessions, args.cells, args.members, now)
        if name == "postgres":  # fresh bulk load: without statistics the planner seq-scans
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        setup_s = time.perf_counter() - t0
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        clock = FakeClock(now)
        statements = [0]
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda *_: statements.__setitem__(0, statements[0] + 1))  # fmt: skip
        rss_before, reset = vm("VmRSS"), reset_peak()
        prof = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if args.tracemalloc:
            tracemalloc.start()
        if prof:
            prof.enable()
        written = await asyncio.wait_for(meeting_tick(sessions, clock, settings, None), TIMEOUT)
        if prof:
            prof.disable()
        seconds = time.perf_counter() - t0
        traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        tracemalloc.stop()
        rss_after, tick_peak, queries = vm("VmRSS"), vm("VmHWM"), statements[0]
        again = await asyncio.wait_for(meeting_tick(sessions, clock, settings, None), TIMEOUT)
        async with sessions() as session:
            rows = await session.scalar(
                select(func.count(Delivery.id)).where(Delivery.source == NOTICE)
            )
            statuses = dict((await session.execute(
                select(MeetingNotice.status, func.count()).group_by(MeetingNotice.status)
            )).all())  # fmt: skip
    finally:
        await engine.dispose()
    expected = args.cells * args.members
    checks = {
        "rows_ok": rows == expected == written,
        "all_sent": statuses == {"sent": args.cells},
        "once_only": again == 0,
    }
    peak = f"tick peak {tick_peak:.0f} MB" if reset else "tick peak n/a"
    if traced is not None:
        peak += f", tracemalloc peak {traced:.1f} MB (timing inflated)"
    print(f"{name}: {args.cells} cells × {args.members} → {written} deliveries in {seconds:.2f} s "
          f"({written / seconds:,.0f}/s, {queries} SQL statements); setup {setup_s:.1f} s; "
          f"RSS {rss_before:.0f} → {rss_after:.0f} MB (Δ {rss_after - rss_before:+.0f}), {peak}; "
          f"rows {rows}, notices {statuses}, second tick {again}; checks {checks}")  # fmt: skip
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    result = {
        "bench": "meetings",
        "cells": args.cells,
        "deliveries": rows,
        "seconds": round(seconds, 3),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database": name,
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return all(checks.values())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--at", default="2026-11-10T01:00:00+00:00",
                        help="the due minute (aware ISO); a quarter's last month adds the "
                             "thematic-reminder scan of every cell")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile the timed tick")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the tick's allocations")
    args = parser.parse_args()
    names = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-meetings-") as tmp:
        for name in names:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db" if name == "sqlite" else POSTGRES_URL
            ok = await run(url, name, args) and ok
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
