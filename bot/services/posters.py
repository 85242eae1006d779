"""The residents' notice-board poster, shared by `loaphuong qr` and the secretary's /madan."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import t
from bot.printables import PosterLabels, render_resident_poster
from bot.services import files
from storage.models import StoredFile, Unit


def labels(lang: str) -> PosterLabels:
    """The poster's words in one language."""
    return PosterLabels(
        heading=t(lang, "poster.heading"),
        body=t(lang, "poster.body"),
        code=t(lang, "poster.code"),
        footer=t(lang, "poster.footer"),
    )


def qr_data(code: str, telegram_username: str | None) -> str:
    """The Telegram deep link when the bot's username is known, else the bare code."""
    return f"https://t.me/{telegram_username}?start={code}" if telegram_username else code


def render(unit: Unit, code: str, lang: str, telegram_username: str | None, out: Path) -> Path:
    """Draw the poster to a PNG or PDF file."""
    place = unit.neighbourhood or unit.name
    return render_resident_poster(place, code, qr_data(code, telegram_username), labels(lang), out)


async def stored_poster(
    session: AsyncSession,
    now: datetime,
    unit: Unit,
    code: str,
    lang: str,
    telegram_username: str | None,
) -> StoredFile:
    """The poster as a stored PNG, drawn once per code and language (drawing takes a while)."""
    key = f"poster:{unit.id}:{code}:{lang}:{telegram_username or '-'}"
    existing = await files.by_key(session, key)
    if existing is not None:
        return existing

    def draw() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = render(unit, code, lang, telegram_username, Path(folder) / "poster.png")
            return path.read_bytes()

    content = await asyncio.to_thread(draw)
    name = f"loa-phuong-{code}.png"
    return await files.store(
        session, now, file_name=name, mime_type="image/png", content=content, key=key
    )
