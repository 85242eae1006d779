"""Send limits of the fake platforms (token buckets) and the statistics they keep."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "TELEGRAM_LIMITS",
    "ZALO_LIMITS",
    "RateLimits",
    "SendLimiter",
    "TokenBucket",
    "coerce_limits",
    "max_in_window",
]


@dataclass(frozen=True)
class RateLimits:
    """Token-bucket limits on sends, per bot token; a rate of None disables that bucket."""

    global_per_s: float | None = None
    global_burst: int | None = None
    per_chat_per_s: float | None = None
    per_chat_burst: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the limits as a JSON-ready dict."""
        return asdict(self)


TELEGRAM_LIMITS = RateLimits(30, 30, 1, 3)
ZALO_LIMITS = RateLimits(20, 20, None, None)


def coerce_limits(value: RateLimits | Mapping[str, Any] | None, default: RateLimits) -> RateLimits:
    """Read limits: None means unlimited, a mapping overrides fields of `default`."""
    if value is None:
        return RateLimits()
    if isinstance(value, RateLimits):
        return value
    unknown = set(value) - set(RateLimits.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown limit fields: {sorted(unknown)}")
    for key, number in value.items():
        if number is not None and (not isinstance(number, int | float) or number <= 0):
            raise ValueError(f"{key} must be a positive number or null")
    return replace(default, **dict(value))


class TokenBucket:
    """A bucket refilled continuously at `rate` tokens per second, holding at most `burst`."""

    def __init__(self, rate: float, burst: int | None) -> None:
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1, math.ceil(rate)))
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_time(self, now: float) -> float:
        """Refill, then return the seconds until one token is available (0 if now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


def max_in_window(stamps: list[float], window: float) -> int:
    """Largest number of sorted timestamps inside any half-open window of `window` seconds."""
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class SendLimiter:
    """One bot's buckets (overall and per chat) and what it sent or was refused."""

    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of accepted sends
    rate_limited: int = 0
    per_chat: dict[str, int] = field(default_factory=dict)
    global_bucket: TokenBucket | None = None
    chat_buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def restart(self) -> None:
        """Forget the buckets (after the limits changed); keep the statistics."""
        self.global_bucket = None
        self.chat_buckets.clear()

    def admit(self, limits: RateLimits, chat_key: str) -> int:
        """Take a token from every bucket; return 0 if sent, else whole seconds to wait (>= 1)."""
        now = time.monotonic()
        buckets: list[TokenBucket] = []
        if limits.global_per_s is not None:
            if self.global_bucket is None:
                self.global_bucket = TokenBucket(limits.global_per_s, limits.global_burst)
            buckets.append(self.global_bucket)
        if limits.per_chat_per_s is not None:
            if chat_key not in self.chat_buckets:
                bucket = TokenBucket(limits.per_chat_per_s, limits.per_chat_burst)
                self.chat_buckets[chat_key] = bucket
            buckets.append(self.chat_buckets[chat_key])
        wait = max((bucket.wait_time(now) for bucket in buckets), default=0.0)
        if wait > 0:
            self.rate_limited += 1
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        self.sent_at.append(now)
        self.per_chat[chat_key] = self.per_chat.get(chat_key, 0) + 1
        return 0

    def stats(self) -> dict[str, Any]:
        """Summarise for the control API (timestamps are time.monotonic() seconds)."""
        return {
            "sent": len(self.sent_at),
            "rate_limited": self.rate_limited,
            "max_in_any_second": max_in_window(self.sent_at, 1.0),
            "first_at": self.sent_at[0] if self.sent_at else None,
            "last_at": self.sent_at[-1] if self.sent_at else None,
            "per_chat": dict(self.per_chat),
        }
