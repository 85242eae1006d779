"""The simulator's Starlette app: routing, request decoding and error envelopes."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulator import control, telegram, zalo
from bot.simulator.state import ApiError, SimulatorState

__all__ = ["Upload", "create_app", "parse_multipart", "read_params"]


@dataclass
class Upload:
    """One file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


async def read_params(
    request: Request, json_fields: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Merge query, JSON, urlencoded or multipart parameters; decode JSON-encoded fields."""
    params: dict[str, Any] = dict(request.query_params)
    files: dict[str, Upload] = {}
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    try:
        if body and ctype.startswith("multipart/form-data"):
            fields, files = parse_multipart(body, ctype)
            params.update(fields)
        elif body and (ctype.startswith("application/json") or body.lstrip()[:1] == b"{"):
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: parameters must be a JSON object")
            params.update(data)
        elif body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        # python-telegram-bot posts forms in which nested objects are JSON-encoded strings.
        for key in set(json_fields) & params.keys():
            if isinstance(params[key], str) and params[key]:
                params[key] = json.loads(params[key])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Bad Request: can't parse request: {exc}") from exc
    return params, files


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields and file parts."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        raise ApiError(400, "Bad Request: multipart boundary missing")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for chunk in body.split(b"--" + found.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        filename = re.search(r'(?:^|;)\s*filename="([^"]*)"', disposition)
        if name is None:
            continue
        data = data.removesuffix(b"\r\n")
        if filename is None:
            fields[name.group(1)] = data.decode()
        else:
            fname = filename.group(1).replace("%22", '"')
            files[name.group(1)] = Upload(fname, headers.get("content-type"), data)
    return fields, files


def error_response(err: ApiError) -> JSONResponse:
    """Render an API error the way both platforms do."""
    return JSONResponse(err.body(), status_code=err.http_status)


async def _dispatch(
    request: Request,
    platform: str,
    method: Callable[[str], Callable[..., Awaitable[Any]] | None],
    check_token: Callable[[SimulatorState, str], None],
    json_fields: Collection[str] = (),
) -> Response:
    state: SimulatorState = request.app.state.sim
    token = request.path_params["token"]
    try:
        check_token(state, token)
        bot = state.bot(platform, token)
        handler = method(request.path_params["method"])
        if handler is None:
            raise ApiError(404, "Not Found")
        params, files = await read_params(request, json_fields)
        result = await handler(state, bot, params, files)
    except ApiError as err:
        return error_response(err)
    return JSONResponse({"ok": True, "result": result})


async def telegram_api(request: Request) -> Response:
    """``/telegram/bot{token}/{method}``: method names are case-insensitive."""
    return await _dispatch(
        request,
        "telegram",
        lambda name: telegram.METHODS.get(name.lower()),
        telegram.check_token,
        telegram.JSON_PARAMS,
    )


async def zalo_api(request: Request) -> Response:
    """``/zalo/bot{token}/{method}``: method names are case-sensitive."""
    return await _dispatch(request, "zalo", zalo.METHODS.get, zalo.check_token)


async def telegram_file(request: Request) -> Response:
    """``/telegram/file/bot{token}/{file_path}``: the bytes behind a getFile answer."""
    state: SimulatorState = request.app.state.sim
    try:
        telegram.check_token(state, request.path_params["token"])
    except ApiError as err:
        return error_response(err)
    stored = state.files.get(state.file_paths.get(request.path_params["file_path"], ""))
    if stored is None or stored.data is None:
        return error_response(ApiError(404, "Not Found"))
    return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")


async def zalo_media(request: Request) -> Response:
    """``/zalo/media/{name}``: the image behind an incoming photo_url."""
    state: SimulatorState = request.app.state.sim
    data = state.zalo_media.get(request.path_params["name"].rsplit(".", 1)[0])
    if data is None:
        return JSONResponse({"error": "no such media"}, status_code=404)
    return Response(data, media_type="image/jpeg")


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths answer like the Bot APIs do, so clients parse a JSON error."""
    return error_response(ApiError(404, "Not Found"))


async def healthz(request: Request) -> Response:
    """Liveness probe."""
    return JSONResponse({"ok": True})


def create_app(state: SimulatorState | None = None, **options: Any) -> Starlette:
    """Build the app around `state` (or a new SimulatorState made from `options`)."""
    sim = state if state is not None else SimulatorState(**options)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await sim.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/telegram/bot{token}/{method}", telegram_api, methods=["GET", "POST"]),
            Route("/telegram/file/bot{token}/{file_path:path}", telegram_file, methods=["GET"]),
            Route("/zalo/bot{token}/{method}", zalo_api, methods=["GET", "POST"]),
            Route("/zalo/media/{name}", zalo_media, methods=["GET"]),
            *control.routes(),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.state.sim = sim
    return app
