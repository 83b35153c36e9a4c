"""A job's request turned into the Miraflow call for it, and its status call."""

from __future__ import annotations

from bot.jobs.job_requests import (
    AudioVideoRequest,
    EditRequest,
    InpaintRequest,
    JobRequest,
    PictureRequest,
    TextVideoRequest,
)
from bot.jobs.models import Job
from bot.miraflow import CreatedJob, JobStatus, MiraflowClient


async def send_create(client: MiraflowClient, request: JobRequest) -> CreatedJob:
    """The one create call of a job. Never call it twice for the same row."""
    match request:
        case PictureRequest():
            return await client.generate_image(
                request.prompt,
                request.name,
                aspect_ratio=request.aspect_ratio,
                negative_prompt=request.negative_prompt,
                seed=request.seed,
            )
        case EditRequest():
            return await client.edit_image(
                list(request.media_ids),
                request.prompt,
                request.name,
                aspect_ratio=request.aspect_ratio,
                negative_prompt=request.negative_prompt,
                seed=request.seed,
            )
        case InpaintRequest():
            return await client.inpaint_image(
                request.original_media_id,
                request.mask_media_id,
                request.prompt,
                request.name,
                aspect_ratio=request.aspect_ratio,
                negative_prompt=request.negative_prompt,
                seed=request.seed,
            )
        case AudioVideoRequest():
            return await client.create_video(
                request.avatar_id, request.name, media_id=request.audio_media_id
            )
        case TextVideoRequest():
            return await client.create_video(
                request.avatar_id,
                request.name,
                voice_id=request.voice_id,
                text=request.text,
                full_body=request.full_body,
            )
    raise ValueError(f"nothing to create for {request!r}")


async def fetch_status(client: MiraflowClient, job: Job) -> JobStatus:
    if job.miraflow_job_id is None:
        raise ValueError(f"job {job.id} has no Miraflow job id")
    if job.kind.makes_video:
        return await client.video_status(job.miraflow_job_id)
    return await client.image_job(job.miraflow_job_id)
