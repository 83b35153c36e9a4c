"""The video sweep: one `GET /api/videos` shows every finished video at once.

Polling each pending video's status until it ends costs calls in proportion to the number
of videos. While several videos are pending, one list call every few seconds finds all
those that have finished; their own status is then read only now and then, to show
progress and to notice failures (a failed video never appears in the list). A video whose
bar moves evenly pins its own end for fewer calls than sweeps would take (`paces_itself`):
it does not count towards a sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.jobs.models import WAITING_STATES as WAITING
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.schedule import SWEEP_MIN_VIDEOS, Schedule
from bot.jobs.store import Store as JobStore
from bot.miraflow import MiraflowClient

log = logging.getLogger(__name__)


class VideoSweep:
    def __init__(
        self,
        store: JobStore,
        client: MiraflowClient,
        schedule: Schedule,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._client = client
        self._schedule = schedule
        self._clock = clock
        self._next_check = 0.0
        self.active = False  # enough videos are pending for sweeps to pay
        self._wanted: dict[int, float] = {}  # job: when its own schedule would poll it
        self._self_paced: set[int] = set()  # jobs whose own polls pin their end

    @property
    def next_at(self) -> float | None:
        return self._next_check if self.active else None

    def wants(self, job_id: int, at: float | None) -> None:
        """A swept video whose bar says its end is near would be polled `at` by its own
        schedule: the sweep comes by then (None: its end is not near)."""
        if at is None:
            self._wanted.pop(job_id, None)
            return
        self._wanted[job_id] = at
        self._next_check = min(self._next_check, at)

    def paces_itself(self, job_id: int, pinned: bool) -> None:
        """Whether a video's own polls pin its end (its bar moves evenly): such a video
        needs no sweep."""
        if pinned:
            self._self_paced.add(job_id)
            self._wanted.pop(job_id, None)
        else:
            self._self_paced.discard(job_id)

    def self_paced(self, job_id: int) -> bool:
        return job_id in self._self_paced

    def due(self) -> bool:
        """Whether to sweep now; checked at most once a sweep interval."""
        now = self._clock()
        if now < self._next_check:
            return False
        pending = self._store.waiting_jobs(JobKind.VIDEO)
        self._self_paced &= {job.id for job in pending}
        waiting = [job for job in pending if job.id not in self._self_paced]
        self._wanted = {job.id: self._wanted[job.id] for job in waiting if job.id in self._wanted}
        soonest = min(self._wanted.values(), default=None)
        wanted_in = None if soonest is None else max(soonest - now, 0.0)
        self._next_check = now + self._schedule.sweep_interval(len(waiting), wanted_in)
        was_active, self.active = self.active, len(waiting) >= SWEEP_MIN_VIDEOS
        if was_active and not self.active:
            # Their next status calls were spaced out for the sweep: bring them back.
            for job in waiting:
                if job.next_poll_at is None or job.next_poll_at > now:
                    self._store.update(job.id, next_poll_at=now)
        return self.active

    async def run(self) -> list[Job]:
        """List the finished videos; mark the pending jobs among them complete."""
        finished_ids = {video.id for video in await self._client.list_videos()}
        finished = []
        for job in self._store.waiting_jobs(JobKind.VIDEO):
            if job.miraflow_job_id not in finished_ids:
                continue
            if self._store.set_state(job.id, JobState.COMPLETE, only_from=WAITING):
                self._store.update(job.id, progress=100, attempts=0)
                complete = self._store.get(job.id)
                if complete is not None:
                    finished.append(complete)
        if finished:
            log.info("video sweep: %d videos finished", len(finished))
        return finished
