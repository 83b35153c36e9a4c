"""The only module that speaks HTTP to Miraflow.

Reads (GET) are retried with exponential backoff and full jitter on connection failures,
timeouts, 429 and 5xx. The create calls and the media workflow's POST and PUT are sent exactly
once, whatever happens: a create call costs money and is not idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import aiohttp
from yarl import URL

from bot.miraflow.constants import (
    API_KEY_HEADER,
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_CAP,
    DEFAULT_TIMEOUT,
    DOWNLOAD_CHUNK_SIZE,
    ERROR_BODY_READ_LIMIT,
    MAX_REDIRECTS,
    USER_AGENT,
)
from bot.miraflow.errors import (
    FileTooLargeError,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
    error_for_status,
    message_from_body,
    parse_retry_after,
    truncate,
)
from bot.miraflow.models import Avatar, CreatedJob, JobStatus, Video, Voice

log = logging.getLogger(__name__)

T = TypeVar("T")
_RETRYABLE = (MiraflowConnectionError, MiraflowTimeoutError, RateLimitedError, ServerError)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_REDACTED = "[redacted]"


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
        retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    ) -> None:
        """`timeout` bounds a whole call; downloads and uploads are bounded instead by
        `read_timeout` (default: `timeout`) between two reads, so a long transfer is not cut."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._api_key = api_key
        self._base = base_url.rstrip("/")
        self._origin = URL(self._base).origin()
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._call_timeout = aiohttp.ClientTimeout(total=timeout)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeout,
            sock_read=timeout if read_timeout is None else read_timeout,
        )
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._chunk_size = chunk_size

    @property
    def base_url(self) -> str:
        return self._base

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<MiraflowClient base_url={self._base!r} {state}>"

    async def __aenter__(self) -> Self:
        self._ensure_session()
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
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    # Catalogue

    async def list_avatars(self) -> list[Avatar]:
        body = await self._get_json("/api/avatars")
        return [avatar for avatar in map(Avatar.from_api, _items(body, "avatars")) if avatar.id]

    async def list_voices(self) -> list[Voice]:
        """The vendor's sample puts voices under `avatars`; both keys are accepted."""
        body = await self._get_json("/api/voices")
        return [
            voice for voice in map(Voice.from_api, _items(body, "voices", "avatars")) if voice.id
        ]

    async def list_videos(self) -> list[Video]:
        body = await self._get_json("/api/videos")
        return [video for video in map(Video.from_api, _items(body, "videos")) if video.id]

    async def get_video(self, video_id: str) -> Video:
        """A completed video's metadata, with a fresh `download_url` (valid about 24 h)."""
        body = _as_dict(await self._get_json(f"/api/video/{_segment(video_id)}"))
        inner = body.get("video")
        return Video.from_api(inner if isinstance(inner, dict) else body)

    async def download_video(
        self, video_id: str, dest: str | os.PathLike[str], max_bytes: int | None = None
    ) -> int:
        """Streams a completed video to `dest` and returns the bytes written.

        The file appears at `dest` only once complete; over `max_bytes`, FileTooLargeError is
        raised and nothing is left behind.
        """
        return await self._download(
            self._url(f"/api/video/{_segment(video_id)}/download"), dest, max_bytes
        )

    async def download(
        self, url: str, dest: str | os.PathLike[str], max_bytes: int | None = None
    ) -> int:
        """Streams any URL (such as an image's `downloadUrl`) to `dest`, like `download_video`.

        The API key goes only to `base_url`'s origin, never to a storage host.
        """
        return await self._download(self._resolve(url), dest, max_bytes)

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
        body = await self._get_json(f"/api/video/{_segment(job_id)}/status")
        return JobStatus.from_api(_as_dict(body))

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
        body = await self._get_json(f"/api/image/{_segment(job_id)}")
        return JobStatus.from_api(_as_dict(body))

    # Media

    async def upload_media(self, data: bytes, file_name: str, content_type: str) -> str:
        """Uploads a file through the three-step media workflow and returns its media id.

        No step is retried: initialize and finalize are not idempotent, and the PUT goes to a
        pre-signed storage URL, without the API key.
        """
        started = _as_dict(
            await self._exchange_json(
                "POST",
                self._url("/api/media/initialize"),
                json={"fileName": file_name, "contentType": content_type, "fileSize": len(data)},
            )
        )
        media_id, upload_url = started.get("mediaId"), started.get("uploadUrl")
        if not isinstance(media_id, str) or not media_id or not isinstance(upload_url, str):
            raise UnexpectedResponseError(
                "Miraflow's media initialize answer has no mediaId or uploadUrl"
            )
        async with self._exchange(
            "PUT",
            self._resolve(upload_url),
            timeout=self._stream_timeout,
            send_key=False,
            data=data,
            headers={"Content-Type": content_type},
        ) as response:
            await response.read()
        finished = await self._exchange_json(
            "POST", self._url("/api/media/finalize"), json={"mediaId": media_id}
        )
        if isinstance(finished, dict) and finished.get("success") is False:
            raise UnexpectedResponseError(
                self._redact(f"Miraflow did not finalize the upload: {finished}")
            )
        return media_id

    # Plumbing

    def _url(self, path: str) -> URL:
        return URL(self._base + path, encoded=True)

    def _resolve(self, url: str) -> URL:
        return URL(self._base + "/", encoded=True).join(URL(url, encoded=True))

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this MiraflowClient is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, _REDACTED)

    def _where(self, url: URL) -> str:
        """A URL fit for a log line: its path, plus its origin when foreign; never a query."""
        return url.path if url.origin() == self._origin else f"{url.origin()}{url.path}"

    async def _get_json(self, path: str) -> Any:
        url = self._url(path)
        return await self._retrying(f"GET {path}", lambda: self._exchange_json("GET", url))

    async def _create(self, path: str, **body: Any) -> CreatedJob:
        answer = _as_dict(await self._exchange_json("POST", self._url(path), **body))
        job = CreatedJob.from_api(answer)
        if not job.job_id:
            shown = truncate(json.dumps(answer), 200)
            raise UnexpectedResponseError(
                self._redact(f"Miraflow's answer has no job id: {shown}"), 200
            )
        return job

    async def _exchange_json(self, method: str, url: URL, **kwargs: Any) -> Any:
        async with self._exchange(method, url, timeout=self._call_timeout, **kwargs) as response:
            raw = await response.read()
            status = response.status
        try:
            return json.loads(raw)
        except ValueError:
            shown = message_from_body(raw, status)
            raise UnexpectedResponseError(
                self._redact(f"Miraflow's answer is not JSON: {shown}"), status
            ) from None

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        retries = 0
        while True:
            try:
                return await attempt()
            except _RETRYABLE as error:
                if retries >= self._max_retries:
                    raise
                delay = self._delay_before_retry(retries, error)
                retries += 1
                log.debug(
                    "%s failed (%s); retry %d/%d in %.2f s",
                    what,
                    error,
                    retries,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    def _delay_before_retry(self, retries: int, error: MiraflowError) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(error.retry_after, self._retry_after_cap)
        return random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**retries))

    @asynccontextmanager
    async def _exchange(
        self,
        method: str,
        url: URL,
        *,
        timeout: aiohttp.ClientTimeout,
        send_key: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request and its answer (body read inside the `async with`).

        An error status raises the matching MiraflowError; aiohttp's failures become
        MiraflowConnectionError or MiraflowTimeoutError, with the key redacted. Each exchange
        is logged at DEBUG as method, path, status and duration, never headers or queries.
        """
        session = self._ensure_session()
        started = time.monotonic()
        outcome = "no answer"
        try:
            response = await self._send(session, method, url, timeout, send_key, headers, kwargs)
            outcome = str(response.status)
            try:
                if response.status >= 300:
                    raise await self._error_from(response)
                yield response
            finally:
                response.release()
        except TimeoutError:
            outcome = "timeout"
            raise MiraflowTimeoutError(
                f"no answer from Miraflow in time ({method} {self._where(url)})"
            ) from None
        except aiohttp.ClientConnectorError as error:
            outcome = "connection refused"
            message = self._redact(f"could not connect to Miraflow: {error}")
            raise MiraflowConnectionError(message, request_sent=False) from None
        except aiohttp.ClientError as error:
            outcome = type(error).__name__
            message = self._redact(
                f"connection to Miraflow failed: {type(error).__name__}: {error}"
            )
            raise MiraflowConnectionError(message) from None
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms", method, self._where(url), outcome, elapsed_ms)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        timeout: aiohttp.ClientTimeout,
        send_key: bool,
        headers: dict[str, str] | None,
        kwargs: dict[str, Any],
    ) -> aiohttp.ClientResponse:
        """Sends the request, following a GET's redirects here rather than in aiohttp, which
        would carry the x-api-key header along to another host (it strips only Authorization)."""
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
            if send_key and url.origin() == self._origin:
                request_headers[API_KEY_HEADER] = self._api_key
            response = await session.request(
                method,
                url,
                headers=request_headers,
                timeout=timeout,
                allow_redirects=False,
                raise_for_status=False,
                **kwargs,
            )
            location = response.headers.get("Location")
            if method != "GET" or response.status not in _REDIRECT_STATUSES or not location:
                return response
            response.release()
            url = url.join(URL(location, encoded=True))
        raise UnexpectedResponseError("Miraflow redirected too many times", response.status)

    async def _error_from(self, response: aiohttp.ClientResponse) -> MiraflowError:
        raw = bytearray()
        try:
            async for chunk in response.content.iter_chunked(8192):
                raw += chunk
                if len(raw) >= ERROR_BODY_READ_LIMIT:
                    break
        except (aiohttp.ClientError, TimeoutError):
            pass  # the status alone still says what happened
        message = self._redact(message_from_body(bytes(raw), response.status))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return error_for_status(response.status, message, retry_after=retry_after)

    async def _download(self, url: URL, dest: str | os.PathLike[str], max_bytes: int | None) -> int:
        target = Path(dest)
        partial = target.with_name(target.name + ".part")
        try:
            written = await self._retrying(
                f"GET {self._where(url)}", lambda: self._stream_to(url, partial, max_bytes)
            )
            await asyncio.to_thread(partial.replace, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return written

    async def _stream_to(self, url: URL, partial: Path, max_bytes: int | None) -> int:
        async with self._exchange("GET", url, timeout=self._stream_timeout) as response:
            declared = response.content_length
            if max_bytes is not None and declared is not None and declared > max_bytes:
                raise FileTooLargeError(max_bytes, declared)
            written = 0
            sink = await asyncio.to_thread(partial.open, "wb")
            try:
                async for chunk in response.content.iter_chunked(self._chunk_size):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise FileTooLargeError(max_bytes)
                    await asyncio.to_thread(sink.write, chunk)
            finally:
                await asyncio.to_thread(sink.close)
        return written


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
