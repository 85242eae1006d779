"""Run the simulator: in-process for tests (``run_simulator``) or as a CLI server (``serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from bot.simulator.app import create_app
from bot.simulator.limits import TELEGRAM_LIMITS, ZALO_LIMITS, RateLimits, coerce_limits
from bot.simulator.state import SimulatorState

__all__ = ["RunningSimulator", "run_simulator", "serve", "serve_app"]


@dataclass(frozen=True)
class RunningSimulator:
    """Where a started simulator listens, the settings to give the bot, and its state."""

    base_url: str
    telegram_base_url: str
    telegram_file_base_url: str
    zalo_base_url: str
    state: SimulatorState

    @classmethod
    def at(cls, base_url: str, state: SimulatorState) -> RunningSimulator:
        """Derive every URL from the server's root URL."""
        return cls(
            base_url=base_url,
            telegram_base_url=f"{base_url}/telegram/bot",
            telegram_file_base_url=f"{base_url}/telegram/file/bot",
            zalo_base_url=f"{base_url}/zalo",
            state=state,
        )


def state_from_options(**options: Any) -> SimulatorState:
    """A SimulatorState; also takes flat limits such as ``telegram_per_chat_per_s=None``."""
    for platform, default in (("telegram", TELEGRAM_LIMITS), ("zalo", ZALO_LIMITS)):
        prefix = f"{platform}_"
        flat = {
            name.removeprefix(prefix): options.pop(name)
            for name in list(options)
            if name.startswith(prefix) and name.removeprefix(prefix) in RateLimits.__annotations__
        }
        if flat:
            base = coerce_limits(options.get(f"{platform}_limits", default), default)
            options[f"{platform}_limits"] = coerce_limits(flat, base)
    return SimulatorState(**options)


def _config(app: Any, **extra: Any) -> uvicorn.Config:
    # Long polls are woken by state.begin_shutdown(); the grace timeout is a safety net.
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        **extra,
    )


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a socket bound here (port 0: any free port).

    Yields the root URL. Tests also use it to run small webhook receivers.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say so, and
    # without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        url_host = f"[{host}]" if ":" in host else host
        server = uvicorn.Server(_config(app))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()  # re-raise why it could not start
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.005)
            yield f"http://{url_host}:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: SimulatorState | None = None,
    **options: Any,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator for the duration of the block; yield where it listens.

    `options` go to SimulatorState: ``telegram_limits=None`` turns Telegram's limits off,
    ``zalo_limits={"global_per_s": 5}`` changes one, ``telegram_per_chat_per_s=None`` too.
    """
    sim = state if state is not None else state_from_options(**options)
    app = create_app(sim)
    try:
        async with serve_app(app, host, port) as base_url:
            sim.base_url = base_url
            try:
                yield RunningSimulator.at(base_url, sim)
            finally:
                await sim.begin_shutdown()  # wake long polls so uvicorn can stop at once
    finally:
        await sim.aclose()


def serve(host: str = "127.0.0.1", port: int = 8081, **options: Any) -> None:
    """Serve a simulator until interrupted (the CLI entry point)."""
    sim = state_from_options(**options)
    sim.base_url = f"http://{host}:{port}"
    running = RunningSimulator.at(sim.base_url, sim)
    print(  # a CLI tells where to point the bot
        f"Loa Phường simulator on {running.base_url}\n"
        f"  TELEGRAM_API_BASE_URL={running.telegram_base_url}\n"
        f"  TELEGRAM_API_FILE_URL={running.telegram_file_base_url}\n"
        f"  ZALO_API_BASE_URL={running.zalo_base_url}",
        flush=True,
    )
    uvicorn.Server(_config(create_app(sim), host=host, port=port)).run()
