"""PostgreSQL for the tests: a fresh schema per test, dropped afterwards.

The server is `TEST_DATABASE_URL`, or the one these machines run at
postgresql://postgres@127.0.0.1:5432/test. Without a reachable server the tests that ask for
`pg_schema` are skipped with the reason, except under `CI=true`, where they fail: in CI the
PostgreSQL tests must run, never be skipped silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT = 3  # seconds; a missing server is refused at once, a firewalled one is not
LOCK_TIMEOUT = "10s"  # a test that leaves a connection open must not hang the teardown


@dataclass(frozen=True, slots=True)
class PgSchema:
    name: str
    conninfo: str  # connects with `search_path` set to the schema: tables land there
    url: str  # the same as a postgresql:// URL, for DATABASE_URL


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL


def describe(url: str) -> str:
    """Where a URL points, without its password."""
    parts = conninfo_to_dict(url)
    host, port = parts.get("host", "localhost"), parts.get("port", 5432)
    return f"{parts.get('user', '?')}@{host}:{port}/{parts.get('dbname', '?')}"


def connect_or_skip(url: str) -> psycopg.Connection:
    """An autocommit connection to `url`; skip the test if there is no server (fail in CI)."""
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = f"no PostgreSQL server at {describe(url)} ({first_line})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so the PostgreSQL tests must run", pytrace=False)
        pytest.skip(f"{reason}; start it, or set TEST_DATABASE_URL, to run the PostgreSQL tests")


@contextmanager
def fresh_schema(url: str) -> Iterator[PgSchema]:
    admin = connect_or_skip(url)
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        admin.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            joiner = "&" if "?" in url else "?"
            yield PgSchema(
                name,
                make_conninfo(url, options=f"-c search_path={name}"),
                f"{url}{joiner}options=-c%20search_path%3D{name}",
            )
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
    finally:
        admin.close()


@pytest.fixture
def pg_schema() -> Iterator[PgSchema]:
    with fresh_schema(server_url()) as schema:
        yield schema
