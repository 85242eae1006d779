"""Telegram objects as JSON (users, chats, files, keyboards) and formatted-text rendering."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

from PIL import Image

from bot.simulator.state import BotRecord, SimulatorState, StoredFile, UserRecord

__all__ = [
    "FormatError",
    "bot_user",
    "buttons_of",
    "chat_json",
    "document_json",
    "photo_size",
    "render",
    "store_file",
    "user_json",
]

FILE_KINDS = {  # kind -> (file_id prefix, folder, default extension, default MIME type)
    "photo": ("AgACAgUAAxkBAA", "photos", ".jpg", "image/jpeg"),
    "document": ("BQACAgUAAxkBAA", "documents", "", "application/octet-stream"),
    "sticker": ("CAACAgUAAxkBAA", "stickers", ".webp", "image/webp"),
    "voice": ("AwACAgUAAxkBAA", "voice", ".oga", "audio/ogg"),
}


# ----- formatted text -------------------------------------------------------------


class FormatError(ValueError):
    """Text that Telegram would refuse to parse for its parse_mode."""


# fmt: off
HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
    "tg-spoiler", "tg-emoji", "blockquote",
})
# fmt: on
MD2_MARKUP = "*_~|`"
MD2_RESERVED = "[]()>#+-={}.!"


class _TelegramHTML(HTMLParser):
    """Check Telegram's HTML subset and keep the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shown: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise FormatError(f'Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise FormatError(f'Unmatched end tag "{tag}"')
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.shown.append(data)


def render(text: str, parse_mode: str | None) -> str:
    """Return what the reader sees; raise FormatError where Telegram answers 400."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        if bad := re.search(r"<(?![A-Za-z/])|<[^>]*$", text):
            raise FormatError(f"Unexpected character at byte offset {bad.start()}")
        parser = _TelegramHTML()
        parser.feed(text)
        parser.close()
        if parser.open:
            raise FormatError(f"Can't find end tag corresponding to start tag {parser.open[-1]!r}")
        return "".join(parser.shown)
    if mode == "markdownv2":
        text = re.sub(r"(?<!\\)\[((?:[^\]\\]|\\.)*)\]\((?:[^)\\]|\\.)*\)", r"\1", text)
        shown, chars, in_code = [], iter(enumerate(text)), False
        for index, char in chars:
            if char == "\\":
                shown.append(next(chars, (0, ""))[1])
            elif char == "`":
                in_code = not in_code
            elif in_code or char not in MD2_MARKUP + MD2_RESERVED:
                shown.append(char)
            elif char in MD2_RESERVED and not (char == ">" and text[index - 1 : index] in "\n"):
                raise FormatError(
                    f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
                )
        return "".join(shown)
    if mode == "markdown":
        return re.sub(r"[*_`]", "", text)
    return text


# ----- JSON shapes --------------------------------------------------------------


def bot_user(state: SimulatorState, bot: BotRecord) -> dict[str, Any]:
    """The bot as a User object."""
    return {
        "id": int(bot.bot_id),
        "is_bot": True,
        "first_name": "Loa Phường",
        "username": state.bot_username,
    }


def user_json(user: UserRecord) -> dict[str, Any]:
    """A simulated person as a User object."""
    data: dict[str, Any] = {"id": user.user_id, "is_bot": False, "first_name": user.first_name}
    if user.last_name:
        data["last_name"] = user.last_name
    if user.language_code:
        data["language_code"] = user.language_code
    return data


def chat_json(user: UserRecord) -> dict[str, Any]:
    """The private chat with a simulated person."""
    data: dict[str, Any] = {"id": user.user_id, "type": "private", "first_name": user.first_name}
    if user.last_name:
        data["last_name"] = user.last_name
    return data


def store_file(
    state: SimulatorState,
    kind: str,
    data: bytes | None,
    *,
    mime_type: str | None = None,
    file_name: str | None = None,
    url: str | None = None,
) -> StoredFile:
    """Keep bytes under a new file_id and file_path."""
    prefix, folder, ext, default_mime = FILE_KINDS[kind]
    number = len(state.files) + 1
    if file_name and "." in file_name:
        ext = "." + file_name.rsplit(".", 1)[1]
    width = height = None
    if kind == "photo" and data:
        try:
            width, height = Image.open(io.BytesIO(data)).size
        except (OSError, ValueError):  # not an image Pillow reads: still stored
            width = height = None
    stored = StoredFile(
        file_id=f"{prefix}{number:06d}{state.rng.getrandbits(48):012x}",
        file_unique_id=f"AQAD{state.rng.getrandbits(40):010x}",
        file_path=f"{folder}/file_{number}{ext}",
        data=data,
        mime_type=mime_type or default_mime,
        file_name=file_name,
        url=url,
        width=width,
        height=height,
    )
    state.files[stored.file_id] = stored
    state.file_paths[stored.file_path] = stored.file_id
    return stored


def photo_size(stored: StoredFile, width: int = 320, height: int = 240) -> dict[str, Any]:
    """A PhotoSize object for a stored image."""
    size: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": stored.width or width,
        "height": stored.height or height,
    }
    if stored.data is not None:
        size["file_size"] = len(stored.data)
    return size


def buttons_of(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]] | None:
    """Flatten an inline keyboard to rows of {text, data, url} for the sent log."""
    if not markup or "inline_keyboard" not in markup:
        return None
    return [
        [{"text": b.get("text"), "data": b.get("callback_data"), "url": b.get("url")} for b in row]
        for row in markup["inline_keyboard"]
    ]


def document_json(stored: StoredFile) -> dict[str, Any]:
    """A Document object."""
    doc: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    doc.update(file_name=stored.file_name, mime_type=stored.mime_type)
    if stored.data is not None:
        doc["file_size"] = len(stored.data)
    return {k: v for k, v in doc.items() if v is not None}
