"""Finds the videos whose create call had an unclear answer (a 5xx, a dropped connection).

Such a job is `unknown`: never resent, since Miraflow may have made it and spent the credit.
Its video carries a name unique to the job (`tag_name`), so a finished one shows up in
`GET /api/videos` of the account that made it: the job's server's key (`Clients`); it is
then tracked and delivered like any other result. One list call per key every interval, and
only while such videos may still appear (until their timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Callable

from bot.jobs.clients import Clients
from bot.jobs.job_requests import AudioVideoRequest, JobRequest, TextVideoRequest
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.pacing import PRIORITY
from bot.jobs.store import Store
from bot.miraflow import MiraflowClient, MiraflowError

log = logging.getLogger(__name__)

LOOK_INTERVAL = 60.0  # seconds (on the schedule's clock) between two looks


# The tag `tag_name` ends a name with; a Re-roll's request still carries its original's.
_TAG = re.compile(r"\s*#[0-9a-f]{8}$")


def tag_name(request: JobRequest) -> JobRequest:
    """A video request whose name is unique to its job, so the video can be found by it
    (an earlier job's tag replaced, so that re-rolled names do not grow)."""
    if isinstance(request, TextVideoRequest | AudioVideoRequest):
        tag = f"#{secrets.token_hex(4)}"
        name = _TAG.sub("", request.name)
        return dataclasses.replace(request, name=f"{name} {tag}".strip())
    return request


class UnclearVideos:
    def __init__(
        self,
        store: Store,
        clients: Clients,
        wake_poller: Callable[[], None],
        *,
        video_timeout: float,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clients = clients
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
        """One `GET /api/videos` per key: each wanted job whose video is in its own server's
        account's list becomes complete."""
        by_client: dict[MiraflowClient, list[Job]] = {}
        for job in wanted:
            try:
                client = self._clients.for_guild(job.guild_id)
            except MiraflowError as exc:  # its key cannot be used now: looked for later
                log.info("job %s: not looking for its unclear video: %s", job.id, exc)
                continue
            by_client.setdefault(client, []).append(job)
        for client, jobs in by_client.items():
            await self._look_in(client, jobs)

    async def _look_in(self, client: MiraflowClient, wanted: list[Job]) -> None:
        try:
            videos = await client.list_videos()
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
