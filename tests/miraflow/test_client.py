"""MiraflowClient over real HTTP on 127.0.0.1, against the simulator and a few tiny servers."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import traceback

import aiohttp
import pytest
from aiohttp import web

from bot.discord_side.words import miraflow_error_text
from bot.miraflow import (
    AuthenticationError,
    Avatar,
    BadRequestError,
    CreatedJob,
    DownloadTimeoutError,
    FileTooLargeError,
    JobStatus,
    MiraflowClient,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    Video,
    Voice,
    parse_progress,
)

from .conftest import (
    API_KEY,
    MAX_RETRIES,
    holds_for,
    make_client,
    serve,
    serve_tls,
    unverified_session,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CREATE_CALLS = ("/api/video/create", "/api/image/generate", "/api/image/edit", "/api/image/inpaint")


async def upload_png(client: MiraflowClient) -> str:
    return await client.upload_media(PNG_BYTES, "picture.png", "image/png")


async def start_create(client: MiraflowClient, path: str, media_id: str = "cmissingmedia"):
    """Sends the create call that `path` names, with valid-looking arguments."""
    if path == "/api/video/create":
        avatar, voice = (await client.list_avatars())[0], (await client.list_voices())[0]
        return await client.create_video(avatar.id, "clip", voice_id=voice.id, text="Hello")
    if path == "/api/image/generate":
        return await client.generate_image("a lighthouse at dusk", "lighthouse")
    if path == "/api/image/edit":
        return await client.edit_image(media_id, "make it blue", "edit")
    return await client.inpaint_image(media_id, media_id, "a red door", "inpaint")


# ---- every endpoint's happy path ---------------------------------------------------------


async def test_list_avatars_matches_what_the_server_sent(sim, client):
    async with (
        aiohttp.ClientSession(headers={"x-api-key": API_KEY}) as raw,
        raw.get(f"{sim.base_url}/api/avatars") as response,
    ):
        sent = (await response.json())["avatars"]

    avatars = await client.list_avatars()

    assert [avatar.id for avatar in avatars] == [item["id"] for item in sent]
    assert all(avatar.name for avatar in avatars)
    assert any(avatar.preview_url for avatar in avatars)


async def test_list_voices_accepts_both_shapes(sim, client):
    sim.config.voices_under_avatars = False
    under_voices = await client.list_voices()
    sim.config.voices_under_avatars = True
    under_avatars = await client.list_voices()

    assert len(under_voices) >= 2
    assert all(voice.id and voice.name for voice in under_voices)
    assert under_avatars == under_voices


async def test_video_with_script_runs_to_a_download(sim, client, tmp_path):
    sim.config.video_size = 3 * 2**20 + 17
    avatar, voice = (await client.list_avatars())[0], (await client.list_voices())[0]

    job = await client.create_video(
        avatar.id, "hello clip", voice_id=voice.id, text="Hello there", full_body=True
    )
    queued = await client.video_status(job.job_id)
    sim.complete_now(job.job_id)
    done = await client.video_status(job.job_id)
    listed = await client.list_videos()
    video = await client.get_video(job.job_id)
    dest = tmp_path / "clip.mp4"
    written = await client.download_video(job.job_id, dest)

    assert sim.jobs[job.job_id].params["im2vid_full"] is True
    assert not queued.complete and not queued.failed
    assert done.complete and done.status == "inference_complete" and done.progress == 100
    assert job.job_id in [item.id for item in listed]
    assert (video.id, video.name, video.source_avatar_id) == (job.job_id, "hello clip", avatar.id)
    assert video.created_at and video.download_url
    assert written == dest.stat().st_size == 3 * 2**20 + 17
    assert dest.read_bytes()[4:8] == b"ftyp"
    assert list(tmp_path.iterdir()) == [dest]


async def test_full_body_is_omitted_when_not_asked(sim, client):
    avatar, voice = (await client.list_avatars())[0], (await client.list_voices())[0]

    plain = await client.create_video(avatar.id, "a", voice_id=voice.id, text="Hi")
    off = await client.create_video(avatar.id, "b", voice_id=voice.id, text="Hi", full_body=False)

    assert "im2vid_full" not in sim.jobs[plain.job_id].params
    assert "im2vid_full" not in sim.jobs[off.job_id].params


async def test_video_from_uploaded_audio_is_sent_as_a_multipart_form(sim, client):
    audio = b"ID3" + bytes(5000)
    media_id = await client.upload_media(audio, "voice.mp3", "audio/mpeg")
    avatar = (await client.list_avatars())[0]

    job = await client.create_video(avatar.id, "from audio", media_id=media_id)

    create = next(seen for seen in sim.requests if seen.path == "/api/video/create")
    assert create.headers["Content-Type"].startswith("multipart/form-data")
    assert sim.jobs[job.job_id].params == {
        "avatarId": avatar.id,
        "name": "from audio",
        "mediaId": media_id,
    }
    assert sim.media[media_id].data == audio


async def test_create_video_rejects_mixed_or_missing_forms_without_a_request(sim, client):
    with pytest.raises(ValueError):
        await client.create_video("cavatar", "x", voice_id="cvoice", text="t", media_id="cm")
    with pytest.raises(ValueError):
        await client.create_video("cavatar", "x", voice_id="cvoice")
    assert sim.count() == 0


async def test_generated_image_finishes_without_a_status_field(sim, client, tmp_path):
    job = await client.generate_image(
        "a lighthouse", "lighthouse", aspect_ratio="16:9", negative_prompt="fog", seed=0
    )
    working = await client.image_job(job.job_id)
    sim.complete_now(job.job_id)
    done = await client.image_job(job.job_id)
    dest = tmp_path / "image.png"
    written = await client.download(done.image.download_url, dest)

    params = sim.jobs[job.job_id].params
    assert (params["aspectRatio"], params["negativePrompt"], params["seed"]) == ("16:9", "fog", 0)
    assert not working.complete and working.image is None
    assert done.status is None and done.complete and not done.failed
    assert (done.image.id, done.image.prompt, done.image.name) == (
        job.job_id,
        "a lighthouse",
        "lighthouse",
    )
    assert done.image.media_id and done.image.created_at
    assert written == dest.stat().st_size > 0
    assert dest.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_generate_image_leaves_out_unset_options(sim, client):
    job = await client.generate_image("a cat", "cat")

    assert sim.jobs[job.job_id].params == {"prompt": "a cat", "name": "cat"}


async def test_edit_sends_one_id_or_a_list(sim, client):
    first, second = await upload_png(client), await upload_png(client)

    single = await client.edit_image(first, "make it blue", "one")
    listed_single = await client.edit_image([first], "make it blue", "one again")
    several = await client.edit_image([first, second], "merge them", "two")

    assert sim.jobs[single.job_id].params["referenceImageMediaId"] == first
    assert sim.jobs[listed_single.job_id].params["referenceImageMediaId"] == first
    assert sim.jobs[several.job_id].params["referenceImageMediaIds"] == [first, second]
    assert "referenceImageMediaId" not in sim.jobs[several.job_id].params


async def test_inpaint_sends_both_media_ids(sim, client):
    original, mask = await upload_png(client), await upload_png(client)

    job = await client.inpaint_image(original, mask, "a red door", "door", aspect_ratio="1:1")

    params = sim.jobs[job.job_id].params
    assert (params["originalImageMediaId"], params["maskImageMediaId"]) == (original, mask)
    assert params["aspectRatio"] == "1:1"


async def test_media_upload_puts_the_bytes_without_the_api_key(sim, client):
    media_id = await upload_png(client)

    put = next(seen for seen in sim.requests if seen.method == "PUT")
    headers = {name.lower(): value for name, value in put.headers.items()}
    assert "x-api-key" not in headers
    assert headers["content-type"] == "image/png"
    assert [(seen.method, seen.path.split("/")[1:3]) for seen in sim.requests] == [
        ("POST", ["api", "media"]),
        ("PUT", ["upload", media_id]),
        ("POST", ["api", "media"]),
    ]
    assert sim.media[media_id].data == PNG_BYTES and sim.media[media_id].finalized


async def test_download_to_another_origin_carries_no_api_key(sim, tls_context, tmp_path):
    seen_headers: list[dict[str, str]] = []

    async def picture(request: web.Request) -> web.Response:
        seen_headers.append(dict(request.headers))
        return web.Response(body=PNG_BYTES, content_type="image/png")

    app = web.Application()
    app.router.add_get("/bucket/picture.png", picture)
    async with (
        serve_tls(app, tls_context) as storage,
        unverified_session() as session,
        make_client(sim.base_url, session=session) as client,
    ):
        written = await client.download(f"{storage}/bucket/picture.png?sig=abc", tmp_path / "p.png")

    assert written == len(PNG_BYTES)
    assert "x-api-key" not in {name.lower() for name in seen_headers[0]}


async def test_redirect_to_storage_drops_the_api_key(tls_context, tmp_path):
    seen_headers: list[dict[str, str]] = []

    async def stored(request: web.Request) -> web.Response:
        seen_headers.append(dict(request.headers))
        return web.Response(body=b"video bytes")

    storage_app = web.Application()
    storage_app.router.add_get("/v.mp4", stored)
    async with serve_tls(storage_app, tls_context) as storage, unverified_session() as session:

        async def redirect(request: web.Request) -> web.Response:
            assert request.headers["x-api-key"] == API_KEY
            raise web.HTTPFound(f"{storage}/v.mp4")

        api_app = web.Application()
        api_app.router.add_get("/api/video/{id}/download", redirect)
        async with serve(api_app) as api, make_client(api, session=session) as client:
            written = await client.download_video("cvideo", tmp_path / "v.mp4")

    assert written == len(b"video bytes")
    assert "x-api-key" not in {name.lower() for name in seen_headers[0]}


# ---- errors --------------------------------------------------------------------------------


async def test_bad_request_carries_the_server_message(client):
    with pytest.raises(BadRequestError) as caught:
        await client.generate_image("a cat", "cat", aspect_ratio="2:1")

    assert caught.value.status == 400
    assert "aspectRatio" in caught.value.message
    assert not caught.value.out_of_credits
    assert "aspectRatio" in miraflow_error_text(caught.value)


async def test_out_of_credits_is_told_apart(sim, client):
    sim.config.credits = 0

    with pytest.raises(BadRequestError) as caught:
        await client.generate_image("a cat", "cat")

    assert caught.value.out_of_credits
    assert "credits" in miraflow_error_text(caught.value)


async def test_wrong_key_is_an_authentication_error(sim):
    async with MiraflowClient("wrong-key", sim.base_url) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.list_avatars()

    assert caught.value.status == 401
    assert (
        miraflow_error_text(caught.value) == "The bot's Miraflow key is wrong: tell a server admin."
    )
    assert sim.count("GET", "/api/avatars") == 1


async def test_unknown_video_is_not_found(sim, client):
    with pytest.raises(NotFoundError) as caught:
        await client.get_video("cunknownvideo00000000000000")

    assert caught.value.status == 404 and "cunknownvideo" in caught.value.message
    assert sim.count("GET", "/api/video/") == 1


async def test_rate_limit_error_carries_retry_after(sim):
    sim.fail_next(1, status=429, path_prefix="/api/avatars", retry_after=7)

    async with make_client(sim.base_url, max_retries=0) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.list_avatars()

    assert caught.value.status == 429 and caught.value.retry_after == 7.0
    text = miraflow_error_text(caught.value)
    assert "a few seconds" in text
    assert "7" not in text


async def test_server_error_after_the_retries_run_out(sim, client):
    sim.fail_next(MAX_RETRIES + 5, status=502, path_prefix="/api/videos")

    with pytest.raises(ServerError) as caught:
        await client.list_videos()

    assert caught.value.status == 502
    assert sim.count("GET", "/api/videos") == 1 + MAX_RETRIES


async def test_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    async with make_client(f"http://127.0.0.1:{port}", max_retries=1) as client:
        with pytest.raises(MiraflowConnectionError) as caught:
            await client.list_avatars()

    assert caught.value.request_sent is False
    assert "reach Miraflow" in miraflow_error_text(caught.value)


async def test_timeout_on_a_read_is_retried_then_raised(sim):
    sim.hang("/api/avatars")

    # Long enough for the retry's new connection to reach the simulator on a busy machine
    # (at 0.2 s it timed out before it got there in one CI run).
    async with make_client(sim.base_url, timeout=1.0, max_retries=1) as client:
        with pytest.raises(MiraflowTimeoutError):
            await client.list_avatars()

    assert sim.count("GET", "/api/avatars") == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("plain words from a proxy", "plain words from a proxy"),
        ({"error": "quota exceeded for today"}, "quota exceeded for today"),
        ({"error": {"message": "nested reason"}}, "nested reason"),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "Bad Gateway"),
        ("", "Bad Gateway"),
    ],
)
async def test_error_message_is_read_from_any_body(sim, body, expected):
    sim.fail_next(1, status=502, path_prefix="/api/avatars", body=body)

    async with make_client(sim.base_url, max_retries=0) as client:
        with pytest.raises(ServerError) as caught:
            await client.list_avatars()

    assert caught.value.message == expected


async def test_a_long_error_message_is_cut(sim):
    sim.fail_next(1, status=400, path_prefix="/api/image", body="x" * 10_000)

    async with make_client(sim.base_url, max_retries=0) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.generate_image("a cat", "cat")

    assert 0 < len(caught.value.message) <= 300
    assert len(miraflow_error_text(caught.value)) < 250


# ---- retries -------------------------------------------------------------------------------


async def test_a_read_succeeds_after_two_503s(sim, client):
    sim.fail_next(2, status=503, path_prefix="/api/avatars")

    avatars = await client.list_avatars()

    assert avatars
    assert sim.count("GET", "/api/avatars") == 3


async def test_status_polls_are_retried(sim, client):
    job = await client.generate_image("a cat", "cat")
    sim.fail_next(2, status=500, path_prefix=f"/api/image/{job.job_id}")

    status = await client.image_job(job.job_id)

    assert status.status in ("inference_started", "inference_working")
    assert sim.count("GET", f"/api/image/{job.job_id}") == 3


async def test_retry_after_is_honoured(sim, client):
    sim.fail_next(1, status=429, path_prefix="/api/voices", retry_after=0.4)

    started = time.monotonic()
    await client.list_voices()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.4
    gets = [seen for seen in sim.requests if seen.path == "/api/voices"]
    assert len(gets) == 2 and gets[1].time - gets[0].time >= 0.4


async def test_a_download_is_retried_from_the_start(sim, client, tmp_path):
    avatar, voice = (await client.list_avatars())[0], (await client.list_voices())[0]
    job = await client.create_video(avatar.id, "clip", voice_id=voice.id, text="Hi")
    sim.complete_now(job.job_id)
    sim.fail_next(1, status=503, path_prefix=f"/api/video/{job.job_id}/download")

    written = await client.download_video(job.job_id, tmp_path / "clip.mp4")

    assert written == (tmp_path / "clip.mp4").stat().st_size
    assert sim.count("GET", f"/api/video/{job.job_id}/download") == 2


@pytest.mark.parametrize("path", CREATE_CALLS)
async def test_create_calls_are_sent_once_when_the_server_fails(sim, client, path):
    media_id = await upload_png(client)
    sim.fail_next(5, status=503, path_prefix=path)

    with pytest.raises(ServerError):
        await start_create(client, path, media_id)

    assert await holds_for(lambda: sim.count("POST", path) == 1, seconds=0.3)


@pytest.mark.parametrize("path", CREATE_CALLS)
async def test_create_calls_are_sent_once_when_the_server_never_answers(sim, client, path):
    # The picture is uploaded with the usual timeout (on a busy machine an upload can take
    # longer than the short one); only the create call is given up on quickly.
    media_id = await upload_png(client)
    async with make_client(sim.base_url, timeout=0.3) as impatient:
        sim.hang(path)

        with pytest.raises(MiraflowTimeoutError):
            await start_create(impatient, path, media_id)

        assert await holds_for(lambda: sim.count("POST", path) == 1, seconds=0.5)
        sim.unhang()


async def test_media_workflow_is_not_retried(sim, client):
    sim.fail_next(1, status=503, path_prefix="/api/media/initialize")

    with pytest.raises(ServerError):
        await upload_png(client)

    assert sim.count("POST", "/api/media/initialize") == 1
    assert sim.count("PUT") == 0


# ---- downloads -------------------------------------------------------------------------------


async def test_download_over_the_limit_leaves_no_file(sim, client, tmp_path):
    sim.config.video_size = 2 * 2**20
    avatar, voice = (await client.list_avatars())[0], (await client.list_voices())[0]
    job = await client.create_video(avatar.id, "clip", voice_id=voice.id, text="Hi")
    sim.complete_now(job.job_id)

    with pytest.raises(FileTooLargeError) as caught:
        await client.download_video(job.job_id, tmp_path / "clip.mp4", max_bytes=2**20)

    assert caught.value.limit == 2**20
    assert list(tmp_path.iterdir()) == []
    assert sim.count("GET", f"/api/video/{job.job_id}/download") == 1


async def test_download_without_a_length_stops_at_the_limit(tmp_path):
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check up front
        await response.prepare(request)
        for _ in range(64):
            await response.write(bytes(64 * 1024))
        return response

    app = web.Application()
    app.router.add_get("/big.bin", endless)
    async with serve(app) as base, make_client(base) as client:
        with pytest.raises(FileTooLargeError):
            await client.download(f"{base}/big.bin", tmp_path / "big.bin", max_bytes=100_000)

    assert list(tmp_path.iterdir()) == []


async def test_a_slow_download_is_not_cut_by_the_call_timeout(tmp_path):
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"x" * 1000)
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_get("/slow.bin", trickle)
    async with serve(app) as base, make_client(base, timeout=0.3) as client:
        started = time.monotonic()
        written = await client.download(f"{base}/slow.bin", tmp_path / "slow.bin")

    assert time.monotonic() - started > 0.3  # longer than a whole call may take
    assert written == 8000


async def test_a_stalled_download_times_out_and_is_removed(tmp_path):
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        await release.wait()
        return response

    app = web.Application()
    app.router.add_get("/stall.bin", stall)
    async with serve(app) as base, make_client(base, stall_timeout=0.2, max_retries=0) as client:
        with pytest.raises(DownloadTimeoutError):
            await client.download(f"{base}/stall.bin", tmp_path / "stall.bin")
        release.set()

    assert list(tmp_path.iterdir()) == []


# ---- the key never leaks -----------------------------------------------------------------


async def test_the_key_appears_in_no_log_error_or_repr(sim, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"message": f"invalid key {API_KEY}, try again"}
    sim.fail_next(1, status=400, path_prefix="/api/image/generate", body=echo)
    sim.fail_next(MAX_RETRIES + 1, status=503, path_prefix="/api/videos", body=f"no {API_KEY}")
    errors: list[MiraflowError] = []

    client = make_client(sim.base_url)
    async with client:
        await client.list_avatars()
        for call in (client.generate_image("a", "b"), client.list_videos(), client.get_video("c")):
            try:
                await call
            except MiraflowError as error:
                errors.append(error)
        await upload_png(client)

    assert len(errors) == 3
    assert "[redacted]" in errors[0].message
    texts = [str(client), repr(client), caplog.text]
    for error in errors:
        texts += [
            str(error),
            repr(error),
            miraflow_error_text(error),
            "".join(traceback.format_exception(error)),
        ]
    assert all(API_KEY not in text for text in texts)
    assert "GET /api/avatars -> 200 in" in caplog.text


# ---- the session ---------------------------------------------------------------------------


async def test_a_borrowed_session_is_left_open(sim):
    async with aiohttp.ClientSession() as session:
        async with make_client(sim.base_url, session=session) as client:
            await client.list_avatars()
        assert not session.closed
        assert "closed" in repr(client)


async def test_an_owned_session_is_closed_and_the_client_with_it(sim):
    client = make_client(sim.base_url)
    await client.list_avatars()
    await client.close()

    with pytest.raises(RuntimeError):
        await client.list_avatars()


# ---- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45%", 45),
        ("45.5%", 45),
        (" 45 % ", 45),
        ("45", 45),
        (45, 45),
        (45.9, 45),
        (0.45, 0),
        ("0%", 0),
        ("100%", 100),
        ("150%", 100),
        (-3, 0),
        ("-3%", 0),
        (None, None),
        ("", None),
        ("%", None),
        ("almost done", None),
        ("nan", None),
        (float("inf"), None),
        (True, None),
        ([45], None),
    ],
)
def test_parse_progress(value, expected):
    assert parse_progress(value) == expected


@pytest.mark.parametrize(
    ("body", "complete", "failed"),
    [
        ({"status": "inference_started"}, False, False),
        ({"status": "inference_working", "progress": "45%"}, False, False),
        ({"status": "inference_complete"}, True, False),
        ({"status": "inference_failed"}, False, True),
        ({"status": "inference_error", "message": "boom"}, False, True),
        ({"id": "c1", "downloadUrl": "https://cdn.example/c1.png"}, True, False),
    ],
)
def test_job_status_from_api(body, complete, failed):
    status = JobStatus.from_api(body)

    assert (status.complete, status.failed, status.terminal) == (
        complete,
        failed,
        complete or failed,
    )
    assert (status.image is not None) == ("downloadUrl" in body)


def test_models_keep_unknown_fields_and_tolerate_missing_ones():
    avatar = Avatar.from_api({"id": "ca", "thumbnailUrl": "https://x/a.png", "gender": "f"})
    voice = Voice.from_api({"id": "cv", "name": "Aria", "previewUrl": "https://x/v.mp3"})
    video = Video.from_api({"id": "cvid", "sourceAvatarId": "ca", "codec": "h264"})
    created = CreatedJob.from_api({"result": "success", "jobId": "cjob"})

    assert (avatar.name, avatar.preview_url, avatar.extra) == (
        "ca",
        "https://x/a.png",
        {"gender": "f"},
    )
    assert (voice.name, voice.preview_url, voice.extra) == ("Aria", "https://x/v.mp3", {})
    assert (video.source_avatar_id, video.download_url, video.extra) == (
        "ca",
        None,
        {"codec": "h264"},
    )
    assert (created.job_id, created.extra) == ("cjob", {"result": "success"})
    assert Avatar.from_api({}).id == ""
