"""Tests for printable invite sheets and resident posters."""

import re
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from bot.printables import (
    FONT_DIR,
    PAGE_SIZE,
    InviteCard,
    PosterLabels,
    SheetLabels,
    fit_text,
    group_code,
    qr_image,
    render_invite_sheet,
    render_resident_poster,
    wrap_text,
)

NAMES = [
    "Nguyễn Thị Lan",
    "Trần Văn Minh",
    "Phạm Thị Hồng Nhung",
    "Tôn Nữ Thị Phương Thảo Nguyễn Hoàng Bảo Ngọc Trâm Anh Huyền",
    "Lê Đức Thắng",
    "Võ Thị Ẩn",
    "Đặng Quốc Việt",
    "Hoàng Ngọc Ánh",
    "Bùi Thị Xuân Mỹ",
    "Dương Văn Ổn",
]

LABELS = SheetLabels(
    title="Phiếu mời tham gia Loa Phường",
    code="Mã mời",
    expires="Hết hạn",
    how_to="Mở Zalo hoặc Telegram và gửi mã mời này cho bot Loa Phường.",
    bot_names="Zalo: Bot Loa Phường · Telegram: @loaphuong_bot",
)

POSTER = PosterLabels(
    heading="Tham gia Loa Phường",
    body="Nhận thông báo của khu phố trên Zalo hoặc Telegram. Quét mã QR hoặc gửi mã cho bot.",
    code="Mã khu phố",
    footer="Bot chỉ lưu tên hiển thị để gửi thông báo.",
)


def cards(count: int) -> list[InviteCard]:
    result = []
    for i in range(count):
        code = f"K7M2QX{i:02d}"
        result.append(
            InviteCard(
                name=NAMES[i % len(NAMES)],
                code=code,
                role="Đảng viên",
                expires="30/06/2025" if i % 2 else None,
                qr_data=f"https://t.me/loaphuong_bot?start={code}",
            )
        )
    return result


def assert_printed_page(path: Path) -> None:
    with Image.open(path) as image:
        assert image.size == PAGE_SIZE
        grey = image.convert("L")
        low, high = grey.getextrema()
        assert (low, high) == (0, 255)  # black ink on white paper, not blank
        dark = sum(grey.histogram()[:128])
        assert 0.02 < dark / (PAGE_SIZE[0] * PAGE_SIZE[1]) < 0.5


def test_sheet_pdf_has_one_page_per_eight_cards(tmp_path: Path) -> None:
    out = tmp_path / "invites.pdf"
    assert render_invite_sheet(cards(10), LABELS, out) == [out]
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 2


def test_sheet_png_one_file_per_page(tmp_path: Path) -> None:
    paths = render_invite_sheet(cards(10), LABELS, tmp_path / "invites.png")
    assert paths == [tmp_path / "invites-1.png", tmp_path / "invites-2.png"]
    for path in paths:
        assert_printed_page(path)


def test_sheet_single_page_png_uses_given_name(tmp_path: Path) -> None:
    out = tmp_path / "invites.png"
    assert render_invite_sheet(cards(8), LABELS, out) == [out]
    assert_printed_page(out)
    assert not (tmp_path / "invites-1.png").exists()


def test_sheet_survives_extreme_text(tmp_path: Path) -> None:
    card = InviteCard(
        "Nguyễn" * 20, "ABCDEFGHJKLMNPQRSTUV", "Vai trò " * 20, "31/12/2099", "x" * 400
    )
    long = SheetLabels("Tiêu đề " * 30, "Mã", "Hạn", "Hướng dẫn " * 60, "Bot " * 40)
    (path,) = render_invite_sheet([card], long, tmp_path / "x.png")
    assert_printed_page(path)


@pytest.mark.parametrize("name", ["invites.jpg", "invites", "invites.svg"])
def test_sheet_rejects_unknown_suffix(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        render_invite_sheet(cards(1), LABELS, tmp_path / name)


def test_sheet_rejects_no_cards(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_invite_sheet([], LABELS, tmp_path / "invites.pdf")


def test_poster_png_and_pdf(tmp_path: Path) -> None:
    png = render_resident_poster(
        "Chi bộ Khu phố 3",
        "RES4KP3X",
        "https://t.me/b?start=RES4KP3X",
        POSTER,
        tmp_path / "poster.png",
    )
    assert png == tmp_path / "poster.png"
    assert_printed_page(png)
    pdf = render_resident_poster(
        "Chi bộ Khu phố 3", "RES4KP3X", "RES4KP3X", POSTER, tmp_path / "poster.pdf"
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    with pytest.raises(ValueError):
        render_resident_poster("Chi bộ", "X", "X", POSTER, tmp_path / "poster.gif")


def test_qr_image_is_crisp_square_with_quiet_zone() -> None:
    image = qr_image("https://t.me/loaphuong_bot?start=K7M2QX9P", 300)
    assert image.width == image.height <= 300
    assert image.width >= 250
    assert {colour for _, colour in image.getcolors()} == {0, 255}  # no blurred grey edges
    border = image.width * 4 // 37  # version 3: 29 modules + 2×4 quiet zone
    assert image.crop((0, 0, image.width, border)).getextrema() == (255, 255)
    assert image.crop((0, 0, border, image.height)).getextrema() == (255, 255)


def test_group_code() -> None:
    assert group_code("K7M2QX9P") == "K7M2 QX9P"
    assert group_code("k7m2-qx9p") == "k7m2 qx9p"
    assert group_code("ABC") == "ABC"


def test_wrap_breaks_at_spaces_and_splits_only_overlong_words() -> None:
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 20)
    lines = wrap_text("Phạm Thị Hồng Nhung", font, int(font.getlength("Phạm Thị Hồng")) + 1)
    assert lines == ["Phạm Thị Hồng", "Nhung"]
    long = wrap_text("Nguyễn" * 10, font, 100)
    assert len(long) > 1
    assert all(font.getlength(line) <= 100 for line in long)
    assert "".join(long) == "Nguyễn" * 10


def test_fit_text_shrinks_then_truncates() -> None:
    fitted = fit_text("Trần Văn Minh", 400, 60, max_size=40, min_size=10, bold=True)
    assert len(fitted.lines) == 1
    assert fitted.height <= 60
    tight = fit_text("chữ " * 200, 100, 40, max_size=20, min_size=12)
    assert tight.truncated
    assert tight.height <= 40
    assert tight.lines[-1].endswith("…")
    single = fit_text("Nguyễn Thị Lan", 150, 200, max_size=30, min_size=10, one_line_min=14)
    assert len(single.lines) == 1
