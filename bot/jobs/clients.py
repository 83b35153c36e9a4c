"""Which Miraflow client serves a server: the bot's, or the server's own key's
(`/settings apikey`; `bot/guild_clients.py` keeps them). The engine asks for the client
of a job's server for each of its calls: create, status, download. `PacedClients` hands
each one out with its own pacer (`bot.jobs.pacing`)."""

from __future__ import annotations

from typing import Protocol

from bot.jobs.pacing import Pacers
from bot.miraflow import MiraflowClient, MiraflowError


class KeyUnreadableError(MiraflowError):
    """The server's own key is stored but cannot be opened (SETTINGS_SECRET changed): its
    calls cannot be made now. Never answered with the bot's key instead: that account does
    not know the server's jobs, media or videos."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(f"server {guild_id}: its own Miraflow key cannot be decrypted")
        self.guild_id = guild_id


class Clients(Protocol):
    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        """The client of a server's key; KeyUnreadableError when its key cannot be opened."""
        ...


class OneClient:
    """Every server on the bot's key."""

    def __init__(self, client: MiraflowClient) -> None:
        self._client = client

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        return self._client


class PacedClients:
    """The clients of `clients`, each passing its own pacer (one ceiling per key)."""

    def __init__(self, clients: Clients, pacers: Pacers) -> None:
        self._clients = clients
        self.pacers = pacers

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        return self.pacers.pace(self._clients.for_guild(guild_id))
