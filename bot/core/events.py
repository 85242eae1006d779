"""Neutral types at the edge: what a person did (`Event`) and what the bot answers (`Reply`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class EventKind(StrEnum):
    """What kind of thing arrived."""

    text = "text"
    command = "command"
    choice = "choice"
    photo = "photo"
    location = "location"
    sticker = "sticker"
    document = "document"
    unsupported = "unsupported"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo or file: a platform reference, and a URL when the platform gives one."""

    ref: str
    url: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person did in chat, the same on every platform."""

    platform: str
    update_id: str
    user_id: str
    chat_id: str
    kind: EventKind
    text: str = ""
    command: str | None = None
    args: str = ""
    data: str | None = None
    attachment: Attachment | None = None
    location: tuple[float, float] | None = None
    display_name: str | None = None
    language_code: str | None = None
    message_ref: str | None = None
    callback_ref: str | None = None

    @staticmethod
    def parse_command(text: str) -> tuple[str, str] | None:
        """Split "/Start@bot CODE" into ("start", "CODE"); None when not a command."""
        if not text.startswith("/") or len(text) < 2:
            return None
        head, _, args = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
            return None
        return name, args.strip()


@dataclass(frozen=True, slots=True)
class When:
    """A moment shown in the reader's language and the cell's zone ("19:30 Thứ Sáu, 04/12/2026")."""

    at: datetime
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Msg:
    """A translatable message: a key into locales/ and its parameters."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


def msg(key: str, **params: Any) -> Msg:
    """Shorthand for `Msg(key, params)`."""
    return Msg(key, params)


@dataclass(frozen=True, slots=True)
class Option:
    """One answer to a choice: a button on Telegram, a numbered line on Zalo.

    `data` is a short ASCII id (Telegram allows 64 bytes); `keywords` are typed
    fallbacks ("đồng ý", "co") accepted on every platform.
    """

    data: str
    label: Msg
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileRef:
    """A stored file to send with a reply: as a photo, or as a document."""

    file_id: int
    photo: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says: to the event's chat, or to another person (`to_person`)."""

    text: Msg | tuple[Msg, ...]
    options: tuple[Option, ...] = ()
    to_person: int | None = None
    edit: bool = False
    columns: int = 1
    compact: bool = False
    file: FileRef | None = None


@dataclass(frozen=True, slots=True)
class OutOption:
    """A translated option ready for an adapter."""

    data: str
    label: str


@dataclass(frozen=True, slots=True)
class OutFile:
    """A file ready for an adapter: bytes to upload, or a signed URL where only links work."""

    file_name: str
    mime_type: str
    content: bytes
    photo: bool
    url: str | None = None
    link_text: str = ""
    cache_key: int | None = None


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A translated message ready for an adapter."""

    text: str
    options: tuple[OutOption, ...] = ()
    choice_hint: str = ""
    edit_ref: str | None = None
    columns: int = 1
    file: OutFile | None = None

    def numbered(self) -> str:
        """The text with options as numbered lines, for platforms without buttons."""
        if not self.options:
            return self.text
        lines = [f"{i}. {o.label}" for i, o in enumerate(self.options, start=1)]
        return f"{self.text}\n\n" + "\n".join(lines) + f"\n\n{self.choice_hint}"


def fold(text: str) -> str:
    """Lower-case, strip diacritics and punctuation: "Đồng ý!" → "dong y"."""
    text = text.strip().lower().replace("đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in text)
    return " ".join(kept.split())
