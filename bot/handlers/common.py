"""Small helpers shared by handlers: validating typed answers, labels of roles and statuses."""

from __future__ import annotations

import unicodedata

from bot.core.errors import UserError
from bot.core.events import Event, EventKind, Msg, msg
from storage.models import MemberStatus, Role

ROLE_ORDER = (
    Role.secretary,
    Role.deputy,
    Role.committee,
    Role.member,
    Role.follower,
    Role.head,
    Role.security,
    Role.handler,
    Role.resident,
)


def role_label(role: Role | str) -> Msg:
    """The translatable name of a role."""
    return msg(f"role.{role}")


def status_label(status: MemberStatus | str) -> Msg:
    """The translatable name of a member status."""
    return msg(f"status.{status}")


def typed_text(event: Event) -> str:
    """The text of an answer, or a `UserError` when something else (a photo…) was sent."""
    if event.kind is not EventKind.text or not event.text.strip():
        raise UserError("error.text_expected")
    return unicodedata.normalize("NFC", " ".join(event.text.split()))


def clean_name(event: Event) -> str:
    """A person's full name: 2-100 characters with letters."""
    name = typed_text(event)
    if not 2 <= len(name) <= 100 or not any(c.isalpha() for c in name):
        raise UserError("error.bad_name")
    return name


def clean_short(event: Event, limit: int, key: str) -> str:
    """A short free-text answer (a group, a house number) of at most `limit` characters."""
    value = typed_text(event)
    if len(value) > limit:
        raise UserError(key, limit=limit)
    return value
