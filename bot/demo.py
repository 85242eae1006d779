"""`loaphuong demo`: the real bot against the simulator plays a scene, printed as a transcript."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bot.core.clock import FakeClock
from bot.demo_feedback import feedback_scene
from bot.jobs.meetings import meeting_tick
from bot.simulator.client import SimUser
from bot.simulator.stack import Stack, running_stack

CODE = re.compile(r"\b([A-HJ-NP-TV-Z2-9]{8})\b")
PLATFORM = {"telegram": "[cyan]Telegram[/cyan]", "zalo": "[blue]Zalo[/blue]"}


class Actor:
    """A simulated person whose every line, and every answer they get, is printed."""

    def __init__(self, user: SimUser, role: str, console: Console, pause: float) -> None:
        self.user = user
        self.role = role
        self.console = console
        self.pause = pause

    async def says(self, text: str) -> None:
        """Type a message."""
        self._line(text)
        await self.user.say(text)

    async def taps(self, label: str) -> None:
        """Tap a button (Telegram) or type its number (Zalo)."""
        shown = f"[{label}]" if self.user.platform == "telegram" else f"({label})"
        await self.user.choose(label)
        self._line(shown)

    async def sends_sticker(self) -> None:
        """Send a sticker."""
        self._line("<sticker>")
        await self.user.send_sticker()

    def _line(self, text: str) -> None:
        who = f"{PLATFORM[self.user.platform]} · {self.role} {self.user.name}"
        self.console.print(f"{who}: [bold]{escape(text)}[/bold]")

    async def hears_until(self, fragment: str) -> str:
        """Print answers until one contains `fragment` (progress messages vary in number)."""
        while True:
            text = await self.hears()
            if fragment in text:
                return text

    async def hears(self, count: int = 1) -> str:
        """Wait for the bot's answer(s) and print them; returns the last text."""
        items = await self.user.expect(count, timeout=15)
        for item in items:
            text = item.get("text") or item.get("caption") or ""
            if item.get("method") in ("sendPhoto", "sendDocument"):
                name = (item.get("document") or {}).get("file_name") or "ảnh"
                self.console.print(
                    f"    [green]Loa Phường[/green] → {escape(self.user.name)}: [{escape(name)}]"
                )
                if not text:
                    continue
            edited = " (sửa tin)" if item.get("method", "").startswith("edit") else ""
            self.console.print(f"    [green]Loa Phường{edited}[/green] → {escape(self.user.name)}:")
            for line in text.splitlines() or [""]:
                self.console.print(f"      {escape(line)}")
            for row in item.get("buttons") or []:
                self.console.print("      " + "  ".join(f"[{escape(b['text'])}]" for b in row))
        if self.pause:
            await asyncio.sleep(self.pause)
        return items[-1].get("text") or items[-1].get("caption") or ""


async def scene(stack: Stack, console: Console, pause: float) -> None:
    """Joining on both apps, roles, a directive, and a month's meeting from notice to minutes."""
    cell = await stack.init_cell()
    console.rule("1. loaphuong init")
    console.print(f"Chi bộ: {cell.cell.name}; mã mời bí thư: {cell.secretary.code}")

    async def actor(platform: str, name: str, role: str) -> Actor:
        return Actor(await stack.sim.new_user(platform, name), role, console, pause)

    console.rule("2. Bí thư tham gia bằng mã khởi tạo, đồng ý lưu thông tin")
    secretary = await actor("telegram", "Phạm Văn Hùng", "Bí thư")
    await secretary.says(f"/start {cell.secretary.code}")
    await secretary.hears()
    await secretary.taps("Đồng ý")
    await secretary.hears()
    await secretary.taps("Dùng tên: Phạm Văn Hùng")
    await secretary.hears()

    console.rule("3. Bí thư mời một đảng viên")
    await secretary.says("/moi Nguyễn Thị Lan")
    await secretary.hears()
    await secretary.taps("Đảng viên chính thức")
    code = CODE.search(await secretary.hears())
    assert code is not None

    console.rule("4. Đảng viên tham gia trên Zalo bằng cách gõ mã")
    member = await actor("zalo", "Nguyễn Thị Lan", "Đảng viên")
    await member.says(code.group(1).lower())
    await member.hears()
    await member.taps("Đồng ý")
    await member.hears()
    await secretary.hears()

    console.rule("5. Người dân tham gia trên Telegram bằng mã của khu phố")
    await secretary.says("/madan")
    resident_code = CODE.search(await secretary.hears())
    assert resident_code is not None
    resident = await actor("telegram", "Trần Văn Minh", "Người dân")
    await resident.says(f"/start {resident_code.group(1)}")
    await resident.hears()
    await resident.taps("Đồng ý")
    await resident.hears()
    await resident.sends_sticker()
    await resident.hears()
    await resident.says("Trần Văn Minh")
    await resident.hears()
    await resident.says("Tổ 3")
    await resident.hears()
    await resident.says("Số 12, ngõ 5, đường Yên Thanh")
    await resident.hears()

    console.rule("6. /giupdo khác nhau theo vai trò")
    for person in (secretary, member, resident):
        await person.says("/giupdo")
        await person.hears()

    console.rule("7. Mã sai và lệnh không đúng vai trò được từ chối lịch sự")
    stranger = await actor("zalo", "Đỗ Thị Hạnh", "Người lạ")
    await stranger.says("ABCD2345")
    await stranger.hears()
    await resident.says("/moi Lê Văn Tám")
    await resident.hears()
    await member.says("/vaitro")
    await member.hears()
    await broadcast_scene(stack, console, secretary, member)
    await meeting_scene(stack, console, secretary, member)
    await feedback_scene(stack, console, pause, secretary, resident)


async def broadcast_scene(stack: Stack, console: Console, secretary: Actor, member: Actor) -> None:
    """A directive to all members, acknowledged on Zalo; the secretary sees who has it."""
    console.rule("8. Bí thư gửi chỉ thị; đảng viên xác nhận «Đã nhận»")
    await secretary.says("/thongbao")
    await secretary.hears()
    await secretary.taps("Chỉ thị, nghị quyết (cần xác nhận đã nhận)")
    await secretary.hears()
    await secretary.says("Chỉ thị số 50-CT/TW ngày 23/7/2025")
    await secretary.hears()
    await secretary.says("Đề nghị các đồng chí nghiên cứu và thực hiện nghiêm túc.")
    await secretary.hears()
    await secretary.taps("Xong")
    await secretary.hears()
    await secretary.taps("Không đính kèm")
    await secretary.hears()
    await secretary.taps("Tất cả đảng viên")
    await secretary.hears()
    await secretary.taps("Gửi ngay")
    await secretary.hears(2)
    await secretary.taps("Gửi")
    await secretary.hears()
    await member.hears()
    await member.says("đã nhận")
    await member.hears()
    await secretary.hears_until("Đã gửi xong")
    await secretary.says("/chithi 1")
    await secretary.hears()


async def meeting_scene(stack: Stack, console: Console, secretary: Actor, member: Actor) -> None:
    """The monthly rule, the invitation a week ahead, an absence with reason, the minutes."""
    console.rule("9. Lịch sinh hoạt chi bộ: ngày 3 hằng tháng, 19:30")
    await secretary.says("/lichhop")
    await secretary.hears()
    await secretary.taps("Đặt lịch thường kỳ")
    await secretary.hears()
    await secretary.taps("Một ngày cố định trong tháng (ví dụ ngày 3)")
    await secretary.hears()
    await secretary.says("3")
    await secretary.hears()
    await secretary.says("19:30")
    await secretary.hears()
    await secretary.says("Nhà văn hóa khu phố")
    await secretary.hears()
    console.rule("10. Thông báo mời họp (đồng hồ tua nhanh), trả lời, điểm danh, biên bản")
    await _notices(stack)
    await member.hears()
    await secretary.hears(2)  # the invitation, and December has no thematic meeting yet
    await member.taps("Vắng mặt")
    await member.hears()
    await member.taps("Ốm đau")
    await member.hears()
    await secretary.taps("Tham dự")
    await secretary.hears()
    assert isinstance(stack.clock, FakeClock)
    stack.clock.set(datetime(2026, 12, 3, 12, 30, tzinfo=UTC))  # 19:30 in Hanoi
    console.print("[dim](đồng hồ: 19:30 Thứ Năm, 03/12/2026 — giờ họp)[/dim]")
    await secretary.says("/hop")
    await secretary.hears()
    await secretary.taps("Điểm danh")
    await secretary.hears()
    await secretary.taps("Xong")
    await secretary.hears()
    await secretary.taps("Vắng có lý do")
    await secretary.hears()
    await secretary.says("/bienban")
    await secretary.hears()


async def _notices(stack: Stack) -> None:
    """What the scheduler does each minute: due notices become messages."""
    assert stack.app.dispatcher is not None and stack.app.worker is not None
    await meeting_tick(
        stack.app.dispatcher.sessions, stack.clock, stack.settings, stack.app.worker.kick
    )


async def play(console: Console, pause: float = 0.0) -> int:
    """Run the scene on a temporary SQLite database; 0 when every step got its answer."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="loaphuong-demo-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"
        console.print(
            "[bold]Loa Phường — demo[/bold] (simulator, SQLite tạm thời, không cần token)"
        )
        try:
            async with running_stack(url) as stack:
                await scene(stack, console, pause)
        except AssertionError as exc:
            console.print(f"[red]Demo failed: {escape(str(exc))}[/red]")
            return 1
    console.rule("Xong")
    return 0
