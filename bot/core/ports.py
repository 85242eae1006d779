"""The one small outbound port each platform implements, and its typed failures."""

from __future__ import annotations

from typing import Protocol

from bot.core.events import Attachment, Event, OutMessage


class DeliveryError(Exception):
    """A message could not be delivered."""


class Unreachable(DeliveryError):
    """The person blocked the bot, left, or never wrote to it: do not retry."""


class RateLimited(DeliveryError):
    """The platform asked us to wait `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """A timeout or server error: worth retrying later."""


class Channel(Protocol):
    """Send, edit and acknowledge on one platform; the core never sees the platform's types."""

    platform: str

    async def send(self, chat_id: str, message: OutMessage) -> str | None:
        """Send (or edit, when `message.edit_ref` is set); return the platform message id."""
        ...

    async def acknowledge(self, event: Event) -> None:
        """Tell the platform a button press was received (no-op where there are no buttons)."""
        ...

    async def download(self, attachment: Attachment, limit: int) -> tuple[bytes, str, str]:
        """Fetch a file a person sent: (bytes, file name, MIME type); ValueError past `limit`."""
        ...

    async def set_menu(
        self, chat_id: str | None, commands: list[tuple[str, str]], lang: str
    ) -> None:
        """Show these commands in the chat's menu (None: the default menu for everyone)."""
        ...
