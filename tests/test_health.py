"""`/healthz` and `/metrics` over real HTTP, on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.health import PROBE_TIMEOUT, HealthProbes, MonitoringServer
from bot.jobs.store.postgres import STATEMENT_TIMEOUT_MS, PgStore
from bot.metrics import Metrics
from bot.monitoring import store_writable


class Flags:
    def __init__(self) -> None:
        self.connected = True
        self.writable = True

    def probes(self) -> HealthProbes:
        return HealthProbes(lambda: self.connected, lambda: self.writable)


async def get(server: MonitoringServer, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{server.port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def test_healthz_is_200_only_while_connected_with_a_writable_store():
    flags = Flags()
    async with MonitoringServer(Metrics(), flags.probes(), "127.0.0.1", 0) as server:
        assert (await get(server, "/healthz"))[0] == 200

        flags.connected = False
        status, _, body = await get(server, "/healthz")
        assert (status, body) == (503, "not connected to Discord\n")

        flags.connected, flags.writable = True, False
        status, _, body = await get(server, "/healthz")
        assert (status, body) == (503, "the job store is not writable\n")

        flags.writable = True
        assert (await get(server, "/healthz"))[0] == 200


async def test_a_probe_that_raises_is_unhealthy_not_a_crash():
    def broken() -> bool:
        raise OSError("disk I/O error")

    probes = HealthProbes(lambda: True, broken)
    async with MonitoringServer(Metrics(), probes, "127.0.0.1", 0) as server:
        status, _, body = await get(server, "/healthz")
        assert status == 503
        assert "store" in body
        assert "disk" not in body


async def test_metrics_are_served_in_the_prometheus_text_format():
    metrics = Metrics()
    metrics.watch_jobs(lambda: {"working": 2})
    metrics.miraflow_call("/api/image/1234", 200)
    async with MonitoringServer(metrics, Flags().probes(), "127.0.0.1", 0) as server:
        status, content_type, body = await get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(body)}
    assert {
        "miraflow_bot_jobs",
        "miraflow_bot_miraflow_calls",
        "miraflow_bot_delivery_lag_seconds",
        "miraflow_bot_discord_errors",
    } <= set(families)
    working = [s for s in families["miraflow_bot_jobs"].samples if s.labels["state"] == "working"]
    assert working[0].value == 2


async def test_stop_closes_the_port():
    async with MonitoringServer(Metrics(), Flags().probes(), "127.0.0.1", 0) as server:
        port = server.port
        assert port
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


async def test_a_locked_postgresql_store_is_unhealthy_without_holding_the_event_loop(pg_schema):
    with PgStore(pg_schema.conninfo) as store:
        probes = HealthProbes(lambda: True, lambda: store_writable(store))
        async with MonitoringServer(Metrics(), probes, "127.0.0.1", 0) as server:
            assert (await get(server, "/healthz"))[0] == 200
            with psycopg.connect(pg_schema.conninfo) as locker, locker.transaction():
                locker.execute("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE")
                gaps: list[float] = []
                ticking = asyncio.create_task(tick(gaps))
                started = time.monotonic()
                status, _, body = await get(server, "/healthz")
                took = time.monotonic() - started
                ticking.cancel()
            assert (status, body) == (503, "the job store is not writable\n")
            assert took < PROBE_TIMEOUT + 0.5, took
            assert max(gaps) < 0.5, "the event loop went on meanwhile"
            await asyncio.sleep(STATEMENT_TIMEOUT_MS / 1000)  # the abandoned write ends
            assert (await get(server, "/healthz"))[0] == 200


async def tick(gaps: list[float]) -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        gaps.append(time.monotonic() - before)
