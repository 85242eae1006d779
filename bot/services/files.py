"""Files the bot sends, and signed, expiring links to them (Zalo can only send a URL)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StoredFile

MAX_BYTES = 20 * 1024 * 1024  # Telegram bots may upload up to 50 MB; a cell's files are small


async def store(
    session: AsyncSession,
    now: datetime,
    *,
    file_name: str,
    mime_type: str,
    content: bytes,
    key: str | None = None,
) -> StoredFile:
    """Keep a file; with a `key`, an existing file of that key is returned instead."""
    if key is not None and (existing := await by_key(session, key)) is not None:
        return existing
    if len(content) > MAX_BYTES:
        raise ValueError("file too large")
    stored = StoredFile(
        key=key,
        file_name=file_name,
        mime_type=mime_type,
        size=len(content),
        content=content,
        created_at=now,
    )
    session.add(stored)
    await session.flush()
    return stored


async def by_key(session: AsyncSession, key: str) -> StoredFile | None:
    """A stored file by its key (e.g. a poster drawn for one code and language)."""
    return await session.scalar(select(StoredFile).where(StoredFile.key == key))


def signature(secret: bytes, file_id: int, expires: int) -> str:
    """HMAC of the file id and the expiry second."""
    return hmac.new(secret, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def signed_path(secret: bytes, file_id: int, file_name: str, expires: datetime) -> str:
    """The path part of a link valid until `expires`."""
    exp = int(expires.timestamp())
    return f"/files/{file_id}/{quote(file_name)}?exp={exp}&sig={signature(secret, file_id, exp)}"


def link_is_valid(secret: bytes, file_id: int, exp: int, sig: str, now: datetime) -> bool:
    """Constant-time check of a link's signature, then of its expiry."""
    good = hmac.compare_digest(signature(secret, file_id, exp), sig)
    return good and now.timestamp() < exp
