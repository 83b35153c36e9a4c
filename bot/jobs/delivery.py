"""One delivery path for every kind of result: fetch it, have it posted once, record it.

Exactly once: the front end posts the result with the job's own message nonce (Discord then
answers a repeated post with the message it already made), and the job stays `complete`
until the post is confirmed. A crash between the two makes the next attempt find the same
message instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.jobs.clients import Clients, OneClient
from bot.jobs.frontend import Frontend, Notice, Outcome, Posted, ResultFile
from bot.jobs.models import Job, JobState
from bot.jobs.store import Store
from bot.metrics import metrics
from bot.miraflow import FileTooLargeError, JobStatus, MiraflowClient

log = logging.getLogger(__name__)


class _NoLongerWanted(Exception):
    """Cancelled while its result was downloading: nothing to post or record."""


class NoUsableResult(Exception):
    """Miraflow says the job is complete but gives nothing to fetch: asking again will not
    help, so the job fails at once and its requester is told."""


class Delivery:
    def __init__(
        self,
        store: Store,
        client: MiraflowClient,
        frontend: Frontend,
        clients: Clients | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clients = clients or OneClient(client)  # the client of a job's server
        self._frontend = frontend
        # Where downloads go; `miraflow-bot run` points it at the store's own temp folder,
        # which it empties at start (None: the system's).
        self.temp_dir: Path | None = None
        self._started_at = clock()
        self._tried_posting: set[int] = set()
        # Posts made whose record the store refused (disk full, read-only), by job id.
        self._unrecorded: dict[int, Posted | None] = {}

    async def deliver(self, job: Job, status: JobStatus | None = None) -> None:
        """Post a complete job's result. Transient failures raise, for the poller to retry."""
        current = self._store.get(job.id)
        if current is None or current.state is not JobState.COMPLETE:
            self._unrecorded.pop(job.id, None)
            return  # cancelled meanwhile, or delivered by an earlier attempt
        if job.id in self._unrecorded:
            # Posted by an earlier attempt whose record could not be written (the store
            # was failing): record that post, never make a second one.
            final = self._record(job.id, self._unrecorded[job.id])
            posted = self._unrecorded.pop(job.id)
        else:
            # Made and removed off the event loop: deleting a 200 MB video takes ~20 ms.
            made = await asyncio.to_thread(tempfile.mkdtemp, prefix="miraflow-", dir=self.temp_dir)
            try:
                try:
                    posted = await self._post_once(current, status, Path(made))
                except _NoLongerWanted:
                    return
                self._unrecorded[job.id] = posted
                # At once (the folder can wait): the sooner, the smaller a crash's window.
                final = self._record(job.id, posted)
                del self._unrecorded[job.id]
            finally:
                await asyncio.to_thread(shutil.rmtree, made, True)
        self._tried_posting.discard(job.id)
        if posted is None and final is not None:
            await self._frontend.notify(final, Notice(Outcome.POSTED_NOWHERE))
        if final is not None:
            if final.delivered_at is not None and final.completed_at is not None:
                metrics.delivery_lag(final.delivered_at - final.completed_at)
            await self._frontend.show_status(final, force=True)

    async def _post_once(self, job: Job, status: JobStatus | None, folder: Path) -> Posted | None:
        """Fetch and post the result, unless an earlier post of it is found."""
        if self._may_have_posted(job):
            found = await self._frontend.find_posted(job)
            if found is not None:
                log.info("job %s: its result was already posted (message %s)", job.id, found)
                return found
        result = await self._fetch(job, status, folder)
        if not self._still_wanted(job.id):
            raise _NoLongerWanted
        self._tried_posting.add(job.id)
        return await self._frontend.post_result(job, result, lambda: self._fresh_link(job))

    def _may_have_posted(self, job: Job) -> bool:
        """A post of this result may exist: an earlier attempt of this process sent one, or
        the job completed before this process started (a crash may have come after the
        post, and Discord's nonce memory lasts only minutes)."""
        if job.id in self._tried_posting:
            return True
        return job.completed_at is None or job.completed_at < self._started_at

    def _record(self, job_id: int, posted: Posted | None) -> Job | None:
        if posted is None:
            log.warning("job %s: result posted nowhere", job_id)
            return self._store.set_state(
                job_id,
                JobState.FAILED,
                error=self._frontend.words(Notice(Outcome.POSTED_NOWHERE)),
                only_from={JobState.COMPLETE},
            )
        log.info("job %s delivered as message %s", job_id, posted.message_id)
        delivered = self._store.set_state(
            job_id,
            JobState.DELIVERED,
            only_from={JobState.COMPLETE},
            result_message_id=posted.message_id,
            result_channel_id=posted.channel_id,
        )
        # Cancelled while it was being posted: the message exists all the same.
        return delivered or self._store.update(
            job_id, result_message_id=posted.message_id, result_channel_id=posted.channel_id
        )

    def _still_wanted(self, job_id: int) -> bool:
        current = self._store.get(job_id)
        return current is not None and current.state is JobState.COMPLETE

    # -- fetching --------------------------------------------------------------------

    async def _fetch(self, job: Job, status: JobStatus | None, folder: Path) -> ResultFile:
        assert job.miraflow_job_id is not None
        if job.kind.makes_video:
            filename = f"miraflow-video-{job.id}.mp4"
            dest = folder / filename
            try:
                size = await self._clients.for_guild(job.guild_id).download_video(
                    job.miraflow_job_id, dest, max_bytes=job.upload_limit
                )
            except FileTooLargeError:
                return ResultFile(None, filename, link=await self._fresh_link(job))
            return ResultFile(dest, filename, size=size)
        url = await self._image_url(job, status)
        filename = f"miraflow-{job.kind.value}-{job.id}{_image_suffix(url)}"
        dest = folder / filename
        try:
            client = self._clients.for_guild(job.guild_id)
            size = await client.download(url, dest, max_bytes=job.upload_limit)
        except FileTooLargeError:
            return ResultFile(None, filename, link=url)
        return ResultFile(dest, filename, size=size)

    async def _image_url(self, job: Job, status: JobStatus | None) -> str:
        if status is None or status.image is None or not status.image.download_url:
            assert job.miraflow_job_id is not None
            status = await self._clients.for_guild(job.guild_id).image_job(job.miraflow_job_id)
        if status.image is None or not status.image.download_url:
            raise NoUsableResult(f"job {job.id}: Miraflow gave no download URL")
        return status.image.download_url

    async def _fresh_link(self, job: Job) -> str:
        """A download URL fetched now, so it is valid for as long as possible."""
        assert job.miraflow_job_id is not None
        if job.kind.makes_video:
            video = await self._clients.for_guild(job.guild_id).get_video(job.miraflow_job_id)
            if not video.download_url:
                raise NoUsableResult(f"job {job.id}: Miraflow gave no video download URL")
            return video.download_url
        return await self._image_url(job, None)


def _image_suffix(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for suffix in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
        if path.endswith(suffix):
            return suffix
    return ".png"
