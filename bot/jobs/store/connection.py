"""The SQLite connection of the store: pragmas, migrations, WAL checkpoints, closing.

Every call is one transaction and returns quickly (indexed queries on one connection), so
the bot calls the store directly from the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sqlite_utils import Database

import bot.jobs.store.tuning as tuning
from bot.jobs.store.checkpoint import WalCheckpointer
from bot.jobs.store.migrations import migrate
from bot.jobs.store.private_files import create_private_file, make_private_folder
from bot.jobs.store.sql_base import Params, Row, SqlRows

log = logging.getLogger(__name__)


# `RETURNING` on writes needs SQLite 3.35 (2021).
MIN_SQLITE = (3, 35)


class Connection(SqlRows):
    """One SQLite connection, meant for one thread at a time (the event loop's);
    `check_same_thread` is off only so that it may be created or closed elsewhere."""

    def __init__(self, path: str | Path) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} is too old: the store needs 3.35 or newer"
            )
        self.path = str(path)
        in_memory = self.path == ":memory:"
        if not in_memory:
            make_private_folder(Path(self.path).parent)
            create_private_file(Path(self.path))
        # isolation_level=None: the driver opens no implicit transactions; a single statement
        # is its own transaction, and multi-statement calls use `write_transaction`.
        conn = sqlite3.connect(
            self.path,
            timeout=tuning.BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._db = Database(conn, execute_plugins=False)
            self._db.execute(f"PRAGMA busy_timeout = {tuning.BUSY_TIMEOUT_MS}")
            if not in_memory:
                self._db.enable_wal()
                if self._db.journal_mode != "wal":
                    log.warning("%s: this file system refuses WAL mode", self.path)
                # Safe with WAL: a power cut may lose the last commits, never corrupt.
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute(
                    f"PRAGMA wal_autocheckpoint = {tuning.FALLBACK_AUTOCHECKPOINT_PAGES}"
                )
            migrate(self._db)
        except BaseException:
            conn.close()
            raise
        self._checkpointer = (
            None
            if in_memory
            else WalCheckpointer(
                self.path,
                tuning.CHECKPOINT_INTERVAL,
                tuning.CHECKPOINT_AFTER_WRITES,
                tuning.BUSY_TIMEOUT_MS / 1000,
            )
        )
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()  # the last connection to close checkpoints and removes the WAL

    def _write(self, sql: str, params: Params) -> list[Row]:
        # fetchall: the statement (and so its transaction) ends only once every row is read.
        rows = self._db.execute(sql, params).fetchall()
        if self._checkpointer is not None:
            self._checkpointer.note_write()
        return rows

    def _read(self, sql: str, params: Params = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()
