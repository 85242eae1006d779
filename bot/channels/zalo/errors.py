"""Typed errors of the Zalo Bot API client.

Every failure of a call, whatever its cause, is raised as one of these::

    ZaloError                  method, error_code, description
    ├── BadRequest             400: Zalo refused the payload
    ├── InvalidToken           401: the token is wrong or was reset
    ├── NotFound               404: unknown method or resource
    ├── QuotaExceeded          429: too many calls; retry_after if Zalo says
    ├── ZaloTimeout            our own HTTP request timed out (not Zalo's 408)
    ├── ServerError            5xx, or an answer we cannot parse
    ├── NetworkError           could not connect, connection reset, ...
    └── MalformedUpdate        an update payload we cannot read

Messages are built from the method name, the error code and Zalo's description
only: never from a URL, which contains the bot token.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "InvalidToken",
    "MalformedUpdate",
    "NetworkError",
    "NotFound",
    "QuotaExceeded",
    "ServerError",
    "ZaloError",
    "ZaloTimeout",
]


class ZaloError(Exception):
    """A Zalo Bot API call failed, or Zalo sent something we cannot read."""

    def __init__(
        self, description: str, *, method: str | None = None, error_code: int | None = None
    ) -> None:
        self.method = method
        self.error_code = error_code
        self.description = description
        super().__init__(self._message())

    def _message(self) -> str:
        prefix = f"{self.method}: " if self.method else ""
        suffix = f" (error {self.error_code})" if self.error_code is not None else ""
        return f"{prefix}{self.description}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, "
            f"error_code={self.error_code!r}, description={self.description!r})"
        )


class BadRequest(ZaloError):
    """Zalo refused the request's parameters (400)."""


class InvalidToken(ZaloError):
    """The bot token is not valid (401)."""


class NotFound(ZaloError):
    """The method or resource does not exist (404)."""


class QuotaExceeded(ZaloError):
    """Too many calls (429); ``retry_after`` seconds when Zalo gives them."""

    def __init__(
        self,
        description: str,
        *,
        method: str | None = None,
        error_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(description, method=method, error_code=error_code)


class ZaloTimeout(ZaloError):
    """Our HTTP request to Zalo timed out."""


class ServerError(ZaloError):
    """Zalo failed (5xx) or answered with something that is not its JSON envelope."""


class NetworkError(ZaloError):
    """The request could not reach Zalo or the connection broke."""


class MalformedUpdate(ZaloError):
    """An update payload lacks a required field or has a field of the wrong type."""
