"""Directives and announcements: compose, preview, deliver on both apps, acknowledge, report."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.simulator.client import SimUser
from bot.simulator.stack import Stack
from storage.models import Delivery
from tests import people as script


async def _compose(
    secretary: SimUser, *, title: str, body: str, audience: str, kind: str = "Chỉ thị"
) -> None:
    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.choose(kind)
    await secretary.expect_text("Tiêu đề")
    await secretary.say(title)
    await secretary.expect_text("nội dung")
    await secretary.say(body)
    await secretary.expect_text("Đã ghi")
    await secretary.choose("Xong")
    await secretary.expect_text("đính kèm")
    await secretary.choose("Không đính kèm")
    await secretary.expect_text("Gửi đến ai")
    await secretary.choose(audience)
    await secretary.expect_text("khi nào")
    await secretary.choose("Gửi ngay")


async def test_a_directive_reaches_members_on_both_apps_and_is_acknowledged(stack: Stack) -> None:
    """Preview, confirm, delivery on Zalo and Telegram, "Đã nhận", then the report by name."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")

    await _compose(
        secretary,
        title="Chỉ thị số 50-CT/TW",
        body="Nội dung chỉ thị.",
        audience="Tất cả đảng viên",
    )
    preview = await secretary.expect_text("CHỈ THỊ")
    summary = await secretary.expect_text("Người nhận")
    await secretary.choose("Gửi")
    await secretary.expect_text("Đã xếp hàng")
    got_lan = await lan.expect_text("Chỉ thị số 50-CT/TW", timeout=10)
    got_minh = await minh.expect_text("Chỉ thị số 50-CT/TW", timeout=10)
    await lan.say("đã nhận")
    await lan.expect_text("Đã ghi nhận")
    await minh.choose("Đã nhận")
    await minh.expect_text("Đã ghi nhận")
    await secretary.say("/chithi 1")
    report = await secretary.expect_text("Văn bản số 1")

    assert "Nội dung chỉ thị." in preview["text"]
    assert "3 người (Zalo: 1, Telegram: 2)" in summary["text"]
    assert "1. Đã nhận" in got_lan["text"]
    assert got_minh["buttons"][0][0]["text"] == "Đã nhận"
    assert "Đã nhận (2)" in report["text"]
    assert "Nguyễn Thị Lan" in report["text"] and "Trần Văn Minh" in report["text"]
    assert "Chưa xác nhận (1)" in report["text"]


async def test_the_sender_sees_progress_and_the_end(stack: Stack) -> None:
    """The secretary gets a progress message that ends with the totals."""
    secretary = await script.secretary(stack, "telegram")
    await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")

    await _compose(
        secretary, title="Thông báo họp", body="Họp lúc 19:30.", audience="Tất cả đảng viên"
    )
    await secretary.expect_text("Xác nhận")
    await secretary.choose("Gửi")

    final = await secretary.expect_text("Đã gửi xong", timeout=10)
    assert "2/2" in final["text"]


async def test_a_blocked_member_is_reported_unreachable_to_the_sender(stack: Stack) -> None:
    """403 from the platform: no retry, the row is unreachable and the sender told by name."""
    secretary = await script.secretary(stack, "telegram")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")
    await stack.sim.block("telegram", minh.user_id)

    await _compose(secretary, title="Chỉ thị", body="Nội dung.", audience="Tất cả đảng viên")
    await secretary.expect_text("Xác nhận")
    await secretary.choose("Gửi")
    final = await secretary.expect_text("Đã gửi xong", timeout=10)

    assert "Không liên lạc được 1 người" in final["text"]
    assert "Trần Văn Minh" in final["text"]
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        statuses = sorted(d.status for d in await session.scalars(select(Delivery)))
    assert statuses == ["sent", "unreachable"]


async def test_a_scheduled_broadcast_waits_and_can_be_cancelled(
    stack: Stack, clock: FakeClock
) -> None:
    """Hẹn giờ: nothing goes before the time; /lichgui cancels it and nobody receives it."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.choose("Thông báo")
    await secretary.expect_text("Tiêu đề")
    await secretary.say("Lịch cắt điện")
    await secretary.expect_text("nội dung")
    await secretary.say("Cắt điện từ 8:00 đến 11:00.")
    await secretary.expect_text("Đã ghi")
    await secretary.choose("Xong")
    await secretary.expect_text("đính kèm")
    await secretary.choose("Không đính kèm")
    await secretary.expect_text("Gửi đến ai")
    await secretary.choose("Tất cả đảng viên")
    await secretary.expect_text("khi nào")
    await secretary.choose("Hẹn giờ")
    await secretary.expect_text("ngày giờ")
    await secretary.say("01/12/2025 08:00")
    past = await secretary.expect_text("đã qua")
    await secretary.say("05/12/2026 08:00")
    await secretary.expect_text("Xác nhận")
    await secretary.choose("Gửi")
    await secretary.expect_text("sẽ gửi")

    await secretary.say("/lichgui")
    await secretary.expect_text("hẹn giờ")
    await secretary.choose("Lịch cắt điện")
    await secretary.expect_text("Đã hủy")
    clock.advance(timedelta(days=10))

    assert "đã qua" in past["text"]
    assert await lan.drain(quiet=1.0) == []


async def test_a_resident_cannot_broadcast_and_an_empty_text_is_refused(
    stack: Stack, platform: str
) -> None:
    """/thongbao from a resident is refused; "Xong" before any text asks for the text."""
    secretary = await script.secretary(stack, platform)
    resident = await script.resident(stack, platform, "Lê Thị Mai")

    await resident.say("/thongbao")
    refused = (await resident.expect(1))[0]
    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.choose("Thông báo")
    await secretary.expect_text("Tiêu đề")
    await secretary.say("Tiêu đề")
    await secretary.expect_text("nội dung")
    await secretary.choose("Xong")
    empty = (await secretary.expect(1))[0]

    assert "không dành cho vai trò" in refused["text"]
    assert "Chưa có nội dung" in empty["text"]


async def test_a_resident_mutes_announcements_but_a_member_still_gets_directives(
    stack: Stack,
) -> None:
    """/tatthongbao: the resident gets no announcement; the muted member still gets a directive."""
    secretary = await script.secretary(stack, "telegram")
    resident = await script.resident(stack, "zalo", "Lê Thị Mai")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await resident.say("/tatthongbao")
    await resident.expect_text("Đã tắt")
    await lan.say("/tatthongbao")
    await lan.expect_text("vẫn được gửi")

    await _compose(
        secretary,
        title="Phun thuốc muỗi",
        body="Thứ Bảy này.",
        audience="Mọi người",
        kind="Thông báo",
    )
    everyone = await secretary.expect_text("Người nhận")
    await secretary.choose("Gửi")
    await secretary.expect_text("Đã gửi xong", timeout=10)
    await _compose(secretary, title="Chỉ thị 5", body="Nội dung.", audience="Tất cả đảng viên")
    await secretary.expect_text("Xác nhận")
    await secretary.choose("Gửi")

    assert "1 người" in everyone["text"]
    assert await lan.expect_text("Chỉ thị 5", timeout=10)
    assert all("Phun thuốc" not in (i.get("text") or "") for i in await resident.drain(quiet=0.5))
