"""Split long text into parts that fit a platform's message limit."""

from __future__ import annotations

import re

__all__ = ["split_text"]

# Boundaries from strongest to weakest. Each pattern matches the separator; a
# cut is made at the end of the match, so the separator stays with the piece
# before it and the pieces always concatenate back to the original text.
_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph: a blank line
    re.compile(r"\n\s*"),  # line break
    re.compile(r"[.!?…]+\s+"),  # sentence end followed by space
    re.compile(r"\s+"),  # between words
)


def split_text(text: str, limit: int, *, numbered: bool = True) -> list[str]:
    """Split ``text`` into stripped parts of at most ``limit`` characters each."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    parts = _pack(text, limit)
    if not numbered or len(parts) <= 1:
        return parts
    # The prefix "(i/n) " grows with the digits of n, and a smaller room can
    # need more parts: repeat until the number of digits stops changing.
    n = len(parts)
    while True:
        room = limit - len(f"({n}/{n}) ")
        if room < 1:
            raise ValueError("limit too small for numbered parts")
        parts = _pack(text, room)
        if len(str(len(parts))) <= len(str(n)):
            break
        n = len(parts)
    total = len(parts)
    return [f"({i}/{total}) {part}" for i, part in enumerate(parts, start=1)]


def _pack(text: str, room: int) -> list[str]:
    """Cut and pack ``text`` into stripped, non-empty parts of at most ``room``."""
    stripped = (chunk.strip() for chunk in _split(text, room, 0))
    return [chunk for chunk in stripped if chunk]


def _split(text: str, room: int, level: int) -> list[str]:
    """Greedily pack pieces cut at boundary ``level``, refining pieces that overflow."""
    if len(text.strip()) <= room:
        return [text]
    if level == len(_BOUNDARIES):
        return _hard_split(text, room)
    pieces = _cut(text, _BOUNDARIES[level])
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece
        if len(candidate.strip()) <= room:
            current = candidate
        elif len(piece.strip()) <= room:
            parts.append(current)
            current = piece
        else:
            # The piece alone is too long: cut it, together with what precedes
            # it, at the next weaker boundary so the current part is filled up.
            *done, current = _split(candidate, room, level + 1)
            parts.extend(done)
    parts.append(current)
    return parts


def _cut(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Cut ``text`` after every match of ``boundary``, keeping all characters."""
    pieces: list[str] = []
    start = 0
    for match in boundary.finditer(text):
        if 0 < match.end() < len(text):
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return pieces


def _hard_split(text: str, room: int) -> list[str]:
    """Cut a word longer than ``room`` into ``room``-sized chunks."""
    core = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    chunks = [core[i : i + room] for i in range(0, len(core), room)]
    chunks[0] = lead + chunks[0]
    chunks[-1] += trail
    return chunks
