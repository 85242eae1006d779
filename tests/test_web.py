"""The HTTP server: webhook secrets, malformed bodies, both Zalo body shapes, the health check."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.simulator.client import SimUser
from bot.simulator.stack import WEBHOOK_SECRET, Stack
from storage.models import ProcessedUpdate
from tests.conftest import FIXTURES

TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_HEADER = "X-Bot-Api-Secret-Token"


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the bot's own HTTP server."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.app.http_port}") as client:
        yield client


async def _processed(stack: Stack) -> list[tuple[str, str]]:
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        rows = (await session.scalars(select(ProcessedUpdate))).all()
    return sorted((r.platform, r.update_id) for r in rows)


async def _known(stack: Stack, platform: str, name: str) -> SimUser:
    """A person who has written to the bot once (so it may answer), with that answer read."""
    user = await stack.sim.new_user(platform, name)
    await user.say("/giupdo")
    await user.expect(1)
    return user


def _telegram_update(update_id: int, user: SimUser, text: str = "/giupdo") -> dict[str, Any]:
    person = {"id": user.user_id, "is_bot": False, "first_name": user.name}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 7001,
            "from": person,
            "chat": {"id": user.chat_id, "type": "private", "first_name": user.name},
            "date": int(time.time()),
            "text": text,
            "entities": [{"offset": 0, "length": len(text), "type": "bot_command"}],
        },
    }


def _zalo_envelope(message_id: str, user: SimUser, text: str = "/giupdo") -> dict[str, Any]:
    update = json.loads((FIXTURES / "zalo" / "webhook_text.json").read_text(encoding="utf-8"))
    message = update["result"]["message"]
    message.update(message_id=message_id, text=text)
    message["chat"]["id"] = str(user.chat_id)
    message["from"].update(id=str(user.user_id), display_name=user.name)
    return update


@pytest.mark.parametrize("headers", [{}, {TELEGRAM_HEADER: "wrong-secret-0001"}])
async def test_telegram_webhook_refuses_a_wrong_or_missing_secret(
    stack: Stack, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """403, and the update is neither recorded nor answered."""
    user = await _known(stack, "telegram", "Trần Văn Minh")
    before = await _processed(stack)

    response = await http.post(
        "/webhook/telegram", json=_telegram_update(555_000_001, user), headers=headers
    )

    assert response.status_code == 403
    assert await _processed(stack) == before
    assert await user.drain() == []


@pytest.mark.parametrize("headers", [{}, {ZALO_HEADER: "wrong-secret-0001"}])
async def test_zalo_webhook_refuses_a_wrong_or_missing_secret(
    stack: Stack, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """403, and the update is neither recorded nor answered."""
    user = await _known(stack, "zalo", "Trần Văn Minh")
    before = await _processed(stack)

    response = await http.post(
        "/webhook/zalo", json=_zalo_envelope("refused00000001", user), headers=headers
    )

    assert response.status_code == 403
    assert await _processed(stack) == before
    assert await user.drain() == []


async def test_the_telegram_secret_does_not_open_the_zalo_webhook(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """The right secret under Telegram's header name is still refused by the Zalo route."""
    user = await _known(stack, "zalo", "Trần Văn Minh")

    response = await http.post(
        "/webhook/zalo",
        json=_zalo_envelope("wronghdr0000001", user),
        headers={TELEGRAM_HEADER: WEBHOOK_SECRET},
    )

    assert response.status_code == 403
    assert await user.drain() == []


@pytest.mark.parametrize(
    ("path", "header"), [("/webhook/telegram", TELEGRAM_HEADER), ("/webhook/zalo", ZALO_HEADER)]
)
async def test_a_malformed_body_is_a_400_and_a_log_line(
    stack: Stack,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    header: str,
) -> None:
    """Not JSON: 400, a warning in the log, nothing recorded."""
    before = await _processed(stack)
    caplog.set_level(logging.WARNING, logger="loaphuong.web")

    response = await http.post(
        path,
        content=b'{"update_id": 1, "message": {',
        headers={header: WEBHOOK_SECRET, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "malformed body"}
    web_lines = [r.getMessage() for r in caplog.records if r.name == "loaphuong.web"]
    assert any("malformed body" in line for line in web_lines), web_lines
    assert await _processed(stack) == before


async def test_a_telegram_body_that_is_not_an_update_is_a_400(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Valid JSON without an update_id is refused."""
    response = await http.post(
        "/webhook/telegram", json={"hello": "world"}, headers={TELEGRAM_HEADER: WEBHOOK_SECRET}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "not an update"


async def test_zalo_webhook_accepts_the_envelope_and_the_bare_update(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Zalo sends either {"ok": true, "result": update} or the update itself; both are answered."""
    user = await _known(stack, "zalo", "Trần Văn Minh")
    envelope = _zalo_envelope("envelope0000001", user)
    bare = _zalo_envelope("bareupdate00001", user)["result"]

    first = await http.post("/webhook/zalo", json=envelope, headers={ZALO_HEADER: WEBHOOK_SECRET})
    second = await http.post("/webhook/zalo", json=bare, headers={ZALO_HEADER: WEBHOOK_SECRET})
    replies = await user.drain(quiet=0.5)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(replies) == 2
    assert all("mã mời 8 ký tự" in r["text"] for r in replies)
    processed = await _processed(stack)
    assert ("zalo", "envelope0000001") in processed
    assert ("zalo", "bareupdate00001") in processed


async def test_a_zalo_body_without_a_message_is_a_400(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """JSON that is not a Zalo update is refused without a crash."""
    response = await http.post(
        "/webhook/zalo",
        json={"event_name": "message.text.received"},
        headers={ZALO_HEADER: WEBHOOK_SECRET},
    )

    assert response.status_code == 400


async def test_a_telegram_webhook_update_is_answered(stack: Stack, http: httpx.AsyncClient) -> None:
    """The webhook route works beside polling: an update POSTed there gets its answer."""
    user = await _known(stack, "telegram", "Trần Văn Minh")

    response = await http.post(
        "/webhook/telegram",
        json=_telegram_update(555_000_002, user),
        headers={TELEGRAM_HEADER: WEBHOOK_SECRET},
    )
    replies = await user.drain(quiet=0.5)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert ["mã mời 8 ký tự" in r["text"] for r in replies] == [True]
    assert ("telegram", "555000002") in await _processed(stack)


async def test_healthz_answers_ok(stack: Stack, http: httpx.AsyncClient) -> None:
    """GET /healthz: 200 and {"ok": true} while the database answers."""
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
