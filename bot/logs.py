"""Structured logging that never prints a token, a webhook secret or message content."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

# A Bot API URL carries the token: /bot123456:ABC-def/ — redact any such shape too.
TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{8,}")
MASK = "***"


class RedactingFilter(logging.Filter):
    """Rewrites every record that reaches a handler, whatever logger made it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """The text with secrets and token-shaped strings masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return TOKEN_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the message once, redact it, and drop the raw arguments."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: keep the raw parts
            message = f"{record.msg} {record.args}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as JSON."""
        out: dict[str, Any] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


_base_factory = logging.getLogRecordFactory()


def install_redaction(secrets: Iterable[str]) -> RedactingFilter:
    """Redact each log record as it is made, so every handler (and test capture) sees it clean."""
    redactor = RedactingFilter(secrets)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = _base_factory(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    quiet_libraries()
    return redactor


# Libraries whose debug output carries message contents, names or SQL parameters
# (personal data), or URLs with the token: capped whatever the root level is.
CHATTY = {
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.WARNING,
    "uvicorn.access": logging.WARNING,
}


def quiet_libraries() -> None:
    """Raise the level of libraries that would log personal data or tokens at DEBUG."""
    floor = logging.getLogger().getEffectiveLevel()
    for name, level in CHATTY.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(level, logger.level, floor))


def configure(level: str, secrets: Iterable[str], *, json_lines: bool = True) -> RedactingFilter:
    """Install redaction and one handler on the root logger; quiet chatty libraries."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_loaphuong", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._loaphuong = True  # type: ignore[attr-defined]
    redactor = install_redaction(secrets)
    handler.addFilter(redactor)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_libraries()
    return redactor
