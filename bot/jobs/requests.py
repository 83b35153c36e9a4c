"""A job's stored parameters turned into the Miraflow call for its kind."""

from __future__ import annotations

from typing import Any

from bot.jobs.models import Job, JobKind
from bot.miraflow import CreatedJob, JobStatus, MiraflowClient


def _image_options(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "aspect_ratio": params.get("aspect_ratio"),
        "negative_prompt": params.get("negative_prompt"),
        "seed": params.get("seed"),
    }


async def send_create(client: MiraflowClient, kind: JobKind, params: dict[str, Any]) -> CreatedJob:
    """The one create call of a job. Never call it twice for the same row."""
    name = params["name"]
    match kind:
        case JobKind.IMAGE:
            return await client.generate_image(params["prompt"], name, **_image_options(params))
        case JobKind.EDIT:
            return await client.edit_image(
                params["media_ids"], params["prompt"], name, **_image_options(params)
            )
        case JobKind.INPAINT:
            return await client.inpaint_image(
                params["original_media_id"],
                params["mask_media_id"],
                params["prompt"],
                name,
                **_image_options(params),
            )
        case JobKind.VIDEO:
            if params.get("audio_media_id"):
                return await client.create_video(
                    params["avatar_id"], name, media_id=params["audio_media_id"]
                )
            return await client.create_video(
                params["avatar_id"],
                name,
                voice_id=params["voice_id"],
                text=params["text"],
                full_body=bool(params.get("full_body")),
            )
    raise ValueError(f"unknown job kind {kind!r}")


async def fetch_status(client: MiraflowClient, job: Job) -> JobStatus:
    if job.miraflow_job_id is None:
        raise ValueError(f"job {job.id} has no Miraflow job id")
    if job.kind.makes_video:
        return await client.video_status(job.miraflow_job_id)
    return await client.image_job(job.miraflow_job_id)
