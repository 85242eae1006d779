"""Expected failures: typed, translatable, turned into a polite reply at the edge."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Something the person can fix; `key` names the message in locales/."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
