"""Pacing outgoing messages: a steady overall rate per bot token, and a small burst per chat."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

# Per-chat slack: our clock and the platform's see each send at slightly different
# moments, and a 429 costs far more than 5 % of pace.
CHAT_SLACK = 1.05
# A little over a second: requests leave in order but arrive with jitter, and the
# platform counts arrivals.
WINDOW = 1.02


class RateLimiter:
    """Waits so that sends stay under `rate_per_s` overall and `chat_rate_per_s` per chat.

    Overall sends are spaced evenly, and a sliding one-second window over the moments
    sends actually went keeps any second at or under the rate even when the event loop
    stalls and several waiters wake together. Each chat may burst `chat_burst`
    messages, then one per 1/chat_rate seconds.
    """

    def __init__(
        self,
        rate_per_s: float,
        chat_rate_per_s: float,
        chat_burst: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / rate_per_s
        self._per_window = max(1, int(rate_per_s * WINDOW))
        self._chat_interval = CHAT_SLACK / chat_rate_per_s
        self._chat_burst = chat_burst
        self._monotonic = monotonic
        self._next_slot = 0.0
        self._sent: deque[float] = deque()
        self._chats: dict[str, tuple[float, float]] = {}  # chat → (tokens, last refill)
        self._lock = asyncio.Lock()

    def _chat_delay(self, chat_id: str, now: float) -> float:
        tokens, last = self._chats.get(chat_id, (float(self._chat_burst), now))
        tokens = min(self._chat_burst, tokens + (now - last) / self._chat_interval)
        if tokens >= 1:
            self._chats[chat_id] = (tokens - 1, now)
            return 0.0
        wait = (1 - tokens) * self._chat_interval
        self._chats[chat_id] = (tokens - 1, now)  # reserve: the next caller waits longer
        return wait

    async def wait(self, chat_id: str) -> None:
        """Sleep until a message to `chat_id` may go."""
        async with self._lock:
            now = self._monotonic()
            chat_delay = self._chat_delay(chat_id, now)
            slot = max(now + chat_delay, self._next_slot)
            self._next_slot = slot + self._interval
            if len(self._chats) > 10_000:
                self._forget_idle(now)
        delay = slot - self._monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while True:
            async with self._lock:
                now = self._monotonic()
                while self._sent and self._sent[0] <= now - WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self._per_window:
                    self._sent.append(now)
                    return
                pause = self._sent[0] + WINDOW - now
            await asyncio.sleep(max(pause, 0.001))

    def _forget_idle(self, now: float) -> None:
        idle = self._chat_interval * self._chat_burst
        for chat, (_, last) in list(self._chats.items()):
            if now - last > idle:
                del self._chats[chat]
