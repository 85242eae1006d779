"""The `loaphuong` command line: run, demo, simulator, and the secretary's set-up tools."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConfigError, Settings, load_settings
from bot.core.clock import SystemClock
from bot.core.errors import UserError
from bot.core.i18n import format_day, t
from bot.member_import import MemberListError, read_member_list
from bot.services import invites, setup
from bot.services.codes import grouped
from storage import db
from storage.models import Unit

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Loa Phường chat bot.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
members_app = typer.Typer(no_args_is_help=True, help="Party members.")
report_app = typer.Typer(no_args_is_help=True, help="Spreadsheet reports.")
meetings_app = typer.Typer(no_args_is_help=True, help="Cell meetings.")
app.add_typer(meetings_app, name="meetings")
app.add_typer(report_app, name="report")
app.add_typer(db_app, name="db")
app.add_typer(members_app, name="members")
out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _say(settings: Settings, key: str, **params: Any) -> str:
    return t(settings.default_language, key, **params)


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Open the database (migrating SQLite), run `work` in one transaction, commit."""
    from bot.app import prepare_database

    engine = db.create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings.database_url)
        async with db.sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _run(settings: Settings, coro: Awaitable[T]) -> T:
    """Run a command's coroutine; expected failures end with a translated line and exit 2."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
    except UserError as exc:
        err.print(f"[red]{t(settings.default_language, exc.key, **exc.params)}[/red]")
    except ValueError as exc:  # e.g. an output file name the writer refuses
        err.print(f"[red]{exc}[/red]")
    raise typer.Exit(2)


def _write_report(
    settings: Settings,
    cell_id: int | None,
    make: Callable[[AsyncSession, Unit], Awaitable[Path]],
) -> None:
    """Pick the cell, write a report with `make`, say where it went."""

    async def work(session: AsyncSession) -> Path:
        return await make(session, await _pick_cell(session, settings, cell_id))

    path = _run(settings, _with_session(settings, work))
    out.print(_say(settings, "cli.report_written", path=str(path)))


async def _telegram_username(settings: Settings) -> str | None:
    """The bot's @username, when a Telegram token is set and Telegram answers."""
    if settings.telegram_bot_token is None:
        return None
    from telegram import Bot
    from telegram.error import TelegramError

    bot = Bot(
        settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_base_url
    )
    try:
        async with bot:
            return bot.username
    except (TelegramError, OSError):
        return None


async def _pick_cell(session: AsyncSession, settings: Settings, cell_id: int | None) -> Unit:
    found = await setup.cells(session)
    if cell_id is not None:
        found = [c for c in found if c.id == cell_id]
    if not found:
        raise ConfigError(_say(settings, "cli.no_cell"))
    if len(found) > 1:
        listing = ", ".join(f"{c.id}: {c.name}" for c in found)
        raise ConfigError(_say(settings, "cli.which_cell", cells=listing))
    return found[0]


@app.command()
def run() -> None:
    """Run the bot for real (polling or webhook, as MODE says)."""
    settings = _settings()
    if settings.telegram_bot_token is None and settings.zalo_bot_token is None:
        out.print(_say(settings, "cli.no_token"))
        raise typer.Exit(2)
    from bot import logs
    from bot.app import App

    secrets = [
        s.get_secret_value()
        for s in (settings.telegram_bot_token, settings.zalo_bot_token, settings.webhook_secret)
        if s is not None
    ]
    logs.configure(settings.log_level, secrets)

    async def main() -> None:
        bot = App(settings, clock=SystemClock())
        loop = asyncio.get_running_loop()
        await bot.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.stop()))
        try:
            await bot.wait()
        finally:
            await bot.stop()

    with contextlib.suppress(KeyboardInterrupt):
        _run(settings, main())


@app.command()
def demo(
    slow: Annotated[float, typer.Option(help="Seconds to pause between steps.")] = 0.0,
) -> None:
    """Play a scripted scene against the built-in simulator (no token, temporary SQLite)."""
    from bot.demo import play

    raise typer.Exit(asyncio.run(play(out, pause=slow)))


@app.command()
def simulator(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8081,
) -> None:
    """Serve the Telegram and Zalo Bot API simulator for local experiments."""
    from bot.simulator import serve

    out.print(f"Telegram: TELEGRAM_API_BASE_URL=http://{host}:{port}/telegram/bot")
    out.print(f"Zalo:     ZALO_API_BASE_URL=http://{host}:{port}/zalo")
    serve(host, port)


@app.command()
def init(
    cell: Annotated[str, typer.Option(help='e.g. "Chi bộ khu phố Yên Thanh 1"')],
    ward: Annotated[str, typer.Option(help='e.g. "Phường Uông Bí"')],
    neighbourhood: Annotated[
        str | None, typer.Option(help="Defaults to the cell name without 'Chi bộ'.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Create a cell and print the one-time secretary invite."""
    settings = _settings()
    ttl = timedelta(days=settings.invite_ttl_days)

    async def work(session: AsyncSession) -> setup.NewCell:
        return await setup.init_cell(
            session, SystemClock().now(), cell=cell, ward=ward, neighbourhood=neighbourhood, ttl=ttl
        )

    created = _run(settings, _with_session(settings, work))
    if as_json:
        out.print_json(
            json.dumps({"cell_id": created.cell.id, "secretary_code": created.secretary.code})
        )
        return
    assert created.secretary.expires_at is not None
    out.print(
        _say(
            settings,
            "cli.init_done",
            cell=created.cell.name,
            ward=ward,
            code=created.secretary.code,
            expires=format_day(created.secretary.expires_at, settings.zone),
        )
    )
    username = _run(settings, _telegram_username(settings))
    if username:
        out.print(
            _say(
                settings,
                "cli.init_link",
                link=f"https://t.me/{username}?start={created.secretary.code}",
            )
        )
    out.print(_say(settings, "cli.init_resident", code=created.residents.code))


@app.command("invites")
def invites_sheet(
    out_file: Annotated[Path, typer.Option("--out", help="FILE.pdf or FILE.png")],
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Print a sheet of the unused invites: names, codes and QR codes to hand out."""
    from bot.printables import InviteCard, SheetLabels, render_invite_sheet

    settings = _settings()
    lang = settings.default_language

    async def work(session: AsyncSession) -> tuple[Unit, list[Any]]:
        unit = await _pick_cell(session, settings, cell_id)
        return unit, await invites.pending(session, SystemClock().now(), unit.id)

    unit, pending = _run(settings, _with_session(settings, work))
    if not pending:
        out.print(_say(settings, "cli.invites_none"))
        raise typer.Exit(1)
    username = _run(settings, _telegram_username(settings))
    cards = [
        InviteCard(
            name=i.person_name or "",
            code=i.code,
            role=t(lang, f"role.{i.role or ('secretary' if i.kind == 'secretary' else 'member')}"),
            expires=format_day(i.expires_at, settings.zone) if i.expires_at else None,
            qr_data=f"https://t.me/{username}?start={i.code}" if username else i.code,
        )
        for i in pending
    ]
    labels = SheetLabels(
        title=t(lang, "sheet.title", cell=unit.name),
        code=t(lang, "sheet.code"),
        expires=t(lang, "sheet.expires"),
        how_to=t(lang, "sheet.how_to"),
        bot_names=t(lang, "sheet.bots", telegram=f"@{username}" if username else "-"),
    )
    try:
        paths = render_invite_sheet(cards, labels, out_file)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.print(
        _say(settings, "cli.invites_written", count=len(cards), paths=", ".join(map(str, paths)))
    )


@app.command()
def qr(
    out_file: Annotated[Path, typer.Option("--out", help="poster.png or poster.pdf")],
    residents: Annotated[
        bool, typer.Option("--residents", help="The residents' joining poster.")
    ] = True,
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Make a printable notice-board poster with the residents' code and its QR code."""
    from bot.services import posters

    settings = _settings()

    async def work(session: AsyncSession) -> tuple[Unit, str]:
        unit = await _pick_cell(session, settings, cell_id)
        code = await invites.resident_code(session, SystemClock().now(), unit.id)
        return unit, code.code

    unit, code = _run(settings, _with_session(settings, work))
    username = _run(settings, _telegram_username(settings))
    try:
        path = posters.render(unit, code, settings.default_language, username, out_file)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.print(_say(settings, "cli.poster_written", path=str(path), code=grouped(code)))


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(help="FILE.xlsx or FILE.csv: name, status, role, phone")],
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Import a member list and create one invite each (nothing is imported if a row is wrong)."""
    settings = _settings()
    try:
        rows = read_member_list(file)
    except MemberListError as exc:
        err.print(_say(settings, "cli.import_problems"))
        for line, key, value in exc.problems:
            err.print(
                _say(
                    settings,
                    "cli.import_problem",
                    line=line,
                    problem=t(settings.default_language, key),
                    value=value,
                )
            )
        raise typer.Exit(2) from None
    ttl = timedelta(days=settings.invite_ttl_days)

    async def work(session: AsyncSession) -> tuple[int, list[str]]:
        unit = await _pick_cell(session, settings, cell_id)
        created, skipped = await setup.import_members(
            session, SystemClock().now(), unit.id, rows, ttl
        )
        return len(created), [r.name for r in skipped]

    count, skipped = _run(settings, _with_session(settings, work))
    out.print(_say(settings, "cli.import_done", count=count))
    if skipped:
        out.print(_say(settings, "cli.import_skipped", names=", ".join(skipped)))


@app.command()
def broadcast(
    audience: Annotated[
        str,
        typer.Option(
            help="members, committee, members_follower, residents, everyone, or group:<tổ>"
        ),
    ],
    title: Annotated[str, typer.Option(help='e.g. "Chỉ thị số 50-CT/TW ngày 23/7/2025"')],
    text_file: Annotated[Path, typer.Option("--text-file", help="UTF-8 text of the directive")],
    attach: Annotated[
        Path | None, typer.Option(help="a PDF, DOCX or photo to send with it")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help='local time, e.g. "2026-12-01 08:00"; default now')
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="directive or announcement (default by audience)")
    ] = None,
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Queue a directive or announcement; the running bot sends it and reports to the secretary."""
    import mimetypes
    from datetime import datetime

    from bot.services import broadcasts, files, people
    from storage.models import BroadcastKind, Role

    settings = _settings()
    try:
        body = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]--text-file: {exc}[/red]")
        raise typer.Exit(2) from None
    attachment = None
    if attach is not None:
        try:
            attachment = attach.read_bytes()
        except OSError as exc:
            err.print(f"[red]--attach: {exc}[/red]")
            raise typer.Exit(2) from None
    when = None
    if at:
        try:
            when = datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=settings.zone)
        except ValueError:
            err.print(f"[red]{_say(settings, 'cli.bad_time')}[/red]")
            raise typer.Exit(2) from None
    chosen = (
        BroadcastKind(kind)
        if kind
        else (
            BroadcastKind.directive
            if audience in broadcasts.DIRECTIVE_AUDIENCES
            else BroadcastKind.announcement
        )
    )

    async def work(session: AsyncSession) -> tuple[int, int]:
        now = SystemClock().now()
        unit = await _pick_cell(session, settings, cell_id)
        secretaries = await people.holders(session, unit.id, Role.secretary)
        if not secretaries:
            raise ConfigError(_say(settings, "cli.no_secretary"))
        file_id, photo = None, False
        if attach is not None and attachment is not None:
            mime = mimetypes.guess_type(attach.name)[0] or "application/octet-stream"
            if len(attachment) > settings.max_attachment_mb * 1024 * 1024:
                raise UserError("broadcast.file_too_big", limit=int(settings.max_attachment_mb))
            stored = await files.store(
                session, now, file_name=attach.name, mime_type=mime, content=attachment
            )
            file_id, photo = stored.id, mime.startswith("image/")
        item, count = await broadcasts.create(
            session,
            now,
            unit_id=unit.id,
            kind=chosen,
            title=title,
            body=body,
            audience=audience,
            send_at=when or now,
            created_by=secretaries[0].id,
            file_id=file_id,
            file_is_photo=photo,
        )
        return item.id, count

    number, count = _run(settings, _with_session(settings, work))
    suffix = _say(settings, "cli.broadcast_at", when=at) if at else ""
    out.print(_say(settings, "cli.broadcast_done", number=number, count=count, when=suffix))


@report_app.command("directive")
def report_directive(
    number: Annotated[int, typer.Argument(help="the broadcast's number")],
    out_file: Annotated[Path, typer.Option("--out", help="FILE.xlsx")],
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Who received and acknowledged a directive, as a spreadsheet."""
    from bot.reports import directive_report

    settings = _settings()
    _write_report(
        settings,
        cell_id,
        lambda session, unit: directive_report(
            session, unit.id, number, settings.default_language, settings.zone, out_file
        ),
    )


@report_app.command("feedback")
def report_feedback(
    out_file: Annotated[Path, typer.Option("--out", help="FILE.xlsx")],
    from_: Annotated[str, typer.Option("--from", help="first day, e.g. 2026-12-01")],
    to: Annotated[str, typer.Option("--to", help="last day (included), e.g. 2026-12-31")],
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Residents' reports of a period as a spreadsheet (names only where the reporter allowed)."""
    from datetime import date, datetime, time

    from bot.services import feedback_stats

    settings = _settings()
    try:
        first, last = date.fromisoformat(from_), date.fromisoformat(to)
        if first > last:
            raise ValueError
    except ValueError:
        err.print(f"[red]{_say(settings, 'feedback.cli_bad_dates')}[/red]")
        raise typer.Exit(2) from None
    start = datetime.combine(first, time(), settings.zone)
    end = datetime.combine(last + timedelta(days=1), time(), settings.zone)
    _write_report(
        settings,
        cell_id,
        lambda session, unit: feedback_stats.export(
            session, unit.id, start, end, settings, out_file
        ),
    )


@meetings_app.command("rule")
def meetings_rule(
    time_: Annotated[str, typer.Option("--time", help="local time, e.g. 19:30")],
    place: Annotated[str, typer.Option(help='e.g. "Nhà văn hóa khu phố"')],
    day: Annotated[int | None, typer.Option(help="day of the month, 1-31")] = None,
    weekday: Annotated[int | None, typer.Option(help="0 = Monday … 6 = Sunday")] = None,
    nth: Annotated[int | None, typer.Option(help="1-4, or -1 for the last")] = None,
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """Set the cell's regular meeting rule and create the coming meetings."""
    from bot.services import meetings

    settings = _settings()
    if day is None and (weekday is None or nth is None):
        err.print(f"[red]{_say(settings, 'cli.rule_needs_day')}[/red]")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> int:
        unit = await _pick_cell(session, settings, cell_id)
        spec = meetings.RuleSpec(day, weekday, nth, time_, place)
        await meetings.set_rule(session, SystemClock().now(), unit.id, spec)
        made = await meetings.generate(
            session,
            SystemClock().now(),
            unit.id,
            settings.zone,
            settings.meeting_horizon_months,
            settings.notice_offsets,
        )
        return len(made)

    count = _run(settings, _with_session(settings, work))
    out.print(_say(settings, "cli.rule_saved", count=count))


@report_app.command("attendance")
def report_attendance(
    year: Annotated[int, typer.Option(help="e.g. 2026")],
    out_file: Annotated[Path, typer.Option("--out", help="FILE.xlsx")],
    cell_id: Annotated[int | None, typer.Option("--cell")] = None,
) -> None:
    """A year of meeting attendance: a row a member, a column a meeting, totals and rates."""
    from bot.reports import attendance_report

    settings = _settings()
    _write_report(
        settings,
        cell_id,
        lambda session, unit: attendance_report(
            session, unit.id, year, settings.default_language, settings.zone, out_file
        ),
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (needed for PostgreSQL; SQLite does it on start)."""
    settings = _settings()

    async def main() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()

    _run(settings, main())
    out.print(_say(settings, "cli.db_upgraded"))


def main() -> None:
    """Entry point of the `loaphuong` command."""
    app()


__all__ = ["app", "main"]
