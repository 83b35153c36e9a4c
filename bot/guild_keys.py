"""Per-server Miraflow keys (`/settings apikey`), sealed with `SETTINGS_SECRET`.

A key is kept in the store's `meta` table, encrypted (`secret_box.py`), under
`guild_miraflow_key:<server id>`; nothing here logs it, and nothing shows it back. Without a
SETTINGS_SECRET no key can be saved; a key that no longer opens (the secret changed) is not
replaced by the bot's: that server's calls wait until the secret is back (one log line).

A server's jobs belong to the account of the key they were made with, so a key is neither
set, replaced nor removed while the server has jobs that still need it (`KeyInUse`).
"""

from __future__ import annotations

import logging
import time

from bot.jobs.store import Store
from bot.secret_box import SecretBox, WrongSecretError

log = logging.getLogger(__name__)

META_PREFIX = "guild_miraflow_key:"


class NoSecretError(Exception):
    """SETTINGS_SECRET is not set: keys cannot be stored."""


class KeyInUse(Exception):
    """The server's key cannot change now: `jobs` of its jobs still need it."""

    def __init__(self, jobs: int) -> None:
        super().__init__(f"{jobs} jobs still need the server's key")
        self.jobs = jobs


class GuildKeys:
    def __init__(self, store: Store, secret: str, *, unclear_for: float) -> None:
        """`unclear_for`: the seconds an unclear video is looked for after its create call
        (its server's key finds it)."""
        self._store = store
        self._box = SecretBox(secret) if secret else None
        self._unclear_for = unclear_for
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
        if self._box is not None:
            try:
                return self._box.decrypt(sealed)
            except WrongSecretError:
                pass
        if guild_id not in self._unreadable_told:
            self._unreadable_told.add(guild_id)
            log.warning(
                "server %s: its own Miraflow key cannot be decrypted (SETTINGS_SECRET changed"
                " or unset?); its %d jobs wait for it, never on the bot's key: restore the"
                " secret, or have an admin set the key again once they are done",
                guild_id,
                self.jobs_on_key(guild_id),
            )
        return None

    def jobs_on_key(self, guild_id: int) -> int:
        """How many of the server's jobs still need its current key (bot's or own)."""
        return self._store.on_key_in_guild(guild_id, time.time() - self._unclear_for)

    def save(self, guild_id: int, key: str) -> None:
        """Set or replace the server's key; KeyInUse while jobs still need the current one."""
        if self._box is None:
            raise NoSecretError
        self._refuse_while_in_use(guild_id)
        self._store.set_meta(f"{META_PREFIX}{guild_id}", self._box.encrypt(key))
        self._unreadable_told.discard(guild_id)

    def remove(self, guild_id: int) -> bool:
        """Back to the bot's key; whether the server had one of its own. KeyInUse while
        jobs still need the server's key."""
        if not self.has_own_key(guild_id):
            return False
        self._refuse_while_in_use(guild_id)
        return self._store.delete_meta(f"{META_PREFIX}{guild_id}")

    def _refuse_while_in_use(self, guild_id: int) -> None:
        jobs = self.jobs_on_key(guild_id)
        if jobs:
            raise KeyInUse(jobs)
