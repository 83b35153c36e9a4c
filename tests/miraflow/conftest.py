"""Fixtures for the Miraflow client tests: the simulator, a fast-retrying client, tiny servers."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator

API_KEY = "sim-key-0123456789-do-not-leak"
MAX_RETRIES = 3


@pytest.fixture
async def sim() -> AsyncIterator:
    # Jobs take 30 s, so they finish only when a test completes them.
    config = SimulatorConfig(
        api_key=API_KEY, speed=1.0, image_seconds=(30.0, 30.0), video_seconds=(30.0, 30.0)
    )
    async with run_simulator(config) as simulator:
        yield simulator


def make_client(base_url: str, **overrides: object) -> MiraflowClient:
    """A client with tiny backoffs, so that retries are quick but still happen."""
    settings: dict = {
        "timeout": 5.0,
        "max_retries": MAX_RETRIES,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "retry_after_cap": 2.0,
    } | overrides
    return MiraflowClient(API_KEY, base_url, **settings)


@pytest.fixture
async def client(sim) -> AsyncIterator[MiraflowClient]:
    async with make_client(sim.base_url) as miraflow:
        yield miraflow


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Runs a small aiohttp.web app on 127.0.0.1 (free port) and yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def holds_for(predicate: Callable[[], bool], seconds: float) -> bool:
    """True when `predicate` stays true for `seconds` (to show that nothing more arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        await asyncio.sleep(0.01)
    return predicate()


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory) -> ssl.SSLContext:
    """A server context with a throw-away self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def serve_tls(app: web.Application, context: ssl.SSLContext) -> AsyncIterator[str]:
    """Like `serve`, over https (a storage host elsewhere); yields its https base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"https://{host}:{port}"
    finally:
        await runner.cleanup()


def unverified_session() -> aiohttp.ClientSession:
    """A session that accepts the self-signed certificate of `serve_tls`."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))
