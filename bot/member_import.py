"""Read a party cell's member list from an .xlsx or .csv file, reporting every problem at once."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

# Title rows ("DANH SÁCH ĐẢNG VIÊN …") often sit above the real header, so a few
# rows are searched for the name column before giving up.
_HEADER_SEARCH_ROWS = 10
_NAME_MIN, _NAME_MAX = 2, 100

# Aliases are written naturally and folded at import, so the tables stay readable.
_COLUMN_ALIASES = {
    "name": ("họ và tên", "họ tên", "tên", "name", "full name"),
    "status": ("trạng thái", "tình trạng", "status"),
    "role": ("vai trò", "chức vụ", "role"),
    "phone": ("số điện thoại", "điện thoại", "sđt", "sdt", "phone"),
}
_STATUS_ALIASES = {
    "official": ("chính thức", "đảng viên chính thức", "official"),
    "probationary": ("dự bị", "đảng viên dự bị", "probationary"),
    "exempt": ("miễn sinh hoạt", "miễn công tác", "miễn", "exempt"),
    "transferred": ("chuyển sinh hoạt tạm thời", "chuyển đi", "transferred"),
    "contact": ("liên hệ", "đảng viên liên hệ", "contact"),
}
_ROLE_ALIASES = {
    "secretary": ("bí thư", "secretary"),
    "deputy": ("phó bí thư", "deputy"),
    "committee": ("chi ủy viên", "cấp ủy viên", "committee"),
    "member": ("đảng viên", "member"),
    "follower": ("cấp ủy cấp trên", "theo dõi", "follower"),
    "head": ("trưởng khu phố", "tổ trưởng", "head"),
    "security": ("bảo vệ", "an ninh", "security"),
}
_PHONE_ALLOWED = re.compile(r"^\+?[\d\s.\-()]+$")
# Excel drops the leading 0 of phone numbers typed as numbers; these are the
# first digits of Vietnamese mobile numbers once that 0 is gone.
_MOBILE_FIRST_DIGITS = "35789"


@dataclass(frozen=True)
class MemberRow:
    """One member as read from the file, with normalised status, role and phone."""

    line: int
    name: str
    status: str
    role: str
    phone: str | None


class MemberListError(Exception):
    """The file has problems; problems holds (line, problem key, offending value) tuples."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s) in member list")
        self.problems = problems


def fold(text: str) -> str:
    """Lower-case, strip accents (đ→d), turn punctuation into spaces and collapse spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(re.sub(r"[^\w]+", " ", bare.casefold()).split())


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {fold(alias): key for key, aliases in table.items() for alias in aliases}


_COLUMNS = _lookup(_COLUMN_ALIASES)
_STATUSES = _lookup(_STATUS_ALIASES)
_ROLES = _lookup(_ROLE_ALIASES)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    # Excel stores typed numbers as floats; 912345678.0 must read as 912345678.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def normalise_name(raw: str) -> str:
    """Strip, collapse inner whitespace and NFC-normalise a name."""
    return unicodedata.normalize("NFC", " ".join(raw.split()))


def normalise_phone(raw: str) -> str | None:
    """Vietnamese phone as 10 digits starting with 0 (from +84/84/missing-0 forms), else None."""
    text = raw.strip()
    if not _PHONE_ALLOWED.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        if not digits.startswith("84"):
            return None
        digits = "0" + digits[2:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[0] in _MOBILE_FIRST_DIGITS:
        digits = "0" + digits
    if len(digits) != 10 or not digits.startswith("0"):
        return None
    return digits


_Rows = Generator[tuple[int, list[str]], None, None]


def _read_xlsx(path: Path) -> _Rows:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (styles, extensions); values are unaffected.
            warnings.simplefilter("ignore", UserWarning)
            workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise MemberListError([(0, "import.unsupported_file", path.name)]) from exc
    try:
        sheet = workbook.active or workbook.worksheets[0]
        # Read-only sheets yield padding rows for gaps, so enumerate gives Excel row numbers.
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in row]
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise MemberListError([(line, "import.bad_encoding", bad)]) from exc


def _read_csv(path: Path) -> _Rows:
    text = _decode(path.read_bytes())
    first = next((line for line in text.splitlines() if line.strip()), "")
    # Header names never contain separators, so counting them there is a reliable
    # sniff; Excel in Vietnamese locales writes ';'.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        start = reader.line_num + 1  # quoted cells may span lines; report where the row starts
        try:
            row = next(reader)
        except StopIteration:
            return
        yield start, [cell.strip() for cell in row]


def _rows(path: Path) -> _Rows:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise MemberListError([(0, "import.unsupported_file", path.name)])


def _find_header(
    rows: Iterator[tuple[int, list[str]]],
) -> tuple[int, dict[str, int]]:
    first: tuple[int, list[str]] | None = None
    seen = 0
    for number, cells in rows:
        if not any(cells):
            continue
        first = first or (number, cells)
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            field = _COLUMNS.get(fold(cell))
            if field and field not in columns:
                columns[field] = index
        if "name" in columns:
            return number, columns
        seen += 1
        if seen >= _HEADER_SEARCH_ROWS:
            break
    if first is None:
        raise MemberListError([(0, "import.no_header", "")])
    number, cells = first
    raise MemberListError([(number, "import.no_name_column", ", ".join(c for c in cells if c))])


def _parse_rows(
    rows: Iterable[tuple[int, list[str]]], columns: dict[str, int]
) -> tuple[list[MemberRow], list[tuple[int, str, str]]]:
    members: list[MemberRow] = []
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for number, cells in rows:
        if not any(cells):
            continue

        def cell(field: str, cells: list[str] = cells) -> str:
            index = columns.get(field)
            return cells[index] if index is not None and index < len(cells) else ""

        row_problems: list[tuple[int, str, str]] = []
        name = normalise_name(cell("name"))
        if not name:
            row_problems.append((number, "import.empty_name", ""))
        elif not _NAME_MIN <= len(name) <= _NAME_MAX:
            row_problems.append((number, "import.bad_name", name))
        elif name.casefold() in seen:
            row_problems.append((number, "import.duplicate_name", name))
        else:
            seen[name.casefold()] = number

        raw_status = cell("status")
        status = _STATUSES.get(fold(raw_status)) if raw_status else "official"
        if status is None:
            row_problems.append((number, "import.bad_status", raw_status))
        raw_role = cell("role")
        role = _ROLES.get(fold(raw_role)) if raw_role else "member"
        if role is None:
            row_problems.append((number, "import.bad_role", raw_role))
        raw_phone = cell("phone")
        phone = normalise_phone(raw_phone) if raw_phone else None
        if raw_phone and phone is None:
            row_problems.append((number, "import.bad_phone", raw_phone))

        if row_problems:
            problems.extend(row_problems)
        else:
            members.append(MemberRow(number, name, status or "", role or "", phone))
    return members, problems


def read_member_list(path: Path) -> list[MemberRow]:
    """Read members from .xlsx/.csv; raises MemberListError listing every problem found."""
    path = Path(path)
    # closing() releases the workbook even when the header search stops early.
    with closing(_rows(path)) as rows:
        header_line, columns = _find_header(rows)
        # The header search consumed rows only up to the header, so parsing resumes after it.
        members, problems = _parse_rows(rows, columns)
    if problems:
        raise MemberListError(problems)
    if not members:
        raise MemberListError([(header_line, "import.no_rows", "")])
    return members
