"""The Miraflow clients of the bot: its own, and one per server that set its own key.

A server's client is made on first use from its stored key and remade when the stored key
changes (another process may have changed it: the sealed value is read each time, one
indexed read). A stored key that cannot be opened raises KeyUnreadableError: the server's
jobs wait (its account alone knows them) rather than move to the bot's key. All share the
bot client's HTTP session settings through `make`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.guild_keys import GuildKeys
from bot.jobs.clients import KeyUnreadableError
from bot.miraflow import MiraflowClient


class MiraflowClients:
    def __init__(
        self,
        default: MiraflowClient,
        keys: GuildKeys,
        make: Callable[[str], MiraflowClient],
    ) -> None:
        self.default = default
        self._keys = keys
        self._make = make
        self._own: dict[int, tuple[str, MiraflowClient]] = {}  # guild -> (sealed key, client)
        self._retired: list[MiraflowClient] = []

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        if guild_id is None:
            return self.default
        sealed = self._keys.sealed(guild_id)
        held = self._own.get(guild_id)
        if held is not None and held[0] == sealed:
            return held[1]
        if held is not None:
            del self._own[guild_id]
            self._retired.append(held[1])  # calls under way may still use it
        if sealed is None:
            return self.default
        key = self._keys.open(sealed, guild_id)
        if key is None:
            raise KeyUnreadableError(guild_id)
        client = self._make(key)
        self._own[guild_id] = (sealed, client)
        return client

    async def close(self) -> None:
        clients = [client for _, client in self._own.values()] + self._retired
        self._own.clear()
        self._retired.clear()
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
