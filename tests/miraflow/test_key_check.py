"""Checking a candidate Miraflow key with one GET /api/avatars, against the simulator."""

from __future__ import annotations

from aiohttp import web

from bot.miraflow.key_check import KeyVerdict, check_key
from tests.miraflow.conftest import API_KEY, serve


async def test_the_right_key_is_valid(sim):
    result = await check_key(API_KEY, base_url=sim.base_url, timeout=5)
    assert result.ok
    assert result.verdict is KeyVerdict.VALID
    assert sim.count("GET", "/api/avatars") == 1


async def test_a_wrong_key_is_a_typed_result_and_is_not_retried(sim):
    wrong = "mf_wrong_key_0123456789"
    result = await check_key(wrong, base_url=sim.base_url, timeout=5)
    assert result.verdict is KeyVerdict.WRONG_KEY
    assert not result.ok
    assert wrong not in result.detail
    assert sim.count("GET", "/api/avatars") == 1


async def test_a_blank_key_is_wrong_without_asking(sim):
    result = await check_key("   ", base_url=sim.base_url, timeout=5)
    assert result.verdict is KeyVerdict.WRONG_KEY
    assert sim.count("GET", "/api/avatars") == 0


async def test_miraflow_down_gives_no_verdict_on_the_key():
    async def broken(_request: web.Request) -> web.Response:
        return web.json_response({"error": "down"}, status=503)

    app = web.Application()
    app.router.add_get("/api/avatars", broken)
    async with serve(app) as base_url:
        result = await check_key(API_KEY, base_url=base_url, timeout=5)
    assert result.verdict is KeyVerdict.UNAVAILABLE
    assert "503" in result.detail
    assert API_KEY not in result.detail
