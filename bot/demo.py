"""`loaphuong demo`: the real bot against the simulator plays a scene, printed as a transcript."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

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

    async def hears(self, count: int = 1) -> str:
        """Wait for the bot's answer(s) and print them; returns the last text."""
        items = await self.user.expect(count, timeout=15)
        for item in items:
            text = item.get("text") or item.get("caption") or ""
            edited = " (sửa tin)" if item.get("method", "").startswith("edit") else ""
            self.console.print(f"    [green]Loa Phường{edited}[/green] → {escape(self.user.name)}:")
            for line in text.splitlines() or [""]:
                self.console.print(f"      {escape(line)}")
            for row in item.get("buttons") or []:
                self.console.print("      " + "  ".join(f"[{escape(b['text'])}]" for b in row))
        if self.pause:
            await asyncio.sleep(self.pause)
        return items[-1].get("text") or ""


async def scene(stack: Stack, console: Console, pause: float) -> None:
    """Secretary, member (on Zalo) and resident (on Telegram) join; roles shape what they see."""
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
