"""The one background task that follows every pending job until it is delivered.

Each job carries its own `next_poll_at` in the store. The loop hands each due job to a
task of its own (a job stays due until its handling sets a new time, so a crash mid-poll
leaves it due at the next start), with a cap on calls in flight, and sleeps until the next
one is due or until a new job or a finished task wakes it. No error of one job or one call
stops it. Every HTTP attempt passes the pacer of its client's key (`bot.jobs.pacing`: the
ceiling, Retry-After, outages). A complete job is handed to a delivery task of its own
(`bot.jobs.deliveries`), so a stuck download never holds up polling. When the store cannot
be written, a job's backoff is kept in memory instead (`bot.jobs.held`). What the poller
sees of each bar teaches the schedule (`bot.jobs.readings`). While a key's ceiling is the
limit, its image polls are spaced evenly by the load it has seen (`bot.jobs.spacing`); the
bot's own key's spacing survives a restart (`bot.jobs.kept_spacing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs.claims import JobSource, OneProcess
from bot.jobs.clients import Clients, OneClient, PacedClients
from bot.jobs.create_calls import fetch_status
from bot.jobs.deliveries import Deliveries
from bot.jobs.delivery import Delivery
from bot.jobs.frontend import Frontend, Notice, Outcome, tell
from bot.jobs.held import Backoff
from bot.jobs.kept_spacing import KeptSpacing
from bot.jobs.models import WAITING_STATES, Job, JobKind, JobState
from bot.jobs.pacing import NETWORK_ALLOWANCE, PRIORITY, Pacer, Pacers
from bot.jobs.readings import Readings
from bot.jobs.schedule import IMAGE_POLICY, Schedule
from bot.jobs.spacing import LoadSpacing
from bot.jobs.store import Store
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
from bot.settings import IMAGE_TIMEOUT_DEFAULT, VIDEO_TIMEOUT_DEFAULT

log = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0
MAX_NOT_FOUND = 3
# Status calls that failed for a passing reason: asked again soon (the pacer waits out outages).
TRANSIENT = (MiraflowConnectionError, MiraflowTimeoutError, ServerError, RateLimitedError)


@dataclass(frozen=True, slots=True)
class PollerConfig:
    calls_per_second: float = 10.0  # per Miraflow key, shared out between live processes
    max_in_flight: int = 8
    # Results fetched and posted at once: apart from the poll slots, so that stalled
    # downloads (each up to its deadline) never hold up the polling of other jobs.
    max_deliveries: int = 16
    image_timeout: float = IMAGE_TIMEOUT_DEFAULT
    video_timeout: float = VIDEO_TIMEOUT_DEFAULT
    schedule: Schedule = Schedule()
    network_allowance: float = NETWORK_ALLOWANCE  # real seconds: see `bot.jobs.pacing`


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
        pacers: Pacers | None = None,
    ) -> None:
        self._store = store
        # One pacer per key (`pacers`: shared with the clients the job service and the
        # delivery use); the client of a job's server (its own key, or the bot's).
        self._pacers = pacers or Pacers(
            config.calls_per_second, config.schedule.speed, config.network_allowance
        )
        self._client = self._pacers.pace(client)
        self._clients = PacedClients(clients or OneClient(client), self._pacers)
        # Which jobs are this process's to handle: all (`OneProcess`), or those it claims.
        self._jobs = jobs if jobs is not None else OneProcess(store)
        self._frontend = frontend
        self._config = config
        self._clock = clock
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._backoff = Backoff(store, config.schedule, clock)
        self._deliveries = Deliveries(
            store, delivery, frontend, self._backoff, config.max_deliveries, self._wake.set
        )
        self._readings = Readings(store, config.schedule, clock)
        self._sweep = VideoSweep(store, client, config.schedule, clock)
        self._sweep_task: asyncio.Task[None] | None = None
        self._progress_calls: set[int] = set()  # swept videos whose own status call is out
        # Per key: the least spacing of image polls while its ceiling is the limit; the bot's
        # own key's is kept across restarts.
        self._spacings: weakref.WeakKeyDictionary[Pacer, LoadSpacing] = weakref.WeakKeyDictionary()
        self._kept_spacing = KeptSpacing(store, clock, config.schedule.speed)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name="miraflow-poller")

    def wake(self) -> None:
        self._wake.set()

    def share_ceiling(self, workers: int) -> None:
        """Processes sharing the store and the Miraflow accounts: each makes its share."""
        self._pacers.share(workers)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling; give polls and deliveries under way `grace` seconds to finish."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        running = [*self._running.values(), *self._deliveries.tasks.values()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        """Polls and deliveries under way."""
        return len(self._running) + len(self._deliveries.tasks)

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
        self._readings.tidy()
        self._start_sweep_if_due()
        while True:
            now = self._clock()
            free = self._config.max_in_flight - len(self._running)
            if free <= 0:
                return
            # Jobs being handled stay due until their handling sets a new time, so ask for
            # enough rows to see past them.
            busy = len(self._running) + len(self._deliveries.tasks) + len(self._backoff.held)
            candidates = self._jobs.due_jobs(now, limit=free + busy)
            due = [job for job in candidates if self._may_start(job.id, now)][:free]
            if not due:
                return
            for job in due:
                self._start_handling(job)

    def _may_start(self, job_id: int, now: float) -> bool:
        if job_id in self._running or job_id in self._deliveries.tasks:
            return False
        return self._backoff.ready(job_id, now)

    def _start_handling(self, job: Job) -> None:
        self._running[job.id] = asyncio.create_task(
            self._handle(job), name=f"miraflow-job-{job.id}"
        )

    def _start_sweep_if_due(self) -> None:
        idle = self._sweep_task is None or self._sweep_task.done()
        if idle and self._sweep.due():
            self._sweep_task = asyncio.create_task(self._run_sweep(), name="video-sweep")

    async def _run_sweep(self) -> None:
        PRIORITY.set("sweep")
        try:
            finished = await self._sweep.run()
        except MiraflowError as exc:
            log.info("video sweep failed: %s", exc)
            return
        for job in self._jobs.take(finished):
            ended = self._finished(job, complete=True)
            try:  # only what its duration is learned from at a start: not worth a delivery
                self._store.update(job.id, ended_at=ended)
            except Exception:
                log.warning("job %s: when it ended could not be kept", job.id, exc_info=True)
            await self._drop_progress_call(job.id)
            if self._may_start(job.id, self._clock()):  # else still due once it is done
                self._start_handling(job)

    async def _drop_progress_call(self, job_id: int) -> None:
        """A swept video's own status call (waiting for a slot behind the other calls, or
        under way) would tell nothing the sweep has not: dropped, so that the delivery does
        not wait for it."""
        task = self._running.get(job_id)
        if task is not None and job_id in self._progress_calls:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _sleep_until_due(self) -> None:
        self._wake.clear()
        now = self._clock()
        wait = MAX_IDLE_WAIT
        if len(self._running) < self._config.max_in_flight:
            waiting = self._backoff.waiting(now)
            next_at = (
                self._jobs.next_due_at(
                    excluding=self._running.keys() | self._deliveries.tasks.keys() | waiting.keys()
                )
                or now + MAX_IDLE_WAIT
            )
            next_at = min([next_at, *waiting.values()])
            if self._sweep.next_at is not None:
                next_at = min(next_at, self._sweep.next_at)
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
            # Its last write failed: try a write before any call to Miraflow or Discord.
            self._backoff.release(job)
            if job.state is JobState.COMPLETE:
                self._deliveries.start(job, None)
            elif self._expired(job):
                await self._expire(job)
            else:
                await self._poll(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._backoff.after_error(job, exc)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    # -- one job -----------------------------------------------------------------------

    def _expired(self, job: Job) -> bool:
        timeout = self._config.video_timeout if job.kind.makes_video else self._config.image_timeout
        started = job.started_at
        return self._config.schedule.timed_out(self._clock() - started, timeout)

    async def _expire(self, job: Job) -> None:
        notice = Notice(Outcome.EXPIRED)
        expired = self._store.set_state(
            job.id, JobState.EXPIRED, error=self._frontend.words(notice), only_from=WAITING_STATES
        )
        if expired is not None:
            log.info("job %s expired", job.id)
            self._finished(job, complete=False)
            await tell(self._frontend, expired, notice)

    async def _poll(self, job: Job) -> None:
        try:
            # Inside the try: a server's key that cannot be opened is an error of this job.
            client = self._clients.for_guild(job.guild_id)
            # A swept video's own status call goes after the others (the sweep sees its end).
            swept = self._swept(job, client)
            PRIORITY.set("progress" if swept else "poll")
            if swept:
                self._progress_calls.add(job.id)
            try:
                status = await fetch_status(client, job)
            finally:
                self._progress_calls.discard(job.id)
        except MiraflowError as exc:
            await self._on_poll_error(job, exc)
            return
        polls = job.polls + 1
        ended = None
        if status.failed or status.complete:
            ended = self._finished(job, complete=status.complete)
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
                ended_at=ended,
            )
            if complete is not None:
                self._deliveries.start(complete, status)
        else:
            await self._progress(job, status, polls, client)

    async def _progress(
        self, job: Job, status: JobStatus, polls: int, client: MiraflowClient
    ) -> None:
        now = self._clock()
        state = JobState.QUEUED if status.queued else JobState.WORKING
        progress = status.progress if status.progress is not None else job.progress
        elapsed = now - job.started_at
        readings = self._readings.add(job, elapsed, status.progress)
        schedule = self._config.schedule
        planned = schedule.plan(job.kind, readings, swept=self._swept(job, client))
        delay = planned.delay
        if job.kind.makes_video:
            self._sweep.paces_itself(job.id, planned.self_paced)
        if self._swept(job, client):
            self._sweep.wants(job.id, now + delay if planned.end_is_near else None)
            if not planned.awaits_value:
                delay = max(delay, schedule.swept_video())
        elif not job.kind.makes_video:
            delay = self._spaced(job, delay, client)
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

    def first_poll_delay(self, kind: JobKind, client: MiraflowClient) -> float:
        """Seconds from a job's create call (on `client`, its server's key) to its first
        poll: an image's, a spacing of its key after the shortest jobs end."""
        schedule = self._config.schedule
        if kind.makes_video:
            return schedule.first(kind)
        return schedule.first(kind, self._spacing_of(client).floor)

    def _spaced(self, job: Job, delay: float, client: MiraflowClient) -> float:
        """An image's next poll, no closer than its key's (`client`'s) load lets polls be
        spaced evenly."""
        pacer = self._pacers.of(client)
        spacing = self._spacing_of(client)
        delay = spacing.spaced(job.id, delay, pacer.rate)
        if pacer is self._pacers.of(self._client):
            self._kept_spacing.note(spacing.floor)
        return delay

    def _spacing_of(self, client: MiraflowClient) -> LoadSpacing:
        pacer = self._pacers.of(client)
        spacing = self._spacings.get(pacer)
        if spacing is None:
            own = pacer is self._pacers.of(self._client)
            floor = self._kept_spacing.restore() if own else 0.0
            speed = self._config.schedule.speed
            spacing = LoadSpacing(IMAGE_POLICY.tail, self._clock, speed, floor)
            self._spacings[pacer] = spacing
        return spacing

    def _finished(self, job: Job, *, complete: bool) -> float | None:
        """Forget a job's readings and spacing; for a complete one, when it probably ended."""
        ended = self._readings.finished(job, complete=complete)
        for spacing in self._spacings.values():
            spacing.forget(job.id)
        return ended

    def _swept(self, job: Job, client: MiraflowClient) -> bool:
        """A video (on `client`, its server's key) whose end the sweep notices: the sweep
        lists the bot's key's videos only."""
        return (
            job.kind.makes_video
            and self._sweep.active
            and client is self._client
            and not self._sweep.self_paced(job.id)
        )

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
            await tell(self._frontend, failed, notice)

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
                self._finished(job, complete=False)
                await tell(self._frontend, lost, notice)
            return
        level = logging.ERROR if isinstance(exc, AuthenticationError) else logging.INFO
        log.log(level, "job %s: status call failed: %s", job.id, exc)
        # (A Retry-After is already capped where it was parsed; the key's pacer holds the
        # poller's other calls for it.)
        retry_after = getattr(exc, "retry_after", None)
        self._backoff.reschedule(job, retry_after, transient=isinstance(exc, TRANSIENT))
