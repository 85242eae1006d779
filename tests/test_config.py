"""Settings: every key documented, errors that name the key, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    """A key missing from .env.example or the README's table fails here."""
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    missing = [
        name.upper()
        for name in Settings.model_fields
        if f"{name.upper()}=" not in documented or f"`{name.upper()}`" not in readme
    ]

    assert missing == []


def test_a_wrong_value_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """TIMEZONE=Mars/Olympus and MODE=carrier-pigeon: both keys in one message."""
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("MODE", "carrier-pigeon")

    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)

    assert "TIMEZONE" in str(caught.value) and "MODE" in str(caught.value)


def test_tokens_are_masked_in_repr() -> None:
    """A settings object printed by mistake shows no token."""
    settings = Settings(_env_file=None, telegram_bot_token="123456:SECRET-token-value")

    assert "SECRET-token-value" not in repr(settings)


def test_webhook_mode_needs_its_address_and_secret() -> None:
    """MODE=webhook without PUBLIC_BASE_URL is refused with the key's name."""
    settings = Settings(_env_file=None, mode="webhook", webhook_secret="abcdefgh12345678")

    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        settings.require_webhook()
