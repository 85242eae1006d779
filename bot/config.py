"""Settings: one typed object read once from the environment (and `.env`), failing fast."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
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
    # Meetings: notices this many minutes before (the largest is the invitation).
    meeting_notice_offsets: str = "10080,1440,120"
    meeting_horizon_months: int = Field(default=3, ge=1, le=12)
    meeting_inform_uncounted: bool = True
    attendance_target_percent: float = Field(default=85.0, ge=0, le=100)
    unexcused_warn: int = Field(default=2, ge=1)
    unexcused_alert: int = Field(default=3, ge=1)
    excused_streak_over: int = Field(default=3, ge=1)
    flag_year: str = Field(default="calendar", pattern="^(calendar|rolling)$")
    # Names this process's outbox worker, so after a crash it takes back its own claims at
    # once (default: the host name; set it when several bots run on one host).
    worker_name: str | None = Field(default=None, max_length=64)
    directive_reminder_hours: float = Field(default=24.0, gt=0)
    directive_max_reminders: int = Field(default=2, ge=0, le=10)
    max_attachment_mb: float = Field(default=20.0, gt=0, le=20.0)
    invite_ttl_days: int = Field(default=14, ge=1, le=365)
    code_attempts_per_window: int = Field(default=5, ge=1)
    code_attempt_window_minutes: int = Field(default=15, ge=1)
    max_text_length: int = Field(default=4096, ge=100)
    processed_update_retention_days: int = Field(default=7, ge=1)

    # Resident feedback (phản ánh): limits, deadlines in working time, retention.
    feedback_daily_limit: int = Field(default=5, ge=1, le=100)
    feedback_accept_hours: float = Field(default=8.0, gt=0)
    feedback_accept_hours_urgent: float = Field(default=4.0, gt=0)
    feedback_resolve_days: float = Field(default=5.0, gt=0)
    feedback_escalate_after_hours: float = Field(default=1.0, ge=0)
    feedback_work_hours: str = "07:30-11:30,13:30-17:00"
    feedback_work_days: str = "1-5"
    feedback_holidays: str = (
        "2026-01-01,2026-04-30,2026-05-01,2026-09-02,2027-01-01,2027-04-30,2027-05-01,2027-09-02"
    )
    feedback_retention_days: int = Field(default=365, ge=8)
    feedback_reopen_days: int = Field(default=7, ge=0)
    feedback_duplicate_hours: int = Field(default=48, ge=0)
    feedback_ward_bounds: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("feedback_work_hours", "feedback_work_days", "feedback_holidays")
    @classmethod
    def _working_time(cls, value: str, info: ValidationInfo) -> str:
        from bot.services import workhours

        parse = {
            "feedback_work_hours": workhours.parse_periods,
            "feedback_work_days": workhours.parse_days,
            "feedback_holidays": workhours.parse_holidays,
        }[str(info.field_name)]
        parse(value)
        return value

    @field_validator("feedback_ward_bounds")
    @classmethod
    def _bounds(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        south, west, north, east = (float(v) for v in value.split(","))
        if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
            raise ValueError("must be south,west,north,east in degrees")
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

    @field_validator("meeting_notice_offsets")
    @classmethod
    def _offsets(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError("a comma-separated list of minutes, e.g. 10080,1440,120")
        return value

    @property
    def notice_offsets(self) -> list[int]:
        """Minutes before a meeting at which notices go, largest (the invitation) first."""
        return sorted(
            {int(p) for p in self.meeting_notice_offsets.split(",") if p.strip()}, reverse=True
        )

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

    @property
    def ward_bounds(self) -> tuple[float, float, float, float] | None:
        """The ward's box (south, west, north, east) for shared locations, when set."""
        if not self.feedback_ward_bounds:
            return None
        south, west, north, east = (float(v) for v in self.feedback_ward_bounds.split(","))
        return south, west, north, east

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
