"""What is the PostgreSQL store's own: its migrations table, several processes starting at
once, the placeholders, and a DATABASE_URL that cannot be used. (Everything the two backends
share is tested on both in `test_store.py`.)"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from bot.jobs.store import StoreOpenError, open_store
from bot.jobs.store.migrations import SCHEMA_VERSION
from bot.jobs.store.postgres import (
    POOL_SIZE,
    POOL_WAIT,
    STATEMENT_TIMEOUT_MS,
    PgStore,
    to_pyformat,
)
from bot.jobs.store.postgres_migrations import PG_MIGRATIONS
from tests.jobs.test_store import new_job
from tests.pg import PgSchema

NOWHERE = "postgresql://bot:pw-never-shown@127.0.0.1:1/miraflow"


def applied(schema: PgSchema) -> list[int]:
    with psycopg.connect(schema.conninfo) as conn:
        rows = conn.execute(
            "SELECT version FROM schema_migrations WHERE track = 'store' ORDER BY version"
        ).fetchall()
    return [version for (version,) in rows]


def test_both_backends_know_the_same_migrations() -> None:
    assert len(PG_MIGRATIONS) == SCHEMA_VERSION


def test_each_migration_is_recorded_once(pg_schema: PgSchema) -> None:
    with PgStore(pg_schema.conninfo):
        pass
    with PgStore(pg_schema.conninfo) as reopened:
        assert reopened.get_meta("nothing") is None

    assert applied(pg_schema) == list(range(1, SCHEMA_VERSION + 1))


def test_processes_starting_together_migrate_once(pg_schema: PgSchema) -> None:
    stores: list[PgStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            stores.append(PgStore(pg_schema.conninfo))
        except BaseException as error:  # reported below, with the thread's own error
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()

    assert errors == []
    assert applied(pg_schema) == list(range(1, SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_bot_is_refused(pg_schema: PgSchema) -> None:
    PgStore(pg_schema.conninfo).close()
    with psycopg.connect(pg_schema.conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('store', %s, 0)", [SCHEMA_VERSION + 1])

    with pytest.raises(StoreOpenError, match="upgrade the bot"):
        open_store(pg_schema.url, Path("unused.sqlite3"))


def test_an_unreachable_database_url_is_one_line_without_its_password() -> None:
    with pytest.raises(StoreOpenError) as raised:
        open_store(NOWHERE, Path("unused.sqlite3"))

    message = str(raised.value)
    assert "\n" not in message
    assert "bot@127.0.0.1:1/miraflow" in message
    assert "pw-never-shown" not in message


def test_sqlite_placeholders_become_psycopg_ones() -> None:
    assert to_pyformat("a = ? AND b = :name AND c IN (:from0, :from1)") == (
        "a = %s AND b = %(name)s AND c IN (%(from0)s, %(from1)s)"
    )
    assert to_pyformat("WHERE id = :__id") == "WHERE id = %(__id)s"


def test_the_due_query_can_use_the_partial_index(pg_schema: PgSchema) -> None:
    with PgStore(pg_schema.conninfo) as store, store.pool.connection() as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table would be scanned anyway
        sql = "SELECT id FROM jobs WHERE state IN ('complete', 'queued', 'working')"
        plan = conn.execute(
            f"EXPLAIN {sql} AND next_poll_at <= 1 ORDER BY next_poll_at, id LIMIT 5"
        ).fetchall()

    assert "jobs_due" in "\n".join(line for (line,) in plan)


def test_connections_the_server_dropped_are_replaced_without_a_failed_call(
    pg_schema: PgSchema,
) -> None:
    with PgStore(pg_schema.conninfo) as store:
        store.set_meta("k", "v")
        with store.pool.connection() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with psycopg.connect(pg_schema.conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [row[0]])  # as a server restart

        assert store.get_meta("k") == "v"


def test_a_locked_table_is_a_quick_error_not_a_hang(pg_schema: PgSchema) -> None:
    """A stuck database must not freeze the bot past Discord's 3 s: the statement ends."""
    with PgStore(pg_schema.conninfo) as store:
        job = new_job(store)
        with psycopg.connect(pg_schema.conninfo) as locker, locker.transaction():
            locker.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled):
                store.get(job.id)
            took = time.monotonic() - started
        assert STATEMENT_TIMEOUT_MS / 1000 <= took < 2.5, took
        assert store.get(job.id) == job, "fine again once the lock is gone"


def test_a_call_waits_for_a_free_connection_one_second_at_most(pg_schema: PgSchema) -> None:
    with PgStore(pg_schema.conninfo) as store, contextlib.ExitStack() as held:
        for _ in range(POOL_SIZE):
            held.enter_context(store.pool.connection())
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            store.get_meta("anything")
        assert POOL_WAIT <= time.monotonic() - started < POOL_WAIT + 1.0
