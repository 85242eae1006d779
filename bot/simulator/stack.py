"""The real bot wired to the simulator: used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.core.clock import Clock, FakeClock
from bot.services import setup
from bot.simulator.client import SimulatorClient
from bot.simulator.server import RunningSimulator, run_simulator

# Made-up credentials the simulator accepts; never valid on the real platforms.
TELEGRAM_TOKEN = "7100000001:SIMULATED-telegram-token-0001"  # noqa: S105
ZALO_TOKEN = "1459232241454765289:simulated-zalo-token-0001"  # noqa: S105
WEBHOOK_SECRET = "simulated-webhook-secret-0001"  # noqa: S105


@dataclass
class Stack:
    """A running bot, its simulator and a client to script people with."""

    app: App
    simulator: RunningSimulator
    sim: SimulatorClient
    clock: Clock
    settings: Settings

    async def init_cell(
        self, cell: str = "Chi bộ khu phố Yên Thanh 1", ward: str = "Phường Uông Bí"
    ) -> setup.NewCell:
        """What `loaphuong init` does, on this stack's database."""
        assert self.app.dispatcher is not None
        async with self.app.dispatcher.sessions() as session:
            created = await setup.init_cell(
                session,
                self.clock.now(),
                cell=cell,
                ward=ward,
                neighbourhood=None,
                ttl=timedelta(days=self.settings.invite_ttl_days),
            )
            await session.commit()
        return created


def stack_settings(simulator: RunningSimulator, database_url: str, **overrides: Any) -> Settings:
    """Settings pointing both platforms at the simulator."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "telegram_api_base_url": simulator.telegram_base_url,
        "telegram_file_base_url": simulator.telegram_file_base_url,
        "zalo_bot_token": ZALO_TOKEN,
        "zalo_api_base_url": simulator.zalo_base_url,
        "http_port": 0,
        "webhook_secret": WEBHOOK_SECRET,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def _free_port() -> int:
    """A free local port, so file links can name the bot's address before it starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_stack(
    database_url: str,
    *,
    clock: Clock | None = None,
    limits: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Start the simulator, then the real bot against it; stop both on exit."""
    async with run_simulator(**(limits or {})) as simulator:
        port = _free_port()
        overrides = {"http_port": port, "public_base_url": f"http://127.0.0.1:{port}", **overrides}
        settings = stack_settings(simulator, database_url, **overrides)
        app = App(settings, clock=clock or FakeClock())
        await app.start()
        try:
            async with SimulatorClient(simulator.base_url) as sim:
                yield Stack(app, simulator, sim, app.clock, settings)
        finally:
            await app.stop()
