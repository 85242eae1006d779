"""Monthly meetings: the rule, notices once each, RSVP, attendance and the figures, on both apps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.core.clock import FakeClock
from bot.jobs.meetings import generate_occurrences, meeting_tick
from bot.reports import attendance_report
from bot.services import attendance, meetings, setup
from bot.simulator.client import SimUser
from bot.simulator.stack import Stack
from storage.meetings import Meeting, MeetingNotice
from storage.models import Delivery
from tests import people as script


async def _tick(stack: Stack) -> int:
    """Run the notice job once, then wait until the worker has sent what it queued."""
    assert stack.app.dispatcher is not None and stack.app.worker is not None
    sessions = stack.app.dispatcher.sessions
    written = await meeting_tick(sessions, stack.clock, stack.settings, stack.app.worker.kick)
    for _ in range(200):
        async with sessions() as session:
            waiting = await session.scalar(
                select(func.count(Delivery.id)).where(Delivery.status.in_(["pending", "sending"]))
            )
        if not waiting:
            break
        await asyncio.sleep(0.05)
    return written


async def _set_rule(secretary: SimUser, day: str = "3") -> str:
    await secretary.say("/lichhop")
    await secretary.expect_text("thường kỳ")
    await secretary.choose("Đặt lịch thường kỳ")
    await secretary.expect_text("Họp thường kỳ vào")
    await secretary.choose("Một ngày cố định trong tháng (ví dụ ngày 3)")
    await secretary.expect_text("Ngày mấy")
    await secretary.say(day)
    await secretary.expect_text("Mấy giờ")
    await secretary.say("19:30")
    await secretary.expect_text("Họp ở đâu")
    await secretary.say("Nhà văn hóa khu phố")
    return (await secretary.expect_text("Đã lưu lịch"))["text"]


async def test_bad_rule_answers_are_refused_with_the_question_again(
    stack: Stack, platform: str
) -> None:
    """Day 0 or 32, 25:00, an empty place: each gets its own message and the question again."""
    secretary = await script.secretary(stack, platform)
    await secretary.say("/lichhop")
    await secretary.expect_text("thường kỳ")
    await secretary.choose("Đặt lịch thường kỳ")
    await secretary.expect_text("Họp thường kỳ vào")
    await secretary.choose("Một ngày cố định trong tháng (ví dụ ngày 3)")
    await secretary.expect_text("Ngày mấy")

    await secretary.say("32")
    day = (await secretary.expect(1))[0]["text"]
    await secretary.say("3")
    await secretary.expect_text("Mấy giờ")
    await secretary.say("25:00")
    hour = (await secretary.expect(1))[0]["text"]

    assert "từ 1 đến 31" in day and "Ngày mấy" in day
    assert "Giờ không hợp lệ" in hour and "Mấy giờ" in hour


async def test_invitation_rsvp_reminders_attendance_and_minutes(
    stack: Stack, clock: FakeClock
) -> None:
    """The December meeting from invitation to minutes, with a member on each app."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")
    saved = await _set_rule(secretary)

    await _tick(stack)  # 1 December: the 7-day invitation for 3 December is late but still before
    invite_lan = await lan.expect_text("THÔNG BÁO SINH HOẠT CHI BỘ", timeout=10)
    invite_minh = await minh.expect_text("THÔNG BÁO SINH HOẠT CHI BỘ", timeout=10)
    await lan.say("2")
    await lan.expect_text("lý do vắng")
    await lan.say("1")
    absent = await lan.expect_text("vắng mặt")
    await minh.choose("Tham dự")
    await minh.expect_text("tham dự")
    await secretary.say("/hop")
    tally = await secretary.expect_text("Tham dự (1)")

    clock.set(datetime(2026, 12, 2, 12, 31, tzinfo=UTC))  # the day before, 19:31 in Hanoi
    await _tick(stack)
    reminder = await minh.expect_text("Nhắc lịch", timeout=10)
    clock.set(datetime(2026, 12, 3, 12, 30, tzinfo=UTC))  # 19:30: the meeting starts
    await _tick(stack)  # the 2-hour reminder was due at 17:30 but the meeting has begun: missed
    await secretary.say("/hop")
    await secretary.expect_text("Tham dự (1)")
    await secretary.choose("Điểm danh")
    await secretary.expect_text("Điểm danh: có mặt 1/3")
    await secretary.choose("✗ Phạm Văn Hùng")
    await secretary.expect_text("có mặt 2/3")
    await secretary.choose("Xong")
    await secretary.expect_text("Nguyễn Thị Lan vắng")
    await secretary.choose("Vắng có lý do")
    closed = await secretary.expect_text("Đã kết thúc")
    await secretary.say("/bienban")
    minutes = await secretary.expect_text("Biên bản")

    assert "ngày 3 hằng tháng, lúc 19:30" in saved
    assert "1. Tham dự" in invite_lan["text"] and "Nhà văn hóa khu phố" in invite_lan["text"]
    assert [b["text"] for b in invite_minh["buttons"][0] + invite_minh["buttons"][1]] == [
        "Tham dự",
        "Vắng mặt",
    ]
    assert "Ốm đau" in absent["text"]
    assert "Nguyễn Thị Lan — Ốm đau" in tally["text"]
    assert "19:30 Thứ Năm, 03/12/2026" in reminder["text"]
    assert all("Nhắc lịch" not in (i.get("text") or "") for i in await lan.drain(quiet=0.3))
    assert "Có mặt: 2/3" in closed["text"] and "chưa đạt" in closed["text"]
    assert "Vắng có lý do (1): Nguyễn Thị Lan (Ốm đau)" in minutes["text"]
    assert "Vắng không lý do (0)" in minutes["text"]


async def test_cancelling_tells_those_notified_and_rsvp_is_refused(stack: Stack) -> None:
    """A cancelled meeting: members who had the notice are told; a late answer is refused."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _set_rule(secretary)
    await _tick(stack)
    await lan.expect_text("THÔNG BÁO SINH HOẠT CHI BỘ", timeout=10)

    await secretary.say("/hop")
    await secretary.expect_text("Chưa trả lời")
    await secretary.choose("Hủy cuộc họp")
    await secretary.expect_text("Hủy cuộc họp này")
    await secretary.choose("Hủy cuộc họp")
    await secretary.expect_text("Đã hủy cuộc họp")
    told = await lan.expect_text("ĐÃ HỦY", timeout=10)
    await lan.say("1")
    late = (await lan.expect(1))[0]

    assert "03/12/2026" in told["text"]
    assert "đã bị hủy" in late["text"]


async def test_a_year_of_meetings_sends_each_notice_once(stack: Stack, clock: FakeClock) -> None:
    """Twelve months fast-forwarded: 12 invitations each, reminders only to those not declining."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _set_rule(secretary, day="31")
    assert stack.app.dispatcher is not None
    sessions = stack.app.dispatcher.sessions
    end = datetime(2027, 12, 1, tzinfo=UTC)
    ticks = 0
    while clock.now() < end:
        await generate_occurrences(sessions, clock, stack.settings)
        async with sessions() as session:
            due = await session.scalar(
                select(MeetingNotice.due_at)
                .where(MeetingNotice.status == "pending")
                .order_by(MeetingNotice.due_at)
                .limit(1)
            )
        if due is None or due >= end:
            break
        clock.set(max(due, clock.now()))
        await _tick(stack)
        ticks += 1
    received = [
        i for i in await lan.drain(quiet=1.5) if "sinh hoạt" in (i.get("text") or "").lower()
    ]
    async with sessions() as session:
        starts = [
            m.starts_at for m in await session.scalars(select(Meeting).order_by(Meeting.starts_at))
        ]

    invitations = [i for i in received if "THÔNG BÁO SINH HOẠT" in i["text"]]
    reminders = [i for i in received if "Nhắc lịch" in i["text"]]
    assert len(invitations) == 12
    assert len(reminders) == 24
    assert len({i["text"] for i in invitations}) == 12  # each month once
    # Day 31 means the month's last day: 28 February 2027, 30 April 2027.
    local = [s + timedelta(hours=7) for s in starts]
    assert any(d.month == 2 and d.day == 28 for d in local)
    assert any(d.month == 4 and d.day == 30 for d in local)
    assert ticks >= 36


async def test_the_secretary_gets_the_year_as_a_spreadsheet_in_chat(
    stack: Stack, clock: FakeClock
) -> None:
    """/baocaohop 2026 after a closed meeting: an xlsx with one row per member."""
    secretary = await script.secretary(stack, "telegram")
    await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _set_rule(secretary)
    clock.set(datetime(2026, 12, 3, 12, 30, tzinfo=UTC))
    await secretary.say("/hop")
    await secretary.expect_text("Chưa trả lời")
    await secretary.choose("Điểm danh")
    await secretary.expect_text("Điểm danh: có mặt 0/2")
    await secretary.choose("✗ Phạm Văn Hùng")
    await secretary.expect_text("có mặt 1/2")
    await secretary.choose("Xong")
    await secretary.expect_text("Nguyễn Thị Lan vắng")
    await secretary.choose("Vắng không lý do")
    await secretary.expect_text("Đã kết thúc")

    await secretary.say("/baocaohop 2026")
    sent = (await secretary.expect(1))[0]

    assert sent["method"] == "sendDocument"
    assert sent["document"]["file_name"] == "diem-danh-2026.xlsx"
    assert "năm 2026" in sent["caption"]


async def test_flags_rise_at_the_right_meeting_and_the_year_export_adds_up(
    stack: Stack, clock: FakeClock, tmp_path: Path
) -> None:
    """Lan skips three meetings without reason: a warning at the 2nd, an alert at the 3rd."""
    secretary = await script.secretary(stack, "telegram")
    await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _set_rule(secretary)
    assert stack.app.dispatcher is not None
    sessions = stack.app.dispatcher.sessions
    raised: list[list[tuple[str, str]]] = []
    since = datetime(2026, 12, 1, tzinfo=stack.settings.zone)
    for month_start in (
        datetime(2026, 12, 3, 12, 30, tzinfo=UTC),
        datetime(2027, 1, 3, 12, 30, tzinfo=UTC),
        datetime(2027, 2, 3, 12, 30, tzinfo=UTC),
    ):
        clock.set(month_start)
        async with sessions() as session:
            cell = (await setup.cells(session))[0]
            meeting = await meetings.current(session, cell.id, clock.now())
            assert meeting is not None
            for row, name in await _marked(session, meeting):
                row.present = name != "Nguyễn Thị Lan"
            await attendance.close(session, clock.now(), meeting)
            found = await attendance.flags(
                session, meeting, since=since, warn_at=2, alert_at=3, streak_over=3
            )
            raised.append([(f.name, f.kind) for f in found])
            await meetings.generate(
                session, clock.now(), cell.id, stack.settings.zone, 3, stack.settings.notice_offsets
            )
            await session.commit()
    async with sessions() as session:
        path = await attendance_report(
            session, cell.id, 2027, "vi", stack.settings.zone, tmp_path / "a.xlsx"
        )
    rows = list(load_workbook(path).active.iter_rows(values_only=True))

    assert raised == [[], [("Nguyễn Thị Lan", "warn")], [("Nguyễn Thị Lan", "alert")]]
    assert rows[1] == (
        "Họ và tên",
        "03/01",
        "03/02",
        "Có mặt",
        "Vắng có lý do",
        "Vắng không lý do",
        "Tỷ lệ (%)",
    )
    assert rows[2] == ("Nguyễn Thị Lan", "vắng không lý do", "vắng không lý do", 0, 0, 2, 0)
    assert rows[3] == ("Phạm Văn Hùng", "có mặt", "có mặt", 2, 0, 0, 100)
    assert rows[4][:3] == ("Tổng (có mặt / được tính)", "1/2", "1/2")


async def _marked(session, meeting):  # type: ignore[no-untyped-def]
    await attendance.start_marking(session, meeting.starts_at, meeting)
    return await attendance.roll(session, meeting.id)


async def test_the_secretary_gets_the_checklist_and_the_thematic_reminder_once(
    stack: Stack, clock: FakeClock
) -> None:
    """Two days before: content missing, documents to post, notices counted; December: thematic."""
    secretary = await script.secretary(stack, "telegram")
    await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _set_rule(secretary)
    await _tick(stack)
    clock.set(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))  # 20:00 on 1 December: 47.5 hours before

    await _tick(stack)
    await _tick(stack)
    items = await secretary.drain(quiet=0.5)
    texts = [i.get("text") or "" for i in items]

    checklists = [t for t in texts if "Chuẩn bị cuộc họp" in t]
    thematic = [t for t in texts if "chuyên đề" in t and "Quý 4/2026" in t]
    assert len(checklists) == 1 and len(thematic) == 1
    assert "Chưa có nội dung" in checklists[0]
    assert "Sổ tay đảng viên" in checklists[0]
    assert "Zalo 1 người, Telegram 1 người" in checklists[0]


async def test_a_thematic_meeting_in_the_quarter_silences_the_reminder(stack: Stack) -> None:
    """With a thematic meeting scheduled in December, no reminder comes."""
    secretary = await script.secretary(stack, "telegram")
    await secretary.say("/lichhop")
    await secretary.expect_text("thường kỳ")
    await secretary.choose("Thêm cuộc họp chuyên đề, bất thường")
    await secretary.expect_text("Loại cuộc họp")
    await secretary.choose("Sinh hoạt chuyên đề")
    await secretary.expect_text("Ngày giờ họp")
    await secretary.say("20/12/2026 19:30")
    await secretary.expect_text("Họp ở đâu")
    await secretary.say("Nhà văn hóa khu phố")
    await secretary.expect_text("Nội dung cuộc họp")
    await secretary.say("Học tập Nghị quyết Đại hội")
    added = await secretary.expect_text("Đã thêm")

    await _tick(stack)

    assert "Sinh hoạt chuyên đề: 19:30 Chủ Nhật, 20/12/2026" in added["text"]
    assert all("Quý 4" not in (i.get("text") or "") for i in await secretary.drain(quiet=0.5))
