"""Fake Telegram Bot API methods (``/telegram/bot{token}/{method}``, case-insensitive)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.simulator.state import ApiError, BotRecord, SimulatorState, StoredFile, UserRecord
from bot.simulator.telegram_objects import (
    FormatError,
    bot_user,
    buttons_of,
    chat_json,
    document_json,
    photo_size,
    render,
    store_file,
)

if TYPE_CHECKING:
    from bot.simulator.app import Upload

__all__ = ["JSON_PARAMS", "METHODS", "check_token"]

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{10,}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# python-telegram-bot posts forms in which every non-string value is JSON-encoded.
# fmt: off
JSON_PARAMS = frozenset({
    "reply_markup", "commands", "scope", "allowed_updates", "entities", "caption_entities",
    "link_preview_options", "reply_parameters", "media", "menu_button",
})
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
})
# fmt: on
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


# ----- one API call -------------------------------------------------------------


@dataclass
class Call:
    """The state, bot and decoded parameters of one Bot API request."""

    state: SimulatorState
    bot: BotRecord
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)

    def int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter (400 if not one)."""
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from exc

    def flag(self, name: str) -> bool:
        """A boolean parameter, sent as true/false, 1/0 or a JSON boolean."""
        return str(self.params.get(name, "")).lower() in ("true", "1")

    def chat(self) -> UserRecord:
        """Resolve chat_id to a person the bot may write to (400/403 otherwise)."""
        raw = self.params.get("chat_id")
        if raw in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        user = self.state.user("telegram", raw)
        if user is None:
            raise ApiError(400, "Bad Request: chat not found")
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if user.key not in self.bot.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return user

    def text(self, name: str, limit: int, *, required: bool) -> str | None:
        """Render formatted text to what the user reads; check emptiness and length."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            if required:
                raise ApiError(400, "Bad Request: message text is empty")
            return None
        try:
            shown = render(str(raw), self.params.get("parse_mode"))
        except FormatError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
        if required and not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(shown.encode("utf-16-le")) // 2 > limit:
            what = "message is too long" if name == "text" else "message caption is too long"
            raise ApiError(400, f"Bad Request: {what}")
        return shown

    def markup(self) -> dict[str, Any] | None:
        """Validate reply_markup; return the inline keyboard to echo in the Message, if any."""
        markup = self.params.get("reply_markup")
        if markup in (None, ""):
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not ({"url", "switch_inline_query", "web_app"} & button.keys()):
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
        return {"inline_keyboard": rows}

    def admit(self, user: UserRecord) -> None:
        """Apply the send limits (429 with retry_after when over)."""
        retry = self.state.admit_send(self.bot, user.key)
        if retry:
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def new_message(self, user: UserRecord, **content: Any) -> dict[str, Any]:
        """Create and remember a bot Message in the user's chat."""
        message = {
            "message_id": self.bot.next_message_id(user.key),
            "from": bot_user(self.state, self.bot),
            "chat": chat_json(user),
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v is not None},
        }
        self.bot.messages[(user.key, message["message_id"])] = message
        return message

    def message(self, user: UserRecord) -> dict[str, Any]:
        """The bot's message named by message_id (400 if unknown)."""
        if self.params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not simulated")
        found = self.bot.messages.get((user.key, self.int("message_id", 0) or 0))
        if found is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return found

    def file(self, kind: str) -> StoredFile:
        """The file of a send: an uploaded part, a known file_id, or an HTTP URL."""
        value = self.params.get(kind)
        upload = self.files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
        if upload is not None:
            return store_file(
                self.state, kind, upload.data, mime_type=upload.content_type,
                file_name=upload.filename,
            )  # fmt: skip
        if not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if value in self.state.files:
            return self.state.files[value]
        if str(value).startswith(("http://", "https://")):
            name = str(value).rsplit("/", 1)[-1] or None
            return store_file(self.state, kind, None, url=str(value), file_name=name)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")


# ----- methods --------------------------------------------------------------------

Method = Callable[[Call], Awaitable[Any]]
Endpoint = Callable[[SimulatorState, BotRecord, dict[str, Any], dict[str, Any]], Awaitable[Any]]
METHODS: dict[str, Endpoint] = {}  # lower-cased name -> handler; Telegram ignores case


def method(name: str) -> Callable[[Method], Method]:
    """Register a Bot API method under its lower-cased name."""

    def register(func: Method) -> Method:
        async def endpoint(state: SimulatorState, bot: BotRecord, params: dict[str, Any],
                           files: dict[str, Upload]) -> Any:  # fmt: skip
            return await func(Call(state, bot, params, files))

        METHODS[name.lower()] = endpoint
        return func

    return register


@method("getMe")
async def get_me(c: Call) -> dict[str, Any]:
    """Describe the bot."""
    me = bot_user(c.state, c.bot)
    me.update(can_join_groups=False, can_read_all_group_messages=False,
              supports_inline_queries=False)  # fmt: skip
    return me


@method("getUpdates")
async def get_updates(c: Call) -> list[dict[str, Any]]:
    """Confirm updates below offset, then long-poll for the rest."""
    if c.bot.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset, queue = c.int("offset"), c.bot.updates
    if offset is not None and offset >= 0:
        while queue and queue[0]["update_id"] < offset:
            queue.popleft()
    elif offset is not None:
        while len(queue) > -offset:
            queue.popleft()
    limit = min(max(c.int("limit", 100) or 100, 1), 100)
    timeout = float(c.params.get("timeout") or 0)
    await c.state.wait_until(lambda: bool(queue) or bool(c.bot.webhook_url), timeout)
    return [] if c.bot.webhook_url else list(queue)[:limit]


@method("setWebhook")
async def set_webhook(c: Call) -> bool:
    """Set (or, with an empty url, remove) the webhook; pending updates follow it."""
    url = str(c.params.get("url") or "")
    secret = c.params.get("secret_token") or None
    if secret is not None and not SECRET_RE.match(str(secret)):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    if c.flag("drop_pending_updates"):
        c.bot.updates.clear()
    c.bot.webhook_url, c.bot.webhook_secret = url or None, secret
    c.bot.webhook_updated_at = time.time()
    c.state.notify()
    if url:
        pending = list(c.bot.updates)
        c.bot.updates.clear()
        for update in pending:
            c.state.push_update(c.bot, update)
    return True


@method("deleteWebhook")
async def delete_webhook(c: Call) -> bool:
    """Remove the webhook; optionally drop pending updates."""
    if c.flag("drop_pending_updates"):
        c.bot.updates.clear()
    c.bot.webhook_url = c.bot.webhook_secret = None
    c.state.notify()
    return True


@method("getWebhookInfo")
async def get_webhook_info(c: Call) -> dict[str, Any]:
    """Describe the webhook."""
    info: dict[str, Any] = {
        "url": c.bot.webhook_url or "",
        "has_custom_certificate": False,
        "pending_update_count": len(c.bot.updates),
    }
    if c.bot.webhook_url:
        info["max_connections"] = 40
    if c.bot.webhook_last_error:
        info.update(last_error_date=int(time.time()), last_error_message=c.bot.webhook_last_error)
    return info


@method("sendMessage")
async def send_message(c: Call) -> dict[str, Any]:
    """Send a text message, optionally with an inline keyboard."""
    user = c.chat()
    text = c.text("text", 4096, required=True)
    markup = c.markup()
    c.admit(user)
    msg = c.new_message(user, text=text, reply_markup=markup)
    c.state.record_sent(
        c.bot, user.user_id, "sendMessage", message_id=msg["message_id"], text=text,
        raw_text=c.params.get("text"), parse_mode=c.params.get("parse_mode"),
        buttons=buttons_of(markup), date=msg["date"],
    )  # fmt: skip
    return msg


async def _send_file(c: Call, kind: str) -> dict[str, Any]:
    """Send a photo or a document with an optional caption (at most 1024 characters)."""
    user = c.chat()
    caption = c.text("caption", 1024, required=False)
    markup = c.markup()
    stored = c.file(kind)
    c.admit(user)
    if kind == "photo":
        content: dict[str, Any] = {"photo": [photo_size(stored)]}
        extra: dict[str, Any] = {"photo": stored.file_id}
    else:
        content = {"document": document_json(stored)}
        extra = {"document": {"file_name": stored.file_name, "file_id": stored.file_id}}
    msg = c.new_message(user, **content, caption=caption, reply_markup=markup)
    c.state.record_sent(
        c.bot, user.user_id, f"send{kind.title()}", message_id=msg["message_id"],
        caption=caption, buttons=buttons_of(markup), date=msg["date"], **extra,
    )  # fmt: skip
    return msg


@method("sendPhoto")
async def send_photo(c: Call) -> dict[str, Any]:
    """Send a photo (upload, file_id or URL)."""
    return await _send_file(c, "photo")


@method("sendDocument")
async def send_document(c: Call) -> dict[str, Any]:
    """Send a document (upload, file_id or URL)."""
    return await _send_file(c, "document")


async def _edit(c: Call, field_name: str | None) -> dict[str, Any]:
    """Edit text, caption or only the keyboard of a bot message (not rate-limited)."""
    user = c.chat()
    msg = c.message(user)
    new = dict(msg)
    if field_name is not None:
        if field_name == "text" and "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        limit = 4096 if field_name == "text" else 1024
        new[field_name] = c.text(field_name, limit, required=field_name == "text")
    new["reply_markup"] = c.markup()
    new = {k: v for k, v in new.items() if v is not None and k != "edit_date"}
    if new == {k: v for k, v in msg.items() if k != "edit_date"}:
        raise ApiError(400, NOT_MODIFIED)
    new["edit_date"] = int(time.time())
    msg.clear()
    msg.update(new)
    method_name = {"text": "editMessageText", "caption": "editMessageCaption"}.get(
        field_name or "", "editMessageReplyMarkup"
    )
    c.state.record_sent(
        c.bot, user.user_id, method_name, message_id=msg["message_id"],
        text=msg.get("text") if field_name == "text" else None,
        caption=msg.get("caption") if field_name == "caption" else None,
        buttons=buttons_of(msg.get("reply_markup")), date=msg["edit_date"],
    )  # fmt: skip
    return msg


@method("editMessageText")
async def edit_message_text(c: Call) -> dict[str, Any]:
    """Replace a message's text (and keyboard: omitted means removed)."""
    return await _edit(c, "text")


@method("editMessageCaption")
async def edit_message_caption(c: Call) -> dict[str, Any]:
    """Replace a message's caption (and keyboard)."""
    return await _edit(c, "caption")


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(c: Call) -> dict[str, Any]:
    """Replace or remove a message's inline keyboard."""
    return await _edit(c, None)


@method("deleteMessage")
async def delete_message(c: Call) -> bool:
    """Delete a bot message."""
    user = c.chat()
    msg = c.message(user)
    del c.bot.messages[(user.key, msg["message_id"])]
    c.state.record_sent(c.bot, user.user_id, "deleteMessage", message_id=msg["message_id"])
    return True


@method("answerCallbackQuery")
async def answer_callback_query(c: Call) -> bool:
    """Answer a button press once."""
    query = c.bot.callbacks.get(str(c.params.get("callback_query_id")))
    if query is None or query["answered"]:
        raise ApiError(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
    query.update(answered=True, text=c.params.get("text"), show_alert=c.flag("show_alert"))
    return True


@method("getFile")
async def get_file(c: Call) -> dict[str, Any]:
    """Describe a file so it can be downloaded from the file URL."""
    stored = c.state.files.get(str(c.params.get("file_id")))
    if stored is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    info = {k: v for k, v in document_json(stored).items() if k in ("file_id", "file_size")}
    info.update(file_unique_id=stored.file_unique_id, file_path=stored.file_path)
    return info


def _commands_key(c: Call) -> tuple[str, str]:
    scope = c.params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(c.params.get("language_code") or "")


@method("setMyCommands")
async def set_my_commands(c: Call) -> bool:
    """Store the command menu for a scope and language."""
    commands = c.params.get("commands")
    if not isinstance(commands, list):
        raise ApiError(400, "Bad Request: commands must be a JSON array")
    for command in commands:
        if not COMMAND_RE.match(str(command.get("command", ""))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    c.bot.commands[_commands_key(c)] = [
        {"command": x["command"], "description": x["description"]} for x in commands
    ]
    return True


@method("getMyCommands")
async def get_my_commands(c: Call) -> list[dict[str, Any]]:
    """Return the command menu of a scope and language."""
    return c.bot.commands.get(_commands_key(c), [])


@method("deleteMyCommands")
async def delete_my_commands(c: Call) -> bool:
    """Remove the command menu of a scope and language."""
    c.bot.commands.pop(_commands_key(c), None)
    return True


@method("sendChatAction")
async def send_chat_action(c: Call) -> bool:
    """Show "typing…" (not logged, not rate-limited)."""
    c.chat()
    if c.params.get("action") not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    return True


async def _accepted(c: Call) -> bool:
    return True


for _name in ("setMyDescription", "setMyShortDescription", "setMyName", "setChatMenuButton"):
    method(_name)(_accepted)


def check_token(state: SimulatorState, token: str) -> None:
    """401 for a malformed or rejected token."""
    if not TOKEN_RE.match(token) or token in state.reject_tokens:
        raise ApiError(401, "Unauthorized")
