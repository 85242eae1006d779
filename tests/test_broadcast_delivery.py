"""Broadcast delivery details: files, long texts, reminders, the command line, restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.core.clock import FakeClock
from bot.jobs.reminders import remind_unacknowledged
from bot.services import broadcasts, outbox, people, setup
from bot.simulator.stack import Stack
from storage import db
from storage.models import BroadcastKind, Delivery, DeliveryStatus, Identity, Person, Role
from tests import people as script
from tests.conftest import POSTGRES_URL

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def _sessions(stack: Stack):  # type: ignore[no-untyped-def]
    assert stack.app.dispatcher is not None
    return stack.app.dispatcher.sessions


async def _queue(
    stack: Stack, *, body: str, delay: timedelta = timedelta(0), kick: bool = True
) -> int:
    """What /thongbao's confirm does: a directive to all members, from the secretary."""
    sessions = await _sessions(stack)
    async with sessions() as session:
        cell = (await setup.cells(session))[0]
        secretary = (await people.holders(session, cell.id, Role.secretary))[0]
        item, _ = await broadcasts.create(
            session,
            stack.clock.now(),
            unit_id=cell.id,
            kind=BroadcastKind.directive,
            title="Nghị quyết 57",
            body=body,
            audience="members",
            send_at=stack.clock.now() + delay,
            created_by=secretary.id,
        )
        await session.commit()
    assert stack.app.worker is not None
    if kick:
        stack.app.worker.kick()
    return item.id


async def test_a_pdf_is_uploaded_on_telegram_and_linked_on_zalo(stack: Stack) -> None:
    """A PDF sent while composing: Telegram members get the file, Zalo members a link."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")
    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.choose("Chỉ thị")
    await secretary.expect_text("Tiêu đề")
    await secretary.say("Kế hoạch số 12")
    await secretary.expect_text("nội dung")
    await secretary.say("Xin xem tệp đính kèm.")
    await secretary.expect_text("Đã ghi")
    await secretary.choose("Xong")
    await secretary.expect_text("đính kèm")

    await secretary.send_document("ke-hoach-12.pdf", PDF, "application/pdf")
    kept = await secretary.expect_text("Đã nhận tệp")
    await secretary.choose("Tất cả đảng viên")
    await secretary.expect_text("khi nào")
    await secretary.choose("Gửi ngay")
    await secretary.expect_text("Xác nhận")
    await secretary.choose("Gửi")
    on_telegram = await minh.expect_text("Kế hoạch số 12", timeout=10)
    on_zalo = await lan.expect_text("Kế hoạch số 12", timeout=10)
    link = next(w for w in on_zalo["text"].split() if w.startswith("http"))
    async with httpx.AsyncClient() as http:
        fetched = await http.get(link)

    assert "ke-hoach-12.pdf" in kept["text"]
    assert on_telegram["method"] == "sendDocument"
    assert on_telegram["document"]["file_name"] == "ke-hoach-12.pdf"
    assert fetched.status_code == 200 and fetched.content == PDF


async def test_long_text_is_split_per_platform_with_the_ack_on_the_last_part(stack: Stack) -> None:
    """5,000 characters: 2 parts on Telegram (4,096), 3 on Zalo (2,000), "Đã nhận" with the last."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")
    paragraph = "Đồng chí cần nghiên cứu kỹ nội dung nghị quyết và thực hiện nghiêm túc. " * 8
    body = "\n\n".join([paragraph.strip()] * 9)

    await _queue(stack, body=body)
    zalo_parts = await lan.expect(3, timeout=10)
    telegram_parts = await minh.expect(2, timeout=10)

    assert [p["text"][:5] for p in zalo_parts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert all(len(p["text"]) <= 2000 for p in zalo_parts)
    assert "1. Đã nhận" in zalo_parts[-1]["text"]
    assert telegram_parts[0]["buttons"] is None
    assert telegram_parts[-1]["buttons"][0][0]["text"] == "Đã nhận"


async def test_reminders_go_to_those_who_have_not_acknowledged_at_most_twice(
    stack: Stack, clock: FakeClock
) -> None:
    """After 24 hours, then 48: only the member who did not answer is reminded, twice."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    minh = await script.member(stack, secretary, "telegram", "Trần Văn Minh")
    await _queue(stack, body="Nội dung.")
    await lan.expect_text("Nghị quyết 57", timeout=10)
    await minh.expect_text("Nghị quyết 57", timeout=10)
    await secretary.expect_text("Đã gửi xong", timeout=10)
    await minh.choose("Đã nhận")
    await minh.expect_text("Đã ghi nhận")
    sessions = await _sessions(stack)
    counts = []
    for _ in range(3):
        clock.advance(timedelta(hours=25))
        counts.append(
            await remind_unacknowledged(sessions, clock, stack.settings, stack.app.worker.kick)
        )
        if counts[-1]:
            await lan.expect_text("Nhắc lại", timeout=10)

    assert counts == [2, 2, 0] or counts == [1, 1, 0]
    assert await minh.drain(quiet=0.5) == []


async def test_the_command_line_queues_a_broadcast_and_exports_the_report(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`loaphuong broadcast` queues rows the running bot sends; `report directive` writes xlsx."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    text = tmp_path / "chithi.txt"
    text.write_text("Nội dung chỉ thị từ tệp.", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": stack.settings.database_url,
        "TELEGRAM_BOT_TOKEN": "",
        "ZALO_BOT_TOKEN": "",
    }
    runner = CliRunner()

    queued = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["broadcast", "--audience", "members", "--title", "Chỉ thị CLI", "--text-file", str(text)],
        env=env,
    )
    stack.app.worker.kick()
    await lan.expect_text("Chỉ thị CLI", timeout=10)
    await lan.say("1")
    await lan.expect_text("Đã ghi nhận")
    exported = await asyncio.to_thread(
        runner.invoke, cli, ["report", "directive", "1", "--out", str(tmp_path / "r.xlsx")], env=env
    )

    assert queued.exit_code == 0, queued.output
    assert "2 người" in queued.output
    assert exported.exit_code == 0, exported.output
    rows = list(load_workbook(tmp_path / "r.xlsx").active.iter_rows(values_only=True))
    assert rows[1][:3] == ("Họ và tên", "Ứng dụng", "Trạng thái gửi")
    lan_row = next(r for r in rows if r[0] == "Nguyễn Thị Lan")
    assert lan_row[1] == "Zalo" and lan_row[2] == "đã gửi" and lan_row[4] is not None


async def test_rows_left_claimed_by_a_dead_worker_are_sent_after_restart(
    stack: Stack, clock: FakeClock
) -> None:
    """A claim older than the lease goes back to pending and is delivered; nothing is lost."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    sessions = await _sessions(stack)
    # Due in a year, so the running worker leaves them alone while we fake a dead claim.
    number = await _queue(stack, body="Nội dung.", delay=timedelta(days=365), kick=False)
    async with sessions() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.source_id == number)
            .values(status=DeliveryStatus.sending, claimed_at=clock.now(), due_at=clock.now())
        )
        await session.commit()
    clock.advance(outbox.STALE_CLAIM + timedelta(seconds=1))

    async with sessions() as session:
        released = await outbox.release_stale(session, clock.now())
        await session.commit()
    stack.app.worker.kick()

    assert released == 2
    assert await lan.expect_text("Nghị quyết 57", timeout=10)


@pytest.mark.skipif(POSTGRES_URL is None, reason="row locking is a PostgreSQL feature")
async def test_two_workers_on_postgresql_never_claim_the_same_row(database_url: str) -> None:
    """FOR UPDATE SKIP LOCKED: concurrent claims split the rows between them."""
    engine = db.create_engine(database_url)
    sessions = db.sessionmaker(engine)
    clock = FakeClock()
    async with sessions() as session:
        for i in range(40):
            person = Person(full_name=f"Người {i}", language="vi", created_at=clock.now())
            session.add(person)
            await session.flush()
            session.add(
                Identity(
                    person_id=person.id,
                    platform="zalo",
                    platform_user_id=str(i),
                    chat_id=str(i),
                    receives_notices=True,
                    created_at=clock.now(),
                )
            )
        await session.flush()
        to = await outbox.recipients(session, range(1, 41))
        await outbox.enqueue(session, source="test", source_id=1, to=to, due_at=clock.now())
        await session.commit()

    async def claim() -> list[int]:
        async with sessions() as session:
            rows = await outbox.claim(session, clock.now(), 15)
            await asyncio.sleep(0.2)  # hold the locks while the other claims
            await session.commit()
            return [r.id for r in rows]

    first, second = await asyncio.gather(claim(), claim())
    async with sessions() as session:
        sending = await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.status == "sending")
        )
    await engine.dispose()

    assert len(first) == 15 and len(second) == 15
    assert not set(first) & set(second)
    assert sending == 30
