"""The one HTTP server: webhooks of both platforms and the health check."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.zalo.adapter import to_event as zalo_event
from bot.channels.zalo.errors import MalformedUpdate
from bot.channels.zalo.updates import parse_update
from bot.core.clock import Clock
from bot.core.events import Event
from bot.services import files
from storage.models import StoredFile

log = logging.getLogger("loaphuong.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY = 1_000_000

TelegramSink = Callable[[dict[str, Any]], Awaitable[bool]]


def secret_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a webhook secret header."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValueError("body too large")
    return json.loads(body)


def create_web_app(
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    link_key: bytes,
    webhook_secret: str | None,
    handle: Callable[[Event], Awaitable[None]],
    telegram_sink: TelegramSink | None,
    zalo_enabled: bool,
) -> Starlette:
    """The ASGI app; webhook routes exist only for platforms with a token."""

    async def healthz(request: Request) -> Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # the health check must answer, whatever the database does
            log.warning("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True})

    async def telegram_webhook(request: Request) -> Response:
        if not secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER), webhook_secret):
            log.warning("telegram webhook refused: wrong or missing secret")
            return JSONResponse({"ok": False}, status_code=403)
        try:
            payload = await _json_body(request)
        except ValueError:
            log.warning("telegram webhook: malformed body")
            return JSONResponse({"ok": False, "error": "malformed body"}, status_code=400)
        if not isinstance(payload, dict) or "update_id" not in payload:
            log.warning("telegram webhook: not an update")
            return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
        assert telegram_sink is not None
        if not await telegram_sink(payload):
            return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
        return JSONResponse({"ok": True})

    async def zalo_webhook(request: Request) -> Response:
        if not secret_matches(request.headers.get(ZALO_SECRET_HEADER), webhook_secret):
            log.warning("zalo webhook refused: wrong or missing secret")
            return JSONResponse({"ok": False}, status_code=403)
        try:
            update = parse_update(await _json_body(request))
        except (ValueError, MalformedUpdate) as exc:
            log.warning("zalo webhook: malformed body (%s)", type(exc).__name__)
            return JSONResponse({"ok": False, "error": "malformed body"}, status_code=400)
        await handle(zalo_event(update))
        return JSONResponse({"ok": True})

    async def file_link(request: Request) -> Response:
        try:
            file_id = int(request.path_params["file_id"])
            exp = int(request.query_params.get("exp", ""))
        except ValueError:
            return Response(status_code=404)
        sig = request.query_params.get("sig", "")
        if not files.link_is_valid(link_key, file_id, exp, sig, clock.now()):
            log.info("file link refused: bad signature or expired")
            return Response(status_code=403)
        async with sessions() as session:
            stored = await session.get(StoredFile, file_id)
        if stored is None:
            return Response(status_code=404)
        disposition = "inline" if stored.mime_type.startswith("image/") else "attachment"
        return Response(
            stored.content,
            media_type=stored.mime_type,
            headers={
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.file_name)}",
                "Cache-Control": "private, max-age=3600",
            },
        )

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/files/{file_id}/{name}", file_link, methods=["GET"]),
    ]
    if telegram_sink is not None:
        routes.append(Route("/webhook/telegram", telegram_webhook, methods=["POST"]))
    if zalo_enabled:
        routes.append(Route("/webhook/zalo", zalo_webhook, methods=["POST"]))
    return Starlette(routes=routes)
