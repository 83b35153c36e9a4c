"""The one background task that follows every pending job until it is delivered.

Each job carries its own `next_poll_at` in the store. The loop hands each due job to a
task of its own (a job stays due until its handling sets a new time, so a crash mid-poll
leaves it due at the next start), with a cap on calls in flight and on calls per second,
and sleeps until the next one is due or until a new job or a finished task wakes it. No
error of one job or one call stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs.delivery import Delivery
from bot.jobs.estimate import MAX_READINGS, Reading
from bot.jobs.models import Job, JobState
from bot.jobs.pacing import PRIORITY, RETRY_AFTER_CAP, Pacer
from bot.jobs.requests import fetch_status
from bot.jobs.schedule import Schedule
from bot.jobs.status import StatusBoard
from bot.jobs.store import JobStore
from bot.jobs.sweep import VideoSweep
from bot.miraflow import (
    AuthenticationError,
    JobStatus,
    MiraflowClient,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from bot.ui.progress import KIND_LABELS

log = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0
MAX_NOT_FOUND = 3
MAX_DELIVERY_ATTEMPTS = 8
WAITING = frozenset({JobState.QUEUED, JobState.WORKING})
# A job whose status call failed for a passing reason (the pacer waits out outages) is asked
# again within this many seconds, not after a backoff of its own.
TRANSIENT = (MiraflowConnectionError, MiraflowTimeoutError, ServerError, RateLimitedError)
TRANSIENT_RETRY_CAP = 5.0
MAX_TRACKED = 1000  # readings of more jobs than this: forget those no longer waiting


@dataclass(frozen=True, slots=True)
class PollerConfig:
    calls_per_second: float = 10.0
    max_in_flight: int = 8
    image_timeout: float = 1800.0
    video_timeout: float = 7200.0
    schedule: Schedule = Schedule()


class Poller:
    def __init__(
        self,
        store: JobStore,
        client: MiraflowClient,
        delivery: Delivery,
        status: StatusBoard,
        config: PollerConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._delivery = delivery
        self._status = status
        self._config = config
        self._clock = clock
        self._pacer = Pacer(config.calls_per_second, config.schedule.speed)
        client.pace_with(self._pacer)
        self._readings: dict[int, list[Reading]] = {}
        self._learned_from_store = False
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._paused_until = 0.0
        self._sweep = VideoSweep(store, client, config.schedule, clock)
        self._sweep_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name="miraflow-poller")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling; give polls and deliveries under way `grace` seconds to finish."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch_due()
                await self._sleep_until_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poller loop error; going on")
                await asyncio.sleep(1.0)

    def _learn_if_due(self) -> None:
        if not self._learned_from_store:  # a start; the jobs finished from now on do better
            self._learned_from_store = True
            for videos in (False, True):
                self._config.schedule.learn(videos, self._store.recent_durations(videos))
        if len(self._readings) > MAX_TRACKED:
            waiting = {job.id for job in self._store.jobs_in_states(WAITING)}
            for job_id in [j for j in self._readings if j not in waiting]:
                del self._readings[job_id]

    async def _dispatch_due(self) -> None:
        self._learn_if_due()
        if self._clock() >= self._paused_until:
            self._start_sweep_if_due()
        while True:
            now = self._clock()
            if now < self._paused_until:
                return
            free = self._config.max_in_flight - len(self._running)
            if free <= 0:
                return
            # Jobs being handled stay due until their handling sets a new time, so ask for
            # enough rows to see past them.
            candidates = self._store.due_jobs(now, limit=free + len(self._running))
            due = [job for job in candidates if job.id not in self._running][:free]
            if not due:
                return
            for job in due:
                self._start_handling(job)

    def _start_handling(self, job: Job) -> None:
        self._running[job.id] = asyncio.create_task(
            self._handle(job), name=f"miraflow-job-{job.id}"
        )

    def _start_sweep_if_due(self) -> None:
        idle = self._sweep_task is None or self._sweep_task.done()
        if idle and self._sweep.due():
            self._sweep_task = asyncio.create_task(self._run_sweep(), name="video-sweep")

    async def _run_sweep(self) -> None:
        PRIORITY.set("poll")
        try:
            finished = await self._sweep.run()
        except MiraflowError as exc:
            log.info("video sweep failed: %s", exc)
            return
        for job in finished:
            self._finished(job, complete=True)
            if job.id not in self._running:  # else it is still due once its poll ends
                self._start_handling(job)

    def _finished(self, job: Job, *, complete: bool) -> None:
        """Forget a job's readings; a complete job teaches the schedule of its kind."""
        readings = self._readings.pop(job.id, [])
        if complete:
            took = self._clock() - (job.submitted_at or job.created_at)
            self._config.schedule.learn_finished(job.kind, readings, took)

    async def _sleep_until_due(self) -> None:
        self._wake.clear()
        now = self._clock()
        wait = MAX_IDLE_WAIT
        if len(self._running) < self._config.max_in_flight:
            next_at = self._store.next_due_at(excluding=self._running) or now + MAX_IDLE_WAIT
            if self._sweep.next_at is not None:
                next_at = min(next_at, self._sweep.next_at)
            next_at = max(next_at, self._paused_until)
            wait = min(max(next_at - now, 0.0), MAX_IDLE_WAIT)
        if wait <= 0:
            await asyncio.sleep(0)  # never spin without letting the jobs in flight run
            return
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, which would leave stop() waiting for a minute.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    async def _handle(self, job: Job) -> None:
        try:
            if job.state is JobState.COMPLETE:
                await self._deliver(job, None)
            elif self._expired(job):
                await self._expire(job)
            else:
                await self._poll(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: unexpected error; trying again later", job.id)
            self._reschedule_after_error(job, None)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    # -- one job -----------------------------------------------------------------------

    def _expired(self, job: Job) -> bool:
        timeout = self._config.video_timeout if job.kind.makes_video else self._config.image_timeout
        started = job.submitted_at or job.created_at
        return self._config.schedule.timed_out(self._clock() - started, timeout)

    async def _expire(self, job: Job) -> None:
        error = "Miraflow took too long, so I stopped waiting for it. Please try again."
        if self._store.set_state(job.id, JobState.EXPIRED, error=error, only_from=WAITING):
            log.info("job %s expired", job.id)
            await self._tell(
                job, f"your {KIND_LABELS[job.kind]} (job #{job.id}) timed out. Please try again."
            )

    async def _poll(self, job: Job) -> None:
        PRIORITY.set("progress" if job.kind.makes_video and self._sweep.active else "poll")
        try:
            status = await fetch_status(self._client, job)
        except MiraflowError as exc:
            await self._on_poll_error(job, exc)
            return
        polls = job.polls + 1
        if status.failed or status.complete:
            self._finished(job, complete=status.complete)
        if status.failed:
            await self._fail(job, status, polls)
        elif status.complete:
            if self._store.set_state(job.id, JobState.COMPLETE, only_from=WAITING):
                self._store.update(job.id, progress=100, polls=polls, attempts=0)
                refreshed = self._store.get(job.id)
                if refreshed is not None:
                    await self._deliver(refreshed, status)
        else:
            await self._progress(job, status, polls)

    async def _progress(self, job: Job, status: JobStatus, polls: int) -> None:
        now = self._clock()
        state = JobState.QUEUED if status.status == "inference_started" else JobState.WORKING
        if not self._store.set_state(job.id, state, only_from=WAITING):
            return  # cancelled while we asked
        progress = status.progress if status.progress is not None else job.progress
        elapsed = now - (job.submitted_at or job.created_at)
        readings = self._readings.setdefault(job.id, [])
        readings.append(Reading(elapsed, status.progress))
        del readings[:-MAX_READINGS]
        delay = self._config.schedule.next(job.kind, readings)
        if job.kind.makes_video and self._sweep.active:
            delay = max(delay, self._config.schedule.swept_video())
        self._store.update(
            job.id, progress=progress, polls=polls, attempts=0, next_poll_at=now + delay
        )
        refreshed = self._store.get(job.id)
        if refreshed is not None:
            await self._status.refresh(refreshed)

    async def _fail(self, job: Job, status: JobStatus, polls: int) -> None:
        reason = status.message or "Miraflow could not finish it"
        error = f"Miraflow failed: {reason}. Try again, perhaps with other words."
        if self._store.set_state(job.id, JobState.FAILED, error=error, only_from=WAITING):
            self._store.update(job.id, polls=polls)
            log.info("job %s failed at Miraflow: %s", job.id, status.status)
            await self._tell(
                job,
                f"sorry, Miraflow could not make your {KIND_LABELS[job.kind]} "
                f"(job #{job.id}): {reason}. Please try again.",
            )

    async def _on_poll_error(self, job: Job, exc: MiraflowError) -> None:
        if isinstance(exc, NotFoundError) and job.attempts + 1 >= MAX_NOT_FOUND:
            error = "Miraflow no longer knows this job."
            if self._store.set_state(job.id, JobState.FAILED, error=error, only_from=WAITING):
                await self._tell(job, f"sorry, Miraflow lost job #{job.id}. Please try again.")
            return
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            retry_after = min(retry_after, RETRY_AFTER_CAP)
        if isinstance(exc, RateLimitedError) and retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
        level = logging.ERROR if isinstance(exc, AuthenticationError) else logging.INFO
        log.log(level, "job %s: status call failed: %s", job.id, exc)
        self._reschedule_after_error(job, retry_after, transient=isinstance(exc, TRANSIENT))

    def _reschedule_after_error(
        self, job: Job, retry_after: float | None, *, transient: bool = False
    ) -> None:
        attempts = job.attempts + 1
        delay = self._config.schedule.backoff(attempts, retry_after)
        if transient:
            delay = min(
                delay, max(TRANSIENT_RETRY_CAP / self._config.schedule.speed, retry_after or 0)
            )
        self._store.update(job.id, attempts=attempts, next_poll_at=self._clock() + delay)

    async def _deliver(self, job: Job, status: JobStatus | None) -> None:
        try:
            await self._delivery.deliver(job, status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = job.attempts + 1
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                error = "The result could not be fetched or posted; please ask again."
                self._store.set_state(
                    job.id, JobState.FAILED, error=error, only_from={JobState.COMPLETE}
                )
                log.error("job %s: delivery failed for good", job.id, exc_info=exc)
                return
            log.warning("job %s: delivery attempt %s failed: %s", job.id, attempts, exc)
            self._reschedule_after_error(job, None)

    async def _tell(self, job: Job, text: str) -> None:
        final = self._store.get(job.id)
        if final is not None:
            await self._status.refresh(final, force=True)
        await self._status.tell_requester(job, text)
