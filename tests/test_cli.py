"""The `loaphuong` command line: init, run without a token, member import, printables, db."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from storage import db
from storage.models import Invite

ENV_KEYS = ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "WEBHOOK_SECRET", "MODE", "PUBLIC_BASE_URL")
CODE_LETTERS = set("ABCDEFGHJKMNPQRSTVWXYZ23456789")


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite file named by DATABASE_URL; no tokens; run from an empty folder."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.chdir(tmp_path)
    return path


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _flat(text: str) -> str:
    """Output with line wrapping undone (rich wraps at the terminal width)."""
    return " ".join(text.split())


def _init() -> dict[str, object]:
    result = _cli(
        "init", "--cell", "Chi bộ khu phố Yên Thanh 1", "--ward", "Phường Uông Bí", "--json"
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _invites(path: Path) -> list[Invite]:
    async def load() -> list[Invite]:
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with db.sessionmaker(engine)() as session:
                return list((await session.scalars(select(Invite).order_by(Invite.id))).all())
        finally:
            await engine.dispose()

    return asyncio.run(load())


def _csv(path: Path, *rows: str) -> Path:
    header = "Họ và tên;Trạng thái;Vai trò;Số điện thoại"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_init_prints_the_cell_and_a_secretary_code_as_json(database: Path, tmp_path: Path) -> None:
    """init --json: {"cell_id": <the id --cell takes>, "secretary_code": "<8 code letters>"}."""
    printed = _init()

    assert sorted(printed) == ["cell_id", "secretary_code"]
    code = str(printed["secretary_code"])
    assert len(code) == 8 and set(code) <= CODE_LETTERS
    assert [(i.code, i.unit_id) for i in _invites(database) if i.kind == "secretary"] == [
        (code, printed["cell_id"])
    ]
    # The ward is a unit too; the printed id is the cell's, the one --cell expects.
    poster = _cli("qr", "--cell", str(printed["cell_id"]), "--out", str(tmp_path / "p.png"))
    assert poster.exit_code == 0, poster.output


def test_init_in_words_shows_both_codes(database: Path) -> None:
    """init without --json: the secretary's code, its expiry, and the residents' code."""
    result = _cli("init", "--cell", "Chi bộ khu phố Yên Thanh 1", "--ward", "Phường Uông Bí")

    text = _flat(result.output)
    codes = {i.kind: i.code for i in _invites(database)}
    assert result.exit_code == 0, result.output
    assert "Mã mời bí thư (dùng một lần, hạn đến" in text
    assert codes["secretary"] in text
    assert f"Mã tham gia cho người dân (dùng chung): {codes['resident']}" in text


def test_run_without_a_token_explains_where_to_get_one(database: Path) -> None:
    """run with no token: exit 2, pointing to Zalo Bot Manager, @BotFather and the demo."""
    result = _cli("run")

    text = _flat(result.output)
    assert result.exit_code == 2
    assert "Zalo Bot Manager" in text
    assert "@BotFather" in text
    assert "loaphuong demo" in text
    assert not database.exists()


def test_members_import_creates_one_invite_per_row(database: Path, tmp_path: Path) -> None:
    """A CSV with Vietnamese headers: one pending invite per person, with status and role."""
    _init()
    members = _csv(
        tmp_path / "ds.csv",
        "Nguyễn Thị Lan;Chính thức;Đảng viên;0912345678",
        "Trần Văn Minh;Dự bị;Đảng viên;",
        "Lê Văn Tám;Chính thức;Phó bí thư;0987654321",
    )

    result = _cli("members", "import", str(members))
    again = _cli("members", "import", str(members))

    assert result.exit_code == 0, result.output
    assert "Đã tạo 3 mã mời" in _flat(result.output)
    invited = [
        (i.person_name, i.kind, i.member_status, i.role, i.phone)
        for i in _invites(database)
        if i.person_name
    ]
    assert invited == [
        ("Nguyễn Thị Lan", "member", "official", None, "0912345678"),
        ("Trần Văn Minh", "member", "probationary", None, None),
        ("Lê Văn Tám", "member", "official", "deputy", "0987654321"),
    ]
    assert again.exit_code == 0, again.output
    assert "Đã tạo 0 mã mời" in _flat(again.output)
    assert "Nguyễn Thị Lan" in _flat(again.output)  # listed as skipped


def test_a_bad_member_list_names_its_lines_and_imports_nobody(
    database: Path, tmp_path: Path
) -> None:
    """Two wrong rows: both line numbers are shown and no invite is created."""
    _init()
    members = _csv(
        tmp_path / "ds.csv",
        "Nguyễn Thị Lan;Chính thức;Đảng viên;0912345678",
        "Trần Văn Minh;Đã nghỉ;Đảng viên;",
        ";Chính thức;Đảng viên;",
    )

    result = _cli("members", "import", str(members))

    text = _flat(result.output)
    assert result.exit_code == 2
    assert "chưa nhập ai" in text
    assert "dòng 3: tình trạng không rõ" in text
    assert "dòng 4: thiếu họ tên" in text
    assert "dòng 2" not in text
    assert [i.person_name for i in _invites(database) if i.person_name] == []


def test_invites_sheet_is_a_pdf(database: Path, tmp_path: Path) -> None:
    """invites --out x.pdf writes a PDF of the pending invites."""
    _init()
    _cli("members", "import", str(_csv(tmp_path / "ds.csv", "Nguyễn Thị Lan;Chính thức;;")))
    out = tmp_path / "x.pdf"

    result = _cli("invites", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert "Đã ghi 2 phiếu mời" in _flat(result.output)


def test_invites_without_a_cell_says_how_to_make_one(database: Path, tmp_path: Path) -> None:
    """invites before init: exit 2 and the init command to run."""
    result = _cli("invites", "--out", str(tmp_path / "x.pdf"))

    assert result.exit_code == 2
    assert "loaphuong init" in _flat(result.output)
    assert not (tmp_path / "x.pdf").exists()


def test_resident_poster_is_a_png(database: Path, tmp_path: Path) -> None:
    """qr --residents --out poster.png writes a PNG with the residents' code."""
    _init()
    out = tmp_path / "poster.png"

    result = _cli("qr", "--residents", "--out", str(out))

    resident_code = next(i.code for i in _invites(database) if i.kind == "resident")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"{resident_code[:4]} {resident_code[4:]}" in _flat(result.output)


def test_db_upgrade_migrates_a_fresh_sqlite_file(database: Path) -> None:
    """db upgrade on a new file: the tables exist and Alembic records its head."""
    result = _cli("db", "upgrade")

    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        heads = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    assert result.exit_code == 0, result.output
    assert "Cơ sở dữ liệu đã được cập nhật" in result.output
    assert {"people", "invites", "processed_updates", "audit_log"} <= tables
    assert len(heads) == 1
