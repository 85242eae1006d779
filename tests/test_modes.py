"""Running modes: webhooks end to end, and tokens the platforms refuse."""

from __future__ import annotations

import pytest

from bot.app import App
from bot.config import ConfigError
from bot.core.clock import FakeClock
from bot.simulator.server import run_simulator
from bot.simulator.stack import TELEGRAM_TOKEN, ZALO_TOKEN, running_stack, stack_settings
from tests import people as script
from tests.conftest import FAST, NO_LIMITS


@pytest.mark.parametrize("platform", ["telegram", "zalo"])
async def test_webhook_mode_serves_a_whole_join(database_url: str, platform: str) -> None:
    """MODE=webhook: the bot registers its webhooks and a secretary joins through them."""
    async with running_stack(
        database_url, clock=FakeClock(), limits=NO_LIMITS, mode="webhook", **FAST
    ) as stack:
        await script.secretary(stack, platform)
        deliveries = await stack.sim.webhook_deliveries(platform)

    assert deliveries, "the simulator pushed nothing to the webhook"
    assert all(d["status"] == 200 for d in deliveries)


@pytest.mark.parametrize(
    ("platform", "key"), [("telegram", "TELEGRAM_BOT_TOKEN"), ("zalo", "ZALO_BOT_TOKEN")]
)
async def test_a_refused_token_stops_start_up_naming_the_key(
    database_url: str, platform: str, key: str
) -> None:
    """401 at start-up: a ConfigError that names the setting, and nothing left open."""
    async with run_simulator(**NO_LIMITS) as simulator:
        simulator.state.reject_tokens.add(TELEGRAM_TOKEN if platform == "telegram" else ZALO_TOKEN)
        app = App(stack_settings(simulator, database_url), clock=FakeClock())

        with pytest.raises(ConfigError, match=key):
            await app.start()
        await app.stop()
