"""Per-server settings (`/settings`): kept in memory, written through to the store.

Reads are dictionary lookups (no I/O; on a shared store, one read of a server's rows per
`SHARED_TTL` at most), so requests can be checked against a server's banned words before
they are acknowledged. Values a server has not set come from `.env`.

On a store shared with other processes (PostgreSQL), their writes reach this one through the
store's `changes()` (LISTEN/NOTIFY): the server named is reloaded off the event loop at once.
A server's copy older than `SHARED_TTL` is also read again on its next use, the safety net
for a notice lost while the listening connection was down.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg

from bot.errors import UserFacingError
from bot.jobs.service import Quotas
from bot.jobs.store.guild_settings import StoredGuild, StoredStyle
from bot.jobs.store.interface import GuildSettingsTable
from bot.words import MAX_ENTRIES, BadEntry, WordList, check_entry, entry_key

DELIVERY_CHANNEL = "channel"
DELIVERY_DM = "dm"
DELIVERY_MODES = (DELIVERY_CHANNEL, DELIVERY_DM)
ACTIVE_RANGE = (1, 20)
DAILY_RANGE = (1, 1000)
SERVER_DAILY_RANGE = (0, 100_000)  # 0: no cap
STYLE_NAME = re.compile(r"^[^\W_][\w-]{0,19}$")  # one short word: letters, digits, - and _
MAX_STYLE_NAME = 20
MAX_STYLE_TEXT = 300
MAX_STYLES = 25  # what one autocomplete answer can offer
SHARED_TTL = 10.0  # seconds a server's settings are trusted on a shared store
LISTEN_RETRY = 5.0  # seconds before listening again after the connection was lost

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Setting:
    """An effective value and whether this server chose it (else it is the default)."""

    value: int | str | None
    from_server: bool


@dataclass(slots=True)
class _Guild:
    stored: StoredGuild
    words: WordList
    loaded_at: float = field(default_factory=time.monotonic)


def _check_range(label: str, value: int | None, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if value is not None and not low <= value <= high:
        raise UserFacingError(f"`{label}` must be a whole number from {low} to {high}.")


def style_name(raw: str) -> str:
    """A style's name as stored (lower case), or a UserFacingError saying what a name is."""
    name = raw.strip().casefold()
    if not STYLE_NAME.fullmatch(name):
        raise UserFacingError(
            f"A style name is one short word (up to {MAX_STYLE_NAME} letters, digits, "
            "`-` or `_`), such as `watercolor` or `neon-noir`."
        )
    return name


class GuildSettings:
    def __init__(
        self,
        store: GuildSettingsTable,
        defaults: Quotas,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._defaults = defaults
        self._clock = clock
        self._ttl = SHARED_TTL if store.shared else None
        self._guilds = self._load_all()
        self._follower: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set once other processes' writes are followed

    def _load_all(self) -> dict[int, _Guild]:
        return {
            guild_id: _Guild(stored, WordList(stored.words), self._clock())
            for guild_id, stored in self._store.load_all().items()
        }

    def _guild(self, guild_id: int) -> _Guild:
        found = self._guilds.get(guild_id)
        if self._ttl is None:  # this process's writes are the only ones
            return found if found is not None else _Guild(StoredGuild(guild_id), WordList())
        if found is None or self._clock() - found.loaded_at > self._ttl:
            try:
                self._reload(guild_id)
            except psycopg.Error as exc:
                log.warning("could not read server %s's settings (%s); keeping them", guild_id, exc)
                stale = found or _Guild(StoredGuild(guild_id), WordList())
                self._guilds[guild_id] = _Guild(stale.stored, stale.words, self._clock())
            return self._guilds[guild_id]
        return found

    def _reload(self, guild_id: int) -> None:
        stored = self._store.load(guild_id)
        self._guilds[guild_id] = _Guild(stored, WordList(stored.words), self._clock())

    # -- following other processes' writes --------------------------------------------------

    def start(self) -> None:
        """On a shared store, follow the other processes' writes until `stop`."""
        if self._store.shared and self._follower is None:
            self._follower = asyncio.create_task(self._follow(), name="guild-settings-listen")

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None

    async def _follow(self) -> None:
        while True:
            changes = self._store.changes()
            if changes is None:
                return
            try:
                async for guild_id in changes:
                    if guild_id is None:
                        self._guilds = await asyncio.to_thread(self._load_all)
                        self.listening.set()
                    else:
                        await asyncio.to_thread(self._reload, guild_id)
            except psycopg.Error as exc:
                log.warning(
                    "lost the settings LISTEN connection (%s); re-reading every %.0f s meanwhile",
                    exc,
                    SHARED_TTL,
                )
            await asyncio.sleep(LISTEN_RETRY)

    # -- reads (no I/O) ------------------------------------------------------------------

    def stored(self, guild_id: int) -> StoredGuild:
        return self._guild(guild_id).stored

    def limits(self, guild_id: int) -> dict[str, Setting]:
        stored, defaults = self.stored(guild_id), self._defaults
        return {
            "active": _sourced(stored.max_active, defaults.max_active),
            "daily": _sourced(stored.max_daily, defaults.max_per_day),
            "server_daily": _sourced(stored.server_daily, defaults.server_per_day),
        }

    def quotas(self, guild_id: int | None) -> Quotas:
        """The job limits that apply on a server (the defaults outside any server)."""
        if guild_id is None:
            return self._defaults
        limits = self.limits(guild_id)
        return Quotas(
            max_active=int(limits["active"].value or 0),
            max_per_day=int(limits["daily"].value or 0),
            server_per_day=int(limits["server_daily"].value or 0),
        )

    def delivery(self, guild_id: int) -> str:
        return self.stored(guild_id).delivery or DELIVERY_CHANNEL

    def delivery_setting(self, guild_id: int) -> Setting:
        chosen = self.stored(guild_id).delivery
        return Setting(chosen or DELIVERY_CHANNEL, chosen is not None)

    def log_channel(self, guild_id: int) -> int | None:
        return self.stored(guild_id).log_channel_id

    def banned_word(self, guild_id: int, texts: Iterable[str | None]) -> str | None:
        """The first of the server's banned words or phrases found in `texts`, or None."""
        return self._guild(guild_id).words.first_match(*texts)

    def words(self, guild_id: int) -> list[str]:
        return self._guild(guild_id).words.entries

    def styles(self, guild_id: int) -> list[StoredStyle]:
        return list(self.stored(guild_id).styles.values())

    def style(self, guild_id: int, name: str) -> StoredStyle | None:
        """A server's style by name, whatever its case (for `/imagine style:`)."""
        return self.stored(guild_id).styles.get(name.strip().casefold())

    # -- writes: each checks its input, writes through, and says what changed ----------------

    def set_limits(
        self,
        guild_id: int,
        *,
        active: int | None = None,
        daily: int | None = None,
        server_daily: int | None = None,
    ) -> str:
        if active is None and daily is None and server_daily is None:
            raise UserFacingError(
                "Give at least one of `active`, `daily` or `server_daily`. "
                "See the current values with `/settings show`."
            )
        _check_range("active", active, ACTIVE_RANGE)
        _check_range("daily", daily, DAILY_RANGE)
        _check_range("server_daily", server_daily, SERVER_DAILY_RANGE)
        values = {
            column: value
            for column, value in (
                ("max_active", active),
                ("max_daily", daily),
                ("server_daily", server_daily),
            )
            if value is not None
        }
        self._store.update(guild_id, **values)
        self._reload(guild_id)
        changes = [
            f"{label} {value if value or label != 'server daily' else 'no cap'}"
            for label, value in (
                ("active", active),
                ("daily", daily),
                ("server daily", server_daily),
            )
            if value is not None
        ]
        return ", ".join(changes)

    def add_word(self, guild_id: int, raw: str) -> str:
        try:
            word = check_entry(raw)
        except BadEntry as problem:
            raise UserFacingError(str(problem)) from problem
        added = self._store.add_word(guild_id, entry_key(word), word, limit=MAX_ENTRIES)
        if added is None:
            raise UserFacingError(
                f"The list is full ({MAX_ENTRIES} words or phrases). Remove some first."
            )
        if not added:
            raise UserFacingError("That word is already on the list.")
        self._reload(guild_id)
        return word

    def remove_word(self, guild_id: int, raw: str) -> str:
        word = " ".join(raw.split())
        removed = self._store.remove_word(guild_id, entry_key(word)) if word else None
        if removed is None:
            raise UserFacingError(
                "That word is not on the list. See the list with `/settings show`."
            )
        self._reload(guild_id)
        return removed

    def set_log_channel(self, guild_id: int, channel_id: int | None) -> None:
        self._store.update(guild_id, log_channel_id=channel_id)
        self._reload(guild_id)

    def set_delivery(self, guild_id: int, mode: str) -> None:
        if mode not in DELIVERY_MODES:
            raise UserFacingError(f"The delivery mode is one of {', '.join(DELIVERY_MODES)}.")
        self._store.update(guild_id, delivery=mode)
        self._reload(guild_id)

    def put_style(
        self, guild_id: int, raw_name: str, text: str | None, negative: str | None
    ) -> StoredStyle:
        name = style_name(raw_name)
        text = " ".join((text or "").split())
        negative = " ".join((negative or "").split())
        if not text and not negative:
            raise UserFacingError(
                "Give the style a `text` (added to the prompt), a `negative` (added to the "
                "negative prompt), or both. To delete it, use `remove:True`."
            )
        for label, value in (("text", text), ("negative", negative)):
            if len(value) > MAX_STYLE_TEXT:
                raise UserFacingError(
                    f"The style's {label} is too long ({len(value)} characters; the limit is "
                    f"{MAX_STYLE_TEXT})."
                )
        styles = self.stored(guild_id).styles
        if name not in styles and len(styles) >= MAX_STYLES:
            raise UserFacingError(f"This server has {MAX_STYLES} styles already. Remove one first.")
        style = StoredStyle(name, text, negative)
        self._store.put_style(guild_id, style)
        self._reload(guild_id)
        return style

    def remove_style(self, guild_id: int, raw_name: str) -> str:
        name = style_name(raw_name)
        if not self._store.remove_style(guild_id, name):
            raise UserFacingError(
                f"There is no style named `{name}`. See the styles with `/settings show`."
            )
        self._reload(guild_id)
        return name

    def reset(self, guild_id: int) -> None:
        self._store.reset(guild_id)
        self._guilds.pop(guild_id, None)


def _sourced(chosen: int | None, default: int) -> Setting:
    return Setting(default, False) if chosen is None else Setting(chosen, True)
