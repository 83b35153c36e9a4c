"""Snowflake ids and secret tokens, shaped like Discord's."""

from __future__ import annotations

import itertools
import secrets
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000

# lcm(1..10): guild ids whose timestamps are consecutive from a multiple of it spread over
# shards round-robin for every shard count that divides it.
SHARD_CYCLE = 2520

_counter = itertools.count()
_last_snowflake = 0


def snowflake() -> int:
    """A new id that encodes the current time, as Discord's do (discord.py reads the time back)."""
    global _last_snowflake
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    candidate = (now_ms << 22) | (next(_counter) % 4096)
    _last_snowflake = max(candidate, _last_snowflake + 1)
    return _last_snowflake


def guild_snowflakes(count: int) -> list[int]:
    """Ids for `count` guilds, guild k on shard k % n (Discord: `(id >> 22) % n`) for any
    shard count n dividing 2520 (1 to 10, 12, 14, 15, ...); their times are just past."""
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    first_ms = (now_ms - count) // SHARD_CYCLE * SHARD_CYCLE
    return [((first_ms + k) << 22) | (snowflake() & 0x3FFFFF) for k in range(count)]


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


def interaction_token() -> str:
    return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)


def session_id() -> str:
    return secrets.token_hex(16)


def snowflake_time(value: int) -> str:
    """The ISO timestamp a snowflake encodes (a message's `timestamp`)."""
    milliseconds = (value >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat()
