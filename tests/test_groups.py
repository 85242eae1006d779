"""Groups (mass organisations) as announcement audiences."""

from __future__ import annotations

from bot.simulator.stack import Stack
from tests import people as script


async def test_an_announcement_to_the_womens_union_reaches_only_its_members(
    stack: Stack, platform: str
) -> None:
    """/nhom creates «Chi hội Phụ nữ» with Mai; an announcement to it skips Lan."""
    secretary = await script.secretary(stack, platform)
    mai = await script.resident(stack, "zalo", "Lê Thị Mai")
    lan = await script.resident(stack, "telegram", "Nguyễn Thị Lan")
    await secretary.say("/nhom")
    await secretary.expect_text("Chưa có nhóm")
    await secretary.choose("Tạo nhóm mới")
    await secretary.expect_text("Tên nhóm")
    await secretary.say("Chi hội Phụ nữ")
    await secretary.expect_text("Chi hội Phụ nữ")
    await secretary.choose("Thêm người")
    await secretary.expect_text("Gõ một phần họ tên")
    await secretary.say("mai")
    await secretary.expect_text("Chọn người")
    await secretary.choose("Lê Thị Mai")
    shown = await secretary.expect_text("(1 người)")

    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.choose("Thông báo")
    await secretary.expect_text("Tiêu đề")
    await secretary.say("Họp chi hội")
    await secretary.expect_text("nội dung")
    await secretary.say("Họp chi hội phụ nữ sáng Chủ nhật.")
    await secretary.expect_text("Đã ghi")
    await secretary.choose("Xong")
    await secretary.expect_text("đính kèm")
    await secretary.choose("Không đính kèm")
    await secretary.expect_text("Gửi đến ai")
    await secretary.choose("Nhóm: Chi hội Phụ nữ")
    await secretary.expect_text("khi nào")
    await secretary.choose("Gửi ngay")
    summary = await secretary.expect_text("Người nhận")
    await secretary.choose("Gửi")

    assert "Lê Thị Mai" in shown["text"]
    assert "Nhóm: Chi hội Phụ nữ — 1 người" in summary["text"]
    assert await mai.expect_text("Họp chi hội", timeout=10)
    assert all("Họp chi hội" not in (i.get("text") or "") for i in await lan.drain(quiet=0.5))
