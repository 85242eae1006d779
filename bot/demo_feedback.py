"""The demo's feedback scene: an anonymous report with a photo, handled and rated."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console

from bot.simulator.stack import Stack

if TYPE_CHECKING:  # bot.demo imports this module
    from bot.demo import Actor

CODE = re.compile(r"\b([A-HJ-NP-TV-Z2-9]{8})\b")


async def _photo(actor: Actor, console: Console) -> None:
    console.print(f"{actor.user.name}: [bold]<ảnh>[/bold]")
    await actor.user.send_photo()


async def feedback_scene(
    stack: Stack, console: Console, pause: float, secretary: Actor, resident: Actor
) -> None:
    """The security team joins; a resident reports anonymously; nobody learns who it was."""
    from bot.demo import Actor

    console.rule("11. Tổ bảo vệ an ninh tham gia trên Zalo")
    await secretary.says("/moi Võ Văn Bảo")
    await secretary.hears()
    await secretary.taps("Tổ bảo vệ an ninh")
    code = CODE.search(await secretary.hears())
    assert code is not None
    guard = Actor(await stack.sim.new_user("zalo", "Võ Văn Bảo"), "Tổ bảo vệ", console, pause)
    await guard.says(code.group(1))
    await guard.hears()
    await guard.taps("Đồng ý")
    await guard.hears()
    await secretary.hears()

    console.rule("12. Người dân phản ánh ẩn danh, kèm ảnh")
    await resident.says("/phananh")
    await resident.hears()
    await resident.taps("An ninh trật tự")
    await resident.hears()
    await resident.says("Nhóm thanh niên tụ tập, nẹt pô ở đầu ngõ 5 mỗi tối.")
    await resident.hears()
    await _photo(resident, console)
    await resident.hears()
    await resident.taps("Xong")
    await resident.hears()
    await resident.says("Đầu ngõ 5, Tổ 3")
    await resident.hears()
    await resident.taps("Không")
    await resident.hears()
    await resident.taps("Ẩn danh")
    await resident.hears()
    await resident.taps("Gửi")
    await resident.hears()

    console.rule("13. Tổ bảo vệ tiếp nhận, giải quyết kèm ảnh; người dân được báo và đánh giá")
    await guard.hears(2)  # on Zalo the photo comes first, then the report with its choices
    await guard.taps("Tiếp nhận")
    await guard.hears()
    await resident.hears()
    await guard.taps("Đã giải quyết")
    await guard.hears()
    await guard.says("Đã phối hợp công an phường nhắc nhở, lập biên bản; nhóm đã giải tán.")
    await guard.hears()
    await _photo(guard, console)
    await guard.hears()
    await resident.hears()
    await resident.taps("Đã khắc phục")
    await resident.hears()
    await resident.taps("5 — Rất hài lòng")
    await resident.hears()
    console.rule("14. Bí thư xem phản ánh: người phản ánh ẩn danh với mọi người")
    await secretary.says("/phananh PA-0001")
    await secretary.hears()
