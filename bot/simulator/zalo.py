"""Fake Zalo Bot API methods (``/zalo/bot{token}/{method}``) and incoming-update shapes."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.simulator.state import ApiError, BotRecord, SimulatorState, UserRecord

__all__ = ["METHODS", "check_token", "incoming_update"]

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
TEXT_LIMIT = 2000

Endpoint = Callable[[SimulatorState, BotRecord, dict[str, Any], dict[str, Any]], Awaitable[Any]]
METHODS: dict[str, Endpoint] = {}  # exact name -> handler; Zalo method names are case-sensitive


def method(func: Endpoint) -> Endpoint:
    """Register a method under its camelCase name (``get_me`` -> ``getMe``)."""
    head, *rest = func.__name__.split("_")
    METHODS[head + "".join(word.title() for word in rest)] = func
    return func


def check_token(state: SimulatorState, token: str) -> None:
    """401 for a malformed or rejected token."""
    if not TOKEN_RE.match(token) or token in state.reject_tokens:
        raise ApiError(401, "Unauthorized")


def now_ms() -> int:
    """Zalo dates are epoch milliseconds."""
    return int(time.time() * 1000)


def incoming_update(user: UserRecord, message_id: str, event: str, **content: Any) -> dict:
    """An update as Zalo sends it (getUpdates result or webhook body without envelope)."""
    return {
        "event_name": event,
        "message": {
            "message_id": message_id,
            "date": now_ms(),
            "chat": {"id": user.user_id, "chat_type": "PRIVATE"},
            "from": {"id": user.user_id, "display_name": user.name, "is_bot": False},
            **content,
        },
    }


def _chat(state: SimulatorState, bot: BotRecord, params: dict[str, Any]) -> UserRecord:
    """The person behind chat_id; 403 unless they wrote to this bot and did not block it."""
    chat_id = params.get("chat_id")
    if not chat_id:
        raise ApiError(400, "Bad Request: chat_id is required")
    user = state.user("zalo", chat_id)
    if user is None or user.blocked or user.key not in bot.started:
        raise ApiError(403, "Forbidden")
    return user


def _send(
    state: SimulatorState, bot: BotRecord, user: UserRecord, method_name: str, **fields: Any
) -> dict[str, Any]:
    """Apply the quota, log the send and answer with a new message id."""
    if state.admit_send(bot, user.key):
        raise ApiError(429, "Quota exceeded")
    result = {"message_id": state.hex_id(), "date": now_ms()}
    state.record_sent(bot, user.user_id, method_name, **result, **fields)
    return result


def _text(params: dict[str, Any], name: str, *, required: bool) -> str | None:
    """A text field of 1–2000 characters (400 otherwise)."""
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= TEXT_LIMIT:
        if name == "text":
            raise ApiError(400, f"Text length must be between 1 and {TEXT_LIMIT}")
        raise ApiError(400, f"Caption length must be between 1 and {TEXT_LIMIT}")
    return value


@method
async def get_me(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Describe the bot."""
    return {
        "id": bot.bot_id,
        "account_name": "bot.LoaPhuongSim",
        "account_type": "BASIC",
        "can_join_groups": False,
    }


@method
async def get_updates(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Long-poll for ONE update (no offset); 408 in an ok HTTP answer when none came."""
    if bot.webhook_url:
        raise ApiError(400, "Bad Request: webhook is active, getUpdates is not available")
    try:
        raw = params.get("timeout")
        seconds = 30.0 if raw in (None, "") else float(raw)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "Bad Request: timeout must be a number") from exc
    await state.wait_until(lambda: bool(bot.updates) or bool(bot.webhook_url), seconds)
    if bot.updates and not bot.webhook_url:
        return bot.updates.popleft()
    raise ApiError(408, "Request timeout", http_status=200)


def _webhook_info(bot: BotRecord) -> dict[str, Any]:
    return {"url": bot.webhook_url or "", "updated_at": int(bot.webhook_updated_at * 1000)}


@method
async def set_webhook(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Set the webhook (secret_token of 8–256 characters); pending updates follow it."""
    url, secret = params.get("url"), params.get("secret_token")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: url must be an HTTPS URL")
    if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
        raise ApiError(400, "Bad Request: secret_token must be between 8 and 256 characters")
    bot.webhook_url, bot.webhook_secret = url, secret
    bot.webhook_updated_at = time.time()
    state.notify()
    pending = list(bot.updates)
    bot.updates.clear()
    for update in pending:
        state.push_update(bot, update)
    return _webhook_info(bot)


@method
async def delete_webhook(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Remove the webhook, so getUpdates works again."""
    bot.webhook_url = bot.webhook_secret = None
    bot.webhook_updated_at = time.time()
    state.notify()
    return _webhook_info(bot)


@method
async def get_webhook_info(
    state: SimulatorState, bot: BotRecord, params: dict, files: dict
) -> dict:
    """Describe the webhook."""
    return _webhook_info(bot)


@method
async def send_message(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Send a text of 1–2000 characters."""
    text = _text(params, "text", required=True)
    user = _chat(state, bot, params)
    return _send(state, bot, user, "sendMessage", text=text)


@method
async def send_photo(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Send a photo given by URL, with an optional caption."""
    photo = params.get("photo")
    if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: photo must be a URL")
    caption = _text(params, "caption", required=False)
    user = _chat(state, bot, params)
    return _send(state, bot, user, "sendPhoto", photo=photo, caption=caption)


@method
async def send_sticker(state: SimulatorState, bot: BotRecord, params: dict, files: dict) -> dict:
    """Send a sticker by id."""
    sticker = params.get("sticker")
    if not sticker:
        raise ApiError(400, "Bad Request: sticker is required")
    user = _chat(state, bot, params)
    return _send(state, bot, user, "sendSticker", sticker=str(sticker))


@method
async def send_chat_action(
    state: SimulatorState, bot: BotRecord, params: dict, files: dict
) -> bool:
    """Show "typing…" (not logged, no quota)."""
    _chat(state, bot, params)
    if params.get("action") not in ("typing", "upload_photo"):
        raise ApiError(400, "Bad Request: action must be typing or upload_photo")
    return True
