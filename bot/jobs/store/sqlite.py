"""The SQLite store: the only code that writes SQL (with `rows.py`, `migrations.py`)."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.store.connection import Connection
from bot.jobs.store.guild_settings import GuildSettingsStore
from bot.jobs.store.jobs import JobRows
from bot.jobs.store.user_defaults import MetaRows, UserDefaultsRows


class JobStore(JobRows, UserDefaultsRows, MetaRows, Connection):
    """Jobs, per-user defaults and small settings, in one SQLite database (see `Store`);
    per-server settings are `guild_settings`, on the same connection."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.guild_settings = GuildSettingsStore(self._db)
