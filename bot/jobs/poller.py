"""The one background task that follows every pending job until it is delivered.

Each job carries its own `next_poll_at` in the store. The loop hands each due job to a
task of its own (a job stays due until its handling sets a new time, so a crash mid-poll
leaves it due at the next start), with a cap on calls in flight and on calls per second,
and sleeps until the next one is due or until a new job or a finished task wakes it. No
error of one job or one call stops it. A complete job is handed to a delivery task of its
own, bounded apart from the poll slots, so a stuck download never holds up polling. When
the store cannot be written, a job's backoff is kept in memory instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs.claims import JobSource, OneProcess
from bot.jobs.clients import Clients, OneClient
from bot.jobs.create_calls import fetch_status
from bot.jobs.delivery import Delivery, NoUsableResult
from bot.jobs.frontend import Frontend, Notice, Outcome
from bot.jobs.models import WAITING_STATES, Job, JobState
from bot.jobs.schedule import Schedule
from bot.jobs.store import Store
from bot.jobs.sweep import VideoSweep
from bot.miraflow import (
    AuthenticationError,
    DownloadTimeoutError,
    JobStatus,
    MiraflowClient,
    MiraflowError,
    NotFoundError,
    RateLimitedError,
    UntrustedUrlError,
)

log = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0
MAX_NOT_FOUND = 3
MAX_DELIVERY_ATTEMPTS = 8
MAX_DOWNLOAD_ATTEMPTS = 3  # downloads abandoned at their deadline
STORE_ERROR_LOG_INTERVAL = 60.0  # real seconds between two "store cannot be written" lines


@dataclass(frozen=True, slots=True)
class PollerConfig:
    calls_per_second: float = 10.0
    max_in_flight: int = 8
    # Results fetched and posted at once: apart from the poll slots, so that stalled
    # downloads (each up to its deadline) never hold up the polling of other jobs.
    max_deliveries: int = 16
    image_timeout: float = 1800.0
    video_timeout: float = 7200.0
    schedule: Schedule = Schedule()


class RateLimiter:
    """At most `rate` calls in any one-second window, spread evenly rather than in bursts."""

    def __init__(
        self, rate: float, speed: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._speed = speed
        self.set_rate(rate)
        self._window = 1.02 / speed  # a little slack for the time requests take to arrive
        self._clock = clock
        self._next_slot = 0.0
        self._recent: deque[float] = deque()
        self._urgent_waiting = 0

    def set_rate(self, rate: float) -> None:
        # On a clock `speed` times faster, a "second" lasts 1/speed real seconds.
        self._interval = 1.0 / (rate * self._speed)
        self._per_window = max(1, math.floor(rate))

    async def acquire(self, *, urgent: bool = True) -> None:
        """Wait for a slot. A call that is not urgent (a video's progress, while a sweep
        watches for its end) lets every urgent one waiting go first."""
        if urgent:
            self._urgent_waiting += 1
        try:
            while True:
                now = self._clock()
                slot = max(now, self._next_slot)
                if len(self._recent) >= self._per_window:
                    slot = max(slot, self._recent[0] + self._window)
                if not urgent and self._urgent_waiting:
                    slot = max(slot, now + self._interval)
                if slot <= now:
                    break
                if urgent:
                    self._next_slot = max(self._next_slot, slot)
                await asyncio.sleep(slot - now)
        finally:
            if urgent:
                self._urgent_waiting -= 1
        self._next_slot = now + self._interval
        self._recent.append(now)
        while len(self._recent) > self._per_window:
            self._recent.popleft()


class Poller:
    def __init__(
        self,
        store: Store,
        client: MiraflowClient,
        delivery: Delivery,
        frontend: Frontend,
        config: PollerConfig,
        clock: Callable[[], float] = time.time,
        jobs: JobSource | None = None,
        clients: Clients | None = None,
    ) -> None:
        self._store = store
        # The client of a job's server (its own key, or the bot's: the one `client`).
        self._clients = clients or OneClient(client)
        # Which jobs are this process's to handle: all (`OneProcess`), or those it claims.
        self._jobs = jobs if jobs is not None else OneProcess(store)
        self._client = client
        self._delivery = delivery
        self._frontend = frontend
        self._config = config
        self._clock = clock
        self._limiter = RateLimiter(config.calls_per_second, config.schedule.speed)
        # A server's own key has a ceiling of its own (the same figure, its own account's).
        self._own_limiters: weakref.WeakKeyDictionary[MiraflowClient, RateLimiter] = (
            weakref.WeakKeyDictionary()
        )
        self._workers = 1
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        # Deliveries under way or waiting for one of the delivery slots, by job id.
        self._delivering: dict[int, asyncio.Task[None]] = {}
        self._delivery_slots = asyncio.Semaphore(config.max_deliveries)
        self._loop_task: asyncio.Task[None] | None = None
        self._paused_until = 0.0
        # Jobs whose last store write failed (disk full, read-only): the store cannot hold
        # their backoff, so it is kept here; job id -> (failures, not before).
        self._held: dict[int, tuple[int, float]] = {}
        self._store_error_logged_at = -math.inf
        self._sweep = VideoSweep(store, client, config.schedule, clock)
        self._sweep_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name="miraflow-poller")

    def wake(self) -> None:
        self._wake.set()

    def share_ceiling(self, workers: int) -> None:
        """Processes sharing the store and the Miraflow accounts: each makes its share."""
        self._workers = max(workers, 1)
        for limiter in (self._limiter, *self._own_limiters.values()):
            limiter.set_rate(self._config.calls_per_second / self._workers)

    def _limiter_for(self, client: MiraflowClient) -> RateLimiter:
        if client is self._client:
            return self._limiter
        limiter = self._own_limiters.get(client)
        if limiter is None:
            rate = self._config.calls_per_second / self._workers
            limiter = self._own_limiters[client] = RateLimiter(rate, self._config.schedule.speed)
        return limiter

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling; give polls and deliveries under way `grace` seconds to finish."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        running = [*self._running.values(), *self._delivering.values()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        """Polls and deliveries under way."""
        return len(self._running) + len(self._delivering)

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

    async def _dispatch_due(self) -> None:
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
            busy = len(self._running) + len(self._delivering) + len(self._held)
            candidates = self._jobs.due_jobs(now, limit=free + busy)
            due = [job for job in candidates if self._may_start(job.id, now)][:free]
            if not due:
                return
            for job in due:
                self._start_handling(job)

    def _may_start(self, job_id: int, now: float) -> bool:
        held = self._held.get(job_id)
        if job_id in self._running or job_id in self._delivering:
            return False
        return held is None or held[1] <= now

    def _start_handling(self, job: Job) -> None:
        self._running[job.id] = asyncio.create_task(
            self._handle(job), name=f"miraflow-job-{job.id}"
        )

    def _start_sweep_if_due(self) -> None:
        idle = self._sweep_task is None or self._sweep_task.done()
        if idle and self._sweep.due():
            self._sweep_task = asyncio.create_task(self._run_sweep(), name="video-sweep")

    async def _run_sweep(self) -> None:
        await self._limiter.acquire()
        try:
            finished = await self._sweep.run()
        except MiraflowError as exc:
            log.info("video sweep failed: %s", exc)
            return
        for job in self._jobs.take(finished):
            if self._may_start(job.id, self._clock()):  # else still due once it is done
                self._start_handling(job)

    async def _sleep_until_due(self) -> None:
        self._wake.clear()
        now = self._clock()
        wait = MAX_IDLE_WAIT
        if len(self._running) < self._config.max_in_flight:
            waiting = {job_id: at for job_id, (_, at) in self._held.items() if at > now}
            next_at = (
                self._jobs.next_due_at(
                    excluding=self._running.keys() | self._delivering.keys() | waiting.keys()
                )
                or now + MAX_IDLE_WAIT
            )
            next_at = min([next_at, *waiting.values()])
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
            if job.id in self._held:
                # Its last write failed: try a write before any call to Miraflow or Discord.
                self._store.update(job.id, attempts=job.attempts)
                del self._held[job.id]
            if job.state is JobState.COMPLETE:
                self._start_delivery(job, None)
            elif self._expired(job):
                await self._expire(job)
            else:
                await self._poll(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._after_error(job, exc)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    def _after_error(self, job: Job, exc: Exception) -> None:
        """Back a job off after an error. When the store cannot take even that write, the
        backoff is kept in memory: the job is not touched again before it is due."""
        try:
            self._reschedule_after_error(job, None)
        except Exception as write_error:
            failures = self._held.get(job.id, (0, 0.0))[0] + 1
            delay = self._config.schedule.backoff(failures)
            self._held[job.id] = (failures, self._clock() + delay)
            now = time.monotonic()
            if now - self._store_error_logged_at >= STORE_ERROR_LOG_INTERVAL:
                self._store_error_logged_at = now
                log.error(
                    "the store cannot be written (%s); %d jobs wait for it",
                    write_error,
                    len(self._held),
                )
            return
        log.error("job %s: unexpected error; trying again later", job.id, exc_info=exc)

    # -- one job -----------------------------------------------------------------------

    def _expired(self, job: Job) -> bool:
        timeout = self._config.video_timeout if job.kind.makes_video else self._config.image_timeout
        started = job.submitted_at or job.created_at
        return self._config.schedule.timed_out(self._clock() - started, timeout)

    async def _expire(self, job: Job) -> None:
        notice = Notice(Outcome.EXPIRED)
        expired = self._store.set_state(
            job.id, JobState.EXPIRED, error=self._frontend.words(notice), only_from=WAITING_STATES
        )
        if expired is not None:
            log.info("job %s expired", job.id)
            await self._tell(expired, notice)

    async def _poll(self, job: Job) -> None:
        client = self._clients.for_guild(job.guild_id)
        await self._limiter_for(client).acquire(urgent=not self._swept(job))
        try:
            status = await fetch_status(client, job)
        except MiraflowError as exc:
            await self._on_poll_error(job, exc)
            return
        polls = job.polls + 1
        if status.failed:
            await self._fail(job, status, polls)
        elif status.complete:
            complete = self._store.set_state(
                job.id,
                JobState.COMPLETE,
                only_from=WAITING_STATES,
                progress=100,
                polls=polls,
                attempts=0,
            )
            if complete is not None:
                self._start_delivery(complete, status)
        else:
            await self._progress(job, status, polls)

    async def _progress(self, job: Job, status: JobStatus, polls: int) -> None:
        now = self._clock()
        state = JobState.QUEUED if status.queued else JobState.WORKING
        progress = status.progress if status.progress is not None else job.progress
        elapsed = now - (job.submitted_at or job.created_at)
        delay = self._config.schedule.next(job.kind, progress, elapsed)
        if self._swept(job):
            delay = max(delay, self._config.schedule.swept_video())
        refreshed = self._store.set_state(
            job.id,
            state,
            only_from=WAITING_STATES,
            progress=progress,
            polls=polls,
            attempts=0,
            next_poll_at=now + delay,
        )
        if refreshed is None:
            return  # cancelled while we asked
        await self._frontend.show_status(refreshed)

    def _swept(self, job: Job) -> bool:
        """A video whose end the sweep notices: the sweep lists the bot's key's videos only."""
        if not (job.kind.makes_video and self._sweep.active):
            return False
        return self._clients.for_guild(job.guild_id) is self._client

    async def _fail(self, job: Job, status: JobStatus, polls: int) -> None:
        notice = Notice(Outcome.MIRAFLOW_FAILED, reason=status.message or None)
        failed = self._store.set_state(
            job.id,
            JobState.FAILED,
            error=self._frontend.words(notice),
            only_from=WAITING_STATES,
            polls=polls,
        )
        if failed is not None:
            log.info("job %s failed at Miraflow: %s", job.id, status.status)
            await self._tell(failed, notice)

    async def _on_poll_error(self, job: Job, exc: MiraflowError) -> None:
        if isinstance(exc, NotFoundError) and job.attempts + 1 >= MAX_NOT_FOUND:
            notice = Notice(Outcome.LOST_BY_MIRAFLOW)
            lost = self._store.set_state(
                job.id,
                JobState.FAILED,
                error=self._frontend.words(notice),
                only_from=WAITING_STATES,
            )
            if lost is not None:
                await self._tell(lost, notice)
            return
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            self._paused_until = max(self._paused_until, self._clock() + exc.retry_after)
        level = logging.ERROR if isinstance(exc, AuthenticationError) else logging.INFO
        log.log(level, "job %s: status call failed: %s", job.id, exc)
        self._reschedule_after_error(job, getattr(exc, "retry_after", None))

    def _reschedule_after_error(self, job: Job, retry_after: float | None) -> None:
        attempts = job.attempts + 1
        delay = self._config.schedule.backoff(attempts, retry_after)
        self._store.update(job.id, attempts=attempts, next_poll_at=self._clock() + delay)

    def _start_delivery(self, job: Job, status: JobStatus | None) -> None:
        """Hand a complete job to a delivery task of its own; its poll slot is free at once."""
        if job.id not in self._delivering:
            self._delivering[job.id] = asyncio.create_task(
                self._delivery_task(job, status), name=f"miraflow-delivery-{job.id}"
            )

    async def _delivery_task(self, job: Job, status: JobStatus | None) -> None:
        try:
            async with self._delivery_slots:
                await self._deliver(job, status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._after_error(job, exc)
        finally:
            self._delivering.pop(job.id, None)
            self._wake.set()

    async def _deliver(self, job: Job, status: JobStatus | None) -> None:
        try:
            await self._delivery.deliver(job, status)
        except asyncio.CancelledError:
            raise
        except (NoUsableResult, UntrustedUrlError) as exc:
            await self._fail_delivery(job, exc)  # asking again would give the same answer
        except Exception as exc:
            attempts = job.attempts + 1
            # An abandoned download is tried again with a fresh URL, but only a few times.
            most = (
                MAX_DOWNLOAD_ATTEMPTS
                if isinstance(exc, DownloadTimeoutError)
                else MAX_DELIVERY_ATTEMPTS
            )
            if attempts >= most:
                await self._fail_delivery(job, exc)
                return
            self._reschedule_after_error(job, None)
            log.warning("job %s: delivery attempt %s failed: %s", job.id, attempts, exc)

    async def _fail_delivery(self, job: Job, exc: Exception) -> None:
        error = exc if isinstance(exc, MiraflowError) else None
        notice = Notice(Outcome.DELIVERY_FAILED, error=error)
        failed = self._store.set_state(
            job.id,
            JobState.FAILED,
            error=self._frontend.words(notice),
            only_from={JobState.COMPLETE},
        )
        log.error("job %s: delivery failed for good: %s", job.id, exc)
        if failed is not None:
            await self._tell(failed, notice)

    async def _tell(self, job: Job, notice: Notice) -> None:
        """Show a job's final state, then tell its requester why."""
        await self._frontend.show_status(job, force=True)
        await self._frontend.notify(job, notice)
