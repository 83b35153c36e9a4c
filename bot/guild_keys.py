"""Per-server Miraflow keys (`/settings apikey`), sealed with `SETTINGS_SECRET`.

A key is kept in the store's `meta` table, encrypted (`secret_box.py`), under
`guild_miraflow_key:<server id>`; nothing here logs it, and nothing shows it back. Without a
SETTINGS_SECRET no key can be saved; a key that no longer opens (the secret changed) is
treated as absent: that server is back on the bot's key until an admin sets it again.
"""

from __future__ import annotations

import logging

from bot.jobs.store import Store
from bot.secret_box import SecretBox, WrongSecretError

log = logging.getLogger(__name__)

META_PREFIX = "guild_miraflow_key:"


class NoSecretError(Exception):
    """SETTINGS_SECRET is not set: keys cannot be stored."""


class GuildKeys:
    def __init__(self, store: Store, secret: str) -> None:
        self._store = store
        self._box = SecretBox(secret) if secret else None
        self._unreadable_told: set[int] = set()

    @property
    def can_store(self) -> bool:
        return self._box is not None

    def sealed(self, guild_id: int) -> str | None:
        """The stored (encrypted) key of a server, or None."""
        return self._store.get_meta(f"{META_PREFIX}{guild_id}")

    def has_own_key(self, guild_id: int) -> bool:
        return self.sealed(guild_id) is not None

    def open(self, sealed: str, guild_id: int) -> str | None:
        """The key inside `sealed`, or None when this secret cannot open it."""
        if self._box is None:
            return None
        try:
            return self._box.decrypt(sealed)
        except WrongSecretError:
            if guild_id not in self._unreadable_told:
                self._unreadable_told.add(guild_id)
                log.warning(
                    "server %s: its Miraflow key cannot be decrypted (SETTINGS_SECRET changed?);"
                    " its jobs use the bot's key until it is set again",
                    guild_id,
                )
            return None

    def save(self, guild_id: int, key: str) -> None:
        if self._box is None:
            raise NoSecretError
        self._store.set_meta(f"{META_PREFIX}{guild_id}", self._box.encrypt(key))
        self._unreadable_told.discard(guild_id)

    def remove(self, guild_id: int) -> bool:
        """Back to the bot's key; whether the server had one of its own."""
        return self._store.delete_meta(f"{META_PREFIX}{guild_id}")
