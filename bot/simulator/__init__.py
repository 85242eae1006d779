"""A local fake of the Telegram and Zalo Bot APIs, with a control API to script people."""

from bot.simulator.app import create_app
from bot.simulator.client import SimulatorClient, SimUser
from bot.simulator.server import RunningSimulator, run_simulator, serve
from bot.simulator.state import SimulatorState

__all__ = [
    "RunningSimulator",
    "SimUser",
    "SimulatorClient",
    "SimulatorState",
    "create_app",
    "run_simulator",
    "serve",
]
