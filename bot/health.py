"""`METRICS_PORT`: a small HTTP server with `/healthz` and Prometheus `/metrics`.

Health is asked of two callables, so this module knows nothing of Discord or the store:
`/healthz` answers 200 only while both say yes, else 503 with the first reason in a line.
A probe may be a coroutine function (one that waits on a slow store off the event loop):
it then has PROBE_TIMEOUT to answer, else it counts as a no.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.metrics import Metrics

log = logging.getLogger(__name__)

Probe = Callable[[], bool | Awaitable[bool]]
PROBE_TIMEOUT = 1.0  # seconds an asynchronous probe has to answer


@dataclass(frozen=True, slots=True)
class HealthProbes:
    discord_connected: Probe
    store_writable: Probe


async def _failing(probe: Probe, name: str) -> bool:
    try:
        answer = probe()
        if inspect.isawaitable(answer):
            async with asyncio.timeout(PROBE_TIMEOUT):
                answer = await answer
        return not answer
    except TimeoutError:
        log.warning("health probe %s did not answer within %s s", name, PROBE_TIMEOUT)
        return True
    except Exception:
        log.warning("health probe %s raised", name, exc_info=True)
        return True


class MonitoringServer:
    """Serves `/healthz` and `/metrics` on `host:port` (port 0: any free port) until stopped."""

    def __init__(self, metrics: Metrics, probes: HealthProbes, host: str, port: int) -> None:
        self._metrics = metrics
        self._probes = probes
        self._host = host
        self._port = port
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("serving /healthz and /metrics on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> MonitoringServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _healthz(self, _request: web.Request) -> web.Response:
        if await _failing(self._probes.discord_connected, "discord_connected"):
            return web.Response(status=503, text="not connected to Discord\n")
        if await _failing(self._probes.store_writable, "store_writable"):
            return web.Response(status=503, text="the job store is not writable\n")
        return web.Response(text="ok\n")

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
