"""The simulator's storage side: pre-signed upload URLs and signed download URLs.

Neither needs the API key, like the storage URLs the real service hands out. Download URLs
carry ``expires`` (UNIX seconds) and ``signature``; an expired one answers 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web

from .jobs import IMAGE_KINDS, SimJob
from .middleware import SIMULATOR_KEY
from .pictures import padded_png, render_avatar_preview, render_result
from .responses import ApiError, bad_request, not_found
from .signing import SignatureCheck
from .state import SimMedia
from .video import video_chunks, video_length

routes = web.RouteTableDef()
UPLOAD_READ_CHUNK = 64 * 1024


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


def _signed(request: web.Request, path: str) -> str:
    sim = request.app[SIMULATOR_KEY]
    return sim.signer.sign(_origin(request), path, sim.now() + sim.config.url_ttl)


def upload_path(media_id: str) -> str:
    return f"/upload/{media_id}"


def upload_url(request: web.Request, media: SimMedia) -> str | None:
    path = f"{upload_path(media.id)}?token={media.upload_token}"
    return _styled(request, request.app[SIMULATOR_KEY].config.upload_url, path)


def _styled(request: web.Request, style: str, path: str) -> str | None:
    """A URL to `path` as the `style` knob wants it (see SimulatorConfig.result_url)."""
    sim = request.app[SIMULATOR_KEY]
    if style == "foreign":
        return sim.config.foreign_base_url.rstrip("/") + path
    if style == "file":
        return "file:///etc/passwd"
    if style == "missing":
        return None
    if path.startswith("/upload/"):
        return f"{_origin(request)}{path}"
    return _signed(request, path)


def avatar_preview_url(request: web.Request, avatar_id: str) -> str:
    return _signed(request, f"/files/avatars/{avatar_id}.png")


def image_download_url(request: web.Request, job_id: str) -> str | None:
    style = request.app[SIMULATOR_KEY].config.result_url
    return _styled(request, style, f"/files/images/{job_id}.png")


def video_download_url(request: web.Request, job_id: str) -> str | None:
    style = request.app[SIMULATOR_KEY].config.result_url
    return _styled(request, style, f"/files/videos/{job_id}.mp4")


def _check_signature(request: web.Request) -> None:
    sim = request.app[SIMULATOR_KEY]
    check = sim.signer.check(request.path, request.query, sim.now())
    if check is SignatureCheck.EXPIRED:
        raise ApiError(403, "This download URL has expired.")
    if check is SignatureCheck.INVALID:
        raise ApiError(403, "This download URL is not validly signed.")


# ---- upload -----------------------------------------------------------------------------


@routes.put("/upload/{media_id}")
async def upload(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    media = sim.media.get(request.match_info["media_id"])
    if media is None:
        raise not_found("Unknown upload.")
    if not sim.signer.token_is_valid(upload_path(media.id), request.query.get("token", "")):
        raise ApiError(403, "Invalid upload token.")
    if media.finalized:
        raise bad_request("This media is already finalized.")
    declared_type = media.content_type.split(";")[0].strip().lower()
    if request.content_type != declared_type:
        raise bad_request(
            f"Content-Type {request.content_type!r} does not match the declared {declared_type!r}."
        )
    data = await _read_at_most(request, media.file_size + 1)
    if len(data) != media.file_size:
        raise bad_request(f"Received {len(data)} bytes, {media.file_size} were declared.")
    media.data = data
    return web.Response(status=200)


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    parts: list[bytes] = []
    received = 0
    while received < limit:
        chunk = await request.content.read(min(UPLOAD_READ_CHUNK, limit - received))
        if not chunk:
            break
        parts.append(chunk)
        received += len(chunk)
    return b"".join(parts)


# ---- downloads --------------------------------------------------------------------------


@routes.get("/files/avatars/{avatar_id}.png")
async def avatar_preview(request: web.Request) -> web.Response:
    _check_signature(request)
    avatar = request.app[SIMULATOR_KEY].avatars.get(request.match_info["avatar_id"])
    if avatar is None:
        raise not_found("Unknown avatar.")
    png = await asyncio.to_thread(render_avatar_preview, avatar.name, avatar.id)
    return web.Response(body=png, content_type="image/png")


@routes.get("/files/images/{job_id}.png")
async def image_file(request: web.Request) -> web.StreamResponse:
    _check_signature(request)
    sim = request.app[SIMULATOR_KEY]
    job = sim.jobs.get(request.match_info["job_id"])
    if job is None or job.kind not in IMAGE_KINDS:
        raise not_found("Unknown image.")
    if job.picture is None:
        job.picture = await asyncio.to_thread(_render_job_picture, sim.media, job)
    png = padded_png(job.picture, sim.config.image_size_bytes)
    if sim.config.download_mode != "normal":
        return await _misbehaving_send(request, [png], "image/png", len(png))
    return web.Response(body=png, content_type="image/png")


def _render_job_picture(media: dict[str, SimMedia], job: SimJob) -> bytes:
    params = job.params
    base_id = params.get("originalImageMediaId") or params.get("referenceImageMediaId")
    if base_id is None and params.get("referenceImageMediaIds"):
        base_id = params["referenceImageMediaIds"][0]
    base = media[base_id].data if base_id in media else None
    mask_id = params.get("maskImageMediaId")
    mask = media[mask_id].data if mask_id in media else None
    seed = params.get("seed")
    return render_result(
        prompt=str(params.get("prompt", "")),
        seed_key=str(seed) if seed is not None else job.id,
        aspect_ratio=params.get("aspectRatio"),
        base=base,
        mask=mask,
    )


@routes.get("/files/videos/{job_id}.mp4")
async def video_file(request: web.Request) -> web.StreamResponse:
    _check_signature(request)
    sim = request.app[SIMULATOR_KEY]
    job = sim.jobs.get(request.match_info["job_id"])
    if job is None or job.kind != "video":
        raise not_found("Unknown video.")
    return await stream_video(request)


async def stream_video(request: web.Request) -> web.StreamResponse:
    """The MP4 (padded to ``video_size``), written chunk by chunk."""
    config = request.app[SIMULATOR_KEY].config
    wanted_size = config.video_size
    if config.download_mode != "normal":
        chunks = video_chunks(wanted_size)
        return await _misbehaving_send(request, chunks, "video/mp4", video_length(wanted_size))
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.content_length = video_length(wanted_size)
    await response.prepare(request)
    for chunk in video_chunks(wanted_size):
        await response.write(chunk)
    await response.write_eof()
    return response


TRICKLE_CHUNK = 1024


async def _misbehaving_send(
    request: web.Request, chunks: Iterable[bytes], content_type: str, length: int
) -> web.StreamResponse:
    """A file sent as the `download_mode` knob says: a small chunk every `trickle_interval`
    real seconds ("trickle"), or one chunk and then nothing until shutdown ("stall")."""
    sim = request.app[SIMULATOR_KEY]
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = length
    await response.prepare(request)
    for chunk in chunks:
        for start in range(0, len(chunk), TRICKLE_CHUNK):
            await response.write(chunk[start : start + TRICKLE_CHUNK])
            if sim.config.download_mode == "stall":
                await sim.gate.wait()
                if request.transport is not None:
                    request.transport.close()
                return response
            await asyncio.sleep(sim.config.trickle_interval)
    await response.write_eof()
    return response
