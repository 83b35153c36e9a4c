"""Wires the bot and its store to the `/healthz` + `/metrics` server when METRICS_PORT is set."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import discord

from bot.health import HealthProbes, MonitoringServer
from bot.jobs.store import JobStore
from bot.metrics import metrics
from bot.settings import Settings

HEALTH_KEY = "health_checked_at"


def discord_connected(client: discord.Client) -> bool:
    """Ready, and its gateway connection open (it stays "ready" while reconnecting)."""
    if not client.is_ready() or client.is_closed():
        return False
    ws = client.ws
    return ws is not None and ws.open


def store_writable(store: JobStore) -> bool:
    store.set_meta(HEALTH_KEY, str(time.time()))
    return True


@contextlib.asynccontextmanager
async def serve_monitoring(
    settings: Settings, client: discord.Client, store: JobStore
) -> AsyncIterator[MonitoringServer | None]:
    """The monitoring server for the block, or None when METRICS_PORT is unset."""
    if settings.metrics_port is None:
        yield None
        return
    probes = HealthProbes(lambda: discord_connected(client), lambda: store_writable(store))
    server = MonitoringServer(metrics, probes, settings.metrics_host, settings.metrics_port)
    async with server:
        yield server
