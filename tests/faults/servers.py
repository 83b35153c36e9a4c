"""Small servers the fault checks need: one that counts what it is sent, and a simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator

API_KEY = "fault-table-key-0123456789"


class CountingServer:
    """An HTTP server on 127.0.0.1 that answers anything with a few bytes and counts it:
    a host inside the bot's network that must never be contacted."""

    def __init__(self) -> None:
        self.requests = 0
        self.base_url = ""

    async def _any(self, _request: web.Request) -> web.Response:
        self.requests += 1
        return web.Response(body=b"internal secret")


@asynccontextmanager
async def counting_server() -> AsyncIterator[CountingServer]:
    server = CountingServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server._any)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


@asynccontextmanager
async def simulator() -> AsyncIterator[MiraflowSimulator]:
    """A simulator whose jobs finish only when a check completes them."""
    config = SimulatorConfig(api_key=API_KEY, image_seconds=(60.0, 60.0), seed=11)
    async with run_simulator(config) as sim:
        yield sim


def client(sim: MiraflowSimulator, **overrides: float) -> MiraflowClient:
    settings: dict = {"timeout": 5.0, "backoff_base": 0.01, "backoff_cap": 0.05} | overrides
    return MiraflowClient(API_KEY, sim.base_url, **settings)
