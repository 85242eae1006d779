"""Tests for reading a cell's member list from .xlsx and .csv files."""

from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.member_import import (
    MemberListError,
    MemberRow,
    fold,
    normalise_phone,
    read_member_list,
)


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def problems_of(path: Path) -> list[tuple[int, str, str]]:
    with pytest.raises(MemberListError) as info:
        read_member_list(path)
    return info.value.problems


def test_xlsx_with_vietnamese_headers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "ds.xlsx",
        [
            ["STT", "Họ và tên", "Trạng thái", "Chức vụ", "Số điện thoại"],
            [1, "  Nguyễn   Thị Lan ", "Chính thức", "Bí thư", "0912 345 678"],
            [2, "Trần Văn Minh", "dự bị", "", "+84 987654321"],
            [3, "Phạm Thị Hồng Nhung", None, "Phó bí thư", None],
            [4, "Lê Đức Thắng", "Miễn sinh hoạt", "Chi ủy viên", 912345679],
        ],
    )
    assert read_member_list(path) == [
        MemberRow(2, "Nguyễn Thị Lan", "official", "secretary", "0912345678"),
        MemberRow(3, "Trần Văn Minh", "probationary", "member", "0987654321"),
        MemberRow(4, "Phạm Thị Hồng Nhung", "official", "deputy", None),
        MemberRow(5, "Lê Đức Thắng", "exempt", "committee", "0912345679"),
    ]


def test_xlsx_title_rows_and_blank_rows_keep_excel_line_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "ds.xlsx",
        [
            [None],
            ["DANH SÁCH ĐẢNG VIÊN CHI BỘ KHU PHỐ 3"],
            ["Họ tên", "Vai trò"],
            [None, None],
            ["Võ Thị Ẩn", "Trưởng khu phố"],
        ],
    )
    assert read_member_list(path) == [MemberRow(5, "Võ Thị Ẩn", "official", "head", None)]


def test_csv_semicolon_bom_without_diacritics(tmp_path: Path) -> None:
    text = (
        "ho va ten;TINH TRANG;vai tro;SDT\r\n"
        "Dang Quoc Viet;chuyen di;bao ve;84912345678\r\n"
        "\r\n"
        "Hoàng Ngọc Ánh;Đảng viên liên hệ;an ninh;\r\n"
        "Bùi Thị Xuân;mien;theo doi;0912.345.670\r\n"
    )
    path = write_csv(tmp_path / "ds.csv", text, "utf-8-sig")
    assert read_member_list(path) == [
        MemberRow(2, "Dang Quoc Viet", "transferred", "security", "0912345678"),
        MemberRow(4, "Hoàng Ngọc Ánh", "contact", "security", None),
        MemberRow(5, "Bùi Thị Xuân", "exempt", "follower", "0912345670"),
    ]


def test_csv_comma_english_headers_and_values(tmp_path: Path) -> None:
    text = (
        "Full Name,Status,Role,Phone\n"
        '"Nguyen, Van A",Probationary,Deputy,(091) 234-5678\n'
        "Tran B,official,head,\n"
    )
    path = write_csv(tmp_path / "members.CSV", text)
    rows = read_member_list(path)
    assert [(r.name, r.status, r.role, r.phone) for r in rows] == [
        ("Nguyen, Van A", "probationary", "deputy", "0912345678"),
        ("Tran B", "official", "head", None),
    ]


def test_name_only_column_uses_defaults_and_nfc(tmp_path: Path) -> None:
    decomposed = "Nguye\u0302\u0303n Van An"  # combining marks, as some phones type them
    path = write_csv(tmp_path / "ds.csv", f"Tên\n{decomposed}\n")
    (row,) = read_member_list(path)
    assert row == MemberRow(2, "Nguyễn Van An", "official", "member", None)


def test_all_row_problems_are_collected(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "ds.xlsx",
        [
            ["Họ và tên", "Trạng thái", "Vai trò", "SĐT"],
            ["Nguyễn Thị Lan", "Chính thức", "Bí thư", "0912345678"],
            [None, "Dự bị", None, None],
            ["Trần Văn Minh", "nghỉ hưu", "thủ quỹ", "12345"],
            ["nguyễn  thị lan", None, None, None],
            ["A", None, None, None],
            ["X" * 101, None, None, "+1 2025550100"],
            ["Lê Văn Tám", None, None, "0912abc678"],
        ],
    )
    assert problems_of(path) == [
        (3, "import.empty_name", ""),
        (4, "import.bad_status", "nghỉ hưu"),
        (4, "import.bad_role", "thủ quỹ"),
        (4, "import.bad_phone", "12345"),
        (5, "import.duplicate_name", "nguyễn thị lan"),
        (6, "import.bad_name", "A"),
        (7, "import.bad_name", "X" * 101),
        (7, "import.bad_phone", "+1 2025550100"),
        (8, "import.bad_phone", "0912abc678"),
    ]


def test_csv_duplicate_line_numbers_count_blank_and_multiline_rows(tmp_path: Path) -> None:
    # A quoted cell spanning two lines is still one row; folding joins its lines.
    text = 'Tên;Vai trò\n\nTrần Văn Minh;"đảng\nviên"\nTrần Văn Minh;"thủ\nquỹ"\n'
    path = write_csv(tmp_path / "ds.csv", text)
    assert problems_of(path) == [
        (5, "import.duplicate_name", "Trần Văn Minh"),
        (5, "import.bad_role", "thủ\nquỹ"),
    ]


def test_no_header(tmp_path: Path) -> None:
    assert problems_of(write_csv(tmp_path / "ds.csv", "\n ; \n\n")) == [(0, "import.no_header", "")]
    assert problems_of(write_xlsx(tmp_path / "ds.xlsx", [])) == [(0, "import.no_header", "")]


def test_no_name_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ds.csv", "\nSTT,Địa chỉ\n1,Tổ 5\n")
    assert problems_of(path) == [(2, "import.no_name_column", "STT, Địa chỉ")]


def test_no_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "ds.xlsx", [["Họ và tên", "SĐT"], [None, None]])
    assert problems_of(path) == [(1, "import.no_rows", "")]


def test_bad_encoding_reports_line(tmp_path: Path) -> None:
    text = "Tên\nNguyễn Thị Lan\nTrần Văn Minh\n"
    path = write_csv(tmp_path / "ds.csv", text, "utf-16")
    assert problems_of(path) == [(1, "import.bad_encoding", "ff")]  # the UTF-16 BOM
    cp1258 = tmp_path / "old.csv"
    cp1258.write_bytes(b"Ten\nAn Binh\nL\xea Th\xe0nh\n")
    assert problems_of(cp1258) == [(3, "import.bad_encoding", "ea")]


@pytest.mark.parametrize("name", ["ds.xls", "ds.txt", "ds"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path / name, "Tên\nAn Bình\n")
    assert problems_of(path) == [(0, "import.unsupported_file", name)]


def test_corrupt_xlsx_is_unsupported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ds.xlsx", "Tên\nAn Bình\n")
    assert problems_of(path) == [(0, "import.unsupported_file", "ds.xlsx")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912 345 678", "0912345678"),
        ("+84 912345678", "0912345678"),
        ("+84 (0)912 345 678", None),
        ("84912345678", "0912345678"),
        ("912345678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("091234567", None),
        ("1234567890", None),
        ("+1 2025550100", None),
        ("09123456789", None),
        ("0912 345 678 / 0987", None),
    ],
)
def test_normalise_phone(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_fold() -> None:
    assert fold("  Số ĐIỆN   thoại: ") == "so dien thoai"
    assert fold("SĐT*") == "sdt"
