"""Per-server settings in the job store (tables of migration v5): the SQL for `/settings`.

A value left NULL, or a server without a row, means "the default from .env".
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from bot.jobs.store.migrations import write_transaction

SETTING_COLUMNS = ("max_active", "max_daily", "server_daily", "log_channel_id", "delivery")


@dataclass(frozen=True, slots=True)
class StoredStyle:
    name: str
    text: str = ""
    negative: str = ""


@dataclass(slots=True)
class StoredGuild:
    """Everything one server has set; None where it follows the default."""

    guild_id: int
    max_active: int | None = None
    max_daily: int | None = None
    server_daily: int | None = None
    log_channel_id: int | None = None
    delivery: str | None = None
    words: list[str] = field(default_factory=list)  # as the admins wrote them, oldest first
    styles: dict[str, StoredStyle] = field(default_factory=dict)


def assemble(
    settings: Iterable[Sequence[Any]],
    words: Iterable[Sequence[Any]],
    styles: Iterable[Sequence[Any]],
) -> dict[int, StoredGuild]:
    """Servers' settings from the rows of the three tables (guild_id first in each)."""
    guilds: dict[int, StoredGuild] = {}

    def guild(guild_id: int) -> StoredGuild:
        return guilds.setdefault(guild_id, StoredGuild(guild_id))

    for row in settings:
        stored = guild(row[0])
        for name, value in zip(SETTING_COLUMNS, row[1:], strict=True):
            setattr(stored, name, value)
    for guild_id, word in words:
        guild(guild_id).words.append(word)
    for guild_id, name, text, negative in styles:
        guild(guild_id).styles[name] = StoredStyle(name, text, negative)
    return guilds


class GuildSettingsStore:
    """Reads and writes the guild_* tables on the job store's connection."""

    shared = False  # one process on its SQLite store: only its own writes change settings

    def __init__(self, db: Database) -> None:
        self._db = db

    def changes(self) -> None:
        """No other process writes here: nothing to listen for."""

    def load_all(self) -> dict[int, StoredGuild]:
        """Every server that has set anything (a few rows each: read once at start)."""
        return self._read("", [])

    def load(self, guild_id: int) -> StoredGuild:
        """One server's settings, as stored now."""
        return self._read("WHERE guild_id = ?", [guild_id]).get(guild_id) or StoredGuild(guild_id)

    def _read(self, where: str, params: list[Any]) -> dict[int, StoredGuild]:
        columns = ", ".join(SETTING_COLUMNS)
        return assemble(
            self._db.execute(f"SELECT guild_id, {columns} FROM guild_settings {where}", params),
            self._db.execute(
                f"SELECT guild_id, word FROM guild_words {where} ORDER BY added_at, rowid", params
            ),
            self._db.execute(
                f"SELECT guild_id, name, text, negative FROM guild_styles {where} ORDER BY name",
                params,
            ),
        )

    def update(self, guild_id: int, **values: Any) -> None:
        """Set some of the plain settings; a value given as None goes back to the default."""
        unknown = set(values).difference(SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"not a guild setting: {', '.join(sorted(unknown))}")
        names = list(values)
        # Column names come from the whitelist above, never from outside.
        self._db.execute(
            f"INSERT INTO guild_settings (guild_id, {', '.join(names)}, updated_at)"
            f" VALUES (:guild_id, {', '.join(':' + n for n in names)}, :now)"
            f" ON CONFLICT (guild_id) DO UPDATE SET"
            f" {', '.join(f'{n} = excluded.{n}' for n in names)}, updated_at = excluded.updated_at",
            {**values, "guild_id": guild_id, "now": time.time()},
        )

    def add_word(self, guild_id: int, key: str, word: str, *, limit: int) -> bool | None:
        """Add a banned entry: True, or False if one with this key is there, or None when the
        list already holds `limit` entries (checked in the same transaction)."""
        with write_transaction(self._db):
            if self._db.execute(
                "SELECT 1 FROM guild_words WHERE guild_id = ? AND key = ?", [guild_id, key]
            ).fetchone():
                return False
            count = self._db.execute(
                "SELECT count(*) FROM guild_words WHERE guild_id = ?", [guild_id]
            ).fetchone()[0]
            if count >= limit:
                return None
            self._db.execute(
                "INSERT INTO guild_words (guild_id, key, word, added_at) VALUES (?, ?, ?, ?)",
                [guild_id, key, word, time.time()],
            )
        return True

    def remove_word(self, guild_id: int, key: str) -> str | None:
        """Remove the entry with this key; the entry as it was written, or None if absent."""
        with write_transaction(self._db):
            row = self._db.execute(
                "SELECT word FROM guild_words WHERE guild_id = ? AND key = ?", [guild_id, key]
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "DELETE FROM guild_words WHERE guild_id = ? AND key = ?", [guild_id, key]
            )
        return str(row[0])

    def put_style(self, guild_id: int, style: StoredStyle) -> None:
        self._db.execute(
            "INSERT INTO guild_styles (guild_id, name, text, negative, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, name) DO UPDATE SET"
            " text = excluded.text, negative = excluded.negative,"
            " updated_at = excluded.updated_at",
            [guild_id, style.name, style.text, style.negative, time.time()],
        )

    def remove_style(self, guild_id: int, name: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM guild_styles WHERE guild_id = ? AND name = ?", [guild_id, name]
        )
        return cursor.rowcount == 1

    def reset(self, guild_id: int) -> None:
        """The server back to every default: its rows are gone."""
        with write_transaction(self._db):
            for table in ("guild_settings", "guild_words", "guild_styles"):
                self._db.execute(f"DELETE FROM {table} WHERE guild_id = ?", [guild_id])
