"""Translations from gettext catalogs in locales/, and Vietnamese-style dates via Babel."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
LANGUAGES = ("vi", "en")


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, key → text (read once).

    Each capability may keep its own catalog file beside messages.po
    (meetings.po, feedback.po…); a key defined twice is a bug.
    """
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang)
        for message in po:
            if message.id and message.string:
                key = str(message.id)
                if key in merged:
                    raise ValueError(f"{path.name}: key {key!r} is defined twice")
                merged[key] = str(message.string)
    return merged


def t(lang: str, key: str, **params: Any) -> str:
    """Translate `key` into `lang`, filling `{named}` parameters."""
    lang = lang if lang in LANGUAGES else LANGUAGES[0]
    text = catalog(lang).get(key)
    if text is None:
        # A missing key is a bug the tests catch; show the key rather than crash in chat.
        text = catalog(LANGUAGES[0]).get(key, key)
    return text.format(**params) if params else text


def translate(lang: str, message: Any) -> str:
    """Translate a `Msg` whose parameters may themselves be `Msg`s."""
    return t(lang, message.key, **{k: _param(lang, v) for k, v in message.params.items()})


def _param(lang: str, value: Any) -> Any:
    """Nested messages are translated; a tuple of them becomes a comma-separated list."""
    if isinstance(value, tuple):
        return ", ".join(str(_param(lang, v)) for v in value)
    if hasattr(value, "key") and hasattr(value, "params"):
        return translate(lang, value)
    if hasattr(value, "at") and hasattr(value, "zone"):  # a When: formatted for this reader
        return format_when(value.at, lang, value.zone)
    return value


def format_when(when: datetime, lang: str, zone: ZoneInfo) -> str:
    """A moment as "19:30 Thứ Sáu, 05/12/2026" (Vietnamese) or "19:30 Friday, 05/12/2026"."""
    local = when.astimezone(zone)
    weekday = format_date(local, "EEEE", locale=lang)
    weekday = weekday[:1].upper() + weekday[1:]
    return f"{format_time(local, 'HH:mm', locale=lang)} {weekday}, {local:%d/%m/%Y}"


def format_day(when: datetime, zone: ZoneInfo) -> str:
    """A date as dd/mm/yyyy in the cell's zone."""
    return f"{when.astimezone(zone):%d/%m/%Y}"
