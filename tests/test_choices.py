"""Typed answers on Zalo when several questions are open in one chat."""

from __future__ import annotations

from sqlalchemy import select

from bot.simulator.stack import Stack
from storage.meetings import MeetingAnswer
from storage.models import Delivery
from tests import people as script
from tests.test_broadcast_delivery import _queue
from tests.test_meetings import _set_rule, _tick


async def test_a_directive_can_still_be_acknowledged_by_words_after_a_meeting_invitation(
    stack: Stack,
) -> None:
    """ "đã nhận" answers the older directive; "1" answers the newer invitation."""
    secretary = await script.secretary(stack, "telegram")
    lan = await script.member(stack, secretary, "zalo", "Nguyễn Thị Lan")
    await _queue(stack, body="Nội dung nghị quyết.")
    await lan.expect_text("Nghị quyết 57", timeout=10)
    await _set_rule(secretary)
    await _tick(stack)
    await lan.expect_text("THÔNG BÁO SINH HOẠT CHI BỘ", timeout=10)

    await lan.say("đã nhận")
    acked = (await lan.expect(1))[0]["text"]
    await lan.say("1")
    attending = (await lan.expect(1))[0]["text"]
    assert stack.app.dispatcher is not None
    async with stack.app.dispatcher.sessions() as session:
        acks = [
            d.acked_at
            for d in await session.scalars(
                select(Delivery).where(
                    Delivery.source == "broadcast", Delivery.chat_id == lan.chat_id
                )
            )
        ]
        answers = [a.answer for a in await session.scalars(select(MeetingAnswer))]

    assert "Đã ghi nhận" in acked
    assert "tham dự" in attending
    assert acks and acks[0] is not None
    assert answers == ["yes"]


async def test_words_of_an_older_question_do_not_hijack_a_flow(stack: Stack) -> None:
    """While composing, "ok" is text for the composer, not the acknowledgement of a directive."""
    secretary = await script.secretary(stack, "zalo")
    await _queue(stack, body="Nội dung nghị quyết.")
    await secretary.expect_text("Nghị quyết 57", timeout=10)
    await secretary.expect_text("Đã gửi xong", timeout=10)
    await secretary.say("/thongbao")
    await secretary.expect_text("loại văn bản")
    await secretary.say("2")
    await secretary.expect_text("Tiêu đề")

    await secretary.say("ok")
    reply = (await secretary.expect(1))[0]["text"]

    assert "nội dung" in reply
