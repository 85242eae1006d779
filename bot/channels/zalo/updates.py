"""Read Zalo update payloads (from getUpdates or a webhook) into ZaloUpdate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels.zalo.errors import MalformedUpdate

__all__ = ["ZaloUpdate", "parse_update"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ZaloUpdate:
    """One event Zalo delivered: who wrote, in which chat, and what."""

    event_name: str
    message_id: str
    date: datetime
    chat_id: str
    chat_type: str | None
    sender_id: str
    display_name: str | None
    is_bot: bool
    text: str | None
    photo_url: str | None
    caption: str | None
    sticker: str | None
    # Kept for debugging and future fields; left out of repr (personal data)
    # and of comparisons (a dict is not hashable).
    raw: dict[str, Any] = field(repr=False, compare=False)


def parse_update(payload: Any) -> ZaloUpdate:
    """Read an update, bare or wrapped in ``{"ok": true, "result": ...}``."""
    if not isinstance(payload, dict):
        raise MalformedUpdate("update is not an object")
    if "ok" in payload:
        if payload["ok"] is not True:
            raise MalformedUpdate("envelope is not ok")
        payload = payload.get("result")
        if not isinstance(payload, dict):
            raise MalformedUpdate("envelope result is not an object")
    message = _object(payload, "message", "message")
    chat = _object(message, "chat", "message.chat")
    sender = _object(message, "from", "message.from")
    is_bot = sender.get("is_bot", False)
    if not isinstance(is_bot, bool):
        raise MalformedUpdate("message.from.is_bot is not a boolean")
    # Image events carry the URL as photo_url or as photo, depending on version.
    photo_url = _optional_str(message, "photo_url", "message.photo_url")
    if photo_url is None:
        photo_url = _optional_str(message, "photo", "message.photo")
    return ZaloUpdate(
        event_name=_required_str(payload, "event_name", "event_name"),
        message_id=_required_str(message, "message_id", "message.message_id"),
        date=_date(message.get("date")),
        chat_id=_required_str(chat, "id", "message.chat.id"),
        chat_type=_optional_str(chat, "chat_type", "message.chat.chat_type"),
        sender_id=_required_str(sender, "id", "message.from.id"),
        display_name=_optional_str(sender, "display_name", "message.from.display_name"),
        is_bot=is_bot,
        text=_optional_str(message, "text", "message.text"),
        photo_url=photo_url,
        caption=_optional_str(message, "caption", "message.caption"),
        sticker=_optional_str(message, "sticker", "message.sticker"),
        raw=payload,
    )


# The reasons below name fields only, never their values: an update carries
# names and messages of residents, and errors end up in logs.


def _object(parent: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedUpdate(f"{name} is missing or not an object")
    return value


def _required_str(parent: dict[str, Any], key: str, name: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedUpdate(f"{name} is missing or not a string")
    return value


def _optional_str(parent: dict[str, Any], key: str, name: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedUpdate(f"{name} is not a string")
    return value


def _date(value: Any) -> datetime:
    # bool is an int subclass; a JSON true is not a date.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedUpdate("message.date is missing or not an integer")
    try:
        # Milliseconds via timedelta: exact, unlike a float division.
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise MalformedUpdate("message.date is out of range") from None
