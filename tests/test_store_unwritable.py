"""Which store errors mean "cannot be written now", and the once-a-minute log line."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from bot.jobs.log_limit import LogLimit
from bot.jobs.store.unwritable import cannot_write
from tests.pg import PgSchema


def sqlite_error(*statements: str) -> sqlite3.Error:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(sqlite3.Error) as caught:
        for statement in statements:
            db.execute(statement)
    db.close()
    return caught.value


def test_a_read_only_sqlite_store_cannot_be_written_and_a_bad_statement_is_a_bug():
    assert cannot_write(sqlite_error("PRAGMA query_only = ON", "INSERT INTO t VALUES (1)"))
    assert not cannot_write(sqlite_error("INSERT INTO nowhere VALUES (1)"))
    assert not cannot_write(RuntimeError("a bug"))


def test_a_read_only_postgresql_store_cannot_be_written(pg_schema: PgSchema):
    with psycopg.connect(pg_schema.conninfo, autocommit=True) as db:
        db.execute("CREATE TABLE t (x int)")
        db.execute("SET default_transaction_read_only = on")
        with pytest.raises(psycopg.Error) as read_only:
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.Error) as bad_statement:
            db.execute("SELECT * FROM nowhere")
    assert cannot_write(read_only.value)
    assert not cannot_write(bad_statement.value)


def test_the_log_limit_lets_one_line_a_minute_through_and_counts_the_rest():
    now = [0.0]
    limit = LogLimit(60.0, clock=lambda: now[0])
    assert limit.due()
    assert [limit.due() for _ in range(3)] == [False] * 3
    now[0] = 59.0
    assert not limit.due()
    now[0] = 60.0
    assert limit.due() and limit.take_skipped() == 4 and limit.take_skipped() == 0
