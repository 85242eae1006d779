"""Printable invite sheets and notice-board posters (A4, 150 dpi) drawn with Pillow and segno."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

DPI = 150
PAGE_SIZE = (1240, 1754)  # A4 portrait at 150 dpi
FONT_DIR = Path(__file__).parent / "assets" / "fonts"

_INK = (0, 0, 0)
_GREY = (90, 90, 90)
_CUT = (150, 150, 150)
_ACCENT = (170, 0, 0)  # prints as dark grey on black-and-white printers
_ELLIPSIS = "…"

# Sheet geometry: 6 mm page margin is inside what office printers can reach.
_SHEET_MARGIN = 36
_TITLE_H = 64
_COLS, _ROWS = 2, 4
_CARD_PAD = 16
_QR_TARGET = 300


@dataclass(frozen=True)
class InviteCard:
    """One person's invite: who it is for, the code and what the QR encodes."""

    name: str
    code: str
    role: str
    expires: str | None
    qr_data: str


@dataclass(frozen=True)
class SheetLabels:
    """Translated words printed on an invite sheet."""

    title: str
    code: str
    expires: str
    how_to: str
    bot_names: str


@dataclass(frozen=True)
class PosterLabels:
    """Translated words printed on a resident poster."""

    heading: str
    body: str
    code: str
    footer: str


@dataclass(frozen=True)
class FittedText:
    """Text wrapped into lines at a font size that fits a box."""

    lines: list[str]
    font: ImageFont.FreeTypeFont
    pitch: int
    truncated: bool = False

    @property
    def height(self) -> int:
        """Total height of the block in pixels."""
        return self.pitch * len(self.lines)


@lru_cache(maxsize=256)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _pitch(font: ImageFont.FreeTypeFont) -> int:
    # Stacked Vietnamese marks (Ẫ, Ộ) rise ~0.14 em above the ascender, so the
    # line box is taller than ascent+descent to keep lines from touching.
    return math.ceil(font.size * 1.32)


def _top_offset(font: ImageFont.FreeTypeFont) -> int:
    return math.ceil(font.size * 0.15)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Wrap at spaces to fit width; a word is split only when it alone is too wide."""
    lines: list[str] = []
    # NFC picks DejaVu's precomposed Vietnamese glyphs instead of combining marks.
    for paragraph in unicodedata.normalize("NFC", text or "").split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if font.getlength(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while len(word) > 1 and font.getlength(word) > width:
                fits = (i for i in range(len(word) - 1, 0, -1) if font.getlength(word[:i]) <= width)
                cut = next(fits, 1)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        if current:
            lines.append(current)
    return lines


def _ellipsize(line: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    while line and font.getlength(line + _ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip() + _ELLIPSIS


def fit_text(
    text: str,
    width: int,
    height: int,
    *,
    max_size: int,
    min_size: int,
    bold: bool = False,
    max_lines: int | None = None,
    one_line_min: int | None = None,
) -> FittedText:
    """Largest font size whose wrapped text fits the box; truncates with … at min_size.

    With one_line_min, shrinking to one line (down to that size) is tried before wrapping,
    so a name slightly too long is not broken into a line with an orphan word.
    """
    if one_line_min is not None and one_line_min <= max_size:
        single = fit_text(
            text, width, height, max_size=max_size, min_size=one_line_min, bold=bold, max_lines=1
        )
        if not single.truncated:
            return single
    for size in range(max_size, min_size - 1, -1):
        font = _font(size, bold)
        lines = wrap_text(text, font, width)
        fits_lines = max_lines is None or len(lines) <= max_lines
        if fits_lines and len(lines) * _pitch(font) <= height:
            return FittedText(lines, font, _pitch(font))
    font = _font(min_size, bold)
    lines = wrap_text(text, font, width)
    keep = max(1, min(height // _pitch(font), max_lines or len(lines)))
    if len(lines) > keep:
        lines = [*lines[: keep - 1], _ellipsize(lines[keep - 1], font, width)]
        return FittedText(lines, font, _pitch(font), truncated=True)
    return FittedText(lines, font, _pitch(font))


def draw_text(
    draw: ImageDraw.ImageDraw,
    fitted: FittedText,
    x: int,
    y: int,
    width: int,
    *,
    fill: tuple[int, int, int] = _INK,
    align: str = "left",
) -> int:
    """Draw a fitted block with its top at y; returns the y just below it."""
    for line in fitted.lines:
        lx = x
        if align == "center":
            lx = x + round((width - fitted.font.getlength(line)) / 2)
        draw.text(
            (lx, y + _top_offset(fitted.font)), line, font=fitted.font, fill=fill, anchor="la"
        )
        y += fitted.pitch
    return y


def group_code(code: str) -> str:
    """Show a code in groups of four (K7M2QX9P → K7M2 QX9P) for reading aloud and typing."""
    compact = "".join(ch for ch in code if not ch.isspace() and ch != "-")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _code_cells(code: str, font: ImageFont.FreeTypeFont) -> list[int]:
    # Every glyph gets at least a digit-wide cell so codes look monospaced; only the
    # rare wide letters (M, W) get a wider cell rather than touching their neighbours.
    cell = math.ceil(font.getlength("0") * 1.25)
    gap = math.ceil(font.getlength("0") * 0.2)
    return [
        cell // 2 if ch == " " else max(cell, math.ceil(font.getlength(ch)) + gap) for ch in code
    ]


def _layout_code(
    code: str, width: int, max_size: int, min_size: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest bold font at which the spaced-out code fits width, else groups over lines."""
    for size in range(max_size, min_size - 1, -1):
        font = _font(size, bold=True)
        if sum(_code_cells(code, font)) <= width:
            return font, [code]
    font = _font(min_size, bold=True)
    lines: list[str] = []
    for group in code.split():
        candidate = f"{lines[-1]} {group}" if lines else group
        if lines and sum(_code_cells(candidate, font)) <= width:
            lines[-1] = candidate
        else:
            lines.append(group)
    return font, lines


def _draw_code(
    draw: ImageDraw.ImageDraw,
    code: str,
    box: tuple[int, int, int],
    *,
    sizes: tuple[int, int],
    center: bool = False,
) -> int:
    """Draw a grouped code at box (x, y, width); returns the y just below it."""
    x, y, width = box
    font, lines = _layout_code(code, width, *sizes)
    for line in lines:
        cells = _code_cells(line, font)
        cx = x + (width - sum(cells)) // 2 if center else x
        for ch, cell in zip(line, cells, strict=True):
            # Each glyph is centred in its own cell so 1 and 8 take the same room.
            draw.text((cx + cell / 2, y + _top_offset(font)), ch, font=font, fill=_INK, anchor="ma")
            cx += cell
        y += _pitch(font)
    return y


def qr_image(data: str, target: int) -> Image.Image:
    """QR (error level M, 4-module quiet zone) at the largest whole-pixel scale ≤ target."""
    qr = segno.make(data, error="m", boost_error=False, micro=False)
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(border=4)]
    modules = len(rows)
    small = Image.frombytes("L", (modules, modules), b"".join(rows))
    # Whole-pixel scale with NEAREST keeps module edges sharp; blurred edges read badly.
    scale = max(1, target // modules)
    return small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


def _dashed_box(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    for x in range(left, right, 18):  # 10 px dash, 8 px gap
        for y in (top, bottom):
            draw.line([(x, y), (min(x + 10, right), y)], fill=_CUT)
    for y in range(top, bottom, 18):
        for x in (left, right):
            draw.line([(x, y), (x, min(y + 10, bottom))], fill=_CUT)


def _draw_card(
    page: Image.Image,
    draw: ImageDraw.ImageDraw,
    card: InviteCard,
    labels: SheetLabels,
    box: tuple[int, int, int, int],
) -> None:
    left, top, right, bottom = box
    height = bottom - top
    qr = qr_image(card.qr_data, min(_QR_TARGET, height - 2 * _CARD_PAD))
    # The QR's own white quiet zone doubles as card padding, so it sits near the edge.
    page.paste(qr, (left + 6, top + (height - qr.height) // 2))
    x = left + 6 + qr.width + 4
    width = right - _CARD_PAD - x
    y = top + _CARD_PAD
    limit = bottom - _CARD_PAD

    name = fit_text(
        card.name, width, 112, max_size=30, min_size=16, bold=True, max_lines=3, one_line_min=24
    )
    y = draw_text(draw, name, x, y, width)
    if card.role:
        role = fit_text(card.role, width, 50, max_size=19, min_size=14, max_lines=2)
        y = draw_text(draw, role, x, y, width, fill=_GREY)
    y += 8
    code_label = fit_text(labels.code, width, 24, max_size=16, min_size=12, max_lines=1)
    y = draw_text(draw, code_label, x, y, width, fill=_GREY)
    y = _draw_code(draw, group_code(card.code), (x, y, width), sizes=(40, 18))
    if card.expires:
        expiry = fit_text(
            f"{labels.expires}: {card.expires}", width, 46, max_size=16, min_size=12, max_lines=2
        )
        y = draw_text(draw, expiry, x, y, width)
    y += 8
    foot = fit_text(labels.bot_names, width, 60, max_size=14, min_size=11, bold=True, max_lines=3)
    how = fit_text(labels.how_to, width, max(limit - y - foot.height, 14), max_size=16, min_size=11)
    y = draw_text(draw, how, x, y, width, fill=_GREY)
    draw_text(draw, foot, x, max(y, limit - foot.height), width)


def _sheet_pages(cards: Sequence[InviteCard], labels: SheetLabels) -> list[Image.Image]:
    per_page = _COLS * _ROWS
    page_count = math.ceil(len(cards) / per_page)
    grid_top = _SHEET_MARGIN + _TITLE_H
    card_w = (PAGE_SIZE[0] - 2 * _SHEET_MARGIN) // _COLS
    card_h = (PAGE_SIZE[1] - grid_top - _SHEET_MARGIN) // _ROWS
    inner = PAGE_SIZE[0] - 2 * _SHEET_MARGIN
    # The title leaves 60 px each side free for the page marker.
    title = fit_text(labels.title, inner - 120, _TITLE_H - 12, max_size=34, min_size=16, bold=True)
    pages = []
    for number in range(page_count):
        page = Image.new("RGB", PAGE_SIZE, "white")
        draw = ImageDraw.Draw(page)
        draw_text(draw, title, _SHEET_MARGIN, _SHEET_MARGIN, inner, align="center")
        if page_count > 1:
            marker = (PAGE_SIZE[0] - _SHEET_MARGIN, _SHEET_MARGIN + 8)
            draw.text(marker, f"{number + 1}/{page_count}", font=_font(16), fill=_GREY, anchor="ra")
        for slot, card in enumerate(cards[number * per_page : (number + 1) * per_page]):
            left = _SHEET_MARGIN + (slot % _COLS) * card_w
            top = grid_top + (slot // _COLS) * card_h
            box = (left, top, left + card_w, top + card_h)
            _dashed_box(draw, box)
            _draw_card(page, draw, card, labels, box)
        pages.append(page)
    return pages


def _save(pages: list[Image.Image], out: Path) -> list[Path]:
    if out.suffix.lower() == ".pdf":
        # Pillow embeds pages as JPEG; high quality keeps QR edges clean.
        first, *rest = pages
        first.save(out, "PDF", save_all=True, append_images=rest, resolution=DPI, quality=95)
        return [out]
    paths = (
        [out]
        if len(pages) == 1
        else [out.with_name(f"{out.stem}-{n}{out.suffix}") for n in range(1, len(pages) + 1)]
    )
    for page, path in zip(pages, paths, strict=True):
        page.save(path, "PNG", dpi=(DPI, DPI))
    return paths


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in (".pdf", ".png"):
        raise ValueError(f"unsupported output type {out.suffix!r}: use .pdf or .png")


def render_invite_sheet(cards: Sequence[InviteCard], labels: SheetLabels, out: Path) -> list[Path]:
    """Draw invite cards 8 per A4 page with cut lines; writes one PDF or one PNG per page."""
    out = Path(out)
    _check_suffix(out)
    if not cards:
        raise ValueError("no invite cards to print")
    return _save(_sheet_pages(cards, labels), out)


def render_resident_poster(
    cell_name: str, code: str, qr_data: str, labels: PosterLabels, out: Path
) -> Path:
    """Draw one A4 notice-board poster with a big QR and join code; PNG or PDF by suffix."""
    out = Path(out)
    _check_suffix(out)
    margin = 90
    width = PAGE_SIZE[0] - 2 * margin
    page = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(page)

    heading = fit_text(labels.heading, width, 200, max_size=72, min_size=30, bold=True, max_lines=2)
    cell = fit_text(
        cell_name, width, 150, max_size=56, min_size=26, bold=True, max_lines=2, one_line_min=42
    )
    body = fit_text(labels.body, width, 280, max_size=34, min_size=18)
    code_label = fit_text(labels.code, width, 50, max_size=30, min_size=18, max_lines=1)
    footer = fit_text(labels.footer, width, 110, max_size=20, min_size=12, max_lines=4)
    code_font, code_lines = _layout_code(group_code(code), width, 120, 40)
    code_h = _pitch(code_font) * len(code_lines)
    gap = 28
    text_h = heading.height + cell.height + body.height + code_label.height + code_h
    # The QR gets whatever height the text leaves, capped so it stays A4-proportioned.
    free = PAGE_SIZE[1] - 2 * margin - text_h - footer.height - 6 * gap
    qr = qr_image(qr_data, max(200, min(620, width, free)))
    spare = max(0, free - qr.height)

    y = margin
    y = draw_text(draw, heading, margin, y, width, fill=_ACCENT, align="center")
    y = draw_text(draw, cell, margin, y + gap // 2, width, align="center") + gap // 2
    draw.line([(margin + width // 4, y), (margin + 3 * width // 4, y)], fill=_ACCENT, width=3)
    y = draw_text(draw, body, margin, y + gap, width, align="center")
    y += gap + spare // 2
    page.paste(qr, (margin + (width - qr.width) // 2, y))
    y += qr.height + gap // 2
    y = draw_text(draw, code_label, margin, y, width, fill=_GREY, align="center")
    _draw_code(draw, group_code(code), (margin, y, width), sizes=(120, 40), center=True)
    footer_top = PAGE_SIZE[1] - margin - footer.height
    rule = footer_top - gap // 2
    draw.line([(margin, rule), (PAGE_SIZE[0] - margin, rule)], fill=_CUT)
    draw_text(draw, footer, margin, footer_top, width, fill=_GREY, align="center")
    return _save([page], out)[0]
