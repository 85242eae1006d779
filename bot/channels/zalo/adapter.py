"""Zalo adapter: updates → events; rendered messages → numbered text (Zalo has no buttons)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.zalo.client import ZaloBotClient
from bot.channels.zalo.errors import (
    InvalidToken,
    MalformedUpdate,
    NetworkError,
    QuotaExceeded,
    ServerError,
    ZaloError,
    ZaloTimeout,
)
from bot.channels.zalo.updates import ZaloUpdate
from bot.core.events import Attachment, Event, EventKind, OutMessage
from bot.core.ports import DeliveryError, RateLimited, TransientError, Unreachable
from bot.core.ratelimit import RateLimiter
from bot.core.text import split_text

log = logging.getLogger("loaphuong.zalo")

TEXT_LIMIT = 2000
RETRIES = 3
QUOTA_PAUSE = 1.0  # Zalo publishes no retry_after: wait a second, then twice that


def to_event(update: ZaloUpdate) -> Event:
    """The neutral event for a Zalo update; the message id is the update id (no offsets)."""
    common = {
        "platform": "zalo",
        "update_id": update.message_id,
        "user_id": update.sender_id,
        "chat_id": update.chat_id,
        "display_name": update.display_name,
    }
    if update.event_name == "message.text.received" and update.text is not None:
        parsed = Event.parse_command(update.text)
        if parsed is not None:
            name, args = parsed
            return Event(
                kind=EventKind.command, text=update.text, command=name, args=args, **common
            )
        return Event(kind=EventKind.text, text=update.text, **common)
    if update.event_name == "message.image.received" and update.photo_url:
        return Event(
            kind=EventKind.photo,
            text=update.caption or "",
            attachment=Attachment(ref=update.photo_url, url=update.photo_url),
            **common,
        )
    if update.event_name == "message.sticker.received":
        return Event(kind=EventKind.sticker, **common)
    return Event(kind=EventKind.unsupported, **common)


class ZaloChannel:
    """Sends through our Zalo client, paced; a choice becomes numbered lines."""

    platform = "zalo"

    def __init__(self, client: ZaloBotClient, limiter: RateLimiter) -> None:
        self.client = client
        self.limiter = limiter

    async def send(self, chat_id: str, message: OutMessage) -> str | None:
        """Send the text (with numbered options) in parts of at most 2,000 characters.

        Zalo takes photos only by URL and no documents at all: a photo goes by its
        signed link, a document becomes a line with its link under the text.
        """
        text = message.numbered()
        file = message.file
        if file is not None and file.url is not None:
            if file.photo:
                await self.limiter.wait(chat_id)
                await self._guard(lambda: self.client.send_photo(chat_id, file.url or ""))
            else:
                text = f"{text}\n\n{file.link_text}"
        elif file is not None:
            log.info("zalo: no PUBLIC_BASE_URL, so a file was not linked")
        sent_id = None
        for part in split_text(text, TEXT_LIMIT):
            sent = await self._call(chat_id, part)
            sent_id = sent or sent_id
        return sent_id

    async def _call(self, chat_id: str, text: str) -> str | None:
        async def send() -> str | None:
            await self.limiter.wait(chat_id)
            parts = await self.client.send_message(chat_id, text)
            return parts[-1].message_id if parts else None

        return await self._guard(send)

    async def _guard(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one API call with retries; turn Zalo's errors into the core's."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await call()
            except QuotaExceeded as exc:
                delay = exc.retry_after or QUOTA_PAUSE * attempt
                log.warning("zalo quota exceeded; waiting %.1f s", delay)
                if attempt == RETRIES:
                    raise RateLimited(delay) from None
                await asyncio.sleep(delay)
            except (ZaloTimeout, ServerError, NetworkError) as exc:
                if attempt == RETRIES:
                    raise TransientError(f"zalo: {type(exc).__name__}") from None
                await asyncio.sleep(0.5 * 2**attempt)
            except ZaloError as exc:
                if exc.error_code == 403:
                    raise Unreachable("zalo: forbidden") from None
                raise DeliveryError(f"zalo: {exc}") from None
        return None

    async def download(self, attachment: Attachment, limit: int) -> tuple[bytes, str, str]:
        """A photo sent by a user: (bytes, file name, MIME type)."""
        if not attachment.url:
            raise DeliveryError("zalo: nothing to download")
        try:
            content, mime = await self.client.download(attachment.url, limit)
        except ZaloError as exc:
            raise TransientError(f"zalo: {type(exc).__name__}") from None
        extension = mimetypes.guess_extension(mime) or ".jpg"
        return content, f"anh{extension}", mime

    async def acknowledge(self, event: Event) -> None:
        """Zalo has no buttons to acknowledge."""

    async def set_menu(
        self, chat_id: str | None, commands: list[tuple[str, str]], lang: str
    ) -> None:
        """Zalo has no command menus: /giupdo lists the commands instead."""


async def poll(
    client: ZaloBotClient, handle: Callable[[Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Long-poll Zalo until `stop` is set; one update per call, nothing arrived is normal."""
    backoff = 1.0
    while not stop.is_set():
        try:
            update = await client.get_updates(timeout=30)
        except InvalidToken:
            log.error("ZALO_BOT_TOKEN was rejected by Zalo; polling stops")
            raise
        except MalformedUpdate as exc:
            log.warning("unreadable zalo update skipped: %s", exc)
            continue
        except ZaloError as exc:
            log.warning("zalo polling failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 60.0)
            continue
        backoff = 1.0
        if update is not None:
            # Shielded: stopping the poller must not cut an update off mid-transaction.
            await asyncio.shield(handle(to_event(update)))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
