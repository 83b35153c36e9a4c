"""METRICS_PORT: /healthz follows the bot's Discord connection and its store; /metrics serves."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import discord
import pytest

from bot.jobs.models import JobState
from bot.jobs.store import JobStore
from bot.metrics import metrics
from bot.monitoring import discord_error_trace, serve_monitoring
from bot.settings import load_settings
from tests.e2e.harness import BotProcess, bot_environment, running_bot, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def fetch(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def healthz_once_up(port: int, timeout: float = 20.0) -> tuple[int, str]:
    """The first /healthz answer of a server that is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = await fetch(port, "/healthz")
        except aiohttp.ClientConnectionError:
            status, body = 0, ""
        if status == 200 or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.05)


async def metrics_show(port: int, line: str, timeout: float = 10.0) -> bool:
    """Whether /metrics comes to show `line` (the bot records a call once its answer is read)."""
    deadline = time.monotonic() + timeout
    while line not in (await fetch(port, "/metrics"))[1]:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_healthz_follows_the_discord_connection(fd, sim, db_path):
    port = free_port()
    settings = load_settings(bot_environment(fd, sim, db_path, METRICS_PORT=str(port)))
    async with (
        running_bot(fd, sim, db_path) as bot,
        serve_monitoring(settings, bot, bot.store) as server,
    ):
        assert server is not None and server.port == port
        assert await fetch(port, "/healthz") == (200, "ok\n")
        await bot.close()
        assert await fetch(port, "/healthz") == (503, "not connected to Discord\n")


async def test_healthz_says_when_the_store_cannot_be_written(fd, sim, db_path, tmp_path):
    settings = load_settings(bot_environment(fd, sim, db_path, METRICS_PORT=str(free_port())))
    broken = JobStore(tmp_path / "other.sqlite3")
    broken.close()
    async with running_bot(fd, sim, db_path) as bot, serve_monitoring(settings, bot, broken):
        status, body = await fetch(settings.metrics_port, "/healthz")
    assert (status, body) == (503, "the job store is not writable\n")


async def test_no_metrics_port_no_server(fd, sim, db_path):
    settings = load_settings(bot_environment(fd, sim, db_path))
    client = discord.Client(intents=discord.Intents.none())
    with JobStore(":memory:") as store:
        async with serve_monitoring(settings, client, store) as server:
            assert server is None


async def test_the_bot_process_serves_both_pages(fd, sim, db_path, tmp_path):
    port = free_port()
    process = BotProcess(
        bot_environment(fd, sim, db_path, METRICS_PORT=str(port)), tmp_path / "bot.log"
    )
    process.start()
    try:
        assert await healthz_once_up(port) == (200, "ok\n"), process.log_text()
        status, body = await fetch(port, "/metrics")
        assert status == 200
        assert "miraflow_bot_delivery_lag_seconds_count 0.0" in body
        assert 'miraflow_bot_jobs{state="queued"} 0.0' in body
        # `run` gives its Miraflow client the metrics as its call observer.
        await fd.wait_for_ready_client(timeout=20)
        inter = await fd.invoke("imagine", {"prompt": "counted"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        generate = 'miraflow_bot_miraflow_calls_total{endpoint="/api/image/generate",status="200"}'
        assert await metrics_show(port, generate + " 1.0"), process.log_text()
        assert await process.terminate() == 0
    finally:
        if process.is_running():
            process.kill()
    assert f"serving /healthz and /metrics on 127.0.0.1:{port}" in process.log_text()


async def test_discord_errors_are_counted_by_status(fd):
    from bot.metrics import Metrics

    recorded = Metrics()
    fd.point_discord_py()
    client = discord.Client(
        intents=discord.Intents.none(), http_trace=discord_error_trace(recorded.discord_error)
    )
    try:
        await client.login(fd.token)
        with pytest.raises(discord.NotFound):
            await client.fetch_channel(424242)
    finally:
        await client.close()
    value = recorded.registry.get_sample_value(
        "miraflow_bot_discord_errors_total", {"status": "404"}
    )
    assert value == 1


async def test_a_delivered_result_records_its_lag(fd, sim, bot):
    before = metrics.registry.get_sample_value("miraflow_bot_delivery_lag_seconds_count") or 0
    inter = await fd.invoke("imagine", {"prompt": "a lag to measure"}, user=fd.users.alice)
    await fd.wait_for_ack(inter, timeout=3)
    await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
    await wait_until(
        lambda: (
            metrics.registry.get_sample_value("miraflow_bot_delivery_lag_seconds_count")
            == before + 1
        )
    )
    job = bot.store.get(1)
    assert 0 <= job.delivered_at - job.completed_at < 15
