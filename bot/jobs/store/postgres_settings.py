"""Per-server settings in the PostgreSQL store: `guild_settings.py`'s calls, in psycopg.

The checks that span two statements (a word list's length, say) hold an advisory lock on
the server for the transaction, so two processes cannot both pass them. Every write sends a
NOTIFY with the server's id (delivered at commit), so that every process sharing the store
reloads that server's settings at once (`changes`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from bot.jobs.store.guild_settings import SETTING_COLUMNS, StoredGuild, StoredStyle, assemble

NOTIFY_CHANNEL = "miraflow_guild_settings"


def _notify(conn: psycopg.Connection[Any], guild_id: int) -> None:
    conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(guild_id)])


class PgGuildSettings:
    shared = True  # other processes may write the same settings

    def __init__(self, pool: ConnectionPool, conninfo: str) -> None:
        self._pool = pool
        self._conninfo = conninfo

    async def changes(self) -> AsyncIterator[int | None]:
        """None once listening starts (changes before it were missed: reload everything),
        then the id of each server whose settings another write changed; ends by raising
        `psycopg.Error` when the connection is lost."""
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            yield None
            async for notice in conn.notifies():
                yield int(notice.payload) if notice.payload.isdigit() else None

    def load_all(self) -> dict[int, StoredGuild]:
        return self._read(sql.SQL(""), [])

    def load(self, guild_id: int) -> StoredGuild:
        found = self._read(sql.SQL("WHERE guild_id = %s"), [guild_id])
        return found.get(guild_id) or StoredGuild(guild_id)

    def _read(self, where: sql.SQL, params: list[Any]) -> dict[int, StoredGuild]:
        columns = sql.SQL(", ").join(map(sql.Identifier, SETTING_COLUMNS))
        with self._pool.connection() as conn, conn.transaction():
            settings = conn.execute(
                sql.SQL("SELECT guild_id, {} FROM guild_settings {}").format(columns, where),
                params,
            ).fetchall()
            words = conn.execute(
                sql.SQL("SELECT guild_id, word FROM guild_words {} ORDER BY added_at, seq").format(
                    where
                ),
                params,
            ).fetchall()
            styles = conn.execute(
                sql.SQL(
                    "SELECT guild_id, name, text, negative FROM guild_styles {} ORDER BY name"
                ).format(where),
                params,
            ).fetchall()
        return assemble(settings, words, styles)

    def update(self, guild_id: int, **values: Any) -> None:
        unknown = set(values).difference(SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"not a guild setting: {', '.join(sorted(unknown))}")
        names = [sql.Identifier(name) for name in values]
        statement = sql.SQL(
            "INSERT INTO guild_settings (guild_id, {columns}, updated_at)"
            " VALUES (%s, {marks}, %s) ON CONFLICT (guild_id) DO UPDATE SET {sets},"
            " updated_at = excluded.updated_at"
        ).format(
            columns=sql.SQL(", ").join(names),
            marks=sql.SQL(", ").join(sql.Placeholder() for _ in names),
            sets=sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(n) for n in names),
        )
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(statement, [guild_id, *values.values(), time.time()])
            _notify(conn, guild_id)

    def add_word(self, guild_id: int, key: str, word: str, *, limit: int) -> bool | None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [guild_id])
            if conn.execute(
                "SELECT 1 FROM guild_words WHERE guild_id = %s AND key = %s", [guild_id, key]
            ).fetchone():
                return False
            row = conn.execute(
                "SELECT count(*) FROM guild_words WHERE guild_id = %s", [guild_id]
            ).fetchone()
            if row is not None and row[0] >= limit:
                return None
            conn.execute(
                "INSERT INTO guild_words (guild_id, key, word, added_at) VALUES (%s, %s, %s, %s)",
                [guild_id, key, word, time.time()],
            )
            _notify(conn, guild_id)
        return True

    def remove_word(self, guild_id: int, key: str) -> str | None:
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "DELETE FROM guild_words WHERE guild_id = %s AND key = %s RETURNING word",
                [guild_id, key],
            ).fetchone()
            _notify(conn, guild_id)
        return None if row is None else str(row[0])

    def put_style(self, guild_id: int, style: StoredStyle) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO guild_styles (guild_id, name, text, negative, updated_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (guild_id, name) DO UPDATE SET"
                " text = excluded.text, negative = excluded.negative,"
                " updated_at = excluded.updated_at",
                [guild_id, style.name, style.text, style.negative, time.time()],
            )
            _notify(conn, guild_id)

    def remove_style(self, guild_id: int, name: str) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            cursor = conn.execute(
                "DELETE FROM guild_styles WHERE guild_id = %s AND name = %s", [guild_id, name]
            )
            _notify(conn, guild_id)
            return cursor.rowcount == 1

    def reset(self, guild_id: int) -> None:
        with self._pool.connection() as conn, conn.transaction():
            for table in ("guild_settings", "guild_words", "guild_styles"):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE guild_id = %s").format(sql.Identifier(table)),
                    [guild_id],
                )
            _notify(conn, guild_id)
