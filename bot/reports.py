"""Spreadsheet exports for the secretary (openpyxl): one sheet, a header row, one row per person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import UserError
from bot.core.i18n import t
from bot.services import broadcasts
from storage.models import Broadcast, Delivery, Person

Cell = str | int | float | datetime | None


def write_table(
    path: Path, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> Path:
    """Write an .xlsx with a bold title, a header row, the rows, and sensible column widths."""
    if path.suffix.lower() != ".xlsx":
        raise ValueError("the report file must end in .xlsx")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    # Excel forbids : \ / ? * [ ] in sheet names and allows 31 characters.
    safe = "".join("-" if c in ":\\/?*[]" else c for c in title)[:31].strip()
    sheet.title = safe or "report"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(list(header))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    for row in rows:
        sheet.append(list(row))
    for index, name in enumerate(header, start=1):
        cells = [str(r[index - 1] or "") for r in rows if len(r) >= index]
        width = max([len(str(name)), *map(len, cells)]) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 10), 60)
    sheet.freeze_panes = "A3"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


async def directive_report(
    session: AsyncSession, unit_id: int, broadcast_id: int, lang: str, zone: ZoneInfo, out: Path
) -> Path:
    """Who received and acknowledged one broadcast, as a spreadsheet."""
    item = await session.get(Broadcast, broadcast_id)
    if item is None or item.unit_id != unit_id:
        raise UserError("broadcast.not_found", number=broadcast_id)
    rows = await session.execute(
        select(
            Person.full_name,
            Delivery.platform,
            Delivery.status,
            Delivery.sent_at,
            Delivery.acked_at,
        )
        .join(Person, Person.id == Delivery.person_id)
        .where(Delivery.source == broadcasts.SOURCE, Delivery.source_id == broadcast_id)
        .order_by(Person.full_name)
    )

    def local(when: datetime | None) -> str | None:
        return None if when is None else when.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    table = [
        (
            name,
            t(lang, f"platform.{platform}"),
            t(lang, f"delivery.{status}"),
            local(sent),
            local(acked),
        )
        for name, platform, status, sent, acked in rows
    ]
    header = [t(lang, f"xlsx.directive.{c}") for c in ("name", "app", "status", "sent", "acked")]
    title = t(lang, "report.title", number=item.id, title=item.title)
    return write_table(out, title, header, table)


async def attendance_report(
    session: AsyncSession, unit_id: int, year: int, lang: str, zone: ZoneInfo, out: Path
) -> Path:
    """A year of meetings: one row a member, one column a meeting, totals and rates."""
    from storage.meetings import Meeting, MeetingAnswer, MeetingStatus
    from storage.models import Unit

    start = datetime(year, 1, 1, tzinfo=zone)
    end = datetime(year + 1, 1, 1, tzinfo=zone)
    held = list(
        await session.scalars(
            select(Meeting)
            .where(
                Meeting.unit_id == unit_id,
                Meeting.status == MeetingStatus.closed,
                Meeting.starts_at >= start,
                Meeting.starts_at < end,
            )
            .order_by(Meeting.starts_at)
        )
    )
    answers = {
        (a.meeting_id, a.person_id): a
        for a in await session.scalars(
            select(MeetingAnswer).where(MeetingAnswer.meeting_id.in_([m.id for m in held]))
        )
    }
    person_ids = sorted({pid for _, pid in answers})
    names = dict(
        (
            await session.execute(
                select(Person.id, Person.full_name).where(Person.id.in_(person_ids))
            )
        ).all()
    )
    rows: list[list[Cell]] = []
    for pid in sorted(person_ids, key=lambda p: names.get(p, "")):
        row: list[Cell] = [names.get(pid, "")]
        present = excused = unexcused = counted = 0
        for meeting in held:
            a = answers.get((meeting.id, pid))
            if a is None or not a.counted:
                row.append(t(lang, "xlsx.mark.not_counted"))
                continue
            counted += 1
            if a.present:
                present += 1
                row.append(t(lang, "xlsx.mark.present"))
            elif a.excused:
                excused += 1
                row.append(t(lang, "xlsx.mark.excused"))
            else:
                unexcused += 1
                row.append(t(lang, "xlsx.mark.unexcused"))
        rate = round(100 * present / counted) if counted else None
        rows.append([*row, present, excused, unexcused, rate])
    totals: list[Cell] = [t(lang, "xlsx.attendance.total")]
    for meeting in held:
        marks = [a for (mid, _), a in answers.items() if mid == meeting.id and a.counted]
        totals.append(f"{sum(1 for a in marks if a.present)}/{len(marks)}")
    rows.append(totals)
    header = [t(lang, "xlsx.attendance.name")]
    header += [m.starts_at.astimezone(zone).strftime("%d/%m") for m in held]
    header += [t(lang, f"xlsx.attendance.{k}") for k in ("present", "excused", "unexcused", "rate")]
    unit = await session.get(Unit, unit_id)
    title = t(lang, "xlsx.attendance.title", year=year, cell=unit.name if unit else "")
    return write_table(out, title, header, rows)
