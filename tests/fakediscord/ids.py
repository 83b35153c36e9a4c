"""Snowflake ids and secret tokens, shaped like Discord's."""

from __future__ import annotations

import itertools
import secrets
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000

_counter = itertools.count()
_last_snowflake = 0


def snowflake() -> int:
    """A new id that encodes the current time, as Discord's do (discord.py reads the time back)."""
    global _last_snowflake
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    candidate = (now_ms << 22) | (next(_counter) % 4096)
    _last_snowflake = max(candidate, _last_snowflake + 1)
    return _last_snowflake


def interaction_token() -> str:
    return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)


def session_id() -> str:
    return secrets.token_hex(16)


def snowflake_time(value: int) -> str:
    """The ISO timestamp a snowflake encodes (a message's `timestamp`)."""
    milliseconds = (value >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat()
