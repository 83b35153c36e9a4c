"""The simulator's misbehaviour knobs, each seen over real HTTP with a raw aiohttp client."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from bot.miraflow.simulator.serve import add_arguments, config_from_args

KEY = "sim-key"
MiB = 1024 * 1024


@pytest.fixture
async def sim() -> AsyncIterator[MiraflowSimulator]:
    async with run_simulator(SimulatorConfig(seed=5, image_seconds=(30.0, 30.0))) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def api(
    sim: MiraflowSimulator, http: aiohttp.ClientSession, method: str, path: str, **kw: Any
) -> tuple[int, Any]:
    async with http.request(
        method, sim.base_url + path, headers={"x-api-key": KEY}, **kw
    ) as response:
        return response.status, await response.json()


async def finished_image(sim: MiraflowSimulator, http: aiohttp.ClientSession) -> str:
    status, body = await api(
        sim, http, "POST", "/api/image/generate", json={"prompt": "a cat", "name": "cat"}
    )
    assert status == 200
    sim.complete_now(body["jobId"])
    return body["jobId"]


@pytest.mark.parametrize(
    ("style", "expected"),
    [("foreign", "http://10.0.0.5:8080/files/images/"), ("file", "file:///")],
)
async def test_result_urls_can_point_elsewhere(sim, http, style, expected):
    sim.config.result_url = style
    sim.config.foreign_base_url = "http://10.0.0.5:8080"
    job_id = await finished_image(sim, http)
    _, body = await api(sim, http, "GET", f"/api/image/{job_id}")
    assert body["downloadUrl"].startswith(expected)


async def test_a_result_can_be_complete_without_a_download_url(sim, http):
    sim.config.result_url = "missing"
    job_id = await finished_image(sim, http)
    _, body = await api(sim, http, "GET", f"/api/image/{job_id}")
    assert body["status"] == "inference_complete"
    assert "downloadUrl" not in body


async def test_upload_urls_can_point_elsewhere(sim, http):
    sim.config.upload_url = "foreign"
    sim.config.foreign_base_url = "http://192.168.1.9"
    payload = {"fileName": "a.png", "contentType": "image/png", "fileSize": 10}
    _, body = await api(sim, http, "POST", "/api/media/initialize", json=payload)
    assert body["uploadUrl"].startswith("http://192.168.1.9/upload/")


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_huge_json_answer(sim, http, chunked):
    sim.config.huge_json_bytes = 3 * MiB
    sim.config.huge_json_chunked = chunked
    async with http.get(f"{sim.base_url}/api/avatars", headers={"x-api-key": KEY}) as response:
        assert (response.content_length is None) is chunked
        body = await response.read()
    assert len(body) == 3 * MiB
    assert body.startswith(b'{"result"') and body.endswith(b'"}')


async def test_a_huge_retry_after(sim, http):
    sim.config.rate_limit_per_second = 1
    sim.config.retry_after = 999999999
    statuses = []
    for _ in range(3):
        async with http.get(f"{sim.base_url}/api/voices", headers={"x-api-key": KEY}) as answer:
            statuses.append((answer.status, answer.headers.get("Retry-After")))
    assert (429, "999999999") in statuses


@pytest.mark.parametrize("status", [502, 504])
async def test_a_create_can_be_made_and_answered_with_a_gateway_error(sim, http, status):
    sim.config.create_answer_status = status
    answer, _ = await api(
        sim, http, "POST", "/api/image/generate", json={"prompt": "a cat", "name": "cat"}
    )
    assert answer == status
    assert len(sim.created_jobs()) == 1, "the job exists although the answer says otherwise"


@pytest.mark.parametrize("path", ["/api/image/generate", "/api/video/create"])
async def test_a_create_can_be_made_and_its_connection_dropped(sim, http, path):
    sim.config.create_drops_connection = True
    body = {"prompt": "a cat", "name": "cat"}
    if path == "/api/video/create":
        body = {"text": "Hi.", "avatarId": next(iter(sim.avatars)), "name": "cat",
                "voiceId": next(iter(sim.voices))}  # fmt: skip
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api(sim, http, "POST", path, json=body)
    assert len(sim.created_jobs()) == 1, "the job exists although no answer came"
    assert sim.requests[-1].status is None, "nothing was answered"


async def test_a_failure_reason_of_any_length_and_content(sim, http):
    reason = f"@everyone **boom** [x](http://evil) {KEY} " + "z" * 5000
    sim.config.failure_reason = reason
    _, body = await api(
        sim, http, "POST", "/api/image/generate", json={"prompt": "a cat", "name": "cat"}
    )
    sim.fail_now(body["jobId"])
    _, status = await api(sim, http, "GET", f"/api/image/{body['jobId']}")
    assert status["status"] == "inference_failed"
    assert status["message"] == reason


async def test_a_trickling_download(sim, http):
    sim.config.download_mode = "trickle"
    sim.config.trickle_interval = 0.01
    sim.config.image_size_bytes = 8 * 1024
    job_id = await finished_image(sim, http)
    _, body = await api(sim, http, "GET", f"/api/image/{job_id}")
    arrivals = 0
    async with http.get(body["downloadUrl"]) as response:
        async for _chunk in response.content.iter_any():
            arrivals += 1
    assert arrivals >= 4, "the file came in many small pieces"


async def test_a_stalling_download(sim, http):
    sim.config.download_mode = "stall"
    job_id = await finished_image(sim, http)
    _, body = await api(sim, http, "GET", f"/api/image/{job_id}")
    async with http.get(body["downloadUrl"]) as response:
        first = await response.content.read(1024)
        assert first
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await response.content.read(1024)
        assert sim.held_requests == 1


def test_every_misbehaviour_is_a_command_line_knob():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(
        parser.parse_args(
            ["--result-url", "file", "--upload-url", "foreign", "--foreign-base-url",
             "http://10.1.2.3", "--download-mode", "trickle", "--trickle-interval", "2",
             "--huge-json", "400M", "--huge-json-chunked", "--create-answer-status", "504",
             "--create-drops-connection", "--failure-reason", "boom"]
        )
    )  # fmt: skip
    assert (config.result_url, config.upload_url) == ("file", "foreign")
    assert config.foreign_base_url == "http://10.1.2.3"
    assert (config.download_mode, config.trickle_interval) == ("trickle", 2.0)
    assert (config.huge_json_bytes, config.huge_json_chunked) == (400 * MiB, True)
    assert (config.create_answer_status, config.failure_reason) == (504, "boom")
    assert config.create_drops_connection
    defaults = config_from_args(parser.parse_args([]))
    assert defaults == SimulatorConfig()
