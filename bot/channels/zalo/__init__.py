"""Zalo Bot API: a client, the update type, and the errors it raises."""

from bot.channels.zalo.client import SentMessage, ZaloBotClient, ZaloBotInfo
from bot.channels.zalo.errors import (
    BadRequest,
    InvalidToken,
    MalformedUpdate,
    NetworkError,
    NotFound,
    QuotaExceeded,
    ServerError,
    ZaloError,
    ZaloTimeout,
)
from bot.channels.zalo.updates import ZaloUpdate, parse_update

__all__ = [
    "BadRequest",
    "InvalidToken",
    "MalformedUpdate",
    "NetworkError",
    "NotFound",
    "QuotaExceeded",
    "SentMessage",
    "ServerError",
    "ZaloBotClient",
    "ZaloBotInfo",
    "ZaloError",
    "ZaloTimeout",
    "ZaloUpdate",
    "parse_update",
]
