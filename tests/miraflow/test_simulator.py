"""The Miraflow simulator, exercised over real HTTP with a raw aiohttp client."""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import random
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES
from bot.miraflow.simulator.ids import looks_like_cuid
from bot.miraflow.simulator.jobs import new_job
from bot.miraflow.simulator.pictures import padded_png
from bot.miraflow.simulator.serve import add_arguments, config_from_args, serve
from bot.miraflow.simulator.video import (
    STREAM_CHUNK,
    asset_bytes,
    free_box_header,
    video_chunks,
    video_length,
)

KEY = "sim-key"
AVATAR_ID = STOCK_AVATARS[0].id
VOICE_ID = STOCK_VOICES[0].id
MiB = 1024 * 1024


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def simulator() -> AsyncIterator[MiraflowSimulator]:
    async with run_simulator(SimulatorConfig(speed=1000.0, seed=1)) as sim:
        yield sim


@pytest.fixture
async def clocked() -> AsyncIterator[tuple[MiraflowSimulator, FakeClock]]:
    clock = FakeClock()
    sim = MiraflowSimulator(SimulatorConfig(seed=3), clock=clock)
    async with run_simulator(simulator=sim):
        yield sim, clock


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    sim: MiraflowSimulator,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    key: str | None = KEY,
    **kwargs: Any,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """One request; answers (status, body as JSON or text, response)."""
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers["x-api-key"] = key
    async with http.request(method, sim.base_url + path, headers=headers, **kwargs) as response:
        if response.content_type == "application/json":
            body: Any = await response.json()
        else:
            body = await response.text()
        return response.status, body, response


async def fetch_bytes(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, bytes]:
    async with http.get(url, **kwargs) as response:
        return response.status, await response.read()


async def create(
    sim: MiraflowSimulator, http: aiohttp.ClientSession, path: str, body: dict[str, Any]
) -> str:
    status, answer, _ = await call(sim, http, "POST", path, json=body)
    assert status == 200, answer
    assert answer["result"] == "success"
    return answer["jobId"]


def video_request(**overrides: Any) -> dict[str, Any]:
    return {"avatarId": AVATAR_ID, "name": "hello", "voiceId": VOICE_ID, "text": "Hi!"} | overrides


async def upload(
    sim: MiraflowSimulator,
    http: aiohttp.ClientSession,
    data: bytes,
    content_type: str = "image/png",
    *,
    finalize: bool = True,
) -> str:
    """The whole media workflow; answers the media id."""
    status, answer, _ = await call(
        sim,
        http,
        "POST",
        "/api/media/initialize",
        json={"fileName": "file", "contentType": content_type, "fileSize": len(data)},
    )
    assert status == 200, answer
    async with http.put(
        answer["uploadUrl"], data=data, headers={"Content-Type": content_type}
    ) as put:
        assert put.status == 200, await put.text()
    if finalize:
        status, done, _ = await call(
            sim, http, "POST", "/api/media/finalize", json={"mediaId": answer["mediaId"]}
        )
        assert (status, done) == (200, {"success": True})
    return answer["mediaId"]


def png_of(size: tuple[int, int], colour: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB" if isinstance(colour, tuple) else "L", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def mp4_top_level_boxes(data: bytes) -> list[tuple[bytes, int]]:
    """(type, size) of each top-level box; fails if the boxes do not tile the file exactly."""
    boxes = []
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        assert size >= 8
        boxes.append((kind, size))
        offset += size
    assert offset == len(data)
    return boxes


# ---- auth -----------------------------------------------------------------------------------

API_CALLS = [
    ("GET", "/api/avatars"),
    ("GET", "/api/voices"),
    ("GET", "/api/videos"),
    ("GET", "/api/video/cm4abc"),
    ("GET", "/api/video/cm4abc/download"),
    ("GET", "/api/video/cm4abc/status"),
    ("POST", "/api/video/create"),
    ("POST", "/api/image/generate"),
    ("POST", "/api/image/edit"),
    ("POST", "/api/image/inpaint"),
    ("GET", "/api/image/cm4abc"),
    ("POST", "/api/media/initialize"),
    ("POST", "/api/media/finalize"),
    ("GET", "/api/no-such-endpoint"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
async def test_every_api_path_answers_401_without_the_right_key(simulator, http, method, path):
    for key in (None, "wrong-key", ""):
        status, body, _ = await call(simulator, http, method, path, key=key, json={})
        assert status == 401
        assert isinstance(body["message"], str)
        assert body["message"]
    assert simulator.jobs == {}


async def test_authorization_header_is_not_a_substitute_for_x_api_key(simulator, http):
    status, _, _ = await call(
        simulator, http, "GET", "/api/avatars", key=None, headers={"Authorization": KEY}
    )
    assert status == 401


# ---- 400 ------------------------------------------------------------------------------------

GENERATE = {"prompt": "a lighthouse", "name": "lighthouse"}
BAD_REQUESTS: list[tuple[str, str, Any]] = [
    ("aspect ratio", "/api/image/generate", GENERATE | {"aspectRatio": "2:1"}),
    ("seed as text", "/api/image/generate", GENERATE | {"seed": "5"}),
    ("seed as bool", "/api/image/generate", GENERATE | {"seed": True}),
    ("seed as float", "/api/image/generate", GENERATE | {"seed": 1.5}),
    ("empty prompt", "/api/image/generate", GENERATE | {"prompt": ""}),
    ("blank prompt", "/api/image/generate", GENERATE | {"prompt": "  \n "}),
    ("missing prompt", "/api/image/generate", {"name": "x"}),
    ("blank name", "/api/image/generate", GENERATE | {"name": " "}),
    ("missing name", "/api/image/generate", {"prompt": "x"}),
    ("negative prompt not text", "/api/image/generate", GENERATE | {"negativePrompt": 3}),
    ("body is a list", "/api/image/generate", ["prompt", "name"]),
    ("body is a string", "/api/image/generate", "a lighthouse"),
    ("body is not JSON", "/api/image/generate", b"{prompt: nope"),
    ("empty body", "/api/image/generate", b""),
    ("missing avatarId", "/api/video/create", video_request(avatarId=None)),
    ("missing voiceId", "/api/video/create", video_request(voiceId=None)),
    ("missing text", "/api/video/create", video_request(text=None)),
    ("blank text", "/api/video/create", video_request(text="   ")),
    ("blank video name", "/api/video/create", video_request(name="")),
    ("im2vid_full not bool", "/api/video/create", video_request(im2vid_full="yes")),
    ("edit without reference", "/api/image/edit", GENERATE),
    (
        "edit with both references",
        "/api/image/edit",
        GENERATE | {"referenceImageMediaId": "{ready}", "referenceImageMediaIds": ["{ready}"]},
    ),
    ("edit with empty list", "/api/image/edit", GENERATE | {"referenceImageMediaIds": []}),
    (
        "edit with pending media",
        "/api/image/edit",
        GENERATE | {"referenceImageMediaId": "{pending}"},
    ),
    (
        "edit list with pending media",
        "/api/image/edit",
        GENERATE | {"referenceImageMediaIds": ["{ready}", "{pending}"]},
    ),
    (
        "edit with bad seed",
        "/api/image/edit",
        GENERATE | {"referenceImageMediaId": "{ready}", "seed": "1"},
    ),
    ("inpaint without mask", "/api/image/inpaint", GENERATE | {"originalImageMediaId": "{ready}"}),
    (
        "inpaint with pending mask",
        "/api/image/inpaint",
        GENERATE | {"originalImageMediaId": "{ready}", "maskImageMediaId": "{pending}"},
    ),
    (
        "initialize without size",
        "/api/media/initialize",
        {"fileName": "a.png", "contentType": "image/png"},
    ),
    (
        "initialize with bool size",
        "/api/media/initialize",
        {"fileName": "a.png", "contentType": "image/png", "fileSize": True},
    ),
    (
        "initialize without name",
        "/api/media/initialize",
        {"contentType": "image/png", "fileSize": 3},
    ),
    ("finalize not uploaded", "/api/media/finalize", {"mediaId": "{uploadless}"}),
    ("finalize without id", "/api/media/finalize", {}),
]


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, ids) for key, item in value.items() if item is not None}
    return value


@pytest.mark.parametrize(("case", "path", "body"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
async def test_invalid_requests_answer_400_and_create_nothing(simulator, http, case, path, body):
    picture = png_of((8, 8), (255, 0, 0))
    ids = {
        "ready": await upload(simulator, http, picture),
        "pending": await upload(simulator, http, picture, finalize=False),
    }
    _, initialized, _ = await call(
        simulator,
        http,
        "POST",
        "/api/media/initialize",
        json={"fileName": "a.png", "contentType": "image/png", "fileSize": 3},
    )
    ids["uploadless"] = initialized["mediaId"]
    if isinstance(body, bytes):
        request: dict[str, Any] = {"data": body, "headers": {"Content-Type": "application/json"}}
    else:
        request = {"json": _substitute(body, ids)}
    status, answer, _ = await call(simulator, http, "POST", path, **request)
    assert status == 400, (case, answer)
    assert answer["message"]
    assert simulator.jobs == {}


async def test_the_audio_form_needs_every_field(simulator, http):
    media_id = await upload(simulator, http, b"ID3 audio", "audio/mpeg")
    for missing in ("avatarId", "name", "mediaId"):
        form = {"avatarId": AVATAR_ID, "name": "voiced", "mediaId": media_id}
        del form[missing]
        status, answer, _ = await call(
            simulator, http, "POST", "/api/video/create", data=aiohttp.FormData(form)
        )
        assert status == 400, answer
        assert missing in answer["message"]
    assert simulator.jobs == {}


# ---- 404 ------------------------------------------------------------------------------------

NOT_FOUND: list[tuple[str, str, str, Any]] = [
    ("unknown avatar", "POST", "/api/video/create", video_request(avatarId="cm4nosuchavatar")),
    ("unknown voice", "POST", "/api/video/create", video_request(voiceId="cm4nosuchvoice")),
    ("unknown video", "GET", "/api/video/cm4nosuchvideo", None),
    ("unknown video download", "GET", "/api/video/cm4nosuchvideo/download", None),
    ("unknown video job", "GET", "/api/video/cm4nosuchjob/status", None),
    ("unknown image job", "GET", "/api/image/cm4nosuchjob", None),
    ("image job as video", "GET", "/api/video/{image_job}/status", None),
    ("image job as video metadata", "GET", "/api/video/{image_job}", None),
    ("unfinished video metadata", "GET", "/api/video/{video_job}", None),
    ("unfinished video download", "GET", "/api/video/{video_job}/download", None),
    ("video job as image", "GET", "/api/image/{video_job}", None),
    (
        "edit of unknown media",
        "POST",
        "/api/image/edit",
        GENERATE | {"referenceImageMediaId": "cm4x"},
    ),
    (
        "inpaint of unknown mask",
        "POST",
        "/api/image/inpaint",
        GENERATE | {"originalImageMediaId": "{ready}", "maskImageMediaId": "cm4x"},
    ),
    ("finalize unknown media", "POST", "/api/media/finalize", {"mediaId": "cm4nosuchmedia"}),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "body"), NOT_FOUND, ids=[c[0] for c in NOT_FOUND]
)
async def test_unknown_resources_answer_404(simulator, http, case, method, path, body):
    ids = {
        "ready": await upload(simulator, http, png_of((8, 8), (0, 0, 255))),
        "image_job": await create(simulator, http, "/api/image/generate", GENERATE),
        "video_job": await create(simulator, http, "/api/video/create", video_request()),
    }
    simulator.jobs[ids["video_job"]].complete_at = time.time() + 3600
    jobs_before = len(simulator.jobs)
    path = path.format(**ids)
    kwargs = {"json": _substitute(body, ids)} if body is not None else {}
    status, answer, _ = await call(simulator, http, method, path, **kwargs)
    assert status == 404, (case, answer)
    assert answer["message"]
    assert len(simulator.jobs) == jobs_before


async def test_the_audio_form_with_unknown_media_answers_404(simulator, http):
    form = aiohttp.FormData({"avatarId": AVATAR_ID, "name": "voiced", "mediaId": "cm4nosuch"})
    status, _, _ = await call(simulator, http, "POST", "/api/video/create", data=form)
    assert status == 404
    assert simulator.jobs == {}


# ---- catalogue ------------------------------------------------------------------------------


async def test_avatars_have_ids_names_fields_and_a_served_preview(simulator, http):
    status, body, _ = await call(simulator, http, "GET", "/api/avatars")
    assert status == 200
    avatars = body["avatars"]
    assert len(avatars) == 6
    assert len({avatar["id"] for avatar in avatars}) == 6
    for avatar in avatars:
        assert looks_like_cuid(avatar["id"])
        assert avatar["name"]
        assert {"gender", "language", "type"} <= avatar.keys()
        assert avatar["previewUrl"].startswith(simulator.base_url + "/")
    # The preview needs no key: it is a signed URL.
    status, png = await fetch_bytes(http, avatars[0]["previewUrl"])
    assert status == 200
    preview = Image.open(io.BytesIO(png))
    assert preview.format == "PNG"
    assert preview.size == (256, 256)


async def test_voices_are_listed_under_voices_or_under_avatars(simulator, http):
    status, body, _ = await call(simulator, http, "GET", "/api/voices")
    assert status == 200
    assert list(body) == ["voices"]
    voices = body["voices"]
    assert len(voices) == 8
    assert all(looks_like_cuid(voice["id"]) and voice["name"] for voice in voices)

    simulator.config.voices_under_avatars = True
    status, body, _ = await call(simulator, http, "GET", "/api/voices")
    assert status == 200
    assert body == {"avatars": voices}


# ---- job progress ---------------------------------------------------------------------------


async def test_a_video_job_moves_from_queued_to_complete_on_the_clock(clocked, http):
    sim, clock = clocked
    job_id = await create(sim, http, "/api/video/create", video_request(im2vid_full=True))
    assert looks_like_cuid(job_id)
    job = sim.jobs[job_id]
    assert job.kind == "video"
    assert job.params["im2vid_full"] is True
    assert 60 <= job.duration <= 600
    assert job.complete_at == pytest.approx(job.created_at + job.duration / sim.config.speed)
    start, span = job.created_at, job.complete_at - job.created_at

    seen: list[tuple[float, dict[str, Any]]] = []
    for step in range(101):
        fraction = step / 100
        clock.now = start + span * fraction - (1e-6 if fraction == 1 else 0)
        status, body, _ = await call(sim, http, "GET", f"/api/video/{job_id}/status")
        assert status == 200
        assert body["result"] == "success"
        seen.append((fraction, body))
    clock.now = start + span
    _, final, _ = await call(sim, http, "GET", f"/api/video/{job_id}/status")
    assert final == {"result": "success", "status": "inference_complete", "progress": "100%"}

    statuses = [body["status"] for _, body in seen]
    assert statuses[0] == "inference_started"
    assert "progress" not in seen[0][1]
    first_working = statuses.index("inference_working")
    assert set(statuses[:first_working]) == {"inference_started"}
    assert set(statuses[first_working:]) == {"inference_working"}
    progress = {
        fraction: int(body["progress"].rstrip("%")) for fraction, body in seen[first_working:]
    }
    values = list(progress.values())
    assert values == sorted(values), "progress went backwards"
    assert max(values) <= 99
    # Fast at first, then a crawl: about 90 % at 60 % of the duration, 99 % at most at the end.
    assert 85 <= progress[0.6] <= 95
    assert progress[0.3] < progress[0.6]
    assert progress[0.6] - progress[0.3] > progress[0.99] - progress[0.6]
    assert progress[0.99] >= 95


async def test_progress_on_a_fast_real_clock_never_decreases(simulator, http):
    # 0.5 real second at speed 1000, the first 0.15 s of it queued.
    simulator.config.image_seconds = (500.0, 500.0)
    simulator.config.queue_fraction = 0.3
    job_id = await create(simulator, http, "/api/image/generate", GENERATE)
    last = -1
    statuses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, body, _ = await call(simulator, http, "GET", f"/api/image/{job_id}")
        if "downloadUrl" in body:
            break
        statuses.append(body["status"])
        if body["status"] == "inference_working":
            progress = int(body["progress"].rstrip("%"))
            assert last <= progress < 100
            last = progress
    else:
        pytest.fail("the job never completed")
    assert statuses[0] == "inference_started"
    assert "inference_working" in statuses
    assert time.time() >= simulator.jobs[job_id].complete_at


def test_progress_is_monotonic_and_below_100_for_many_jobs():
    rng = random.Random(5)
    config = SimulatorConfig(speed=1.0, failure_rate=0.3)
    for _ in range(40):
        job = new_job(rng, "video", {"name": "x"}, config, now=1000.0)
        last = -1
        for step in range(2001):
            moment = job.created_at + (job.complete_at - job.created_at) * step / 2000
            status = job.status_at(moment)
            if status.status == "inference_working":
                assert last <= status.progress < 100
                last = status.progress
        assert job.status_at(job.complete_at).is_terminal
        assert not job.status_at(job.complete_at - 1e-3).is_terminal


async def test_failure_rate_ends_jobs_in_failed_or_error(simulator, http):
    simulator.config.failure_rate = 1.0
    job_ids = [
        await create(simulator, http, "/api/video/create", video_request()) for _ in range(16)
    ]
    for job_id in job_ids:
        simulator.jobs[job_id].complete_at = time.time() - 1
    outcomes = set()
    for job_id in job_ids:
        _, body, _ = await call(simulator, http, "GET", f"/api/video/{job_id}/status")
        outcomes.add(body["status"])
    assert outcomes == {"inference_failed", "inference_error"}
    # A failed image answers a status body, never metadata.
    image_id = await create(simulator, http, "/api/image/generate", GENERATE)
    simulator.fail_now(image_id)
    _, body, _ = await call(simulator, http, "GET", f"/api/image/{image_id}")
    assert body == {"result": "success", "status": "inference_failed"}


async def test_the_same_seed_gives_the_same_jobs(http):
    schedules = []
    for _ in range(2):
        async with run_simulator(SimulatorConfig(seed=42, failure_rate=0.5)) as sim:
            for _ in range(5):
                await create(sim, http, "/api/image/generate", GENERATE)
            schedules.append([(job.id, job.duration, job.outcome) for job in sim.created_jobs()])
    assert schedules[0] == schedules[1]


async def test_created_jobs_and_complete_now(simulator, http):
    simulator.config.speed = 1.0
    image_id = await create(simulator, http, "/api/image/generate", GENERATE | {"seed": 3})
    video_id = await create(simulator, http, "/api/video/create", video_request())
    assert [job.id for job in simulator.created_jobs()] == [image_id, video_id]
    assert [job.id for job in simulator.created_jobs("video")] == [video_id]
    assert simulator.created_jobs("image")[0].params == GENERATE | {"seed": 3}

    _, body, _ = await call(simulator, http, "GET", f"/api/video/{video_id}/status")
    assert body["status"] != "inference_complete"
    before = time.time()
    simulator.complete_now(video_id)
    assert before <= simulator.jobs[video_id].complete_at <= time.time()
    _, body, _ = await call(simulator, http, "GET", f"/api/video/{video_id}/status")
    assert body["status"] == "inference_complete"


# ---- images ---------------------------------------------------------------------------------

ASPECTS = {
    "1:1": (512, 512),
    "16:9": (768, 432),
    "9:16": (432, 768),
    "4:3": (640, 480),
    "3:4": (480, 640),
}


@pytest.mark.parametrize("aspect", list(ASPECTS))
async def test_a_complete_image_is_metadata_with_a_real_png(simulator, http, aspect):
    body = GENERATE | {"aspectRatio": aspect, "seed": 7, "negativePrompt": "fog"}
    job_id = await create(simulator, http, "/api/image/generate", body)
    simulator.complete_now(job_id)
    status, meta, _ = await call(simulator, http, "GET", f"/api/image/{job_id}")
    assert status == 200
    assert set(meta) == {"id", "name", "prompt", "createdAt", "downloadUrl", "mediaId"}
    assert meta["id"] == job_id
    assert (meta["name"], meta["prompt"]) == ("lighthouse", "a lighthouse")
    assert meta["createdAt"].endswith("Z")
    assert looks_like_cuid(meta["mediaId"])
    assert meta["downloadUrl"].startswith(simulator.base_url)
    assert "expires=" in meta["downloadUrl"]

    status, png = await fetch_bytes(http, meta["downloadUrl"])  # no key: a signed URL
    assert status == 200
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    assert picture.size == ASPECTS[aspect]


async def test_images_differ_by_prompt_and_seed_but_repeat_for_the_same_job(simulator, http):
    async def picture(body: dict[str, Any]) -> bytes:
        job_id = await create(simulator, http, "/api/image/generate", body)
        simulator.complete_now(job_id)
        _, meta, _ = await call(simulator, http, "GET", f"/api/image/{job_id}")
        first = (await fetch_bytes(http, meta["downloadUrl"]))[1]
        assert (await fetch_bytes(http, meta["downloadUrl"]))[1] == first
        return first

    one = await picture(GENERATE | {"seed": 1})
    assert one == await picture(GENERATE | {"seed": 1})
    assert one != await picture(GENERATE | {"seed": 2})
    assert one != await picture(GENERATE | {"seed": 1, "prompt": "a windmill"})


async def test_images_can_be_padded_past_discords_upload_limit(simulator, http):
    simulator.config.image_size_bytes = 11 * MiB
    job_id = await create(simulator, http, "/api/image/generate", GENERATE)
    simulator.complete_now(job_id)
    _, meta, _ = await call(simulator, http, "GET", f"/api/image/{job_id}")
    status, png = await fetch_bytes(http, meta["downloadUrl"])
    assert status == 200
    assert len(png) == 11 * MiB
    picture = Image.open(io.BytesIO(png))
    picture.verify()  # checks the chunks' CRCs
    assert Image.open(io.BytesIO(png)).size == (512, 512)


# ---- videos ---------------------------------------------------------------------------------


async def test_a_video_downloads_as_a_real_mp4(simulator, http):
    job_id = await create(simulator, http, "/api/video/create", video_request())
    simulator.complete_now(job_id)
    async with http.get(
        f"{simulator.base_url}/api/video/{job_id}/download", headers={"x-api-key": KEY}
    ) as response:
        assert response.status == 200
        assert response.content_type == "video/mp4"
        data = await response.read()
    assert data == asset_bytes()
    assert data[4:8] == b"ftyp"
    kinds = [kind for kind, _ in mp4_top_level_boxes(data)]
    assert kinds[0] == b"ftyp"
    assert {b"moov", b"mdat"} <= set(kinds)
    assert len(data) < 100_000


@pytest.mark.parametrize("size", [5 * MiB + 3, len(asset_bytes()) + 8])
async def test_a_padded_video_is_exactly_video_size_and_still_an_mp4(simulator, http, size):
    simulator.config.video_size = size
    job_id = await create(simulator, http, "/api/video/create", video_request())
    simulator.complete_now(job_id)
    _, meta, _ = await call(simulator, http, "GET", f"/api/video/{job_id}")
    received = 0
    head = b""
    async with http.get(meta["downloadUrl"]) as response:  # signed: no key
        assert response.status == 200
        assert response.content_length == size
        data = await response.read()
    received = len(data)
    head = data[: len(asset_bytes())]
    assert received == size
    assert head == asset_bytes()
    boxes = mp4_top_level_boxes(data)
    assert boxes[-1] == (b"free", size - len(asset_bytes()))


def test_padding_is_streamed_in_small_chunks_and_uses_64_bit_boxes_when_needed():
    chunks = list(video_chunks(50 * MiB))
    assert sum(map(len, chunks)) == 50 * MiB
    assert max(map(len, chunks)) <= STREAM_CHUNK
    natural = len(asset_bytes())
    assert video_length(natural + 3) == natural + 8  # a box needs 8 bytes at least
    assert video_length(natural - 100) == natural
    large = 5 * 2**32
    assert struct.unpack(">I4sQ", free_box_header(large)) == (1, b"free", large)
    png = png_of((4, 4), (1, 2, 3))
    assert len(padded_png(png, len(png) + 5)) == len(png) + 12  # a chunk needs 12 bytes
    assert padded_png(png, None) == padded_png(png, 10) == png


async def test_videos_list_and_get_show_completed_videos_newest_first(clocked, http):
    sim, clock = clocked
    sim.config.speed = 1.0
    ids = []
    for number in range(3):
        ids.append(await create(sim, http, "/api/video/create", video_request(name=f"v{number}")))
        clock.now += 10
    _, listing, _ = await call(sim, http, "GET", "/api/videos")
    assert listing == {"videos": []}

    sim.complete_now(ids[0])
    sim.complete_now(ids[2])
    _, listing, _ = await call(sim, http, "GET", "/api/videos")
    assert [video["id"] for video in listing["videos"]] == [ids[2], ids[0]]
    for video in listing["videos"]:
        assert set(video) == {"id", "name", "sourceAvatarId", "createdAt", "downloadUrl"}
        assert video["sourceAvatarId"] == AVATAR_ID

    status, one, _ = await call(sim, http, "GET", f"/api/video/{ids[2]}")
    assert status == 200
    assert one["name"] == "v2"
    assert one["createdAt"] > listing["videos"][1]["createdAt"]
    status, _, _ = await call(sim, http, "GET", f"/api/video/{ids[1]}")
    assert status == 404


# ---- media ----------------------------------------------------------------------------------


async def test_media_upload_checks_type_size_and_token_and_keeps_the_bytes(simulator, http):
    data = png_of((16, 16), (0, 200, 0))
    _, init, _ = await call(
        simulator,
        http,
        "POST",
        "/api/media/initialize",
        json={"fileName": "green.png", "contentType": "image/png", "fileSize": len(data)},
    )
    media_id, upload_url = init["mediaId"], init["uploadUrl"]
    assert looks_like_cuid(media_id)
    assert upload_url.startswith(simulator.base_url + "/")

    async def put(url: str, body: bytes, content_type: str) -> int:
        async with http.put(url, data=body, headers={"Content-Type": content_type}) as response:
            return response.status

    assert await put(upload_url, data, "image/jpeg") == 400
    assert await put(upload_url, data[:-1], "image/png") == 400
    assert await put(upload_url, data + b"!", "image/png") == 400
    assert await put(upload_url.replace("token=", "token=x"), data, "image/png") == 403
    assert simulator.media[media_id].data is None
    # Finalizing before a good upload is refused, and so is using the media.
    status, _, _ = await call(
        simulator, http, "POST", "/api/media/finalize", json={"mediaId": media_id}
    )
    assert status == 400

    assert await put(upload_url, data, "image/png") == 200
    upload_request = simulator.requests[-1]
    assert upload_request.method == "PUT"
    assert "x-api-key" not in upload_request.headers
    status, body, _ = await call(
        simulator, http, "POST", "/api/media/finalize", json={"mediaId": media_id}
    )
    assert (status, body) == (200, {"success": True})
    media = simulator.media[media_id]
    assert (media.content_type, media.data, media.finalized) == ("image/png", data, True)
    assert await put(upload_url, data, "image/png") == 400  # finalized media cannot change

    job_id = await create(
        simulator, http, "/api/image/edit", GENERATE | {"referenceImageMediaIds": [media_id]}
    )
    assert simulator.jobs[job_id].kind == "edit"
    assert simulator.jobs[job_id].params["referenceImageMediaIds"] == [media_id]


async def test_inpainting_keeps_the_original_where_the_mask_is_black(simulator, http):
    original = png_of((200, 100), (255, 0, 0))
    mask_picture = Image.new("L", (200, 100), 0)
    mask_picture.paste(255, (0, 0, 100, 100))  # replace the left half, keep the right half
    buffer = io.BytesIO()
    mask_picture.save(buffer, "PNG")
    mask = buffer.getvalue()
    original_id = await upload(simulator, http, original)
    mask_id = await upload(simulator, http, mask)
    job_id = await create(
        simulator,
        http,
        "/api/image/inpaint",
        GENERATE | {"originalImageMediaId": original_id, "maskImageMediaId": mask_id},
    )
    assert simulator.media[mask_id].data == mask
    assert simulator.jobs[job_id].kind == "inpaint"
    simulator.complete_now(job_id)
    _, meta, _ = await call(simulator, http, "GET", f"/api/image/{job_id}")
    _, png = await fetch_bytes(http, meta["downloadUrl"])
    result = Image.open(io.BytesIO(png)).convert("RGB")
    assert result.size == (200, 100)
    assert result.getpixel((197, 3)) == (255, 0, 0)
    assert result.getpixel((2, 3)) != (255, 0, 0)


async def test_a_video_from_uploaded_audio(simulator, http):
    media_id = await upload(simulator, http, b"ID3\x03\x00 fake mp3", "audio/mpeg")
    form = aiohttp.FormData({"avatarId": AVATAR_ID, "name": "voiced", "mediaId": media_id})
    status, body, _ = await call(simulator, http, "POST", "/api/video/create", data=form)
    assert status == 200
    job = simulator.jobs[body["jobId"]]
    assert job.kind == "video"
    assert job.params == {"avatarId": AVATAR_ID, "name": "voiced", "mediaId": media_id}

    pending = await upload(simulator, http, b"ID3 more", "audio/mpeg", finalize=False)
    form = aiohttp.FormData({"avatarId": AVATAR_ID, "name": "voiced", "mediaId": pending})
    status, _, _ = await call(simulator, http, "POST", "/api/video/create", data=form)
    assert status == 400


# ---- injected faults ------------------------------------------------------------------------


async def test_fail_next_answers_the_next_matching_requests(simulator, http):
    simulator.fail_next(2, status=503, path_prefix="/api/avatars", retry_after=3)
    for _ in range(2):
        status, body, response = await call(simulator, http, "GET", "/api/avatars")
        assert status == 503
        assert response.headers["Retry-After"] == "3"
        assert body["message"]
    status, _, _ = await call(simulator, http, "GET", "/api/voices")
    assert status == 200  # another path is untouched
    status, _, _ = await call(simulator, http, "GET", "/api/avatars")
    assert status == 200

    simulator.fail_next(1, status=502, body="<html>Bad gateway</html>")
    status, body, _ = await call(simulator, http, "GET", "/api/voices")
    assert (status, body) == (502, "<html>Bad gateway</html>")
    assert simulator.count("GET", "/api/avatars") == 3
    assert simulator.count("GET", "/api") == 5
    assert simulator.count(None, "/api/voices") == 2


async def test_fail_next_on_a_create_call_creates_no_job(simulator, http):
    simulator.fail_next(1, status=500, path_prefix="/api/image/generate")
    status, _, _ = await call(simulator, http, "POST", "/api/image/generate", json=GENERATE)
    assert status == 500
    assert simulator.jobs == {}


async def test_drop_next_closes_the_connection_without_an_answer(simulator, http):
    simulator.drop_next(1, "/api/image/generate")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(simulator, http, "POST", "/api/image/generate", json=GENERATE)
    assert simulator.jobs == {}
    status, _, _ = await call(simulator, http, "POST", "/api/image/generate", json=GENERATE)
    assert status == 200


async def test_a_hung_request_waits_until_unhang(simulator, http):
    simulator.hang("/api/image/generate")
    request = asyncio.ensure_future(
        call(simulator, http, "POST", "/api/image/generate", json=GENERATE)
    )
    await simulator.wait_for_requests("POST", "/api/image/generate")
    status, _, _ = await call(simulator, http, "GET", "/api/avatars")
    assert status == 200  # other paths go on
    assert not request.done()
    assert simulator.held_requests == 1
    assert simulator.jobs == {}  # held before taking effect
    simulator.unhang()
    status, body, _ = await asyncio.wait_for(request, 5)
    assert status == 200
    assert body["jobId"] in simulator.jobs


async def test_a_hang_after_processing_creates_the_job_but_never_answers(simulator, http):
    simulator.hang("/api/image/generate", after_processing=True)
    with pytest.raises(asyncio.TimeoutError):
        await call(
            simulator,
            http,
            "POST",
            "/api/image/generate",
            json=GENERATE,
            timeout=aiohttp.ClientTimeout(total=0.3),
        )
    assert len(simulator.jobs) == 1
    assert simulator.requests[-1].status is None


async def test_shutdown_does_not_wait_for_hung_requests(http):
    async with run_simulator(SimulatorConfig()) as sim:
        sim.hang("/api")
        request = asyncio.ensure_future(call(sim, http, "GET", "/api/avatars"))
        await sim.wait_for_requests("GET", "/api/avatars")
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(request, 5)


async def test_an_outage_answers_every_api_request_until_lifted(simulator, http):
    job_id = await create(simulator, http, "/api/video/create", video_request())
    simulator.complete_now(job_id)
    _, meta, _ = await call(simulator, http, "GET", f"/api/video/{job_id}")
    simulator.outage(503, retry_after=7)
    for method, path in [("GET", "/api/avatars"), ("POST", "/api/image/generate")]:
        status, _, response = await call(simulator, http, method, path, json=GENERATE)
        assert status == 503
        assert response.headers["Retry-After"] == "7"
    assert len(simulator.jobs) == 1
    status, _ = await fetch_bytes(http, meta["downloadUrl"])
    assert status == 200  # storage is not the API
    simulator.outage(None)
    status, _, _ = await call(simulator, http, "GET", "/api/avatars")
    assert status == 200


async def test_over_the_rate_limit_answers_429_with_retry_after(http):
    # At x1 a simulated second is a real one: the five calls surely arrive within it (at the
    # x1000 of the other tests it lasts a millisecond, less than five connections take).
    config = SimulatorConfig(speed=1.0, seed=1, rate_limit_per_second=3, retry_after=2)
    async with run_simulator(config) as simulator:
        answers = await asyncio.gather(
            *(call(simulator, http, "GET", "/api/avatars") for _ in range(5))
        )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 200, 429, 429]
    limited = next(response for status, _, response in answers if status == 429)
    assert limited.headers["Retry-After"] == "2"


async def test_latency_delays_api_answers(simulator, http):
    simulator.config.latency = 0.3
    started = time.monotonic()
    status, _, _ = await call(simulator, http, "GET", "/api/avatars")
    assert status == 200
    assert time.monotonic() - started >= 0.3


async def test_error_rate_answers_random_server_errors(simulator, http):
    simulator.config.error_rate = 1.0
    statuses = {(await call(simulator, http, "GET", "/api/avatars"))[0] for _ in range(30)}
    assert statuses <= {500, 502, 503}
    assert len(statuses) >= 2


@pytest.mark.parametrize(
    ("style", "content_type", "key"),
    [
        ("json_message", "application/json", "message"),
        ("json_error", "application/json", "error"),
        ("text", "text/plain", None),
    ],
)
async def test_error_body_styles(simulator, http, style, content_type, key):
    simulator.config.error_body_style = style
    for expected, method, path, kwargs in [
        (401, "GET", "/api/avatars", {"key": "wrong"}),
        (400, "POST", "/api/image/generate", {"json": {"prompt": ""}}),
        (404, "GET", "/api/image/cm4nosuch", {}),
    ]:
        status, body, response = await call(simulator, http, method, path, **kwargs)
        assert status == expected
        assert response.content_type == content_type
        if key is None:
            assert isinstance(body, str)
            assert body
        else:
            assert list(body) == [key]
            assert body[key]


async def test_credits_run_out_with_a_400(simulator, http):
    simulator.config.credits = 1
    await create(simulator, http, "/api/image/generate", GENERATE)
    status, body, _ = await call(simulator, http, "POST", "/api/image/generate", json=GENERATE)
    assert status == 400
    assert "credits" in body["message"].lower()
    assert len(simulator.jobs) == 1


# ---- signed URLs ----------------------------------------------------------------------------


async def test_expired_or_tampered_download_urls_answer_403(simulator, http):
    image_id = await create(simulator, http, "/api/image/generate", GENERATE)
    video_id = await create(simulator, http, "/api/video/create", video_request())
    simulator.complete_now(image_id)
    simulator.complete_now(video_id)
    simulator.config.url_ttl = -10  # every URL handed out from now on has expired
    _, image, _ = await call(simulator, http, "GET", f"/api/image/{image_id}")
    _, video, _ = await call(simulator, http, "GET", f"/api/video/{video_id}")
    _, avatars, _ = await call(simulator, http, "GET", "/api/avatars")
    for url in (image["downloadUrl"], video["downloadUrl"], avatars["avatars"][0]["previewUrl"]):
        status, body = await fetch_bytes(http, url)
        assert status == 403
        assert b"expired" in body

    simulator.config.url_ttl = 3600
    _, image, _ = await call(simulator, http, "GET", f"/api/image/{image_id}")
    assert (await fetch_bytes(http, image["downloadUrl"]))[0] == 200
    tampered = image["downloadUrl"].replace("expires=", "expires=9")
    assert (await fetch_bytes(http, tampered))[0] == 403
    unsigned = image["downloadUrl"].split("?")[0]
    assert (await fetch_bytes(http, unsigned))[0] == 403


# ---- recording ------------------------------------------------------------------------------


async def test_every_request_is_recorded_with_headers_and_status(simulator, http):
    await call(simulator, http, "GET", "/api/avatars")
    await call(simulator, http, "GET", "/api/voices", key="nope")
    job_id = await create(simulator, http, "/api/video/create", video_request())
    simulator.complete_now(job_id)
    _, meta, _ = await call(simulator, http, "GET", f"/api/video/{job_id}")
    await fetch_bytes(http, meta["downloadUrl"])
    seen = [(r.method, r.path, r.status) for r in simulator.requests]
    assert seen == [
        ("GET", "/api/avatars", 200),
        ("GET", "/api/voices", 401),
        ("POST", "/api/video/create", 200),
        ("GET", f"/api/video/{job_id}", 200),
        ("GET", f"/files/videos/{job_id}.mp4", 200),
    ]
    assert simulator.requests[0].headers["X-Api-Key"] == KEY
    assert "x-api-key" in simulator.requests[0].headers
    assert "x-api-key" not in simulator.requests[-1].headers  # a signed URL needs no key
    assert all(r.time <= time.time() for r in simulator.requests)


# ---- serving by hand ------------------------------------------------------------------------


def test_command_line_options_make_a_config():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            *("--port", "0", "--speed", "10", "--image-seconds", "1", "2"),
            *("--failure-rate", "0.25", "--rate-limit", "5", "--video-size", "30M"),
            *("--image-size", "12MiB", "--error-body-style", "text", "--voices-under-avatars"),
            *("--api-key", "abc", "--seed", "9"),
        ]
    )
    config = config_from_args(args)
    assert (args.host, args.port) == ("127.0.0.1", 0)
    assert config.speed == 10
    assert config.image_seconds == (1.0, 2.0)
    assert config.failure_rate == 0.25
    assert config.rate_limit_per_second == 5
    assert config.video_size == 30 * MiB
    assert config.image_size_bytes == 12 * MiB
    assert config.error_body_style == "text"
    assert config.voices_under_avatars is True
    assert (config.api_key, config.seed) == ("abc", 9)
    assert config_from_args(parser.parse_args([])) == SimulatorConfig()
    with pytest.raises(SystemExit):
        parser.parse_args(["--failure-rate", "2"])


async def test_serve_prints_where_and_with_which_key(http, capsys):
    task = asyncio.ensure_future(serve("127.0.0.1", 0, SimulatorConfig(api_key="try-me")))
    deadline = time.monotonic() + 5
    printed = ""
    while "Miraflow simulator on" not in printed:
        assert time.monotonic() < deadline, "serve printed nothing"
        await asyncio.sleep(0.01)
        printed += capsys.readouterr().out
    try:
        line = printed.strip()
        base_url = line.split()[3]
        assert f"MIRAFLOW_BASE_URL={base_url}" in line
        assert "MIRAFLOW_API_KEY=try-me" in line
        async with http.get(f"{base_url}/api/avatars", headers={"x-api-key": "try-me"}) as response:
            assert response.status == 200
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_uneven_steps_move_in_10_percent_steps_of_unequal_length():
    from bot.miraflow.simulator.progress import uneven_steps_curve

    curve = uneven_steps_curve(0.1, random.Random(3))
    fractions = [n / 1000 for n in range(1001)]
    values = [curve(f) for f in fractions]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 90.0
    assert {v % 10 for v in values} == {0.0}
    starts = [fractions[n] for n in range(1, 1001) if values[n] > values[n - 1]]
    lengths = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 9 and max(lengths) > 1.3 * min(lengths)  # not an even bar
