"""The only module that speaks to Miraflow: one async method per endpoint of its API.

It builds each request and reads each answer; the HTTP underneath (redirects, error mapping,
retries of reads, streaming downloads) is `bot.miraflow.transport`'s. Reads (GET) are retried
with exponential backoff and full jitter on connection failures, timeouts, 429 and 5xx. The
create calls and the media workflow's POST and PUT are sent exactly once, whatever happens:
a create call costs money and is not idempotent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from bot.miraflow.constants import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_BASE_URL,
    DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TIMEOUT,
    DOWNLOAD_CHUNK_SIZE,
    ERROR_MESSAGE_MAX_CHARS,
    MAX_RETRY_AFTER,
)
from bot.miraflow.errors import UnexpectedResponseError, truncate
from bot.miraflow.models import Avatar, CreatedJob, JobStatus, Video, Voice
from bot.miraflow.transport import AttemptPacer, CallObserver, MiraflowTransport


class MiraflowClient:
    """An async client for every endpoint of the Miraflow API.

    It owns one aiohttp session (created on first use, closed by `close()` or on leaving
    `async with`), or borrows the one it is given and then never closes it. The API key is
    sent only to `base_url`'s origin, and never appears in a log line, an error or a repr.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        read_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
        retry_after_cap: float = MAX_RETRY_AFTER,  # lower: the client's own retry waits less
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        download_deadline: float = DEFAULT_DOWNLOAD_DEADLINE,
        on_call: CallObserver | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        """`timeout` bounds a whole call; downloads and uploads are bounded instead by
        `read_timeout` (default: `timeout`) between two reads, so a long transfer is not cut.
        A download is abandoned after `stall_timeout` seconds without a byte, or
        `download_deadline` seconds in all. URLs from Miraflow's answers are contacted only
        when https or on `base_url`'s origin (else UntrustedUrlError). `on_call(path,
        outcome)` is told of every HTTP exchange (for metrics). `trace_configs` join the
        session this client makes (not a `session` given to it)."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._http = MiraflowTransport(
            api_key,
            base_url,
            session,
            timeout=timeout,
            read_timeout=read_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            retry_after_cap=retry_after_cap,
            chunk_size=chunk_size,
            stall_timeout=stall_timeout,
            download_deadline=download_deadline,
            on_call=on_call,
            trace_configs=trace_configs,
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def pace_with(self, pacer: AttemptPacer | None) -> None:
        """Let `pacer` hold and hear of every HTTP attempt to Miraflow, retries included."""
        self._http.pacer = pacer

    def __repr__(self) -> str:
        state = "closed" if self._http.closed else "open"
        return f"<MiraflowClient base_url={self.base_url!r} {state}>"

    async def __aenter__(self) -> Self:
        self._http.ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the session if this client created it; a borrowed one is left open."""
        await self._http.close()

    # Catalogue

    async def list_avatars(self) -> list[Avatar]:
        body = await self._http.get_json("/api/avatars")
        return [avatar for avatar in map(Avatar.from_api, _items(body, "avatars")) if avatar.id]

    async def list_voices(self) -> list[Voice]:
        """The vendor's sample puts voices under `avatars`; both keys are accepted."""
        body = await self._http.get_json("/api/voices")
        return [
            voice for voice in map(Voice.from_api, _items(body, "voices", "avatars")) if voice.id
        ]

    async def list_videos(self) -> list[Video]:
        body = await self._http.get_json("/api/videos")
        return [video for video in map(Video.from_api, _items(body, "videos")) if video.id]

    async def get_video(self, video_id: str) -> Video:
        """A completed video's metadata, with a fresh `download_url` (valid about 24 h)."""
        body = _as_dict(await self._http.get_json(f"/api/video/{_segment(video_id)}"))
        inner = body.get("video")
        return Video.from_api(inner if isinstance(inner, dict) else body)

    async def download_video(
        self, video_id: str, dest: str | os.PathLike[str], max_bytes: int | None = None
    ) -> int:
        """Streams a completed video to `dest` and returns the bytes written.

        The file appears at `dest` only once complete; over `max_bytes`, FileTooLargeError is
        raised and nothing is left behind.
        """
        return await self._http.download(
            self._http.url(f"/api/video/{_segment(video_id)}/download"), dest, max_bytes
        )

    async def download(
        self, url: str, dest: str | os.PathLike[str], max_bytes: int | None = None
    ) -> int:
        """Streams any URL (such as an image's `downloadUrl`) to `dest`, like `download_video`.

        The API key goes only to `base_url`'s origin, never to a storage host.
        """
        return await self._http.download(self._http.resolve(url), dest, max_bytes)

    # Videos

    async def create_video(
        self,
        avatar_id: str,
        name: str,
        *,
        voice_id: str | None = None,
        text: str | None = None,
        full_body: bool | None = None,
        media_id: str | None = None,
    ) -> CreatedJob:
        """Starts a talking-avatar video, sent exactly once.

        Give `voice_id` and `text` (JSON form; `full_body` asks for full-body animation), or
        `media_id` of an uploaded audio file (multipart form, which has no full-body option).
        """
        if media_id is not None:
            if voice_id is not None or text is not None or full_body:
                raise ValueError("give media_id alone, or voice_id and text, not both")
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("avatarId", avatar_id)
            form.add_field("name", name)
            form.add_field("mediaId", media_id)
            return await self._create("/api/video/create", data=form)
        if voice_id is None or text is None:
            raise ValueError("create_video needs voice_id and text, or media_id")
        body: dict[str, Any] = {
            "avatarId": avatar_id,
            "name": name,
            "voiceId": voice_id,
            "text": text,
        }
        if full_body:
            body["im2vid_full"] = True
        return await self._create("/api/video/create", json=body)

    async def video_status(self, job_id: str) -> JobStatus:
        body = await self._http.get_json(f"/api/video/{_segment(job_id)}/status")
        return self._status_of(body)

    # Images

    async def generate_image(
        self,
        prompt: str,
        name: str,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
    ) -> CreatedJob:
        """Starts a text-to-image job, sent exactly once."""
        body = {
            "prompt": prompt,
            "name": name,
            **_image_options(aspect_ratio, negative_prompt, seed),
        }
        return await self._create("/api/image/generate", json=body)

    async def edit_image(
        self,
        media_ids: str | Sequence[str],
        prompt: str,
        name: str,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
    ) -> CreatedJob:
        """Starts an edit of one or more uploaded images, sent exactly once."""
        ids = [media_ids] if isinstance(media_ids, str) else list(media_ids)
        if not ids:
            raise ValueError("edit_image needs at least one media id")
        references: dict[str, Any] = (
            {"referenceImageMediaId": ids[0]} if len(ids) == 1 else {"referenceImageMediaIds": ids}
        )
        body = {
            **references,
            "prompt": prompt,
            "name": name,
            **_image_options(aspect_ratio, negative_prompt, seed),
        }
        return await self._create("/api/image/edit", json=body)

    async def inpaint_image(
        self,
        original_media_id: str,
        mask_media_id: str,
        prompt: str,
        name: str,
        aspect_ratio: str | None = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
    ) -> CreatedJob:
        """Starts an inpainting job (mask: white is replaced, black kept), sent exactly once."""
        body = {
            "originalImageMediaId": original_media_id,
            "maskImageMediaId": mask_media_id,
            "prompt": prompt,
            "name": name,
            **_image_options(aspect_ratio, negative_prompt, seed),
        }
        return await self._create("/api/image/inpaint", json=body)

    async def image_job(self, job_id: str) -> JobStatus:
        """An image job's status; when finished, `image` holds the result."""
        body = await self._http.get_json(f"/api/image/{_segment(job_id)}")
        return self._status_of(body)

    def _status_of(self, body: object) -> JobStatus:
        """A status body, its failure reason cut to a sane length and without the API key."""
        status = JobStatus.from_api(_as_dict(body))
        if status.message:
            status.message = truncate(self._http.redact(status.message), ERROR_MESSAGE_MAX_CHARS)
        return status

    # Media

    async def upload_media(self, data: bytes, file_name: str, content_type: str) -> str:
        """Uploads a file through the three-step media workflow and returns its media id.

        No step is retried: initialize and finalize are not idempotent, and the PUT goes to a
        pre-signed storage URL, without the API key.
        """
        started = _as_dict(
            await self._http.exchange_json(
                "POST",
                self._http.url("/api/media/initialize"),
                json={"fileName": file_name, "contentType": content_type, "fileSize": len(data)},
            )
        )
        media_id, upload_url = started.get("mediaId"), started.get("uploadUrl")
        if not isinstance(media_id, str) or not media_id or not isinstance(upload_url, str):
            raise UnexpectedResponseError(
                "Miraflow's media initialize answer has no mediaId or uploadUrl"
            )
        await self._http.put_upload(self._http.resolve(upload_url), data, content_type)
        finished = await self._http.exchange_json(
            "POST", self._http.url("/api/media/finalize"), json={"mediaId": media_id}
        )
        if isinstance(finished, dict) and finished.get("success") is False:
            raise UnexpectedResponseError(
                self._http.redact(f"Miraflow did not finalize the upload: {finished}")
            )
        return media_id

    # Plumbing

    async def _create(self, path: str, **body: Any) -> CreatedJob:
        """A create call: sent exactly once, never retried, whatever happens."""
        answer = _as_dict(await self._http.exchange_json("POST", self._http.url(path), **body))
        job = CreatedJob.from_api(answer)
        if not job.job_id:
            shown = truncate(json.dumps(answer), 200)
            raise UnexpectedResponseError(
                self._http.redact(f"Miraflow's answer has no job id: {shown}"), 200
            )
        return job


def _segment(value: str) -> str:
    """An id quoted as one path segment, so that no id can reach another path."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty id, got {value!r}")
    return quote(value, safe="")


def _as_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise UnexpectedResponseError(
            f"Miraflow's answer is not a JSON object: {type(body).__name__}"
        )
    return body


def _items(body: Any, *keys: str) -> list[dict[str, Any]]:
    """The objects of a list answer, found under the first of `keys` holding a non-empty list
    (or the body itself when it is a list)."""
    found: Any = body
    if isinstance(body, dict):
        found = next(
            (body[key] for key in keys if isinstance(body.get(key), list) and body[key]), []
        )
    elif not isinstance(body, list):
        raise UnexpectedResponseError(f"Miraflow's answer is not a list: {type(body).__name__}")
    return [item for item in found if isinstance(item, dict)]


def _image_options(
    aspect_ratio: str | None, negative_prompt: str | None, seed: int | None
) -> dict[str, Any]:
    options = {"aspectRatio": aspect_ratio, "negativePrompt": negative_prompt, "seed": seed}
    return {key: value for key, value in options.items() if value is not None}
