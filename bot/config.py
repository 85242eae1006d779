"""Settings: one typed object read once from the environment (and `.env`), failing fast."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """How updates reach the bot."""

    polling = "polling"
    webhook = "webhook"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


class Settings(BaseSettings):
    """Every key is documented in `.env.example`; secrets are masked in `repr`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite+aiosqlite:///data/loaphuong.db"
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str | None = None
    zalo_bot_token: SecretStr | None = None
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"
    mode: Mode = Mode.polling
    public_base_url: str | None = None
    webhook_secret: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    log_level: str = "INFO"
    file_link_secret: SecretStr | None = None
    file_link_hours: int = Field(default=72, ge=1, le=24 * 30)

    # Limits: Telegram publishes ~30 msg/s per bot and 1 msg/s per chat; Zalo publishes none.
    telegram_rate_per_s: float = Field(default=30.0, gt=0)
    telegram_chat_rate_per_s: float = Field(default=1.0, gt=0)
    telegram_chat_burst: int = Field(default=3, ge=1)
    zalo_rate_per_s: float = Field(default=10.0, gt=0)
    zalo_chat_rate_per_s: float = Field(default=1.0, gt=0)
    zalo_chat_burst: int = Field(default=3, ge=1)
    directive_reminder_hours: float = Field(default=24.0, gt=0)
    directive_max_reminders: int = Field(default=2, ge=0, le=10)
    max_attachment_mb: float = Field(default=20.0, gt=0, le=20.0)
    invite_ttl_days: int = Field(default=14, ge=1, le=365)
    code_attempts_per_window: int = Field(default=5, ge=1)
    code_attempt_window_minutes: int = Field(default=15, ge=1)
    max_text_length: int = Field(default=4096, ge=100)
    processed_update_retention_days: int = Field(default=7, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("vi", "en"):
            raise ValueError("must be 'vi' or 'en'")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram allows 1-256 of A-Za-z0-9_-; Zalo asks for 8-256: satisfy both.
        if value is None:
            return None
        raw = value.get_secret_value()
        if not 8 <= len(raw) <= 256 or not all(c.isalnum() or c in "_-" for c in raw):
            raise ValueError("must be 8-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The cell's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def link_key(self) -> bytes:
        """The key that signs file links: FILE_LINK_SECRET, or one derived from a bot token."""
        if self.file_link_secret is not None:
            return self.file_link_secret.get_secret_value().encode()
        token = self.zalo_bot_token or self.telegram_bot_token
        seed = token.get_secret_value() if token else ""
        return hashlib.sha256(f"loaphuong-file-links\0{seed}".encode()).digest()

    def require_webhook(self) -> None:
        """Fail with the key's name when webhook mode lacks what it needs."""
        if self.mode is Mode.webhook:
            if not self.public_base_url:
                raise ConfigError("PUBLIC_BASE_URL is required when MODE=webhook")
            if self.webhook_secret is None:
                raise ConfigError("WEBHOOK_SECRET is required when MODE=webhook")


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn validation errors into one message naming each key."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = "_".join(str(p) for p in err["loc"]).upper() or "SETTINGS"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None
