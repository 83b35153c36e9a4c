"""Per-user `/speak` defaults and small key-value settings (`meta`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.jobs.store.sql_base import SqlRows


@dataclass(slots=True)
class UserDefaults:
    """What `/speak` uses when a user names no avatar or voice."""

    user_id: int
    avatar_id: str | None = None
    voice_id: str | None = None
    avatar_name: str | None = None
    voice_name: str | None = None
    updated_at: float = 0.0


_DEFAULTS_COLUMNS = "user_id, avatar_id, voice_id, avatar_name, voice_name, updated_at"


class UserDefaultsRows(SqlRows):
    def get_user_defaults(self, user_id: int) -> UserDefaults | None:
        rows = self._read(
            f"SELECT {_DEFAULTS_COLUMNS} FROM user_defaults WHERE user_id = ?", [user_id]
        )
        return UserDefaults(*rows[0]) if rows else None

    def set_user_defaults(
        self,
        user_id: int,
        *,
        avatar_id: str | None = None,
        voice_id: str | None = None,
        avatar_name: str | None = None,
        voice_name: str | None = None,
        now: float | None = None,
    ) -> UserDefaults:
        """Remember a user's defaults; a value left at None keeps the stored one."""
        now = time.time() if now is None else now
        rows = self._write(
            "INSERT INTO user_defaults"
            " (user_id, avatar_id, voice_id, avatar_name, voice_name, updated_at)"
            " VALUES (:user_id, :avatar_id, :voice_id, :avatar_name, :voice_name, :now)"
            " ON CONFLICT (user_id) DO UPDATE SET"
            " avatar_id = coalesce(excluded.avatar_id, user_defaults.avatar_id),"
            " voice_id = coalesce(excluded.voice_id, user_defaults.voice_id),"
            " avatar_name = coalesce(excluded.avatar_name, user_defaults.avatar_name),"
            " voice_name = coalesce(excluded.voice_name, user_defaults.voice_name),"
            " updated_at = excluded.updated_at"
            f" RETURNING {_DEFAULTS_COLUMNS}",
            {
                "user_id": user_id,
                "avatar_id": avatar_id,
                "voice_id": voice_id,
                "avatar_name": avatar_name,
                "voice_name": voice_name,
                "now": now,
            },
        )
        return UserDefaults(*rows[0])


class MetaRows(SqlRows):
    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", [key])
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def delete_meta(self, key: str) -> bool:
        """Forget a setting; whether there was one."""
        return bool(self._write("DELETE FROM meta WHERE key = ? RETURNING key", [key]))
