"""An async client for the Zalo Bot API over an injectable ``httpx.AsyncClient``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx

from bot.channels.zalo.errors import (
    BadRequest,
    InvalidToken,
    NetworkError,
    NotFound,
    QuotaExceeded,
    ServerError,
    ZaloError,
    ZaloTimeout,
)
from bot.channels.zalo.updates import ZaloUpdate, parse_update
from bot.core.text import split_text

__all__ = ["SentMessage", "ZaloBotClient", "ZaloBotInfo"]

# Only method names, durations and error codes are logged: the URL holds the
# token, and payloads hold residents' chat ids and words.
_log = logging.getLogger("loaphuong.zalo")

_TEXT_LIMIT = 2000  # sendMessage text and sendPhoto caption, in characters
_SECRET_LENGTHS = range(8, 257)  # setWebhook secret_token: 8 to 256 characters
_NOTHING_ARRIVED = 408  # getUpdates: the long poll ended without an update
# Our HTTP read timeout must outlast Zalo's long poll, or every quiet poll
# would end as a ZaloTimeout instead of Zalo's 408.
_LONG_POLL_MARGIN = 10.0
_ERRORS_BY_CODE: dict[int, type[ZaloError]] = {400: BadRequest, 401: InvalidToken, 404: NotFound}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ZaloBotInfo:
    """The bot's own account, as getMe describes it."""

    id: str
    account_name: str
    account_type: str
    can_join_groups: bool


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message Zalo accepted: its id and the time Zalo gives it."""

    message_id: str
    date: datetime


class ZaloBotClient:
    """Calls the Zalo Bot API; every failure is raised as a ``ZaloError``."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://bot-api.zaloplatforms.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
    ) -> None:
        # The token becomes a URL path segment; the message must not echo it.
        if not token or any(c.isspace() or c in "/?#" for c in token):
            raise ValueError("Zalo bot token is empty or not URL-safe")
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._owns_http = http is None
        self._http = httpx.AsyncClient() if http is None else http

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def get_me(self) -> ZaloBotInfo:
        """Describe the bot's own account; a cheap check of the token."""
        result = _expect_object("getMe", await self._request("getMe"))
        try:
            return ZaloBotInfo(
                id=str(result["id"]),
                account_name=str(result["account_name"]),
                account_type=str(result["account_type"]),
                can_join_groups=bool(result.get("can_join_groups", False)),
            )
        except KeyError as exc:
            raise ServerError(f"answer lacks {exc.args[0]}", method="getMe") from None

    # ASYNC109 ignored: `timeout` is how long Zalo holds the poll open, not a
    # deadline for the caller; cancelling from outside still works as usual.
    async def get_updates(self, timeout: int = 30) -> ZaloUpdate | None:  # noqa: ASYNC109
        """Long-poll for one update; None when nothing arrived within ``timeout`` s."""
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        try:
            result = await self._request(
                "getUpdates",
                {"timeout": str(timeout)},  # Zalo documents it as a string
                timeout=timeout + _LONG_POLL_MARGIN,
            )
        except ZaloError as exc:
            if exc.error_code == _NOTHING_ARRIVED:
                return None
            raise
        return parse_update(result) if result else None

    async def set_webhook(self, url: str, secret_token: str) -> bool:
        """Have Zalo POST updates to ``url`` with header X-Bot-Api-Secret-Token."""
        if len(secret_token) not in _SECRET_LENGTHS:
            raise ValueError("secret_token must be 8 to 256 characters")
        await self._request("setWebhook", {"url": url, "secret_token": secret_token})
        return True

    async def delete_webhook(self) -> bool:
        """Stop webhook delivery, so that get_updates can be used."""
        await self._request("deleteWebhook")
        return True

    async def get_webhook_info(self) -> dict[str, Any]:
        """Return Zalo's description of the current webhook."""
        return _expect_object("getWebhookInfo", await self._request("getWebhookInfo"))

    async def send_message(self, chat_id: str, text: str) -> list[SentMessage]:
        """Send ``text``, split into numbered parts of at most 2,000 characters.

        Parts are sent in order; if one fails, the parts before it stay sent.
        """
        if not text.strip():
            raise ValueError("text is empty")
        sent = []
        for part in split_text(text, _TEXT_LIMIT):
            result = await self._request("sendMessage", {"chat_id": chat_id, "text": part})
            sent.append(_sent_message(result))
        return sent

    async def send_photo(
        self, chat_id: str, photo_url: str, caption: str | None = None
    ) -> SentMessage:
        """Send a photo by URL; a caption over 2,000 characters follows as text.

        Zalo caps captions at 2,000 characters, and cutting one would lose
        words, so a longer caption is sent after the photo with send_message.
        Only the photo's SentMessage is returned.
        """
        caption = caption if caption and caption.strip() else None
        long_caption = caption is not None and len(caption) > _TEXT_LIMIT
        payload = {"chat_id": chat_id, "photo": photo_url}
        if caption is not None and not long_caption:
            payload["caption"] = caption
        sent = _sent_message(await self._request("sendPhoto", payload))
        if caption is not None and long_caption:
            await self.send_message(chat_id, caption)
        return sent

    async def send_sticker(self, chat_id: str, sticker: str) -> SentMessage:
        """Send a sticker by its Zalo id."""
        result = await self._request("sendSticker", {"chat_id": chat_id, "sticker": sticker})
        return _sent_message(result)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> bool:
        """Show an action such as "typing" in the chat."""
        await self._request("sendChatAction", {"chat_id": chat_id, "action": action})
        return True

    async def download(self, url: str, limit: int) -> tuple[bytes, str]:
        """Fetch a photo a user sent (Zalo gives a URL); ValueError past `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._http.stream("GET", url, timeout=self._timeout) as response:
                if response.status_code >= 400:
                    raise NotFound("photo not available", method="download")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ValueError("file too large")
                    chunks.append(chunk)
                mime = response.headers.get("content-type", "image/jpeg").split(";")[0]
        except httpx.TimeoutException as exc:
            raise ZaloTimeout(type(exc).__name__, method="download") from None
        except httpx.RequestError as exc:
            raise NetworkError(type(exc).__name__, method="download") from None
        return b"".join(chunks), mime

    async def _request(
        self,
        method: str,
        payload: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx's timeout for this call
    ) -> Any:
        """POST ``payload`` to ``method`` and return its result, or raise a ZaloError."""
        started = time.monotonic()
        try:
            response = await self._post(method, payload, timeout)
            result = _read_answer(method, response)
        except ZaloError as exc:
            _log.debug(
                "zalo %s: %s %s after %.0f ms",
                method,
                type(exc).__name__,
                exc.error_code,
                (time.monotonic() - started) * 1000,
            )
            raise
        _log.debug("zalo %s: ok in %.0f ms", method, (time.monotonic() - started) * 1000)
        return result

    async def _post(
        self, method: str, payload: dict[str, Any] | None, seconds: float | None
    ) -> httpx.Response:
        url = f"{self._base_url}/bot{self._token}/{method}"
        # httpx errors print the URL, hence the token: keep only the class
        # name, and `from None` so the chained traceback is not shown either.
        try:
            return await self._http.post(
                url, json=payload or {}, timeout=self._timeout if seconds is None else seconds
            )
        except httpx.TimeoutException as exc:
            raise ZaloTimeout(type(exc).__name__, method=method) from None
        except httpx.DecodingError as exc:  # a RequestError, but Zalo's fault
            raise ServerError(type(exc).__name__, method=method) from None
        except httpx.RequestError as exc:
            raise NetworkError(type(exc).__name__, method=method) from None


def _read_answer(method: str, response: httpx.Response) -> Any:
    """Return ``result`` of an ok answer; raise the matching ZaloError otherwise.

    Decided on the JSON body, not the HTTP status: Zalo answers errors with
    status 200 or with a status equal to the error code.
    """
    http_error = response.status_code if response.status_code >= 400 else None
    try:
        body = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise ServerError("answer is not JSON", method=method, error_code=http_error) from None
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        raise ServerError("answer is not a Zalo envelope", method=method, error_code=http_error)
    if body["ok"]:
        return body.get("result")
    code = body.get("error_code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = http_error
    description = body.get("description")
    if not isinstance(description, str) or not description:
        description = "no description"
    if code == 429:
        raise QuotaExceeded(description, method=method, retry_after=_retry_after(body))
    if code is not None and code >= 500:
        raise ServerError(description, method=method, error_code=code)
    error = _ERRORS_BY_CODE.get(code, ZaloError) if code is not None else ZaloError
    raise error(description, method=method, error_code=code)


def _retry_after(body: dict[str, Any]) -> float | None:
    # Zalo publishes no retry_after; read Telegram's field in case it appears.
    parameters = body.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _expect_object(method: str, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ServerError("result is not an object", method=method)
    return result


def _sent_message(result: Any) -> SentMessage:
    # ok: true means Zalo took the message. A surprising result must not turn
    # it into an error, or a caller would retry and the resident read it twice.
    result = result if isinstance(result, dict) else {}
    date = result.get("date")
    if isinstance(date, int) and not isinstance(date, bool):
        when = _EPOCH + timedelta(milliseconds=date)
    else:
        when = datetime.now(UTC)
    return SentMessage(message_id=str(result.get("message_id", "")), date=when)
