"""Linking Zalo and Telegram to one person, and choosing the app that receives notices."""

from __future__ import annotations

from sqlalchemy import select

from bot.simulator.stack import Stack
from storage.models import Identity
from tests import people as script


async def _identities(stack: Stack) -> list[tuple[str, bool]]:
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        rows = await session.scalars(select(Identity).order_by(Identity.id))
        return [(i.platform, i.receives_notices) for i in rows]


async def test_a_member_links_zalo_to_telegram_and_chooses_zalo(stack: Stack) -> None:
    """/lienket on Telegram, the code typed on Zalo, then notices go to Zalo."""
    secretary = await script.secretary(stack, "telegram")
    await secretary.say("/lienket")
    code = script.code_in((await secretary.expect_text("Mã liên kết"))["text"])
    zalo = await stack.sim.new_user("zalo", "Phạm Văn Hùng")

    await zalo.say(code)
    linked = (await zalo.expect(1))[0]["text"]
    await zalo.choose("Zalo")
    chosen = (await zalo.expect(1))[0]["text"]

    assert "Đã liên kết" in linked and "Phạm Văn Hùng" in linked
    assert "Zalo" in chosen
    assert await _identities(stack) == [("telegram", False), ("zalo", True)]


async def test_the_linked_app_knows_the_person_and_their_roles(stack: Stack) -> None:
    """After linking, /moi works from Zalo too: it is the same secretary."""
    secretary = await script.secretary(stack, "telegram")
    await secretary.say("/link")
    code = script.code_in((await secretary.expect_text("Mã liên kết"))["text"])
    zalo = await stack.sim.new_user("zalo", "Phạm Văn Hùng")
    await zalo.say(code)
    await zalo.expect(1)

    await zalo.say("/moi Nguyễn Thị Lan")

    assert "tư cách" in (await zalo.expect(1))[0]["text"]


async def test_a_link_code_works_once_and_not_from_the_same_app(
    stack: Stack, platform: str
) -> None:
    """The same app is told to use the other one; a second use says it was used."""
    secretary = await script.secretary(stack, platform)
    await secretary.say("/lienket")
    code = script.code_in((await secretary.expect_text("Mã liên kết"))["text"])
    other = "zalo" if platform == "telegram" else "telegram"

    await secretary.say(code)
    same_app = (await secretary.expect(1))[0]["text"]
    await (await stack.sim.new_user(other, "Phạm Văn Hùng")).say(code)
    stranger = await stack.sim.new_user(other, "Kẻ lạ")
    await stranger.say(code)
    second_use = (await stranger.expect(1))[0]["text"]

    assert "ứng dụng còn lại" in same_app
    assert "đã được sử dụng" in second_use


async def test_an_account_of_someone_else_cannot_be_linked(stack: Stack) -> None:
    """A resident's Zalo typing the secretary's link code is refused."""
    secretary = await script.secretary(stack, "telegram")
    resident = await script.resident(stack, "zalo", "Lê Thị Mai")
    await secretary.say("/lienket")
    code = script.code_in((await secretary.expect_text("Mã liên kết"))["text"])

    await resident.say(code)

    assert "hồ sơ khác" in (await resident.expect(1))[0]["text"]
    assert await _identities(stack) == [("telegram", True), ("zalo", True)]
