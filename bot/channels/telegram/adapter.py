"""Telegram adapter on python-telegram-bot: updates → events, rendered messages → API calls."""

from __future__ import annotations

import asyncio
import logging
import mimetypes

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
    User,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.core.events import Attachment, Event, EventKind, OutMessage
from bot.core.ports import DeliveryError, RateLimited, TransientError, Unreachable
from bot.core.ratelimit import RateLimiter
from bot.core.text import split_text

log = logging.getLogger("loaphuong.telegram")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
RETRIES = 3


def display_name(user: User) -> str:
    """The name as a Vietnamese writes it: family name first when Telegram has it last."""
    if user.last_name and (
        (user.language_code or "").startswith("vi")
        or not f"{user.first_name}{user.last_name}".isascii()
    ):
        return f"{user.last_name} {user.first_name}"
    return user.full_name


def to_event(update: Update) -> Event | None:
    """The neutral event for an update, or None for kinds the bot ignores (edits, channels)."""
    uid = str(update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = str(message.chat.id) if message is not None else str(query.from_user.id)
        return Event(
            platform="telegram",
            update_id=uid,
            user_id=str(query.from_user.id),
            chat_id=chat_id,
            kind=EventKind.choice,
            data=query.data,
            display_name=display_name(query.from_user),
            language_code=query.from_user.language_code,
            message_ref=str(message.message_id) if message is not None else None,
            callback_ref=query.id,
        )
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return None
    user = message.from_user
    common = {
        "platform": "telegram",
        "update_id": uid,
        "user_id": str(user.id),
        "chat_id": str(message.chat.id),
        "display_name": display_name(user),
        "language_code": user.language_code,
    }
    if message.text is not None:
        parsed = Event.parse_command(message.text)
        if parsed is not None:
            name, args = parsed
            return Event(
                kind=EventKind.command, text=message.text, command=name, args=args, **common
            )
        return Event(kind=EventKind.text, text=message.text, **common)
    if message.photo:
        largest = message.photo[-1]
        return Event(
            kind=EventKind.photo,
            text=message.caption or "",
            attachment=Attachment(ref=largest.file_id),
            **common,
        )
    if message.location is not None:
        loc = (message.location.latitude, message.location.longitude)
        return Event(kind=EventKind.location, location=loc, **common)
    if message.document is not None:
        doc = message.document
        return Event(
            kind=EventKind.document,
            text=message.caption or "",
            attachment=Attachment(ref=doc.file_id, file_name=doc.file_name),
            **common,
        )
    if message.sticker is not None:
        return Event(kind=EventKind.sticker, **common)
    return Event(kind=EventKind.unsupported, **common)


class TelegramChannel:
    """Sends through a python-telegram-bot `Application`'s bot, paced by a rate limiter."""

    platform = "telegram"

    def __init__(self, application: Application, limiter: RateLimiter) -> None:  # type: ignore[type-arg]
        self.application = application
        self.limiter = limiter
        self._uploaded: dict[int, str] = {}

    @property
    def _bot(self):  # type: ignore[no-untyped-def]
        return self.application.bot

    async def send(self, chat_id: str, message: OutMessage) -> str | None:
        """Send or edit; long text is split, the buttons ride on the last part."""
        markup = _keyboard(message)
        if message.file is not None:
            sent_file = await self._send_file(chat_id, message, markup)
            if len(message.text) <= CAPTION_LIMIT:
                return sent_file
        if message.edit_ref is not None and len(message.text) <= TEXT_LIMIT:
            edited = await self._call(
                chat_id,
                lambda: self._bot.edit_message_text(
                    chat_id=int(chat_id),
                    message_id=int(message.edit_ref),
                    text=message.text,
                    reply_markup=markup,
                ),
                editing=True,
            )
            if edited is not None:
                return message.edit_ref
        parts = split_text(message.text, TEXT_LIMIT)
        sent_id: str | None = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent = await self._call(
                chat_id,
                lambda part=part, last=last: self._bot.send_message(
                    chat_id=int(chat_id), text=part, reply_markup=markup if last else None
                ),
            )
            sent_id = str(sent.message_id) if sent is not None else sent_id
        return sent_id

    async def _send_file(
        self, chat_id: str, message: OutMessage, markup: InlineKeyboardMarkup | None
    ) -> str | None:
        """Upload the file; a short text rides along as its caption, a long one follows it."""
        assert message.file is not None
        file = message.file
        fits = len(message.text) <= CAPTION_LIMIT
        caption = message.text if fits else None
        # Upload once, then reuse Telegram's file id: a broadcast sends the same PDF to all.
        known = self._uploaded.get(file.cache_key) if file.cache_key is not None else None
        upload = known or InputFile(file.content, filename=file.file_name)
        send = self._bot.send_photo if file.photo else self._bot.send_document
        key = "photo" if file.photo else "document"
        sent = await self._call(
            chat_id,
            lambda: send(
                chat_id=int(chat_id),
                caption=caption,
                reply_markup=markup if fits else None,
                **{key: upload},
            ),
        )
        if sent is None:
            return None
        if file.cache_key is not None and known is None:
            media = sent.photo[-1] if file.photo and sent.photo else sent.document
            if media is not None:
                self._uploaded[file.cache_key] = media.file_id
        return str(sent.message_id)

    async def _call(self, chat_id: str, make, *, editing: bool = False):  # type: ignore[no-untyped-def]
        """One API call with pacing, `retry_after` honoured, and errors made neutral."""
        for attempt in range(1, RETRIES + 1):
            if not editing:
                await self.limiter.wait(chat_id)
            try:
                return await make()
            except RetryAfter as exc:
                delay = float(
                    exc.retry_after
                    if isinstance(exc.retry_after, int | float)
                    else exc.retry_after.total_seconds()
                )
                log.warning("telegram asked to wait %.1f s", delay)
                if attempt == RETRIES:
                    raise RateLimited(delay) from None
                await asyncio.sleep(delay)
            except Forbidden:
                raise Unreachable("telegram: forbidden") from None
            except BadRequest as exc:
                if editing:
                    # "message is not modified" or too old to edit: a fresh message will do.
                    log.debug("edit refused: %s", exc.message)
                    return None if "not modified" not in exc.message else True
                raise DeliveryError(f"telegram: bad request: {exc.message}") from None
            except (TimedOut, NetworkError) as exc:
                if attempt == RETRIES:
                    raise TransientError(f"telegram: {type(exc).__name__}") from None
                await asyncio.sleep(0.5 * 2**attempt)
            except TelegramError as exc:
                raise DeliveryError(f"telegram: {type(exc).__name__}") from None
        return None

    async def download(self, attachment: Attachment, limit: int) -> tuple[bytes, str, str]:
        """A file or photo a user sent: (bytes, file name, MIME type); ValueError past `limit`."""
        try:
            file = await self._bot.get_file(attachment.ref)
            if file.file_size and file.file_size > limit:
                raise ValueError("file too large")
            content = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            raise TransientError(f"telegram: {type(exc).__name__}") from None
        if len(content) > limit:
            raise ValueError("file too large")
        path_name = (file.file_path or "").rsplit("/", 1)[-1]
        name = attachment.file_name or path_name or "tep"
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return content, name, mime

    async def acknowledge(self, event: Event) -> None:
        """Stop the button's spinner."""
        if event.callback_ref:
            try:
                await self._bot.answer_callback_query(event.callback_ref)
            except TelegramError as exc:
                raise DeliveryError(type(exc).__name__) from None

    async def set_menu(
        self, chat_id: str | None, commands: list[tuple[str, str]], lang: str
    ) -> None:
        """Show a command menu in one chat, or the default menu for everyone."""
        items = [BotCommand(name, description[:256]) for name, description in commands]
        scope = BotCommandScopeDefault() if chat_id is None else BotCommandScopeChat(int(chat_id))
        code = None if chat_id is not None or lang == "vi" else lang
        try:
            await self._bot.set_my_commands(items, scope=scope, language_code=code)
        except TelegramError as exc:
            raise DeliveryError(type(exc).__name__) from None


def _keyboard(message: OutMessage) -> InlineKeyboardMarkup | None:
    if not message.options:
        return None
    width = max(1, message.columns)
    buttons = [InlineKeyboardButton(o.label, callback_data=o.data) for o in message.options]
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    return InlineKeyboardMarkup(rows)
