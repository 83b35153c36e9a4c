"""Every Miraflow call is counted under its endpoint template and status."""

from __future__ import annotations

import pytest

from bot.metrics import metrics
from bot.miraflow import MiraflowConnectionError, NotFoundError
from tests.miraflow.conftest import make_client, serve


@pytest.fixture
async def client(sim):
    """A client told to count its calls, as `run` makes it."""
    async with make_client(sim.base_url, on_call=metrics.miraflow_call) as miraflow:
        yield miraflow


def calls(endpoint: str, status: str) -> float:
    value = metrics.registry.get_sample_value(
        "miraflow_bot_miraflow_calls_total", {"endpoint": endpoint, "status": status}
    )
    return value or 0.0


async def test_answers_are_counted_by_endpoint_and_status(client):
    avatars, missing = calls("/api/avatars", "200"), calls("/api/image/{id}", "404")
    await client.list_avatars()
    with pytest.raises(NotFoundError):
        await client.image_job("no-such-job-123")
    assert calls("/api/avatars", "200") == avatars + 1
    assert calls("/api/image/{id}", "404") == missing + 1


async def test_a_refused_connection_is_counted_as_connection():
    from aiohttp import web

    async with serve(web.Application()) as base_url:
        pass  # the port is free again: nothing listens there now
    before = calls("/api/voices", "connection")
    async with make_client(base_url, max_retries=0, on_call=metrics.miraflow_call) as client:
        with pytest.raises(MiraflowConnectionError):
            await client.list_voices()
    assert calls("/api/voices", "connection") == before + 1
