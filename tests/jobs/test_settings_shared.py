"""Per-server settings on a PostgreSQL store shared by several processes: a change made
through one is seen by the others within about a second (LISTEN/NOTIFY), and a copy older
than `SHARED_TTL` is read again even when a notice was missed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from bot.guild_settings import SHARED_TTL, GuildSettings
from bot.jobs.service import Quotas
from bot.jobs.store.postgres import PgStore

GUILD = 1001
DEFAULTS = Quotas(max_active=3, max_per_day=25)
SEEN_WITHIN = 1.0  # seconds


@pytest.fixture
def two_stores(pg_schema) -> Iterator[tuple[PgStore, PgStore]]:
    first, second = PgStore(pg_schema.conninfo), PgStore(pg_schema.conninfo)
    yield first, second
    first.close()
    second.close()


async def seen(condition: Callable[[], bool], within: float = SEEN_WITHIN) -> float:
    """How long `condition` took to hold; fails when it did not within `within` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, "the other process never saw the change"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_word_banned_through_one_process_is_refused_by_the_other(two_stores):
    here, there = (GuildSettings(store.guild_settings, DEFAULTS) for store in two_stores)
    assert there.banned_word(GUILD, ["a dragon"]) is None  # cached before the change
    here.start()
    there.start()
    try:
        # Both listen before the writes: only the notices can carry them across.
        await asyncio.wait_for(asyncio.gather(here.listening.wait(), there.listening.wait()), 5)
        here.add_word(GUILD, "Dragon")
        await seen(lambda: there.banned_word(GUILD, ["a DRAGON"]) == "Dragon")
        here.set_limits(GUILD, active=7)
        here.set_log_channel(GUILD, 42)
        await seen(lambda: there.quotas(GUILD).max_active == 7)
        await seen(lambda: there.log_channel(GUILD) == 42)
        here.reset(GUILD)
        await seen(lambda: there.banned_word(GUILD, ["a dragon"]) is None)
        assert there.quotas(GUILD) == DEFAULTS
    finally:
        await here.stop()
        await there.stop()


def test_a_missed_notice_is_made_good_by_the_time_to_live(two_stores):
    now = [0.0]
    here = GuildSettings(two_stores[0].guild_settings, DEFAULTS)
    there = GuildSettings(two_stores[1].guild_settings, DEFAULTS, clock=lambda: now[0])
    assert there.banned_word(GUILD, ["a dragon"]) is None
    here.add_word(GUILD, "dragon")  # `there` does not listen: the notice is lost
    assert there.banned_word(GUILD, ["a dragon"]) is None
    now[0] += SHARED_TTL + 0.1
    assert there.banned_word(GUILD, ["a dragon"]) == "dragon"
