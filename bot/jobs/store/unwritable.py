"""Whether an error means the store cannot take writes now (a read-only or full disk, a
database server gone), rather than a bug: what the bot can tell a member in a short line."""

from __future__ import annotations

import sqlite3
import sys

# SQLite's primary result codes of a store that cannot be written now.
_SQLITE_CODES = {
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_PERM,
}
# PostgreSQL's SQLSTATE classes (and one code) of the same: a lost connection, a full
# disk or memory, a server shutting down, a read-only transaction (a standby).
_PG_STATE_PREFIXES = ("08", "53", "57P", "25006")


def cannot_write(error: BaseException) -> bool:
    """True when `error` says the store cannot be written right now."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_CODES
    psycopg = sys.modules.get("psycopg")  # loaded only with a PostgreSQL store
    if psycopg is None or not isinstance(error, psycopg.Error):
        return False
    state = getattr(error, "sqlstate", None) or ""
    return isinstance(error, psycopg.OperationalError) or state.startswith(_PG_STATE_PREFIXES)
