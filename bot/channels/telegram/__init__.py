"""Telegram adapter on python-telegram-bot."""

import os

# python-telegram-bot 22 warns on every `RetryAfter.retry_after` read unless it may
# return a timedelta; the adapter handles both, so opt in before the library loads.
os.environ.setdefault("PTB_TIMEDELTA", "1")
