"""Finds the videos whose create call had an unclear answer (a 5xx, a dropped connection).

Such a job is `unknown`: never resent, since Miraflow may have made it and spent the credit.
Its video carries a name unique to the job (`tag_name`), so a finished one shows up in
`GET /api/videos`; it is then tracked and delivered like any other result. One list call
every interval, and only while such videos may still appear (until their timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable

from bot.jobs.job_requests import AudioVideoRequest, JobRequest, TextVideoRequest
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.pacing import PRIORITY
from bot.jobs.store import Store
from bot.miraflow import MiraflowClient, MiraflowError

log = logging.getLogger(__name__)

LOOK_INTERVAL = 60.0  # seconds (on the schedule's clock) between two looks


def tag_name(request: JobRequest) -> JobRequest:
    """A video request whose name is unique to its job, so the video can be found by it."""
    if isinstance(request, TextVideoRequest | AudioVideoRequest):
        tag = f"#{secrets.token_hex(4)}"
        return dataclasses.replace(request, name=f"{request.name} {tag}".strip())
    return request


class UnclearVideos:
    def __init__(
        self,
        store: Store,
        client: MiraflowClient,
        wake_poller: Callable[[], None],
        *,
        video_timeout: float,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._wake_poller = wake_poller
        self._video_timeout = video_timeout
        self._speed = speed
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="unclear-videos")

    def wake(self) -> None:
        """A video's create call was just unclear: look for it from now on."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _looked_for(self) -> list[Job]:
        oldest = self._clock() - self._video_timeout / self._speed
        return [
            job
            for job in self._store.jobs_in_states([JobState.UNKNOWN])
            if job.kind is JobKind.VIDEO
            and job.miraflow_job_id is None
            and job.created_at >= oldest
            and isinstance(job.request, TextVideoRequest | AudioVideoRequest)
        ]

    async def _run(self) -> None:
        PRIORITY.set("poll")  # a background call: waits out an outage at the pacer
        while True:
            self._wake.clear()
            try:
                wanted = self._looked_for()
                if wanted:
                    await self.look(wanted)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking for unclear videos failed; going on")
            wait = LOOK_INTERVAL / self._speed if wanted else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def look(self, wanted: list[Job]) -> None:
        """One `GET /api/videos`: each wanted job whose video is there becomes complete."""
        try:
            videos = await self._client.list_videos()
        except MiraflowError as exc:
            log.info("looking for unclear videos: %s", exc)
            return
        by_name = {video.name: video for video in videos if video.name}
        for job in wanted:
            assert isinstance(job.request, TextVideoRequest | AudioVideoRequest)
            video = by_name.get(job.request.name)
            if video is None:
                continue
            found = self._store.set_state(
                job.id,
                JobState.COMPLETE,
                only_from={JobState.UNKNOWN},
                miraflow_job_id=video.id,
                submitted_at=job.created_at,
            )
            if found is not None:
                log.info("job %s: its unclear video was made after all (%s)", job.id, video.id)
                self._wake_poller()
