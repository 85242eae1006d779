"""Files: uploaded on Telegram, sent by signed, expiring link on Zalo (which takes only URLs)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bot.core.clock import FakeClock
from bot.simulator.stack import Stack
from tests import people as script


async def test_resident_code_comes_with_a_printable_poster_on_telegram(stack: Stack) -> None:
    """/madan on Telegram: the poster is uploaded as a photo, the code in its caption."""
    secretary = await script.secretary(stack, "telegram")

    await secretary.say("/madan")
    item = (await secretary.expect(1))[0]

    assert item["method"] == "sendPhoto"
    assert script.code_in(item["caption"])


async def test_on_zalo_the_poster_is_a_signed_link_that_serves_the_png(stack: Stack) -> None:
    """/madan on Zalo: the photo URL is our signed link and serves the PNG."""
    secretary = await script.secretary(stack, "zalo")

    await secretary.say("/madan")
    items = await secretary.expect(2)
    photo = next(i for i in items if i["method"] == "sendPhoto")
    text = next(i for i in items if i["method"] == "sendMessage")
    async with httpx.AsyncClient() as http:
        response = await http.get(photo["photo"])

    assert script.code_in(text["text"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


async def test_a_tampered_or_expired_link_is_refused(stack: Stack, clock: FakeClock) -> None:
    """Changing the signature gives 403; so does the right link after it expires."""
    secretary = await script.secretary(stack, "zalo")
    await secretary.say("/madan")
    photo = next(i for i in await secretary.expect(2) if i["method"] == "sendPhoto")
    url = photo["photo"]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")

    async with httpx.AsyncClient() as http:
        bad = await http.get(tampered)
        clock.advance(timedelta(hours=stack.settings.file_link_hours + 1))
        late = await http.get(url)

    assert bad.status_code == 403
    assert late.status_code == 403
