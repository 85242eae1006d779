"""Resident reports through the simulator: file, route, handle, answer, rate; privacy; limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.core.clock import FakeClock
from bot.jobs.feedback import feedback_deadlines, feedback_monthly, feedback_retention
from bot.services import feedback_stats
from bot.simulator.client import SimUser
from bot.simulator.stack import Stack, running_stack
from storage.feedback import Report, ReportPhoto
from storage.models import StoredFile
from tests import people as script
from tests.conftest import FAST, NO_LIMITS

RESIDENT = "Lê Thị Mai"
TEXT = "Có nhóm thanh niên tụ tập gây mất trật tự ở đầu ngõ 5 mỗi tối."


async def staff(stack: Stack, secretary: SimUser, platform: str, name: str, kind: str) -> SimUser:
    """Someone the secretary invites for a role (security team, neighbourhood head)."""
    code = await script.invite(secretary, name, kind)
    user = await stack.sim.new_user(platform, name)
    await script.join(user, code, name)
    await secretary.expect_text("đã tham gia")
    return user


async def file_report(
    user: SimUser,
    *,
    category: str = "An ninh trật tự",
    text: str = TEXT,
    place: str = "Ngõ 5, Tổ 3",
    privacy: str = "Ẩn danh",
    photos: int = 1,
    now: str | None = "Không",
) -> str:
    """Go through /phananh to the end; return the acknowledgement's text."""
    await user.say("/phananh")
    await user.expect_text("việc gì")
    await user.choose(category)
    await user.expect_text("mô tả")
    await user.say(text)
    await user.expect_text("tối đa 3 ảnh")
    for _ in range(photos):
        await user.send_photo()
        await user.expect_text("Đã nhận ảnh")
    await user.choose("Xong" if photos else "Không có ảnh")
    await user.expect_text("ở đâu")
    await user.say(place)
    if now is not None:
        await user.expect_text("đang xảy ra")
        await user.choose(now)
    await user.expect_text("biết tên")
    await user.choose(privacy)
    await user.expect_text("kiểm tra lại")
    await user.choose("Gửi")
    return (await user.expect_text("Đã nhận phản ánh"))["text"]


def _shown(item: dict[str, object]) -> str:
    return str(item.get("text") or item.get("caption") or "")


def _labels(item: dict[str, Any]) -> str:
    """Options as shown: buttons on Telegram, numbered lines on Zalo."""
    buttons = [b["text"] for row in item.get("buttons") or [] for b in row]
    return " ".join(buttons) or _shown(item)


def _texts(user: SimUser) -> list[str]:
    return [_shown(i) for i in user.received]


async def test_an_anonymous_report_is_accepted_resolved_with_a_photo_and_rated(
    stack: Stack, platform: str, tmp_path: Path
) -> None:
    """The "done when" scenario: nobody but the bot knows who reported; every step is told."""
    secretary = await script.secretary(stack, platform)
    guard = await staff(stack, secretary, platform, "Võ Văn Bảo", "Tổ bảo vệ an ninh")
    resident = await script.resident(stack, platform, RESIDENT)

    ack = await file_report(resident)
    card = await guard.expect_text("Có phản ánh mới", timeout=10)
    await guard.choose("Tiếp nhận")
    await guard.expect_text("Đã tiếp nhận phản ánh PA-0001")
    told_accepted = await resident.expect_text("Đã tiếp nhận", timeout=10)
    await guard.choose("Đã giải quyết")
    await guard.expect_text("kết quả giải quyết")
    await guard.say("Đã phối hợp công an phường nhắc nhở, nhóm thanh niên đã giải tán.")
    await guard.expect_text("ảnh kết quả")
    await guard.send_photo()
    await guard.expect_text("Người phản ánh đã được báo")
    told_resolved = await resident.expect_text("Đã giải quyết", timeout=10)
    await resident.choose("Đã khắc phục")
    await resident.expect_text("đánh giá")
    await resident.choose("5 — Rất hài lòng")
    thanks = await resident.expect_text("Cảm ơn anh/chị đã đánh giá")
    await secretary.say("/phananh PA-0001")
    secretary_view = await secretary.expect_text("PA-0001")
    out = await feedback_stats_export(stack, tmp_path)

    assert "PA-0001" in ack and "Tổ bảo vệ an ninh" in ack and "Hạn giải quyết" in ack
    assert "Người phản ánh: ẩn danh" in _shown(card)
    assert "Đã tiếp nhận" in _shown(told_accepted)
    assert "giải tán" in _shown(told_resolved)
    assert any(i["method"] == "sendPhoto" for i in resident.received)
    assert "5/5" in _shown(thanks)
    assert "Người phản ánh: ẩn danh" in _shown(secretary_view)
    heard_by_others = _texts(guard) + _texts(secretary) + [out]
    assert [t for t in heard_by_others if RESIDENT in t] == []


async def feedback_stats_export(stack: Stack, folder: Path) -> str:
    """The secretary's spreadsheet of this month, as one string of all its cells."""
    assert stack.app.dispatcher is not None
    now = stack.clock.now()
    start, end = feedback_stats.month_bounds(
        now.astimezone(stack.settings.zone).date(), stack.settings
    )
    path = folder / "feedback.xlsx"
    async with stack.app.dispatcher.sessions() as session:
        unit_id = (await session.scalar(select(Report.unit_id).limit(1))) or 0
        await feedback_stats.export(session, unit_id, start, end, stack.settings, path)
    sheet = load_workbook(path).active
    assert sheet is not None
    return " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)


async def test_happening_now_tells_the_emergency_numbers_and_alerts_the_security_team(
    stack: Stack, platform: str
) -> None:
    """ "Có, đang xảy ra": 113/114/115 at once, the team alerted without a name, 4-hour deadline."""
    secretary = await script.secretary(stack, platform)
    guard = await staff(stack, secretary, platform, "Võ Văn Bảo", "Tổ bảo vệ an ninh")
    resident = await script.resident(stack, platform, RESIDENT)

    await resident.say("/phananh")
    await resident.expect_text("việc gì")
    await resident.choose("An ninh trật tự")
    await resident.expect_text("mô tả")
    await resident.say("Có người đang đánh nhau trước cửa hàng tạp hóa.")
    await resident.expect_text("tối đa 3 ảnh")
    await resident.choose("Không có ảnh")
    await resident.expect_text("ở đâu")
    await resident.say("Số 20, Tổ 3")
    await resident.expect_text("đang xảy ra")
    await resident.choose("Có, đang xảy ra")
    numbers = await resident.expect_text("113")
    alert = await guard.expect_text("BÁO KHẨN", timeout=10)
    await resident.expect_text("biết tên")
    await resident.choose("Cho biết tên")
    await resident.expect_text("kiểm tra lại")
    await resident.choose("Gửi")
    ack = await resident.expect_text("Đã nhận phản ánh")
    card = await guard.expect_text("Có phản ánh mới", timeout=10)

    assert "114" in _shown(numbers) and "115" in _shown(numbers)
    assert "đánh nhau" in _shown(alert) and RESIDENT not in _shown(alert)
    assert "Hạn tiếp nhận: 14:00 Thứ Ba, 01/12/2026" in _shown(ack)
    assert "Khẩn" in _shown(card) and RESIDENT in _shown(card)  # named: the handler sees it


async def test_each_category_goes_to_its_handler_and_the_secretary_can_reroute(
    stack: Stack,
) -> None:
    """Noise → neighbourhood head; other → secretary; after /loaiphananh noise → security."""
    secretary = await script.secretary(stack, "telegram")
    head = await staff(stack, secretary, "zalo", "Đặng Văn Tư", "Trưởng khu phố")
    guard = await staff(stack, secretary, "telegram", "Võ Văn Bảo", "Tổ bảo vệ an ninh")
    resident = await script.resident(stack, "zalo", RESIDENT)

    await file_report(resident, category="Tiếng ồn", text="Karaoke ồn ào quá 23 giờ.", now=None)
    to_head = await head.expect_text("Tiếng ồn", timeout=10)
    await file_report(resident, category="Khác", text="Cây xanh đổ chắn lối đi.", now=None)
    to_secretary = await secretary.expect_text("Cây xanh", timeout=10)
    await secretary.say("/loaiphananh")
    await secretary.expect_text("Chọn một loại")
    await secretary.choose("Tiếng ồn")
    await secretary.expect_text("Chuyển cho")
    await secretary.choose("Tổ bảo vệ an ninh")
    await secretary.expect_text("đang do Tổ bảo vệ an ninh")
    await file_report(resident, category="Tiếng ồn", text="Loa kẹo kéo mở to cả đêm.", now=None)
    to_guard = await guard.expect_text("Loa kẹo kéo", timeout=10)

    assert "PA-0001" in _shown(to_head)
    assert "PA-0002" in _shown(to_secretary)
    assert "PA-0003" in _shown(to_guard)
    assert [t for t in _texts(guard) if "Karaoke" in t or "Cây xanh" in t] == []
    assert [t for t in await head.drain(quiet=0.5) if "Loa kẹo kéo" in _shown(t)] == []


async def test_an_ignored_report_is_reminded_then_escalated_to_the_secretary(
    stack: Stack, clock: FakeClock
) -> None:
    """8 working hours to accept: half time (14:00), deadline (Wed 08:30), then the secretary."""
    secretary = await script.secretary(stack, "telegram")
    head = await staff(stack, secretary, "zalo", "Đặng Văn Tư", "Trưởng khu phố")
    resident = await script.resident(stack, "telegram", RESIDENT)
    ack = await file_report(
        resident, category="Tiếng ồn", text="Karaoke ồn ào quá 23 giờ.", now=None
    )
    await head.expect_text("Có phản ánh mới", timeout=10)
    assert stack.app.dispatcher is not None and stack.app.worker is not None
    job = (stack.app.dispatcher.sessions, clock, stack.settings, stack.app.worker.kick)

    clock.advance(timedelta(hours=5, minutes=30))  # 13:30: under half of the working time
    quiet = await feedback_deadlines(*job)
    clock.advance(timedelta(minutes=31))  # 14:01
    half = await feedback_deadlines(*job)
    reminded = await head.expect_text("Nhắc việc", timeout=10)
    clock.advance(timedelta(hours=18, minutes=30))  # Wednesday 08:31
    due = await feedback_deadlines(*job)
    at_deadline = await head.expect_text("đã đến hạn", timeout=10)
    clock.advance(timedelta(hours=1))  # 09:31: an hour of working time past the deadline
    escalated = await feedback_deadlines(*job)
    told = await secretary.expect_text("Báo bí thư", timeout=10)
    again = await feedback_deadlines(*job)

    assert "Hạn tiếp nhận: 08:30 Thứ Tư, 02/12/2026" in ack
    assert (quiet, half, due, escalated, again) == (0, 1, 1, 1, 0)
    assert "PA-0001" in _shown(reminded) and "PA-0001" in _shown(at_deadline)
    assert "PA-0001" in _shown(told) and "Quá hạn" not in _shown(told)
    assert "quá hạn tiếp nhận" in _shown(told)


async def test_a_duplicate_is_linked_and_both_reporters_hear_the_updates(
    stack: Stack, platform: str
) -> None:
    """Same category, same tổ within 48 hours: the head links them; both residents are told."""
    secretary = await script.secretary(stack, platform)
    head = await staff(stack, secretary, platform, "Đặng Văn Tư", "Trưởng khu phố")
    mai = await script.resident(stack, platform, RESIDENT)
    lan = await script.resident(stack, platform, "Ngô Thị Lan", house="Số 3, ngõ 5")
    await file_report(mai, category="Ngập nước", text="Cống tắc, nước ngập nửa mét.", now=None)
    await head.expect_text("PA-0001", timeout=10)

    await file_report(lan, category="Ngập nước", text="Đường ngập sau mưa, cống tắc.", now=None)
    second = await head.expect_text("PA-0002", timeout=10)
    await head.choose("Gộp vào PA-0001")
    await head.expect_text("Đã gộp PA-0002 vào PA-0001")
    linked = await lan.expect_text("trùng với PA-0001", timeout=10)
    await head.say("/viec")
    await head.expect_text("cần xử lý")
    await head.choose("PA-0001")
    await head.expect_text("Ngập nước")
    await head.choose("Tiếp nhận")
    told_mai = await mai.expect_text("Đã tiếp nhận", timeout=10)
    told_lan = await lan.expect_text("Đã tiếp nhận", timeout=10)

    assert "Có thể trùng với PA-0001" in _shown(second)
    assert "PA-0002" in _shown(linked)
    assert "PA-0001" in _shown(told_mai) and "PA-0001" in _shown(told_lan)


@pytest.fixture
async def strict_stack(database_url: str, clock: FakeClock) -> AsyncIterator[Stack]:
    """The stack with a daily limit of two reports per person."""
    async with running_stack(
        database_url, clock=clock, limits=NO_LIMITS, **FAST, feedback_daily_limit=2
    ) as running:
        yield running


async def test_the_daily_limit_the_same_text_and_a_bar_are_refused_politely(
    strict_stack: Stack, clock: FakeClock
) -> None:
    """Two a day here; the same text twice is refused; a barred person cannot file at all."""
    stack = strict_stack
    secretary = await script.secretary(stack, "telegram")
    resident = await script.resident(stack, "zalo", RESIDENT)
    await file_report(resident, category="Tiếng ồn", text="Karaoke ồn ào quá 23 giờ.", now=None)

    await resident.say("/phananh")
    await resident.expect_text("việc gì")
    await resident.choose("Tiếng ồn")
    await resident.expect_text("mô tả")
    await resident.say("karaoke ồn ào quá 23 giờ")
    repeated = await resident.expect_text("đúng nội dung này")
    await resident.say("/huy")
    await file_report(resident, category="Tiếng ồn", text="Chó sủa suốt đêm ở số 9.", now=None)
    await resident.say("/phananh")
    limited = await resident.expect_text("tối đa 2 phản ánh")
    clock.advance(timedelta(days=1))
    await secretary.say("/champhananh Mai")
    await secretary.expect_text("chặn")
    await secretary.choose(RESIDENT)
    await secretary.expect_text("Đã chặn")
    await resident.say("/phananh")
    barred = await resident.expect_text("không gửi được phản ánh")

    assert "PA-0001" in _shown(repeated)
    assert "Mô tả" not in _shown(limited)
    assert "ban điều hành khu phố" in _shown(barred)


async def test_bad_input_is_answered_and_the_report_so_far_is_kept(
    stack: Stack, platform: str
) -> None:
    """Text for a choice, short and long text, a fourth photo, a file: a message, same step."""
    await script.secretary(stack, platform)
    resident = await script.resident(stack, platform, RESIDENT)

    await resident.say("/phananh")
    await resident.expect_text("việc gì")
    await resident.say("rác")
    not_a_choice = await resident.expect_text("Xin chọn")
    await resident.choose("Rác thải")
    await resident.expect_text("mô tả")
    await resident.say("rác")
    short = await resident.expect_text("quá ngắn")
    await resident.say("x" * 2001)
    long = await resident.expect_text("quá dài")
    await resident.say("Rác đổ trộm ở bãi đất trống cuối ngõ 7.")
    await resident.expect_text("tối đa 3 ảnh")
    for _ in range(3):
        await resident.send_photo()
        await resident.expect_text("Đã nhận ảnh")
    await resident.send_photo()
    fourth = await resident.expect_text("tối đa 3 ảnh")
    if platform == "telegram":
        await resident.send_document("video.mp4", b"\x00" * 64, "video/mp4")
    else:
        await resident.send_unsupported()
    not_a_photo = await resident.expect_text("chỉ nhận ảnh")
    await resident.choose("Xong")
    await resident.expect_text("ở đâu")
    await resident.send_sticker()
    sticker = await resident.expect_text("địa chỉ")
    await resident.say("Cuối ngõ 7, Tổ 2")
    await resident.expect_text("biết tên")
    await resident.choose("Giấu tên")
    review = await resident.expect_text("kiểm tra lại")

    assert "Xin chọn" in _shown(not_a_choice) and "Rác thải" in _labels(not_a_choice)
    assert "10" in _shown(short) and "mô tả" in _shown(short).lower()
    assert "2001" in _shown(long)
    assert "không được lưu" in _shown(fourth) and "tối đa 3 ảnh" in _shown(fourth)
    assert "video" in _shown(not_a_photo)
    assert "Xin gõ địa chỉ" in _shown(sticker)
    assert "Ảnh kèm theo: 3" in _shown(review) and "bãi đất trống" in _shown(review)


async def test_a_hidden_name_reaches_the_secretary_only_and_nobody_reads_anothers_report(
    stack: Stack, platform: str
) -> None:
    """Hidden: the head sees no name, the secretary does; another resident gets "not found"."""
    secretary = await script.secretary(stack, platform)
    head = await staff(stack, secretary, platform, "Đặng Văn Tư", "Trưởng khu phố")
    mai = await script.resident(stack, platform, RESIDENT)
    lan = await script.resident(stack, platform, "Ngô Thị Lan", house="Số 3, ngõ 5")
    await file_report(
        mai, category="Tiếng ồn", text="Karaoke ồn ào quá 23 giờ.", privacy="Giấu tên", now=None
    )
    card = await head.expect_text("PA-0001", timeout=10)

    await secretary.say("/phananh PA-0001")
    secretary_view = await secretary.expect_text("PA-0001")
    await lan.say("/phananh PA-0001")
    refused = await lan.expect_text("Không tìm thấy")
    await lan.say("/viec")
    no_queue = (await lan.expect(1))[0]
    await mai.say("/phananhcuatoi")
    mine = await mai.expect_text("Phản ánh của anh/chị")

    assert RESIDENT not in _shown(card) and "đề nghị giấu tên" in _shown(card)
    assert RESIDENT in _shown(secretary_view) and "giấu tên với người xử lý" in _shown(
        secretary_view
    )
    assert "Karaoke" not in _shown(refused)
    assert "không dành cho vai trò" in _shown(no_queue)
    assert "PA-0001 · Mới" in _labels(mine)


async def test_retention_removes_photos_and_the_reporter_but_keeps_the_figures(
    stack: Stack, clock: FakeClock
) -> None:
    """A year after closing: no photo, no reporter; the report's category and status remain."""
    secretary = await script.secretary(stack, "telegram")
    guard = await staff(stack, secretary, "telegram", "Võ Văn Bảo", "Tổ bảo vệ an ninh")
    resident = await script.resident(stack, "zalo", RESIDENT)
    await file_report(resident, photos=2)
    await guard.expect_text("Có phản ánh mới", timeout=10)
    await guard.choose("Không xử lý được")
    await guard.expect_text("lý do")
    await guard.say("Không xác định được nhóm thanh niên.")
    await guard.expect_text("Người phản ánh đã được báo")
    assert stack.app.dispatcher is not None
    sessions = stack.app.dispatcher.sessions

    clock.advance(timedelta(days=364))
    early = await feedback_retention(sessions, clock, stack.settings)
    clock.advance(timedelta(days=2))
    purged = await feedback_retention(sessions, clock, stack.settings)
    async with sessions() as session:
        report = await session.get(Report, 1)
        photos = await session.scalar(select(func.count(ReportPhoto.id)))
        files = await session.scalar(
            select(func.count(StoredFile.id)).where(StoredFile.file_name.startswith("phananh-"))
        )

    assert (early, purged) == (0, 1)
    assert report is not None and report.reporter_id is None and report.status == "failed"
    assert (photos, files) == (0, 0)


async def test_the_secretary_gets_the_monthly_summary_once_and_can_export_the_list(
    stack: Stack, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the 1st: counts, on-time share, rating; `loaphuong report feedback` writes the list."""
    secretary = await script.secretary(stack, "telegram")
    head = await staff(stack, secretary, "telegram", "Đặng Văn Tư", "Trưởng khu phố")
    resident = await script.resident(stack, "zalo", RESIDENT)
    await file_report(resident, category="Tiếng ồn", text="Karaoke ồn ào quá 23 giờ.", now=None)
    await head.expect_text("Có phản ánh mới", timeout=10)
    await head.choose("Tiếp nhận")
    await head.expect_text("Đã tiếp nhận")
    await file_report(
        resident, category="Khác", text="Cây xanh đổ chắn lối đi.", privacy="Cho biết", now=None
    )
    assert stack.app.dispatcher is not None and stack.app.worker is not None
    job = (stack.app.dispatcher.sessions, clock, stack.settings, stack.app.worker.kick)

    clock.advance(timedelta(days=31))  # 1 January 2027, 08:00
    sent = await feedback_monthly(*job)
    summary = await secretary.expect_text("Tổng hợp phản ánh tháng 12/2026", timeout=10)
    again = await feedback_monthly(*job)
    monkeypatch.setenv("DATABASE_URL", stack.settings.database_url)
    out = tmp_path / "phan-anh.xlsx"
    args = ["report", "feedback", "--from", "2026-12-01", "--to", "2026-12-31", "--out", str(out)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]

    assert (sent, again) == (1, 0)
    assert "2 phản ánh" in _shown(summary) and "Tiếng ồn: 1" in _shown(summary)
    assert "Đã tiếp nhận: 1" in _shown(summary) and "Mới: 1" in _shown(summary)
    assert result.exit_code == 0, result.output
    assert [r[0] for r in rows] == ["PA-0001", "PA-0002"]
    assert [r[6] for r in rows] == ["(ẩn danh)", RESIDENT]
