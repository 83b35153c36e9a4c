"""One delivery path for every kind of result: fetch it, post it once, record it.

Exactly once: the result is posted with the job's own message nonce (Discord then
answers a repeated post with the message it already made), and the job stays
`complete` until the post is confirmed. A crash between the two makes the next
attempt find the same message instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import discord

from bot.jobs.models import Job, JobState
from bot.jobs.status import StatusBoard, mention_only
from bot.jobs.store import JobStore
from bot.metrics import metrics
from bot.miraflow import FileTooLargeError, JobStatus, MiraflowClient
from bot.ui.buttons import result_view
from bot.ui.progress import KIND_LABELS
from bot.ui.results import result_embed

log = logging.getLogger(__name__)

PAYLOAD_TOO_LARGE = 40005
MIB = 1024 * 1024


@dataclass(slots=True)
class ResultFile:
    """A fetched result: a local file to upload, or a link when it is too large."""

    path: Path | None
    filename: str
    link: str | None = None
    size: int | None = None


class DeliveryFailed(Exception):
    """The result can be posted neither in the channel nor by DM."""


class Delivery:
    def __init__(
        self, bot: discord.Client, store: JobStore, client: MiraflowClient, status: StatusBoard
    ) -> None:
        self._bot = bot
        self._store = store
        self._client = client
        self._status = status

    async def deliver(self, job: Job, status: JobStatus | None = None) -> None:
        """Post a complete job's result. Transient failures raise, for the poller to retry."""
        current = self._store.get(job.id)
        if current is None or not self._still_wanted(job.id):
            return  # cancelled meanwhile, or delivered by an earlier attempt
        # Made and removed off the event loop: deleting a 200 MB video takes ~20 ms.
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="miraflow-"))
        try:
            result = await self._fetch(current, status, folder)
            if not self._still_wanted(job.id):
                return  # cancelled while the result was downloading
            message = await self._post(current, result)
            self._record(job.id, message)  # at once: the sooner, the smaller a crash's window
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        final = self._store.get(job.id)
        if final is not None:
            if final.delivered_at is not None and final.completed_at is not None:
                metrics.delivery_lag(final.delivered_at - final.completed_at)
            await self._status.refresh(final, force=True)

    def _record(self, job_id: int, message: discord.Message | None) -> None:
        if message is None:
            self._store.set_state(
                job_id,
                JobState.FAILED,
                error="The result could not be posted in its channel nor sent by DM.",
                only_from={JobState.COMPLETE},
            )
            log.warning("job %s: result posted nowhere", job_id)
        else:
            self._store.update(
                job_id, result_message_id=message.id, result_channel_id=message.channel.id
            )
            self._store.set_state(job_id, JobState.DELIVERED, only_from={JobState.COMPLETE})
            log.info("job %s delivered as message %s", job_id, message.id)

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
                size = await self._client.download_video(
                    job.miraflow_job_id, dest, max_bytes=job.upload_limit
                )
            except FileTooLargeError:
                return ResultFile(None, filename, link=await self._fresh_link(job))
            return ResultFile(dest, filename, size=size)
        url = await self._image_url(job, status)
        filename = f"miraflow-{job.kind.value}-{job.id}{_image_suffix(url)}"
        dest = folder / filename
        try:
            size = await self._client.download(url, dest, max_bytes=job.upload_limit)
        except FileTooLargeError:
            return ResultFile(None, filename, link=url)
        return ResultFile(dest, filename, size=size)

    async def _image_url(self, job: Job, status: JobStatus | None) -> str:
        if status is None or status.image is None or not status.image.download_url:
            assert job.miraflow_job_id is not None
            status = await self._client.image_job(job.miraflow_job_id)
        if status.image is None or not status.image.download_url:
            raise RuntimeError(f"job {job.id}: Miraflow gave no download URL")
        return status.image.download_url

    async def _fresh_link(self, job: Job) -> str:
        """A download URL fetched now, so it is valid for as long as possible."""
        assert job.miraflow_job_id is not None
        if job.kind.makes_video:
            video = await self._client.get_video(job.miraflow_job_id)
            if not video.download_url:
                raise RuntimeError(f"job {job.id}: Miraflow gave no video download URL")
            return video.download_url
        return await self._image_url(job, None)

    # -- posting ---------------------------------------------------------------------

    def _content(self, job: Job, result: ResultFile) -> str:
        what = KIND_LABELS[job.kind]
        text = f"<@{job.user_id}> your {what} is ready."
        if result.link:
            text += (
                f"\nIt is too large to upload here, so here is a download link "
                f"(valid for about 24 hours): {result.link}"
            )
        return text

    async def _send(
        self, channel: discord.abc.Messageable, job: Job, result: ResultFile
    ) -> discord.Message:
        # A discord.File is spent by a send, even a failed one: make a new one each time.
        file = discord.File(result.path, filename=result.filename) if result.path else None
        return await channel.send(
            self._content(job, result),
            embed=result_embed(job),
            file=file or discord.utils.MISSING,
            view=result_view(job),
            nonce=job.nonce,
            allowed_mentions=mention_only(job.user_id),
        )

    async def _send_or_link(
        self, channel: discord.abc.Messageable, job: Job, result: ResultFile
    ) -> discord.Message:
        try:
            return await self._send(channel, job, result)
        except discord.HTTPException as exc:
            if exc.status != 413 and exc.code != PAYLOAD_TOO_LARGE:
                raise
        log.info("job %s: file refused as too large, posting a link", job.id)
        linked = ResultFile(None, result.filename, link=await self._fresh_link(job))
        return await self._send(channel, job, linked)

    async def _post(self, job: Job, result: ResultFile) -> discord.Message | None:
        channel = self._status.channel(job)
        try:
            return await self._send_or_link(channel, job, result)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info(
                "job %s: channel %s refused the result (%s), trying a DM",
                job.id,
                job.channel_id,
                exc,
            )
        try:
            dm = await self._bot.create_dm(discord.Object(job.user_id))
            return await self._send_or_link(dm, job, result)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("job %s: DM refused too: %s", job.id, exc)
            return None


def _image_suffix(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for suffix in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
        if path.endswith(suffix):
            return suffix
    return ".png"
