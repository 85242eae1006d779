"""A person's own data, help, the secretary's tools and refusals, on Telegram and Zalo alike."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
from sqlalchemy import select

from bot.simulator.client import SimUser
from bot.simulator.stack import WEBHOOK_SECRET, Stack
from storage.models import (
    AuditEntry,
    Conversation,
    Identity,
    Invite,
    InviteKind,
    Person,
    ProcessedUpdate,
    RoleAssignment,
)
from tests import people as script
from tests.conftest import FIXTURES

COMMAND_LINE = re.compile(r"^/(\w+) — ", re.MULTILINE)


async def _rows(stack: Stack, model: type, *where: Any) -> list:
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def _person(stack: Stack, name: str) -> Person:
    found = await _rows(stack, Person, Person.full_name == name)
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


async def _help(user: SimUser, command: str = "/giupdo") -> tuple[str, set[str]]:
    """The help text a person gets, and the commands it lists."""
    await user.say(command)
    text = (await user.expect(1))[0]["text"]
    return text, set(COMMAND_LINE.findall(text))


def _with_buttons(item: dict[str, Any]) -> str:
    """A message's text and its button labels (Zalo shows options in the text)."""
    labels = [b["text"] for row in item.get("buttons") or [] for b in row]
    return "\n".join([item.get("text") or "", *labels])


async def _only_reply(user: SimUser) -> str:
    """The one message the bot answers with; fails if it says more."""
    items = await user.drain(quiet=0.5)
    assert len(items) == 1, [i.get("text") for i in items]
    return str(items[0]["text"])


# ----- /giupdo and /ngonngu ---------------------------------------------------------


async def test_help_lists_only_the_commands_of_each_role(stack: Stack, platform: str) -> None:
    """Secretary, member, resident and stranger each see their own commands."""
    secretary = await script.secretary(stack, platform)
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    resident = await script.resident(stack, platform, "Lê Thị Mai")
    stranger = await stack.sim.new_user(platform, "Người lạ")

    _, for_secretary = await _help(secretary)
    _, for_member = await _help(member)
    _, for_resident = await _help(resident)
    stranger_text, for_stranger = await _help(stranger)

    assert {"moi", "thuhoi", "vaitro", "trangthai", "thanhvien", "madan", "toi"} <= for_secretary
    assert {"giupdo", "huy", "ngonngu", "toi", "xoa"} <= for_member
    assert not {"moi", "vaitro", "trangthai", "thanhvien", "madan"} & for_member
    assert {"giupdo", "huy", "ngonngu", "toi", "xoa"} <= for_resident
    assert not {"moi", "vaitro", "trangthai", "thanhvien", "madan"} & for_resident
    assert {"giupdo", "huy"} <= for_stranger
    assert not {"toi", "xoa", "ngonngu", "moi", "madan", "start"} & for_stranger
    assert "mã mời 8 ký tự" in stranger_text


async def test_help_has_an_english_alias_and_speaks_english_after_ngonngu(
    stack: Stack, platform: str
) -> None:
    """/help works like /giupdo; after choosing English, replies and help are in English."""
    secretary = await script.secretary(stack, platform)
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    vietnamese, listed_vi = await _help(member, "/help")

    await member.say("/ngonngu")
    await member.expect_text("Chọn ngôn ngữ")
    await member.choose("English")
    switched = (await member.expect(1))[0]["text"]
    english, listed_en = await _help(member, "/help")
    await member.say("/abcxyz")
    unknown = (await member.expect(1))[0]["text"]

    assert "Các lệnh dùng được:" in vietnamese
    assert "/toi — Xem thông tin hệ thống lưu về tôi" in vietnamese
    assert switched == "Switched to English."
    assert "Commands you can use:" in english
    assert "/toi — See what the system stores about me" in english
    assert "/xoa — Delete my data" in english
    assert "Xem thông tin" not in english
    assert listed_vi == listed_en
    assert "There is no command /abcxyz" in unknown


# ----- /toi ---------------------------------------------------------------------


async def test_me_shows_what_is_stored_about_a_resident(stack: Stack, platform: str) -> None:
    """/toi: name, role, address, the linked platform, the consent version and date."""
    resident = await script.resident(stack, platform, "Lê Thị Mai", group="Tổ 5", house="Số 8")

    await resident.say("/toi")
    text = (await resident.expect(1))[0]["text"]

    shown = "Telegram" if platform == "telegram" else "Zalo"
    assert "• Họ tên: Lê Thị Mai" in text
    assert "• Vai trò: Người dân" in text
    assert "• Địa chỉ: Tổ 5, Số 8" in text
    assert f"• Tài khoản {shown} (nhận thông báo)" in text
    assert "• Đồng ý lưu thông tin: bản 2026-11-v1, ngày 01/12/2026" in text
    assert "Tình trạng đảng viên" not in text
    assert "ban điều hành khu phố" in text


async def test_me_shows_a_members_roles_and_status(stack: Stack, platform: str) -> None:
    """/toi for a party member: roles and member status, no address."""
    secretary = await script.secretary(stack, "telegram")
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")

    await member.say("/toi")
    text = (await member.expect(1))[0]["text"]
    await secretary.say("/toi")
    secretary_text = (await secretary.expect(1))[0]["text"]

    assert "• Họ tên: Nguyễn Thị Lan" in text
    assert "• Vai trò: Đảng viên" in text
    assert "• Tình trạng đảng viên: Chính thức" in text
    assert "Địa chỉ" not in text
    assert "bản 2026-11-v1, ngày 01/12/2026" in text
    assert "• Vai trò: Bí thư chi bộ, Đảng viên" in secretary_text
    assert "• Tài khoản Telegram (nhận thông báo)" in secretary_text


# ----- /xoa ---------------------------------------------------------------------


async def test_a_resident_erases_their_data_and_becomes_a_stranger(
    stack: Stack, platform: str
) -> None:
    """/xoa, Xóa: name, address, identities and roles are gone, the erasure is audited."""
    resident = await script.resident(stack, platform, "Lê Thị Mai", group="Tổ 5", house="Số 8")
    person_id = (await _person(stack, "Lê Thị Mai")).id

    await resident.say("/xoa")
    await resident.expect_text("có chắc không")
    await resident.choose("Xóa")
    done = (await resident.expect(1))[0]["text"]
    await resident.say("/toi")
    afterwards = (await resident.expect(1))[0]["text"]

    assert "Đã xóa dữ liệu" in done
    assert await _rows(stack, Person, Person.full_name == "Lê Thị Mai") == []
    husk = await _rows(stack, Person, Person.id == person_id)
    assert [(p.residential_group, p.house_number, p.deleted_at is not None) for p in husk] == [
        (None, None, True)
    ]
    assert await _rows(stack, Identity, Identity.person_id == person_id) == []
    assert await _rows(stack, RoleAssignment, RoleAssignment.person_id == person_id) == []
    erased = await _rows(stack, AuditEntry, AuditEntry.action == "person.erased")
    assert [e.target_id for e in erased] == [person_id]
    assert "dành cho người đã tham gia" in afterwards


async def test_a_member_erasing_is_unlinked_and_the_secretary_is_told(
    stack: Stack, platform: str
) -> None:
    """/xoa for a party member: the chat link goes, the record stays, the secretary hears."""
    secretary = await script.secretary(stack, "telegram")
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    person_id = (await _person(stack, "Nguyễn Thị Lan")).id

    await member.say("/xoa")
    await member.expect_text("không tự xóa được")
    await member.choose("Xóa")
    done = (await member.expect(1))[0]["text"]
    told = await secretary.expect_text("yêu cầu xóa dữ liệu")

    assert "Đã gỡ liên kết" in done
    assert "Đồng chí Nguyễn Thị Lan yêu cầu xóa dữ liệu cá nhân" in told["text"]
    assert await _rows(stack, Identity, Identity.person_id == person_id) == []
    assert (await _person(stack, "Nguyễn Thị Lan")).deleted_at is None
    roles = await _rows(stack, RoleAssignment, RoleAssignment.person_id == person_id)
    assert [r.role for r in roles] == ["member"]
    requested = await _rows(stack, AuditEntry, AuditEntry.action == "person.erase_requested")
    assert [e.target_id for e in requested] == [person_id]


async def test_keeping_the_data_changes_nothing(stack: Stack, platform: str) -> None:
    """/xoa, Giữ lại: the person, identity and roles stay."""
    secretary = await script.secretary(stack, "telegram")
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    person_id = (await _person(stack, "Nguyễn Thị Lan")).id

    await member.say("/xoa")
    await member.expect_text("không tự xóa được")
    await member.choose("Giữ lại")
    kept = (await member.expect(1))[0]["text"]
    await member.say("/toi")
    me = (await member.expect(1))[0]["text"]

    assert kept == "Đã giữ nguyên, không xóa gì."
    assert len(await _rows(stack, Identity, Identity.person_id == person_id)) == 1
    assert "• Họ tên: Nguyễn Thị Lan" in me
    assert await _rows(stack, AuditEntry, AuditEntry.action.like("person.erase%")) == []
    assert await secretary.drain() == []


# ----- /vaitro and /trangthai ---------------------------------------------------------


async def test_secretary_gives_a_member_the_head_role(stack: Stack, platform: str) -> None:
    """/vaitro: pick a member, toggle Trưởng khu phố; they are told and can use /madan."""
    secretary = await script.secretary(stack, platform)
    member = await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    _, before = await _help(member)
    person_id = (await _person(stack, "Nguyễn Thị Lan")).id

    await secretary.say("/vaitro")
    await secretary.expect_text("Chọn người")
    await secretary.choose("Nguyễn Thị Lan")
    await secretary.expect_text("Vai trò của Nguyễn Thị Lan")
    await secretary.choose("○ Trưởng khu phố")
    menu = _with_buttons((await secretary.expect(1))[0])
    told = (await member.expect(1))[0]["text"]
    _, after = await _help(member)

    assert "✓ Trưởng khu phố" in menu
    assert "○ Phó bí thư" in menu
    assert "Bí thư chi bộ đã giao vai trò mới: Trưởng khu phố" in told
    assert "madan" not in before
    assert "madan" in after
    granted = await _rows(stack, AuditEntry, AuditEntry.action == "role.granted")
    assert [(e.target_id, e.detail) for e in granted] == [(person_id, {"role": "head"})]
    roles = await _rows(stack, RoleAssignment, RoleAssignment.person_id == person_id)
    assert sorted(r.role for r in roles) == ["head", "member"]


async def test_the_last_secretary_cannot_be_removed(stack: Stack, platform: str) -> None:
    """Toggling off the only secretary is refused with a message; nothing changes."""
    secretary = await script.secretary(stack, platform, "Phạm Văn Hùng")

    await secretary.say("/vaitro")
    await secretary.expect_text("Chọn người")
    await secretary.choose("Phạm Văn Hùng")
    await secretary.expect_text("Vai trò của Phạm Văn Hùng")
    await secretary.choose("✓ Bí thư chi bộ")
    refused = (await secretary.expect(1))[0]["text"]

    assert "cần ít nhất một bí thư" in refused
    roles = await _rows(stack, RoleAssignment)
    assert sorted(r.role for r in roles) == ["member", "secretary"]
    assert await _rows(stack, AuditEntry, AuditEntry.action == "role.revoked") == []


async def test_an_exempt_member_is_not_counted(stack: Stack, platform: str) -> None:
    """/trangthai → Miễn sinh hoạt: /thanhvien shows it and counts one member fewer."""
    secretary = await script.secretary(stack, platform)
    await script.member(stack, secretary, platform, "Nguyễn Thị Lan")
    await secretary.say("/thanhvien")
    before = (await secretary.expect(1))[0]["text"]

    await secretary.say("/trangthai")
    await secretary.expect_text("Chọn người")
    await secretary.choose("Nguyễn Thị Lan")
    await secretary.expect_text("Tình trạng đảng viên của Nguyễn Thị Lan")
    await secretary.choose("Miễn sinh hoạt")
    done = await secretary.expect_text("Đã cập nhật")
    await secretary.say("/thanhvien")
    after = (await secretary.expect(1))[0]["text"]

    assert "Đảng viên: 2 (tính vào sinh hoạt: 2)" in before
    assert done["text"] == "Đã cập nhật: Nguyễn Thị Lan — Miễn sinh hoạt."
    assert "Đảng viên: 2 (tính vào sinh hoạt: 1)" in after
    assert "Nguyễn Thị Lan — Miễn sinh hoạt" in after
    assert "Phạm Văn Hùng — Chính thức" in after


# ----- /madan ---------------------------------------------------------------------


async def test_the_resident_code_lets_a_resident_join(stack: Stack, platform: str) -> None:
    """/madan shows the neighbourhood's code; a resident joins with it."""
    secretary = await script.secretary(stack, platform)

    await secretary.say("/madan")
    shown = await secretary.expect_text("Mã tham gia")
    text = shown["text"] or shown["caption"]
    code = script.code_in(text)
    resident = await stack.sim.new_user(platform, "Lê Thị Mai")
    asked = await script.join(resident, code, "Lê Thị Mai")
    await resident.say("Tổ 3")
    await resident.expect_text("Số nhà")
    await resident.say("Số 12")
    thanks = (await resident.expect(1))[0]["text"]

    invites = await _rows(stack, Invite, Invite.kind == InviteKind.resident)
    assert [i.code for i in invites] == [code]
    assert "khu phố Yên Thanh 1" in text
    assert "tổ dân phố" in asked
    assert "Cảm ơn anh/chị Lê Thị Mai" in thanks
    roles = await _rows(stack, RoleAssignment, RoleAssignment.role == "resident")
    assert [r.person_id for r in roles] == [(await _person(stack, "Lê Thị Mai")).id]


# ----- refusals and odd input -----------------------------------------------------


async def test_a_resident_is_refused_the_secretarys_commands(stack: Stack, platform: str) -> None:
    """/moi and /vaitro from a resident: a polite refusal and an audit row each."""
    resident = await script.resident(stack, platform, "Lê Thị Mai")
    person_id = (await _person(stack, "Lê Thị Mai")).id

    await resident.say("/moi Trần Văn Minh")
    invite_refusal = (await resident.expect(1))[0]["text"]
    await resident.say("/vaitro")
    roles_refusal = (await resident.expect(1))[0]["text"]

    for refusal in (invite_refusal, roles_refusal):
        assert "không dành cho vai trò hiện có" in refusal
    refused = await _rows(stack, AuditEntry, AuditEntry.action == "access.refused")
    assert [(e.actor_id, e.detail) for e in refused] == [
        (person_id, {"what": "moi"}),
        (person_id, {"what": "vaitro"}),
    ]
    assert await _rows(stack, Invite, Invite.kind == InviteKind.member) == []


async def test_a_stranger_is_told_to_join_first(stack: Stack, platform: str) -> None:
    """/moi from someone who has not joined: join first, and nothing is audited."""
    await stack.init_cell()
    stranger = await stack.sim.new_user(platform, "Người lạ")

    await stranger.say("/moi Trần Văn Minh")
    reply = await _only_reply(stranger)

    assert "dành cho người đã tham gia" in reply
    assert await _rows(stack, AuditEntry) == []


async def test_an_unknown_command_points_to_help(stack: Stack, platform: str) -> None:
    """/abcxyz: a short pointer to /giupdo."""
    resident = await script.resident(stack, platform, "Lê Thị Mai")

    await resident.say("/abcxyz")
    reply = await _only_reply(resident)

    assert reply == "Không có lệnh /abcxyz. Gõ /giupdo để xem các lệnh dùng được."


async def test_a_text_over_the_limit_is_refused_and_changes_nothing(
    stack: Stack, platform: str
) -> None:
    """A text over the limit where a name was asked: the limit is shown, the question stands."""
    limit = stack.settings.max_text_length
    cell = await stack.init_cell()
    user = await stack.sim.new_user(platform, "Trần Văn Minh")
    await user.say(cell.residents.code)
    await user.expect_text("đồng ý")
    await user.choose("Đồng ý")
    await user.expect_text("họ và tên")

    await user.say(("Trần Văn Minh " * (limit // 14 + 1))[: limit + 1])
    reply = await _only_reply(user)

    assert f"tối đa {limit} ký tự" in reply
    assert await _rows(stack, Person) == []
    assert [c.step for c in await _rows(stack, Conversation)] == ["name"]
    await user.say("Trần Văn Minh")
    assert "tổ dân phố" in (await user.expect(1))[0]["text"]


# ----- the Telegram command menu ------------------------------------------------------


async def _chat_menu(stack: Stack, chat_id: Any) -> list[str]:
    """The command names of a chat-scoped Telegram menu (waits for it to be set)."""
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        menus = await stack.sim.commands("telegram")
        for entries in menus.values():
            for entry in entries:
                scope = entry["scope"]
                if scope.get("type") == "chat" and str(scope.get("chat_id")) == str(chat_id):
                    return [c["command"] for c in entry["commands"]]
        assert asyncio.get_running_loop().time() < deadline, f"no menu for {chat_id}: {menus}"
        await asyncio.sleep(0.05)


async def test_telegram_menus_follow_roles(stack: Stack) -> None:
    """The secretary's chat menu has /moi; a member's has /toi but not /moi."""
    secretary = await script.secretary(stack, "telegram")
    member = await script.member(stack, secretary, "telegram", "Nguyễn Thị Lan")

    for_secretary = await _chat_menu(stack, secretary.chat_id)
    for_member = await _chat_menu(stack, member.chat_id)

    assert {"moi", "vaitro", "madan", "toi"} <= set(for_secretary)
    assert "toi" in for_member
    assert "moi" not in for_member
    assert "start" not in for_secretary


# ----- the same update delivered twice ------------------------------------------------


def _telegram_update(update_id: int, user: SimUser, text: str) -> dict[str, Any]:
    person = {"id": user.user_id, "is_bot": False, "first_name": user.name}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 9001,
            "from": person,
            "chat": {"id": user.chat_id, "type": "private", "first_name": user.name},
            "date": int(time.time()),
            "text": text,
            "entities": [{"offset": 0, "length": len(text), "type": "bot_command"}],
        },
    }


def _zalo_update(message_id: str, user: SimUser, text: str) -> dict[str, Any]:
    update = json.loads((FIXTURES / "zalo" / "webhook_text.json").read_text(encoding="utf-8"))
    message = update["result"]["message"]
    message["message_id"] = message_id
    message["chat"]["id"] = str(user.chat_id)
    message["from"]["id"] = str(user.user_id)
    message["from"]["display_name"] = user.name
    message["text"] = text
    return update


async def test_a_telegram_update_delivered_twice_is_handled_once(stack: Stack) -> None:
    """The same webhook update POSTed twice: one reply, one processed_updates row."""
    user = await stack.sim.new_user("telegram", "Trần Văn Minh")
    await user.say("/giupdo")  # the person has written to the bot, so it may answer
    await user.expect(1)
    update = _telegram_update(987_654_321, user, "/giupdo")
    url = f"http://127.0.0.1:{stack.app.http_port}/webhook/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}

    async with httpx.AsyncClient() as http:
        first = await http.post(url, json=update, headers=headers)
        second = await http.post(url, json=update, headers=headers)
    replies = await user.drain(quiet=0.5)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(replies) == 1
    assert "mã mời 8 ký tự" in replies[0]["text"]
    rows = await _rows(stack, ProcessedUpdate, ProcessedUpdate.update_id == "987654321")
    assert [(r.platform, r.update_id) for r in rows] == [("telegram", "987654321")]


async def test_a_zalo_update_delivered_twice_is_handled_once(stack: Stack) -> None:
    """The same Zalo webhook body POSTed twice: one reply, one processed_updates row."""
    user = await stack.sim.new_user("zalo", "Trần Văn Minh")
    await user.say("/giupdo")
    await user.expect(1)
    update = _zalo_update("dup0000000000000000001", user, "/giupdo")
    url = f"http://127.0.0.1:{stack.app.http_port}/webhook/zalo"
    headers = {"X-Bot-Api-Secret-Token": WEBHOOK_SECRET}

    async with httpx.AsyncClient() as http:
        first = await http.post(url, json=update, headers=headers)
        second = await http.post(url, json=update, headers=headers)
    replies = await user.drain(quiet=0.5)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(replies) == 1
    assert "mã mời 8 ký tự" in replies[0]["text"]
    rows = await _rows(
        stack, ProcessedUpdate, ProcessedUpdate.update_id == "dup0000000000000000001"
    )
    assert [r.platform for r in rows] == ["zalo"]
