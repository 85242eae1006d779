"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.core.clock import FakeClock
from bot.simulator.stack import Stack, running_stack
from storage import db
from storage.schema import metadata

FIXTURES = Path(__file__).parent / "fixtures"


def _postgres_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        return None
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False)


POSTGRES_URL = _postgres_url()


_postgres_migrated = False


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty, migrated database for one test.

    SQLite: a new file each time. PostgreSQL: the schema is rebuilt and migrated once
    per run, then each test starts from emptied tables (much faster than migrating).
    """
    global _postgres_migrated
    if POSTGRES_URL is None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        engine = db.create_engine(url)
        await db.upgrade(engine)
    else:
        url = POSTGRES_URL
        engine = db.create_engine(url)
        if not _postgres_migrated:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                await conn.exec_driver_sql("CREATE SCHEMA public")
            await db.upgrade(engine)
            _postgres_migrated = True
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    await engine.dispose()
    yield url


@pytest.fixture
def clock() -> FakeClock:
    """A clock that starts on 1 December 2026, 08:00 in Hanoi, and moves only when told."""
    return FakeClock()


# Fast by default: rate limits have their own tests.
NO_LIMITS = {"telegram_limits": None, "zalo_limits": None}
FAST = {
    "telegram_chat_rate_per_s": 100.0,
    "telegram_chat_burst": 100,
    "zalo_chat_rate_per_s": 100.0,
    "zalo_chat_burst": 100,
    "zalo_rate_per_s": 200.0,
    "telegram_rate_per_s": 200.0,
}


@pytest.fixture
async def stack(database_url: str, clock: FakeClock) -> AsyncIterator[Stack]:
    """The real bot against the simulator, both platforms, polling."""
    async with running_stack(database_url, clock=clock, limits=NO_LIMITS, **FAST) as running:
        yield running


@pytest.fixture(params=["telegram", "zalo"])
def platform(request: pytest.FixtureRequest) -> str:
    """Run a scenario on each platform."""
    return str(request.param)
