"""An async client for the control API, and SimUser: a scripted person talking to the bot."""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["SimUser", "SimulatorClient", "SimulatorError"]

NUMBERED_LINE = re.compile(r"^\s*(\d+)\s*[.)]\s*(.+?)\s*$", re.MULTILINE)


class SimulatorError(RuntimeError):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _shown(item: dict[str, Any]) -> str:
    """The text a person reads in a sent item (text or caption)."""
    return item.get("text") or item.get("caption") or ""


class SimulatorClient:
    """Drive a running simulator over its control API (``async with SimulatorClient(url)``)."""

    def __init__(
        self, base_url: str, *, http: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None

    async def __aenter__(self) -> SimulatorClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def _call(
        self, verb: str, path: str, *, body: Any = None, params: Any = None, wait: float = 0
    ) -> Any:
        timeout = self._http.timeout if not wait else httpx.Timeout(wait + 30)
        response = await self._http.request(
            verb, f"{self.base_url}{path}", json=body, params=params, timeout=timeout
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise SimulatorError(response.status_code, message)
        return response.json()

    async def health(self) -> bool:
        """True when the simulator answers /healthz."""
        return (await self._call("GET", "/healthz")).get("ok") is True

    async def create_user(self, platform: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create a person (fields: user_id, language_code, first_name, last_name)."""
        body = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
        return await self._call("POST", f"/control/{platform}/users", body=body)

    async def new_user(
        self, platform: str, name: str, *, token: str | None = None, **fields: Any
    ) -> SimUser:
        """Create a person and return a SimUser that only reads messages from now on."""
        made = await self.create_user(platform, name, **fields)
        return SimUser(
            self, platform, made["user_id"], made["chat_id"], name, token, made["last_seq"]
        )

    async def send_message(
        self, platform: str, user_id: Any, *, token: str | None = None, **content: Any
    ) -> dict[str, Any]:
        """Make a person write (content: text, photo, location, document, sticker, unsupported)."""
        body = {"user_id": user_id, **content}
        if token:
            body["token"] = token
        return await self._call("POST", f"/control/{platform}/messages", body=body)

    async def press(
        self, user_id: Any, data: str, *, message_id: int | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Press an inline button on Telegram (newest message with that data by default)."""
        body: dict[str, Any] = {"user_id": user_id, "data": data}
        if message_id is not None:
            body["message_id"] = message_id
        if token:
            body["token"] = token
        return await self._call("POST", "/control/telegram/callback", body=body)

    async def sent(
        self, platform: str, *, chat_id: Any = None, after: int = 0, wait: float = 0.0
    ) -> dict[str, Any]:
        """What the bot sent or edited after `after` (waiting up to `wait` s for something)."""
        params: dict[str, Any] = {"after": after, "wait": wait}
        if chat_id is not None:
            params["chat_id"] = chat_id
        return await self._call("GET", f"/control/{platform}/sent", params=params, wait=wait)

    async def block(self, platform: str, user_id: Any, blocked: bool = True) -> dict[str, Any]:
        """Make a person block (or unblock) the bot."""
        body = {"user_id": user_id, "blocked": blocked}
        return await self._call("POST", f"/control/{platform}/block", body=body)

    async def set_limits(self, platform: str, **limits: float | None) -> dict[str, Any]:
        """Change rate limits (global_per_s, global_burst, per_chat_per_s, per_chat_burst)."""
        return await self._call("POST", "/control/limits", body={"platform": platform, **limits})

    async def stats(self, platform: str | None = None) -> dict[str, Any]:
        """Per-token send statistics, keyed by platform then token."""
        params = {"platform": platform} if platform else None
        return await self._call("GET", "/control/stats", params=params)

    async def commands(self, platform: str = "telegram") -> dict[str, Any]:
        """Stored command menus, keyed by token."""
        return await self._call("GET", f"/control/{platform}/commands")

    async def bots(self, platform: str) -> list[dict[str, Any]]:
        """Bots (tokens) that have called the simulator."""
        return await self._call("GET", f"/control/{platform}/bots")

    async def wait_for_bot(self, platform: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """Wait until a bot has called the platform's API; return its token."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (found := await self.bots(platform)):
            if loop.time() > deadline:
                raise AssertionError(f"no {platform} bot called the simulator in {timeout}s")
            await asyncio.sleep(0.02)
        return found[0]["token"]

    async def webhook_deliveries(self, platform: str | None = None) -> list[dict[str, Any]]:
        """Every webhook attempt: platform, token, url, attempt, status, error, ok."""
        params = {"platform": platform} if platform else None
        return await self._call("GET", "/control/webhook-deliveries", params=params)

    async def options(self, platform: str, **options: Any) -> dict[str, Any]:
        """Reject/accept tokens or choose the bare Zalo webhook body (see control.options)."""
        return await self._call("POST", f"/control/{platform}/options", body=options)

    async def reset(self) -> None:
        """Forget everything the simulator holds."""
        await self._call("POST", "/control/reset")


@dataclass(eq=False)
class SimUser:
    """A simulated person: writes to the bot and reads, in order, what it answers."""

    client: SimulatorClient
    platform: str
    user_id: Any
    chat_id: Any
    name: str
    token: str | None = None
    cursor: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    _pending: list[dict[str, Any]] = field(default_factory=list, repr=False)

    # ----- writing -----------------------------------------------------------

    async def _send(self, **content: Any) -> dict[str, Any]:
        return await self.client.send_message(
            self.platform, self.user_id, token=self.token, **content
        )

    async def say(self, text: str) -> dict[str, Any]:
        """Send a text message."""
        return await self._send(text=text)

    async def send_photo(self, caption: str | None = None, data: bytes | None = None) -> dict:
        """Send a photo (a placeholder image unless `data` is given)."""
        photo: dict[str, Any] = {"caption": caption}
        if data is not None:
            photo["data_b64"] = base64.b64encode(data).decode()
        return await self._send(photo=photo)

    async def send_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        """Share a location (Telegram only)."""
        return await self._send(location={"latitude": latitude, "longitude": longitude})

    async def send_document(
        self, file_name: str, data: bytes, mime_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Send a file (Telegram only)."""
        encoded = base64.b64encode(data).decode()
        document = {"file_name": file_name, "data_b64": encoded, "mime_type": mime_type}
        return await self._send(document=document)

    async def send_sticker(self) -> dict[str, Any]:
        """Send a sticker."""
        return await self._send(sticker=True)

    async def send_unsupported(self) -> dict[str, Any]:
        """Send content the platform does not pass on (Zalo; a voice note on Telegram)."""
        return await self._send(unsupported=True)

    async def press(self, data: str, message_id: int | None = None) -> dict[str, Any]:
        """Press the inline button carrying `data` (Telegram)."""
        return await self.client.press(self.user_id, data, message_id=message_id, token=self.token)

    async def choose(self, label: str) -> dict[str, Any]:
        """Pick an option by its label: press the button (Telegram) or type its number (Zalo)."""
        page = await self.client.sent(self.platform, chat_id=self.chat_id)
        if self.platform == "telegram":
            return await self._choose_button(label, page["items"])
        for item in reversed(page["items"]):
            options = NUMBERED_LINE.findall(_shown(item))
            if options:
                number = _match(label, [(text, num) for num, text in options])
                if number is None:
                    raise AssertionError(f"{label!r} is not among the options {options}")
                return await self.say(number)
        raise AssertionError(f"no message to {self.name} has numbered options")

    async def _choose_button(self, label: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        keyboards: dict[int, list[list[dict[str, Any]]] | None] = {}
        for item in items:  # replay sends and edits to know each message's current keyboard
            if item["method"] == "deleteMessage":
                keyboards.pop(item["message_id"], None)
            elif item["message_id"] is not None:
                keyboards[item["message_id"]] = item["buttons"]
        for message_id in sorted(keyboards, reverse=True):
            buttons = [b for row in keyboards[message_id] or [] for b in row if b.get("data")]
            data = _match(label, [(b["text"], b["data"]) for b in buttons])
            if data is not None:
                return await self.press(data, message_id=message_id)
        shown = {
            mid: [b["text"] for row in rows or [] for b in row] for mid, rows in keyboards.items()
        }
        raise AssertionError(f"no button {label!r} for {self.name}; buttons by message: {shown}")

    # ----- reading -----------------------------------------------------------

    async def _fetch(self, wait: float) -> list[dict[str, Any]]:
        after = self._pending[-1]["seq"] if self._pending else self.cursor
        page = await self.client.sent(self.platform, chat_id=self.chat_id, after=after, wait=wait)
        self._pending.extend(page["items"])
        return page["items"]

    def _take(self, count: int) -> list[dict[str, Any]]:
        taken, self._pending = self._pending[:count], self._pending[count:]
        if taken:
            self.cursor = taken[-1]["seq"]
            self.received.extend(taken)
        return taken

    # The timeout is a deadline spread over several long polls, not one awaitable's limit.
    async def expect(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Return the next `count` items the bot sent or edited for this person."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self._pending) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                got = [f"{i['method']}: {_shown(i)!r}" for i in self._pending]
                raise AssertionError(
                    f"{self.name} expected {count} message(s) within {timeout}s, got {got}"
                )
            await self._fetch(remaining)
        return self._take(count)

    async def expect_text(
        self,
        fragment: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Skip ahead to the next item whose text or caption contains `fragment`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index, item in enumerate(self._pending):
                if fragment in _shown(item):
                    return self._take(index + 1)[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                got = [_shown(i) for i in self._pending]
                raise AssertionError(
                    f"{self.name} got nothing containing {fragment!r} in {timeout}s; got {got}"
                )
            await self._fetch(remaining)

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Return everything that arrives until nothing new comes for `quiet` seconds."""
        while await self._fetch(quiet):
            pass
        return self._take(len(self._pending))

    @property
    def last_text(self) -> str | None:
        """Text (or caption) of the latest item read with expect, expect_text or drain."""
        for item in reversed(self.received):
            if _shown(item):
                return _shown(item)
        return None


def _match(label: str, options: list[tuple[str, str]]) -> str | None:
    """The value of the option whose text equals `label`, else the first that contains it."""
    wanted = label.casefold().strip()
    for text, value in options:
        if text.casefold().strip() == wanted:
            return value
    for text, value in options:
        if wanted in text.casefold():
            return value
    return None
