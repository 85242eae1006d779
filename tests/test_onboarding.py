"""Joining with consent: secretary, members and residents, on Telegram and Zalo alike."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.simulator.stack import Stack
from storage.models import Consent, Identity, MemberProfile, Person, RoleAssignment
from tests import people as script


async def _rows(stack: Stack, model: type) -> list:
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        return list((await session.scalars(select(model))).all())


async def test_secretary_joins_with_the_init_code_after_consenting(
    stack: Stack, platform: str
) -> None:
    """The init code, the consent notice, a name: the secretary is in with both roles."""
    await script.secretary(stack, platform, "Phạm Văn Hùng")

    people = await _rows(stack, Person)
    roles = sorted(r.role for r in await _rows(stack, RoleAssignment))
    consents = await _rows(stack, Consent)
    assert [p.full_name for p in people] == ["Phạm Văn Hùng"]
    assert roles == ["member", "secretary"]
    assert [(c.accepted, c.notice_version) for c in consents] == [(True, "2026-11-v1")]


async def test_refusing_consent_stores_nothing_but_the_refusal(stack: Stack, platform: str) -> None:
    """Không đồng ý: no person, no identity, one refusal row without a name."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Trần Văn Minh")

    await user.say(cell.residents.code)
    await user.expect_text("đồng ý")
    await user.choose("Không đồng ý")
    reply = await user.expect_text("không đồng ý")

    assert "không lưu" in reply["text"]
    assert await _rows(stack, Person) == []
    assert await _rows(stack, Identity) == []
    consents = await _rows(stack, Consent)
    assert [(c.accepted, c.person_id) for c in consents] == [(False, None)]


async def test_member_joins_on_one_platform_invited_from_the_other(
    stack: Stack, platform: str
) -> None:
    """The secretary invites on Telegram; the member joins on either app and is announced."""
    secretary = await script.secretary(stack, "telegram")

    await script.member(stack, secretary, platform, "Nguyễn Thị Lan")

    profiles = await _rows(stack, MemberProfile)
    assert [p.status for p in profiles] == ["official", "official"]


async def test_resident_gives_name_group_and_house(stack: Stack, platform: str) -> None:
    """The resident code, consent, name, tổ and house number are stored."""
    await script.resident(stack, platform, "Lê Thị Mai", group="Tổ 5", house="Số 8, ngõ 3")

    people = await _rows(stack, Person)
    assert [(p.full_name, p.residential_group, p.house_number) for p in people] == [
        ("Lê Thị Mai", "Tổ 5", "Số 8, ngõ 3")
    ]


async def test_codes_are_case_insensitive_and_may_have_spaces(stack: Stack, platform: str) -> None:
    """A code typed in lower case with a space still works."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Đỗ Văn Nam")
    code = cell.residents.code

    await user.say(f"{code[:4].lower()} {code[4:].lower()}")

    assert "đồng ý" in (await user.expect(1))[0]["text"]


async def test_used_expired_and_revoked_codes_say_so(
    stack: Stack, clock: FakeClock, platform: str
) -> None:
    """Each kind of dead code gets its own polite message and who to ask."""
    secretary = await script.secretary(stack, "telegram")
    used = await script.invite(secretary, "Hoàng Văn Bình")
    await script.join(await stack.sim.new_user("telegram", "Hoàng Văn Bình"), used)
    revoked = await script.invite(secretary, "Vũ Thị Hoa")
    await secretary.say(f"/thuhoi {revoked}")
    await secretary.expect_text("Đã thu hồi")
    expired = await script.invite(secretary, "Ngô Văn Tùng")
    clock.advance(timedelta(days=15))
    user = await stack.sim.new_user(platform, "Người lạ")

    await user.say(used)
    used_reply = (await user.expect(1))[0]["text"]
    await user.say(revoked)
    revoked_reply = (await user.expect(1))[0]["text"]
    await user.say(expired)
    expired_reply = (await user.expect(1))[0]["text"]

    assert "đã được sử dụng" in used_reply
    assert "thu hồi" in revoked_reply
    assert "hết hạn" in expired_reply
    assert all("bí thư" in r for r in (used_reply, revoked_reply, expired_reply))


async def test_wrong_codes_are_rate_limited_per_sender(stack: Stack, platform: str) -> None:
    """After five wrong codes even the right one is refused for a while."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Kẻ đoán mã")
    for guess in ["AAAA2222", "BBBB3333", "CCCC4444", "DDDD5555", "EEEE6666"]:
        await user.say(guess)
        assert "không đúng" in (await user.expect(1))[0]["text"]

    await user.say(cell.residents.code)

    assert "quá nhiều lần" in (await user.expect(1))[0]["text"]


async def test_text_where_a_choice_was_expected_asks_again(stack: Stack, platform: str) -> None:
    """Typing something else at the consent question shows the choice again."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Phan Thị Thu")
    await user.say(cell.residents.code)
    await user.expect_text("đồng ý")

    await user.say("tôi chưa hiểu")
    again = (await user.expect(1))[0]

    assert "chọn một" in again["text"]
    await user.choose("Đồng ý")
    assert "họ và tên" in (await user.expect(1))[0]["text"]


async def test_a_sticker_where_a_name_was_expected_asks_again(stack: Stack, platform: str) -> None:
    """A sticker is not a name: the question comes again, the flow goes on."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Bùi Văn Long")
    await user.say(cell.residents.code)
    await user.expect_text("đồng ý")
    await user.choose("Đồng ý")
    await user.expect_text("họ và tên")

    await user.send_sticker()

    again = (await user.expect(1))[0]["text"]
    assert "bằng chữ" in again and "họ và tên" in again
    await user.say("Bùi Văn Long")
    assert "tổ dân phố" in (await user.expect(1))[0]["text"]


async def test_cancel_leaves_a_flow_and_nothing_is_kept(stack: Stack, platform: str) -> None:
    """/huy in the middle of joining: no person is created."""
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Đinh Văn Sơn")
    await user.say(cell.residents.code)
    await user.expect_text("đồng ý")
    await user.choose("Đồng ý")
    await user.expect_text("họ và tên")

    await user.say("/huy")

    assert "Đã hủy" in (await user.expect(1))[0]["text"]
    assert await _rows(stack, Person) == []
