"""Control API (``/control/...``): create people, make them write, read what the bot sent."""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulator import telegram, telegram_objects, zalo
from bot.simulator.state import PLATFORMS, ApiError, BotRecord, SimulatorState, UserRecord

__all__ = ["placeholder_image", "routes"]

LIMIT_FIELDS = ("global_per_s", "global_burst", "per_chat_per_s", "per_chat_burst")


class ControlError(Exception):
    """A control request the simulator cannot honour: answered as ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def placeholder_image(width: int, height: int, fmt: str = "JPEG") -> bytes:
    """A small solid-colour image so getFile, downloads and photo_url work without real data."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 40)).save(buffer, fmt)
    return buffer.getvalue()


def _thumbnail(data: bytes, box: tuple[int, int]) -> bytes:
    try:
        image = Image.open(io.BytesIO(data))
        image.thumbnail(box)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG")
    except (OSError, ValueError):  # not an image Pillow reads: every size gets the bytes
        return data
    return buffer.getvalue()


def _b64(value: Any) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ControlError(400, "data_b64 is not valid base64") from exc


# ----- building incoming messages ------------------------------------------------


def telegram_message(state: SimulatorState, bot: BotRecord, user: UserRecord, body: dict) -> dict:
    """A user's Message with the content named in `body`."""
    content: dict[str, Any] = {}
    if "text" in body:
        text = str(body["text"])
        content["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            length = len(command.encode("utf-16-le")) // 2
            content["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    elif "photo" in body:
        photo = body["photo"] or {}
        original = _b64(photo.get("data_b64")) or placeholder_image(800, 600)
        sizes = [_thumbnail(original, (90, 90)), _thumbnail(original, (320, 320)), original]
        content["photo"] = [
            telegram_objects.photo_size(telegram_objects.store_file(state, "photo", data))
            for data in sizes
        ]
        if photo.get("caption"):
            content["caption"] = photo["caption"]
    elif "location" in body:
        where = body["location"]
        content["location"] = {"latitude": float(where["latitude"])}
        content["location"]["longitude"] = float(where["longitude"])
    elif "document" in body:
        doc = body["document"]
        stored = telegram_objects.store_file(
            state,
            "document",
            _b64(doc.get("data_b64")) or b"",
            mime_type=doc.get("mime_type"),
            file_name=doc.get("file_name"),
        )
        content["document"] = telegram_objects.document_json(stored)
    elif body.get("sticker"):
        stored = telegram_objects.store_file(state, "sticker", placeholder_image(512, 512, "WEBP"))
        content["sticker"] = {
            **telegram_objects.photo_size(stored, 512, 512),
            **{"type": "regular", "is_animated": False, "is_video": False, "emoji": "👍"},
        }
    elif body.get("unsupported"):  # Telegram has no such event: a voice note stands in
        stored = telegram_objects.store_file(state, "voice", b"OggS\x00")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        content["voice"] = {**voice, "duration": 3, "mime_type": "audio/ogg"}
    else:
        raise ControlError(400, "a message needs text, photo, location, document or sticker")
    return {
        "message_id": bot.next_message_id(user.key),
        "from": telegram_objects.user_json(user),
        "chat": telegram_objects.chat_json(user),
        "date": int(time.time()),
        **content,
    }


def zalo_update(state: SimulatorState, base_url: str, user: UserRecord, body: dict) -> dict:
    """A Zalo update with the content named in `body` (no location or document on Zalo)."""
    message_id = state.hex_id()
    if "text" in body:
        return zalo.incoming_update(user, message_id, "message.text.received", text=body["text"])
    if "photo" in body:
        photo = body["photo"] or {}
        state.zalo_media[message_id] = _b64(photo.get("data_b64")) or placeholder_image(800, 600)
        content = {"photo_url": f"{base_url}/zalo/media/{message_id}.jpg"}
        if photo.get("caption"):
            content["caption"] = photo["caption"]
        return zalo.incoming_update(user, message_id, "message.image.received", **content)
    if body.get("sticker"):
        sticker = body["sticker"] if isinstance(body["sticker"], str) else state.hex_id()
        event = "message.sticker.received"
        return zalo.incoming_update(user, message_id, event, sticker=sticker)
    if body.get("unsupported"):
        return zalo.incoming_update(user, message_id, "message.unsupported.received")
    raise ControlError(400, "a Zalo message needs text, photo, sticker or unsupported")


# ----- helpers -------------------------------------------------------------------


def _platform(request: Request) -> str:
    platform = request.path_params.get("platform") or request.query_params.get("platform")
    if platform not in PLATFORMS:
        raise ControlError(404, f"unknown platform {platform!r}; use telegram or zalo")
    return platform


def _pick_bot(state: SimulatorState, platform: str, token: str | None) -> BotRecord:
    """The bot named by token, else the first one that called the simulator."""
    if token:
        try:
            (telegram if platform == "telegram" else zalo).check_token(state, token)
        except ApiError as exc:
            raise ControlError(400, f"token is malformed or rejected: {exc}") from exc
        return state.bot(platform, token)
    if not state.bots[platform]:
        raise ControlError(
            409, f"no {platform} bot has called the simulator yet: start the bot or pass a token"
        )
    return next(iter(state.bots[platform].values()))


def _user(state: SimulatorState, platform: str, user_id: Any) -> UserRecord:
    user = state.user(platform, user_id)
    if user is None:
        raise ControlError(404, f"no {platform} user {user_id!r}: create it with POST users")
    return user


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ControlError(400, "body is not JSON") from exc
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


Handler = Callable[[Request, SimulatorState], Awaitable[Any]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request, request.app.state.sim)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad request: {exc!r}"}, status_code=400)
        return JSONResponse(result)

    return endpoint


# ----- endpoints -----------------------------------------------------------------


async def create_user(request: Request, state: SimulatorState) -> dict:
    """POST /control/{platform}/users {"name", "user_id"?, "language_code"?}."""
    platform, body = _platform(request), await _body(request)
    if not body.get("name"):
        raise ControlError(400, "name is required")
    try:
        user = state.add_user(
            platform,
            body["name"],
            user_id=body.get("user_id"),
            language_code=body.get("language_code"),
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
        )
    except ValueError as exc:
        raise ControlError(409, str(exc)) from exc
    return {
        "user_id": user.user_id,
        "chat_id": user.user_id,
        "name": user.name,
        "last_seq": state.seq,
    }


async def send_message(request: Request, state: SimulatorState) -> dict:
    """POST /control/{platform}/messages: the user writes to the bot."""
    platform, body = _platform(request), await _body(request)
    user = _user(state, platform, body.get("user_id"))
    bot = _pick_bot(state, platform, body.get("token"))
    if platform == "zalo":
        if "location" in body or "document" in body:
            raise ControlError(400, "Zalo bots receive no location or document messages")
        base_url = state.base_url or str(request.base_url).rstrip("/")
        update = zalo_update(state, base_url, user, body)
        bot.started.add(user.key)
        state.push_update(bot, update)
        return {"message_id": update["message"]["message_id"]}
    message = telegram_message(state, bot, user, body)
    bot.started.add(user.key)
    update = {"update_id": bot.next_update_id, "message": message}
    bot.next_update_id += 1
    state.push_update(bot, update)
    return {"update_id": update["update_id"], "message_id": message["message_id"]}


async def press_button(request: Request, state: SimulatorState) -> dict:
    """POST /control/telegram/callback {"user_id", "data", "message_id"?}: press a button."""
    body = await _body(request)
    user = _user(state, "telegram", body.get("user_id"))
    bot = _pick_bot(state, "telegram", body.get("token"))
    data = str(body["data"])
    if body.get("message_id") is not None:
        message = bot.messages.get((user.key, int(body["message_id"])))
    else:
        candidates = [
            msg
            for (chat, _), msg in bot.messages.items()
            if chat == user.key
            and any(
                button.get("callback_data") == data
                for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in row
            )
        ]
        message = max(candidates, key=lambda msg: msg["message_id"], default=None)
    if message is None:
        raise ControlError(404, f"no bot message to {user.user_id} with a button {data!r}")
    query_id = str(4_000_000_000_000_000_000 + state.rng.getrandbits(60))
    bot.callbacks[query_id] = {"answered": False, "data": data, "user_id": user.user_id}
    query = {
        "id": query_id,
        "from": telegram_objects.user_json(user),
        "chat_instance": str(-7_000_000_000_000_000_000 - int(user.user_id)),
        "data": data,
        "message": json.loads(json.dumps(message)),
    }
    update = {"update_id": bot.next_update_id, "callback_query": query}
    bot.next_update_id += 1
    state.push_update(bot, update)
    return {"update_id": update["update_id"], "callback_query_id": query_id}


async def sent(request: Request, state: SimulatorState) -> dict:
    """GET /control/{platform}/sent?chat_id=&after=&wait=: what the bot sent or edited."""
    platform, query = _platform(request), request.query_params
    chat_id, after = query.get("chat_id"), int(query.get("after") or 0)
    wait = min(float(query.get("wait") or 0), 60.0)

    def items() -> list[dict]:
        return state.sent_items(platform, chat_id, after)

    await state.wait_until(lambda: bool(items()), wait)
    return {"items": items(), "last_seq": state.seq}


async def block(request: Request, state: SimulatorState) -> dict:
    """POST /control/{platform}/block {"user_id", "blocked"}."""
    platform, body = _platform(request), await _body(request)
    user = _user(state, platform, body.get("user_id"))
    user.blocked = bool(body.get("blocked", True))
    return {"user_id": user.user_id, "blocked": user.blocked}


async def limits(request: Request, state: SimulatorState) -> dict:
    """POST /control/limits {"platform", limit fields (null disables)}."""
    body = await _body(request)
    platform = body.get("platform")
    if platform not in PLATFORMS:
        raise ControlError(400, "platform must be telegram or zalo")
    changes = {key: body[key] for key in LIMIT_FIELDS if key in body}
    try:
        current = state.set_limits(platform, changes)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from exc
    return {"platform": platform, **current.to_dict()}


async def stats(request: Request, state: SimulatorState) -> dict:
    """GET /control/stats?platform=: per-token send counts, 429s and peak rate."""
    chosen = [_platform(request)] if request.query_params.get("platform") else PLATFORMS
    return {
        platform: {token: bot.limiter.stats() for token, bot in state.bots[platform].items()}
        for platform in chosen
    }


async def commands(request: Request, state: SimulatorState) -> dict:
    """GET /control/{platform}/commands: the stored command menus."""
    platform = _platform(request)
    return {
        token: [
            {"scope": json.loads(scope), "language_code": language, "commands": menu}
            for (scope, language), menu in bot.commands.items()
        ]
        for token, bot in state.bots[platform].items()
    }


async def bots(request: Request, state: SimulatorState) -> list:
    """GET /control/{platform}/bots: tokens seen, their webhooks and pending updates."""
    return [
        {"token": bot.token, "webhook_url": bot.webhook_url, "pending": len(bot.updates)}
        for bot in state.bots[_platform(request)].values()
    ]


async def deliveries(request: Request, state: SimulatorState) -> list:
    """GET /control/webhook-deliveries?platform=: every webhook attempt and its status."""
    platform = request.query_params.get("platform")
    return [d for d in state.deliveries if platform in (None, d["platform"])]


async def options(request: Request, state: SimulatorState) -> dict:
    """POST /control/{platform}/options {"token"?, "reject_token"?, "zalo_bare_webhook"?}."""
    platform, body = _platform(request), await _body(request)
    if "reject_token" in body:
        state.reject_tokens.add(body["reject_token"])
    if "accept_token" in body:
        state.reject_tokens.discard(body["accept_token"])
    if "zalo_bare_webhook" in body:
        _pick_bot(state, platform, body.get("token")).webhook_bare = bool(body["zalo_bare_webhook"])
    return {"reject_tokens": sorted(state.reject_tokens)}


async def reset(request: Request, state: SimulatorState) -> dict:
    """POST /control/reset: forget everything."""
    state.reset()
    return {"ok": True}


def routes() -> list[Route]:
    """The control routes."""
    table: list[tuple[str, Handler, str]] = [
        ("/control/limits", limits, "POST"),
        ("/control/stats", stats, "GET"),
        ("/control/webhook-deliveries", deliveries, "GET"),
        ("/control/reset", reset, "POST"),
        ("/control/telegram/callback", press_button, "POST"),
        ("/control/{platform}/users", create_user, "POST"),
        ("/control/{platform}/messages", send_message, "POST"),
        ("/control/{platform}/sent", sent, "GET"),
        ("/control/{platform}/block", block, "POST"),
        ("/control/{platform}/commands", commands, "GET"),
        ("/control/{platform}/bots", bots, "GET"),
        ("/control/{platform}/options", options, "POST"),
    ]
    return [Route(path, _endpoint(handler), methods=[verb]) for path, handler, verb in table]
