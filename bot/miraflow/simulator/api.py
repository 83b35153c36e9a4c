"""Handlers of the /api endpoints of the Miraflow contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import files
from .catalogue import avatar_body, voice_body
from .jobs import IMAGE_KINDS, JobKind, SimJob
from .middleware import SIMULATOR_KEY, account_of
from .responses import ApiError, bad_request, not_found
from .state import SimMedia

if TYPE_CHECKING:
    from .simulator import MiraflowSimulator

from .validation import (
    check_prompt_fields,
    json_object,
    optional_boolean,
    reference_media_ids,
    required_size,
    required_text,
)

routes = web.RouteTableDef()


def iso_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _created(request: web.Request, job: SimJob) -> web.Response:
    config = request.app[SIMULATOR_KEY].config
    if config.create_drops_connection and request.transport is not None:
        request.transport.close()  # the job exists; its caller never hears of it
        raise ApiError(502, "The connection was dropped.")
    lost_answer = config.create_answer_status
    if lost_answer is not None:  # the job exists, but the answer says otherwise
        return web.json_response({"message": "Bad gateway."}, status=lost_answer)
    return web.json_response({"result": "success", "jobId": job.id})


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


# ---- catalogue --------------------------------------------------------------------------


@routes.get("/api/avatars")
async def list_avatars(request: web.Request) -> web.Response:
    avatars = [
        avatar_body(avatar, files.avatar_preview_url(request, avatar.id))
        for avatar in request.app[SIMULATOR_KEY].avatars.values()
    ]
    return web.json_response({"avatars": avatars})


@routes.get("/api/voices")
async def list_voices(request: web.Request) -> web.Response:
    voices = [voice_body(voice) for voice in request.app[SIMULATOR_KEY].voices.values()]
    under_avatars = request.app[SIMULATOR_KEY].config.voices_under_avatars
    return web.json_response({"avatars" if under_avatars else "voices": voices})


# ---- videos -----------------------------------------------------------------------------


def _completed_video(request: web.Request) -> SimJob:
    sim = request.app[SIMULATOR_KEY]
    video_id = request.match_info["video_id"]
    job = sim.job_of(account_of(request), video_id)
    if job is None or job.kind != "video" or not job.status_at(sim.now()).is_complete:
        raise not_found(f"Video '{video_id}' not found.")
    return job


def _video_body(request: web.Request, job: SimJob) -> dict[str, Any]:
    return _without_none(
        {
            "id": job.id,
            "name": job.name,
            "sourceAvatarId": job.params.get("avatarId"),
            "createdAt": iso_time(job.created_at),
            "downloadUrl": files.video_download_url(request, job.id),
        }
    )


@routes.get("/api/videos")
async def list_videos(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    now, account = sim.now(), account_of(request)
    completed = [
        job
        for job in sim.jobs.values()
        if job.account == account and job.kind == "video" and job.status_at(now).is_complete
    ]
    completed.sort(key=lambda job: job.created_at, reverse=True)
    return web.json_response({"videos": [_video_body(request, job) for job in completed]})


@routes.get("/api/video/{video_id}")
async def get_video(request: web.Request) -> web.Response:
    return web.json_response(_video_body(request, _completed_video(request)))


@routes.get("/api/video/{video_id}/download")
async def download_video(request: web.Request) -> web.StreamResponse:
    _completed_video(request)
    return await files.stream_video(request)


@routes.get("/api/video/{job_id}/status")
async def video_status(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    job = _job_of_kind(request, frozenset({"video"}))
    return web.json_response(job.status_at(sim.now()).body(sim.config.failure_reason))


@routes.post("/api/video/create")
async def create_video(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        params = await _audio_form(request)
        _known_avatar(sim, params["avatarId"])
        sim.usable_media(account_of(request), params["mediaId"], "mediaId")
    else:
        params = await json_object(request)
        for field in ("avatarId", "name", "voiceId", "text"):
            required_text(params, field)
        optional_boolean(params, "im2vid_full")
        _known_avatar(sim, params["avatarId"])
        if params["voiceId"] not in sim.voices:
            raise not_found(f"Voice '{params['voiceId']}' not found.")
    return _created(request, sim.create_job("video", params, account_of(request)))


async def _audio_form(request: web.Request) -> dict[str, Any]:
    form = await request.post()
    params: dict[str, Any] = {}
    for field in ("avatarId", "name", "mediaId"):
        value = form.get(field)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"'{field}' is required and must be a non-empty form field.")
        params[field] = value
    return params


def _known_avatar(sim: MiraflowSimulator, avatar_id: str) -> None:
    if avatar_id not in sim.avatars:
        raise not_found(f"Avatar '{avatar_id}' not found.")


# ---- images -----------------------------------------------------------------------------


def _job_of_kind(request: web.Request, kinds: frozenset[str]) -> SimJob:
    sim = request.app[SIMULATOR_KEY]
    job_id = request.match_info["job_id"]
    job = sim.job_of(account_of(request), job_id)
    if job is None or job.kind not in kinds:
        raise not_found(f"Job '{job_id}' not found.")
    return job


async def _image_job(request: web.Request, kind: JobKind) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    params = await json_object(request)
    check_prompt_fields(params)
    media_fields: list[tuple[str, str]] = []
    if kind == "edit":
        media_fields = [
            ("referenceImageMediaId(s)", media) for media in reference_media_ids(params)
        ]
    elif kind == "inpaint":
        media_fields = [
            (field, required_text(params, field))
            for field in ("originalImageMediaId", "maskImageMediaId")
        ]
    account = account_of(request)
    for field, media_id in media_fields:
        sim.usable_media(account, media_id, field)
    return _created(request, sim.create_job(kind, params, account))


@routes.post("/api/image/generate")
async def generate_image(request: web.Request) -> web.Response:
    return await _image_job(request, "image")


@routes.post("/api/image/edit")
async def edit_image(request: web.Request) -> web.Response:
    return await _image_job(request, "edit")


@routes.post("/api/image/inpaint")
async def inpaint_image(request: web.Request) -> web.Response:
    return await _image_job(request, "inpaint")


@routes.get("/api/image/{job_id}")
async def image_status(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    job = _job_of_kind(request, IMAGE_KINDS)
    status = job.status_at(sim.now())
    if not status.is_complete:
        return web.json_response(status.body(sim.config.failure_reason))
    url = files.image_download_url(request, job.id)
    body = {
        "id": job.id,
        "name": job.name,
        "prompt": job.params.get("prompt"),
        "createdAt": iso_time(job.created_at),
        "downloadUrl": url,
        "mediaId": job.result_media_id,
    }
    if url is None:  # complete, yet without a result: say so with a status
        body["status"] = status.status
    return web.json_response(_without_none(body))


# ---- media upload -----------------------------------------------------------------------


@routes.post("/api/media/initialize")
async def initialize_media(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    body = await json_object(request)
    file_name = required_text(body, "fileName")
    content_type = required_text(body, "contentType")
    if "/" not in content_type:
        raise bad_request("'contentType' must be a MIME type such as image/png.")
    file_size = required_size(body, "fileSize")
    media_id = sim.new_media_id()
    media = SimMedia(
        id=media_id,
        file_name=file_name,
        content_type=content_type,
        file_size=file_size,
        upload_token=sim.signer.token(files.upload_path(media_id)),
        account=account_of(request),
    )
    sim.media[media_id] = media
    upload = files.upload_url(request, media)
    return web.json_response(_without_none({"mediaId": media_id, "uploadUrl": upload}))


@routes.post("/api/media/finalize")
async def finalize_media(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR_KEY]
    body = await json_object(request)
    media_id = required_text(body, "mediaId")
    media = sim.media_of(account_of(request), media_id)
    if media is None:
        raise not_found(f"Media '{media_id}' not found.")
    if not media.uploaded:
        raise bad_request(f"Media '{media_id}' has not been uploaded yet.")
    media.finalized = True
    return web.json_response({"success": True})
