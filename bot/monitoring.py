"""Wires the bot and its store to the `/healthz` + `/metrics` server when METRICS_PORT is set."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import aiohttp
import discord

from bot.health import HealthProbes, MonitoringServer
from bot.jobs.store import Store
from bot.jobs.store.postgres import PgStore
from bot.metrics import metrics
from bot.settings import Settings

HEALTH_KEY = "health_checked_at"


def discord_connected(client: discord.Client) -> bool:
    """Ready, and its gateway connection open (it stays "ready" while reconnecting)."""
    if not client.is_ready() or client.is_closed():
        return False
    if isinstance(client, discord.AutoShardedClient):
        return bool(client.shards) and not any(s.is_closed() for s in client.shards.values())
    ws = client.ws
    return ws is not None and ws.open


async def store_writable(store: Store) -> bool:
    """One write. PostgreSQL's is made in a worker thread (its pool serves threads), so a
    slow database holds `/healthz` (PROBE_TIMEOUT at most), never the event loop. SQLite's
    connection belongs to the event loop; its file is local."""
    write = functools.partial(store.set_meta, HEALTH_KEY, str(time.time()))
    if isinstance(store, PgStore):
        await asyncio.to_thread(write)
    else:
        write()
    return True


def discord_error_trace(
    record: Callable[[int | str], None] = metrics.discord_error,
) -> aiohttp.TraceConfig:
    """For discord.py's `http_trace`: records each error answer or failed request of its
    HTTP session (REST and CDN; rate limits included, though discord.py retries them)."""

    async def on_end(
        _session: aiohttp.ClientSession,
        _ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status >= 400:
            record(params.response.status)

    async def on_exception(
        _session: aiohttp.ClientSession,
        _ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        if isinstance(params.exception, TimeoutError):
            record("timeout")
        elif isinstance(params.exception, (aiohttp.ClientError, OSError)):
            record("connection")

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_exception)
    return trace


@contextlib.asynccontextmanager
async def serve_monitoring(
    settings: Settings, client: discord.Client, store: Store
) -> AsyncIterator[MonitoringServer | None]:
    """The monitoring server for the block, or None when METRICS_PORT is unset."""
    if settings.metrics_port is None:
        yield None
        return
    metrics.watch_jobs(store.count_by_state)
    probes = HealthProbes(lambda: discord_connected(client), lambda: store_writable(store))
    server = MonitoringServer(metrics, probes, settings.metrics_host, settings.metrics_port)
    async with server:
        yield server
