"""The PostgreSQL store (`DATABASE_URL`): the same tables and statements as the SQLite one,
run through a small pool of psycopg connections.

Like the SQLite store it is synchronous: each call is one short indexed statement on a
nearby server, made from the event loop. Connections are in autocommit mode, so every
statement is its own transaction, as in SQLite; the few multi-statement calls open one.

A slow or stuck database must not freeze the bot (Discord wants an answer within 3 s), so a
call is bounded: it waits POOL_WAIT at most for a connection and its statement runs
STATEMENT_TIMEOUT at most (a lock held elsewhere included). Past either it raises
`psycopg.Error`, which the bot treats as it treats an unwritable SQLite store.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from bot.jobs.store.jobs import JobRows
from bot.jobs.store.postgres_claims import CLAIMS_MIGRATIONS, CLAIMS_TRACK, PgClaimRows
from bot.jobs.store.postgres_migrations import migrate
from bot.jobs.store.postgres_settings import PgGuildSettings
from bot.jobs.store.sql_base import Params, Row, SqlRows
from bot.jobs.store.user_defaults import MetaRows, UserDefaultsRows

CONNECT_TIMEOUT = 5  # seconds, for the first connection at start
POOL_SIZE = 4  # the event loop uses one at a time; the rest serve worker threads
POOL_WAIT = 1.0  # seconds a call waits for a free (or re-made) connection
STATEMENT_TIMEOUT_MS = 1000  # the longest a statement of the pool's may run, lock waits included


class StoreUnreachableError(RuntimeError):
    """The database at DATABASE_URL cannot be reached or refused us: one line, no secret."""


_NAMED = re.compile(r"(?<!:):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """SQLite's `?` and `:name` placeholders as psycopg's `%s` and `%(name)s`.

    The store's statements hold no `%`, `?` or `:` of their own (no literals with them, no
    `::` casts), so the rewrite cannot touch anything else.
    """
    return _NAMED.sub(r"%(\1)s", sql.replace("?", "%s"))


def describe(url: str) -> str:
    """Where a URL points, without its password."""
    parts = psycopg.conninfo.conninfo_to_dict(url)
    host, port = parts.get("host", "localhost"), parts.get("port", 5432)
    return f"{parts.get('user', '?')}@{host}:{port}/{parts.get('dbname', '?')}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _bounded(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Each pooled connection's statements end after STATEMENT_TIMEOUT_MS."""
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


class PgConnection(SqlRows):
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
                migrate(conn)
                migrate(conn, CLAIMS_MIGRATIONS, CLAIMS_TRACK)
        except psycopg.Error as error:
            raise StoreUnreachableError(
                f"DATABASE_URL ({describe(url)}) cannot be used: {_first_line(error)}"
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            configure=_bounded,
            check=ConnectionPool.check_connection,  # a server restart costs no failed call
            timeout=POOL_WAIT,
            name="miraflow-store",
            open=False,
        )
        self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        self._closed = False

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    def _run(self, sql: str, params: Params) -> list[Row]:
        with self._pool.connection() as conn:
            cursor = conn.execute(to_pyformat(sql), params or None)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def _write(self, sql: str, params: Params) -> list[Row]:
        return self._run(sql, params)

    def _read(self, sql: str, params: Params = ()) -> list[Row]:
        return self._run(sql, params)


class PgStore(JobRows, UserDefaultsRows, MetaRows, PgConnection):
    """Jobs, per-user defaults, small settings and per-server settings in one PostgreSQL
    database (see `Store`); several bot processes may share it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.guild_settings = PgGuildSettings(self.pool, url)

    def claim_rows(self, stale_after: float) -> PgClaimRows:
        """The statements with which this process shares the store with others."""
        return PgClaimRows(self.pool, self.url, stale_after)
