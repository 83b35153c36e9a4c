"""Which Miraflow client serves a server: the bot's, or the server's own key's
(`/settings apikey`; `bot/guild_clients.py` keeps them). The engine asks for the client
of a job's server for each of its calls: create, status, download."""

from __future__ import annotations

from typing import Protocol

from bot.miraflow import MiraflowClient


class Clients(Protocol):
    def for_guild(self, guild_id: int | None) -> MiraflowClient: ...


class OneClient:
    """Every server on the bot's key."""

    def __init__(self, client: MiraflowClient) -> None:
        self._client = client

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        return self._client
