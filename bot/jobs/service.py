"""Starting a job: quotas, uploads, the row first, then the single create call; cancelling;
and what to do at start-up with jobs a stop interrupted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from bot.jobs.clients import Clients, OneClient
from bot.jobs.create_calls import send_create
from bot.jobs.errors import (
    CreateRefused,
    DailyLimitReached,
    NotCancellable,
    NothingToRepeat,
    NotYourJob,
    OutcomeUnknown,
    ServerDailyLimitReached,
    TooManyActive,
)
from bot.jobs.frontend import Frontend, Notice, Outcome
from bot.jobs.job_requests import (
    FoundVideo,
    JobRequest,
    UnreadableRequest,
    kind_of,
    random_seed,
    with_seed,
)
from bot.jobs.models import CANCELLABLE_STATES, Job, JobKind, JobSource, JobState
from bot.jobs.schedule import Schedule
from bot.jobs.store import Store
from bot.jobs.unclear import tag_name
from bot.miraflow import (
    MiraflowClient,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    ServerError,
)
from bot.settings import IMAGE_TIMEOUT_DEFAULT, VIDEO_TIMEOUT_DEFAULT

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60
# Memory stays bounded whatever the number of requests with files (/edit, Edit image, Vary,
# /speak with audio): only FILE_SLOTS of them hold their files at once (read, decoded off the
# event loop, uploaded); the others wait, already deferred. One decode of the largest picture
# and mask peaks near 200 MB; two at once would pass 300 MB (bench/edit_memory.py).
FILE_SLOTS = 1


@dataclass(frozen=True, slots=True)
class Quotas:
    max_active: int = 3
    max_per_day: int = 25
    server_per_day: int = 0  # jobs a day on one server, all members together; 0: no cap


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asked, where the result goes, and the largest file that place accepts."""

    user_id: int
    channel_id: int
    guild_id: int | None
    upload_limit: int
    # Delivered by DM: `channel_id` is the DM, this the server channel it was asked in.
    asked_channel_id: int | None = None


class MediaFile(Protocol):
    """A checked file to upload to Miraflow before the create call."""

    @property
    def data(self) -> bytes: ...
    @property
    def file_name(self) -> str: ...
    @property
    def content_type(self) -> str: ...


ReadFiles = Callable[[], Awaitable[Sequence[MediaFile]]]
WithMedia = Callable[[list[str]], JobRequest]


class JobService:
    def __init__(
        self,
        store: Store,
        client: MiraflowClient,
        frontend: Frontend,
        *,
        quotas: Quotas,
        wake_poller: Callable[[], None],
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        quotas_for: Callable[[int | None], Quotas] | None = None,
        image_timeout: float = IMAGE_TIMEOUT_DEFAULT,
        video_timeout: float = VIDEO_TIMEOUT_DEFAULT,
        look_for_unclear: Callable[[], None] = lambda: None,
        clients: Clients | None = None,
        file_slot: AbstractAsyncContextManager[object] | None = None,
        first_poll: Callable[[JobKind, MiraflowClient], float] | None = None,
    ) -> None:
        self.store = store
        # A server with its own Miraflow key has its own client: uploads and create calls
        # go through the client of the job's server.
        self._clients = clients or OneClient(client)
        self._frontend = frontend
        self._quotas = quotas
        self._wake_poller = wake_poller
        self._schedule = schedule or Schedule()
        # Seconds from a create call to the first poll (the poller's: it knows each key's
        # spacing), else the schedule's.
        self._first_poll = first_poll or (lambda kind, _client: self._schedule.first(kind))
        self._clock = clock
        self._quotas_for = quotas_for  # a server's own limits (`/settings limits`)
        self._image_timeout = image_timeout
        self._video_timeout = video_timeout
        self._look_for_unclear = look_for_unclear  # an unclear video may yet be found
        # Held from the read of a request's files to its last upload (see FILE_SLOTS).
        self._file_slot = file_slot or asyncio.Semaphore(FILE_SLOTS)

    def check_quota(self, user_id: int, guild_id: int | None = None) -> None:
        """Raise TooManyActive, DailyLimitReached or ServerDailyLimitReached when the user
        may not start a job now (on server `guild_id`, whose own limits apply)."""
        quotas = self._quotas_for(guild_id) if self._quotas_for else self._quotas
        active = self.store.active_count(user_id, self._clock())
        if active >= quotas.max_active:
            raise TooManyActive(active, quotas.max_active)
        since = self._clock() - DAY
        today = self.store.count_since(user_id, since)
        if today >= quotas.max_per_day:
            raise DailyLimitReached(quotas.max_per_day)
        if (
            guild_id is not None
            and quotas.server_per_day
            and self.store.count_guild_since(guild_id, since) >= quotas.server_per_day
        ):
            raise ServerDailyLimitReached(quotas.server_per_day)

    async def start(
        self, origin: Origin, request: JobRequest, *, source: JobSource = JobSource.COMMAND
    ) -> Job:
        """Submit `request` (its quotas are checked there)."""
        return await self.submit(origin, request, source=source)

    async def start_with_files(
        self,
        origin: Origin,
        read_files: ReadFiles,
        with_media: WithMedia,
    ) -> Job:
        """Check the quotas, then (so a user over them costs nothing) read the files, upload
        them, and submit the request `with_media` makes of their Miraflow media ids.

        The service's file slot is held from the read to the last upload, so that only
        FILE_SLOTS requests hold their files in memory at once, whichever command sent them.
        """
        self.check_quota(origin.user_id, origin.guild_id)
        async with self._file_slot:
            media_ids = await self._read_and_upload(read_files, origin.guild_id)
        return await self.submit(origin, with_media(media_ids))

    async def _read_and_upload(self, read_files: ReadFiles, guild_id: int | None) -> list[str]:
        files = await read_files()
        client = self._clients.for_guild(guild_id)  # media belong to the key's account
        return [await client.upload_media(f.data, f.file_name, f.content_type) for f in files]

    async def reroll(self, origin: Origin, job_id: int) -> Job:
        """The same request as job `job_id` with a new seed, as a new job of `origin`."""
        original = self.store.get(job_id)
        if original is None or not original.source.costs_credit:
            raise NothingToRepeat(job_id)
        if isinstance(original.request, FoundVideo | UnreadableRequest):
            raise NothingToRepeat(job_id)
        request = with_seed(original.request, random_seed())
        return await self.start(origin, request, source=JobSource.REROLL)

    async def submit(
        self, origin: Origin, request: JobRequest, *, source: JobSource = JobSource.COMMAND
    ) -> Job:
        """Check the quotas, write the job's row, then send its create call exactly once.

        Nothing awaits between the check and the row: requests that waited for the file
        slot or their uploads cannot together pass a limit each of them was under.
        """
        request = tag_name(request)  # so that an unclear video can be found by its name
        self.check_quota(origin.user_id, origin.guild_id)
        job = self.store.create_job(
            kind=kind_of(request),
            user_id=origin.user_id,
            channel_id=origin.channel_id,
            guild_id=origin.guild_id,
            request=request,
            source=source,
            upload_limit=origin.upload_limit,
            now=self._clock(),
            asked_channel_id=origin.asked_channel_id,
        )
        try:
            client = self._clients.for_guild(origin.guild_id)
            created = await send_create(client, request)
        except MiraflowConnectionError as exc:
            if not exc.request_sent:  # no connection was ever opened: nothing was created
                self._refuse(job, exc)
                raise CreateRefused(job.id, exc) from exc
            self._mark_unknown(job, exc)
            raise OutcomeUnknown(job.id) from exc
        except (MiraflowTimeoutError, ServerError) as exc:
            # The request may have reached Miraflow (a gateway's 502/504 says nothing of
            # what happened behind it): never resend it.
            self._mark_unknown(job, exc)
            raise OutcomeUnknown(job.id) from exc
        except MiraflowError as exc:  # a 4xx or 429: Miraflow made nothing
            self._refuse(job, exc)
            raise CreateRefused(job.id, exc) from exc
        except BaseException as exc:
            self._mark_unknown(job, exc)
            raise
        now = self._clock()
        first_poll_at = now + self._first_poll(job.kind, client)
        submitted = self.store.mark_submitted(job.id, created.job_id, first_poll_at, now=now)
        log.info("job %s submitted as Miraflow job %s", job.id, created.job_id)
        self._wake_poller()
        assert submitted is not None
        return submitted

    def _refuse(self, job: Job, exc: MiraflowError) -> None:
        notice = Notice(Outcome.REFUSED, error=exc)
        self.store.set_state(job.id, JobState.FAILED, error=self._frontend.words(notice))

    def _mark_unknown(self, job: Job, exc: BaseException) -> None:
        log.warning("job %s: create call outcome unknown: %r", job.id, exc)
        error = self._frontend.words(Notice(Outcome.OUTCOME_UNKNOWN))
        self.store.set_state(job.id, JobState.UNKNOWN, error=error)
        if job.kind.makes_video:
            self._look_for_unclear()

    def adopt_finished(self, origin: Origin, miraflow_job_id: str, request: FoundVideo) -> Job:
        """Track a video Miraflow has already finished (from `/videos get`): no create call,
        no credit; the poller delivers it like any other result."""
        now = self._clock()
        job = self.store.create_job(
            kind=kind_of(request),
            user_id=origin.user_id,
            channel_id=origin.channel_id,
            guild_id=origin.guild_id,
            request=request,
            source=JobSource.VIDEOS_GET,
            upload_limit=origin.upload_limit,
            now=now,
        )
        self.store.mark_submitted(job.id, miraflow_job_id, next_poll_at=now, now=now)
        adopted = self.store.set_state(job.id, JobState.COMPLETE, only_from={JobState.QUEUED})
        self._wake_poller()
        assert adopted is not None
        return adopted

    def cancel(self, job_id: int, user_id: int) -> Job:
        """Stop tracking one of the user's pending jobs; nothing will be posted for it."""
        job = self.store.get(job_id)
        if job is None or job.user_id != user_id:
            raise NotYourJob(job_id)
        cancelled = self.store.set_state(
            job_id,
            JobState.CANCELLED,
            error=self._frontend.words(Notice(Outcome.CANCELLED)),
            only_from=CANCELLABLE_STATES,
            # Miraflow goes on with it: it counts toward the user's active jobs until then.
            next_poll_at=self._expected_end(job),
        )
        if cancelled is None:
            raise NotCancellable(job_id, job.state)
        return cancelled

    def _expected_end(self, job: Job) -> float:
        """When Miraflow would finish `job`: from its progress, else at its timeout."""
        now = self._clock()
        if job.state is JobState.COMPLETE:
            return now
        speed = self._schedule.speed
        started = job.started_at
        left = self._schedule.expected_left(job.kind, job.progress, now - started)
        if left is None:
            timeout = self._video_timeout if job.kind.makes_video else self._image_timeout
            return started + timeout / speed
        return now + left

    async def recover_interrupted(self, submitted_before: float | None = None) -> None:
        """A row still `submitting` at start means the bot stopped during its create call.
        It may or may not have reached Miraflow: never resend it, tell the requester.
        On a store shared with other processes (checked now and then, not only at start)
        only rows older than `submitted_before` are interrupted: a younger one may be another
        process's call under way; and a row another process marked first is its to tell."""
        notice = Notice(Outcome.INTERRUPTED)
        for job in self.store.jobs_in_states([JobState.SUBMITTING]):
            if submitted_before is not None and job.created_at >= submitted_before:
                continue
            marked = self.store.set_state(
                job.id,
                JobState.UNKNOWN,
                error=self._frontend.words(notice),
                only_from={JobState.SUBMITTING},
            )
            if marked is None and submitted_before is not None:
                continue
            log.warning("job %s was interrupted during its create call; marked unknown", job.id)
            await self._frontend.notify(marked or job, notice)
        pending = self.store.pending_count()
        if pending:
            log.info("resuming %d pending jobs", pending)
