"""The PostgreSQL test plumbing works against the running server, and is never silent."""

from __future__ import annotations

import psycopg
import pytest

from tests.pg import connect_or_skip, describe, fresh_schema, server_url

NOWHERE = "postgresql://postgres:pw-not-shown@127.0.0.1:1/test"


def test_each_test_gets_a_fresh_schema_of_its_own(pg_schema):
    with psycopg.connect(pg_schema.conninfo) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == (pg_schema.name,)
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            [pg_schema.name],
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE jobs (id bigserial PRIMARY KEY, state text NOT NULL)")
        conn.execute("INSERT INTO jobs (state) VALUES ('queued'), ('working')")
        rows = conn.execute("SELECT state FROM jobs ORDER BY id").fetchall()
        assert rows == [("queued",), ("working",)]
        where = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'jobs'"
        ).fetchall()
        assert (pg_schema.name,) in where


def test_the_schema_and_its_tables_are_dropped_afterwards():
    with fresh_schema(server_url()) as schema, psycopg.connect(schema.conninfo) as conn:
        conn.execute("CREATE TABLE meta (key text PRIMARY KEY, value text)")
    with psycopg.connect(server_url()) as conn:
        left = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            [schema.name],
        ).fetchone()
    assert left == (0,)


def test_no_server_is_a_skip_with_a_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        connect_or_skip(NOWHERE)
    assert "no PostgreSQL server at postgres@127.0.0.1:1/test" in str(skipped.value)
    assert "pw-not-shown" not in str(skipped.value)


def test_no_server_in_ci_is_a_failure(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        connect_or_skip(NOWHERE)
    assert "CI=true" in str(failed.value)


def test_describe_hides_the_password():
    assert describe("postgresql://bot:secret@db:6543/jobs") == "bot@db:6543/jobs"
