"""The one place that picks the store's backend: PostgreSQL when a URL is given, else SQLite.

The bot, `miraflow-bot check`, the bench and the tests all open their store here. The
PostgreSQL store (and its connection pool) is loaded only when a URL is given; SQLite, the
default, needs no server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.jobs.store.interface import Store
from bot.jobs.store.migrations import SchemaTooNewError
from bot.jobs.store.sqlite import JobStore


class StoreOpenError(RuntimeError):
    """The store cannot be opened; the message is one line, with no password in it."""


def open_store(database_url: str | None, database_path: Path) -> Store:
    """The PostgreSQL store at `database_url`, or the SQLite one at `database_path`."""
    if database_url:
        from bot.jobs.store.postgres import PgStore, StoreUnreachableError

        try:
            return PgStore(database_url)
        except (StoreUnreachableError, SchemaTooNewError) as error:
            raise StoreOpenError(str(error)) from None
    try:
        return JobStore(database_path)
    except (sqlite3.Error, OSError, SchemaTooNewError) as error:
        raise StoreOpenError(f"DATABASE_PATH {database_path} cannot be used: {error}") from None


def describe_store(database_url: str | None, database_path: Path) -> str:
    """Which store the settings select, for people (never with a password)."""
    if database_url:
        from bot.jobs.store.postgres import describe

        return f"PostgreSQL at {describe(database_url)}"
    return f"SQLite at {database_path}"
