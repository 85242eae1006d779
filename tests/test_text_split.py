"""split_text cuts long messages at the most natural boundary that fits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import split_text


def _without_prefixes(parts: list[str]) -> list[str]:
    """Remove the "(i/n) " prefixes, checking that each one is there."""
    n = len(parts)
    if n == 1:
        return parts
    for i, part in enumerate(parts, start=1):
        assert part.startswith(f"({i}/{n}) ")
    return [part[len(f"({i}/{n}) ") :] for i, part in enumerate(parts, start=1)]


def test_short_text_is_returned_unchanged() -> None:
    """A text within the limit comes back as it is, whitespace included."""
    text = "  Xin chào bà con tổ 7!  "

    assert split_text(text, 100) == [text]


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    """Blank lines are the preferred cut, even with room left in a part."""
    first = "Thông báo họp chi bộ tháng 6."
    second = "Thời gian: 19 giờ thứ Bảy. Địa điểm: nhà văn hóa tổ dân phố."
    third = "Đề nghị các đảng viên có mặt đúng giờ."

    parts = split_text(f"{first}\n\n{second}\n\n{third}", 70, numbered=False)

    assert parts == [first, second, third]


def test_sentences_are_the_cut_when_a_line_is_too_long() -> None:
    """A single long line is cut after a sentence end, not between words."""
    text = "Trời mưa to. Đường ngập nước ở ngõ 5! Bà con đi lại cẩn thận nhé?"

    expected = ["Trời mưa to. Đường ngập nước ở ngõ 5!", "Bà con đi lại cẩn thận nhé?"]

    parts = split_text(text, 40, numbered=False)

    assert parts == expected


def test_a_word_longer_than_the_limit_is_hard_split() -> None:
    """Only a word that cannot fit anywhere is cut inside."""
    text = "ab " + "x" * 25 + " cd"
    expected = ["ab xxxxxxx", "xxxxxxxxxx", "xxxxxxxx", "cd"]

    parts = split_text(text, 10, numbered=False)

    assert parts == expected


def test_numbered_parts_carry_i_of_n_and_fit() -> None:
    """Each part starts with "(i/n) " and stays within the limit with it."""
    text = " ".join(f"Câu {i}." for i in range(60))

    parts = split_text(text, 30)

    assert len(parts) >= 10  # so the prefix widened from "(i/n) " to "(ii/nn) "
    assert all(len(part) <= 30 for part in parts)
    assert text.split() == " ".join(_without_prefixes(parts)).split()


def test_whitespace_only_text_over_the_limit_gives_no_parts() -> None:
    """Parts are never empty, so blank text has none."""
    parts = split_text(" \n " * 20, 10)

    assert not parts


def test_limit_too_small_for_numbering_is_refused() -> None:
    """A limit that leaves no room after "(1/n) " is a programming error."""
    with pytest.raises(ValueError, match="numbered"):
        split_text("a b c d e f g h", 6)


_texts = st.text(
    st.one_of(st.sampled_from(list("aăâbơưệ \n\n\t.!?…")), st.characters()), max_size=600
)


@given(text=_texts, limit=st.integers(min_value=20, max_value=120), numbered=st.booleans())
def test_every_part_fits_and_no_character_is_lost(text: str, limit: int, numbered: bool) -> None:
    """Parts fit the limit and hold all non-space characters, in order."""
    parts = split_text(text, limit, numbered=numbered)

    assert all(len(part) <= limit for part in parts)
    contents = _without_prefixes(parts) if numbered else parts
    assert "".join(text.split()) == "".join("".join(part.split()) for part in contents)
    if len(parts) > 1:
        assert all(part and part == part.strip() for part in contents)


@st.composite
def _texts_of_short_words(draw: st.DrawFn) -> tuple[str, int]:
    limit = draw(st.integers(min_value=20, max_value=120))
    words = st.text(st.characters(blacklist_categories=("Z", "Cc", "Cs")), min_size=1)
    separators = st.sampled_from([" ", "  ", "\n", "\n\n", ". ", "! ", "…\n", " \t "])
    pieces = draw(st.lists(st.tuples(words.filter(lambda w: len(w) <= limit - 10), separators)))
    return "".join(word + separator for word, separator in pieces), limit


@given(case=_texts_of_short_words(), numbered=st.booleans())
def test_words_that_fit_are_never_cut(case: tuple[str, int], numbered: bool) -> None:
    """When every word fits in limit - 10, parts hold the same words in order."""
    text, limit = case

    parts = split_text(text, limit, numbered=numbered)

    contents = _without_prefixes(parts) if numbered else parts
    assert text.split() == " ".join(contents).split()
