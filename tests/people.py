"""Scripted people for scenario tests: the same steps on either platform."""

from __future__ import annotations

import re

from bot.simulator.client import SimUser
from bot.simulator.stack import Stack

CODE = re.compile(r"\b([A-HJ-NP-TV-Z2-9]{8})\b")


def code_in(text: str) -> str:
    """The invite code a message shows."""
    found = CODE.search(text)
    assert found, f"no code in: {text}"
    return found.group(1)


async def join(user: SimUser, code: str, name: str | None = None) -> str:
    """Send a code, consent, give a name if asked; return the welcome text."""
    await user.say(code)
    await user.expect_text("đồng ý")
    await user.choose("Đồng ý")
    reply = (await user.expect(1))[0]["text"]
    if "họ và tên" in reply:
        await user.say(name or user.name)
        reply = (await user.expect(1))[0]["text"]
    return reply


async def secretary(
    stack: Stack, platform: str = "telegram", name: str = "Phạm Văn Hùng"
) -> SimUser:
    """A cell created with `init`, and its secretary joined."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, name)
    welcome = await join(user, cell.secretary.code, name)
    assert "bí thư" in welcome
    return user


async def invite(secretary_user: SimUser, name: str, kind: str = "Đảng viên chính thức") -> str:
    """The secretary invites someone with /moi; returns the code."""
    await secretary_user.say(f"/moi {name}")
    await secretary_user.expect_text("tư cách")
    await secretary_user.choose(kind)
    return code_in((await secretary_user.expect_text("Mã mời"))["text"])


async def member(stack: Stack, secretary_user: SimUser, platform: str, name: str) -> SimUser:
    """A party member invited by the secretary and joined."""
    code = await invite(secretary_user, name)
    user = await stack.sim.new_user(platform, name)
    welcome = await join(user, code, name)
    assert "Chào mừng đồng chí" in welcome
    await secretary_user.expect_text("đã tham gia")
    return user


async def resident(
    stack: Stack, platform: str, name: str, group: str = "Tổ 3", house: str = "Số 12, ngõ 5"
) -> SimUser:
    """A resident joined with the neighbourhood's code."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, name)
    reply = await join(user, cell.residents.code, name)
    assert "tổ dân phố" in reply
    await user.say(group)
    await user.expect_text("Số nhà")
    await user.say(house)
    await user.expect_text("Cảm ơn")
    return user
