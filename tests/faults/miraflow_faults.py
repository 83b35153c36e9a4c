"""Fault checks on the Miraflow side: a misbehaving API, seen through the real client."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from aiohttp import web

from bot.discord_side.words import miraflow_error_text
from bot.miraflow import (
    AnswerTooLargeError,
    DownloadTimeoutError,
    MiraflowClient,
    RateLimitedError,
    UntrustedUrlError,
)
from bot.miraflow.simulator import MiraflowSimulator
from tests.faults.servers import API_KEY, client, counting_server, simulator
from tests.open_pacer import OpenPacer

MiB = 1024 * 1024


async def _finished_image(sim: MiraflowSimulator, miraflow) -> str:
    """A finished image job's downloadUrl, as Miraflow hands it out."""
    created = await miraflow.generate_image("a lighthouse", "lighthouse")
    sim.complete_now(created.job_id)
    status = await miraflow.image_job(created.job_id)
    assert status.image is not None
    return status.image.download_url


async def _refused_result_url(tmp_path: Path, style: str) -> None:
    async with counting_server() as internal, simulator() as sim, client(sim) as miraflow:
        sim.config.result_url = style
        sim.config.foreign_base_url = internal.base_url
        url = await _finished_image(sim, miraflow)
        with pytest.raises(UntrustedUrlError) as refused:
            await miraflow.download(url, tmp_path / "result.png")
        assert internal.requests == 0
    assert list(tmp_path.iterdir()) == []
    assert "Traceback" not in miraflow_error_text(refused.value)
    assert "server admin" in miraflow_error_text(refused.value)


async def result_url_on_another_http_host(tmp_path: Path) -> None:
    await _refused_result_url(tmp_path, "foreign")


async def result_url_with_file_scheme(tmp_path: Path) -> None:
    await _refused_result_url(tmp_path, "file")


async def upload_url_on_another_http_host(tmp_path: Path) -> None:
    async with counting_server() as internal, simulator() as sim, client(sim) as miraflow:
        sim.config.upload_url = "foreign"
        sim.config.foreign_base_url = internal.base_url
        with pytest.raises(UntrustedUrlError):
            await miraflow.upload_media(b"\x89PNG fake", "a.png", "image/png")
        assert internal.requests == 0
        assert sim.count("POST", "/api/media/finalize") == 0


async def redirect_to_another_http_host(tmp_path: Path) -> None:
    async with counting_server() as internal:

        async def redirect(_request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{internal.base_url}/admin/secrets")

        app = web.Application()
        app.router.add_get("/api/video/{id}/download", redirect)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        api = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with MiraflowClient(API_KEY, api, timeout=5.0) as miraflow:
                with pytest.raises(UntrustedUrlError):
                    await miraflow.download_video("cvideo", tmp_path / "video.mp4")
        finally:
            await runner.cleanup()
        assert internal.requests == 0
    assert list(tmp_path.iterdir()) == []


async def stalled_download(tmp_path: Path) -> None:
    async with simulator() as sim, client(sim, stall_timeout=0.3) as miraflow:
        sim.config.download_mode = "stall"
        url = await _finished_image(sim, miraflow)
        started = time.monotonic()
        with pytest.raises(DownloadTimeoutError):
            await miraflow.download(url, tmp_path / "result.png")
        assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


async def trickling_download(tmp_path: Path) -> None:
    # A byte now and then keeps the stall timer happy; the overall deadline still ends it.
    async with simulator() as sim, client(sim, download_deadline=0.5) as miraflow:
        sim.config.download_mode = "trickle"
        sim.config.trickle_interval = 0.05
        sim.config.image_size_bytes = 256 * 1024  # 256 chunks: 13 s at this pace
        url = await _finished_image(sim, miraflow)
        started = time.monotonic()
        with pytest.raises(DownloadTimeoutError):
            await miraflow.download(url, tmp_path / "result.png")
        assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []


async def _huge_answer(chunked: bool) -> None:
    async with simulator() as sim, client(sim, max_retries=0) as miraflow:
        created = await miraflow.generate_image("a lighthouse", "lighthouse")
        sim.config.huge_json_bytes = 400 * MiB
        sim.config.huge_json_chunked = chunked
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLargeError) as caught:
                await miraflow.image_job(created.job_id)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 40 * MiB, f"{peak / MiB:.0f} MiB held for a 400 MiB answer"
    assert "try again" in miraflow_error_text(caught.value)  # a server error, in words


async def huge_json_answer_with_length(_tmp_path: Path) -> None:
    await _huge_answer(chunked=False)


async def huge_json_answer_without_length(_tmp_path: Path) -> None:
    await _huge_answer(chunked=True)


async def huge_retry_after(_tmp_path: Path) -> None:
    async with simulator() as sim, client(sim, max_retries=0) as miraflow:
        sim.config.rate_limit_per_second = 1
        sim.config.retry_after = 999999999
        await miraflow.list_voices()
        with pytest.raises(RateLimitedError) as limited:
            await miraflow.list_voices()
    assert limited.value.retry_after == 60.0
    assert "999" not in miraflow_error_text(limited.value)
    assert "60" not in miraflow_error_text(limited.value)


async def kept_alive_connection_closed(_tmp_path: Path) -> None:
    # aiohttp resends a GET by itself when a kept-alive connection turns out closed: that
    # resend would reach Miraflow without a pacer slot.
    pacer = OpenPacer()
    async with simulator() as sim, client(sim) as miraflow:
        miraflow.pace_with(pacer)
        await miraflow.list_avatars()  # the connection is kept alive
        sim.drop_next(1, "/api/avatars")
        assert await miraflow.list_avatars()
        assert sim.count("GET", "/api/avatars") == 3
        assert pacer.attempts == 3, "every request Miraflow saw took a slot"
