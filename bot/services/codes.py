"""Invite codes: short, typeable, case-insensitive, with enough entropy."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O, 1/I/L or U: letters people misread on paper or in a chat font.
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
LENGTH = 8  # 30**8 ≈ 6.6e11 codes (39 bits), guessing is also rate-limited per sender


def new_code() -> str:
    """A fresh random code like "K7M2QX9P"."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The code in `text` ("k7m2-qx9p", "K7M2 QX9P") or None if it cannot be one."""
    cleaned = "".join(c for c in text.upper() if c not in " -_.")
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def looks_like_code(text: str) -> bool:
    """True for what is meant as a code: 8 code letters, or a short token with digits (a typo)."""
    cleaned = "".join(c for c in text.upper() if c not in " -_.")
    if not (cleaned.isascii() and cleaned.isalnum()):
        return False
    if normalise(cleaned) is not None:
        return True
    return 6 <= len(cleaned) <= 10 and any(c.isdigit() for c in cleaned)


def grouped(code: str) -> str:
    """Split a code in two halves ("K7M2 QX9P") for reading aloud or printing."""
    return f"{code[:4]} {code[4:]}"


def subject(platform: str, user_id: str) -> str:
    """A one-way id for a platform account, for records kept without a person."""
    return hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()[:32]
