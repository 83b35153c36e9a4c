"""A stuck PostgreSQL store (a table locked by someone else) is a quick error for a member,
not a bot frozen past Discord's 3 s; once it is free again the bot goes on."""

from __future__ import annotations

import time

import psycopg

from bot.discord_side.words import STORE_UNWRITABLE
from tests.e2e.harness import running_bot
from tests.pg import PgSchema


async def test_a_locked_jobs_table_is_answered_in_time(fd, sim, db_path, pg_schema: PgSchema):
    async with running_bot(fd, sim, db_path, DATABASE_URL=pg_schema.url):
        with psycopg.connect(pg_schema.conninfo) as locker, locker.transaction():
            locker.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            inter = await fd.invoke("imagine", {"prompt": "stuck"}, user=fd.users.alice)
            answer = await fd.wait_for_response(inter, timeout=10)
            took = time.monotonic() - started
        assert answer.ephemeral and answer.content == STORE_UNWRITABLE
        assert took < 3.0, took
        assert sim.count("POST", "/api/image/generate") == 0, "nothing paid for"

        inter = await fd.invoke("imagine", {"prompt": "free again"}, user=fd.users.alice)
        assert "Started job" in (await fd.wait_for_response(inter, timeout=5)).content
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
