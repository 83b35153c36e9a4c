"""What the poller saw of each waiting job's progress bar, and what finished jobs teach the
poll schedule: their durations (from the store at start, then from the poller's own
findings, with the ages of the jobs still running) and the shape of their bars."""

from __future__ import annotations

from collections.abc import Callable

from bot.jobs.estimate import MAX_READINGS, Reading
from bot.jobs.models import WAITING_STATES, Job, JobKind
from bot.jobs.schedule import Schedule
from bot.jobs.store import Store

MAX_TRACKED = 1000  # readings of more jobs than this: forget those no longer waiting
STORE_DURATIONS = 200  # durations read from the store per kind at start


class Readings:
    def __init__(self, store: Store, schedule: Schedule, clock: Callable[[], float]) -> None:
        self._store = store
        self._schedule = schedule
        self._clock = clock
        self._by_job: dict[int, list[Reading]] = {}
        self._started: dict[int, tuple[bool, float]] = {}  # a video?, submitted at
        self._learned_from_store = False

    def tidy(self) -> None:
        """At a start, learn the durations in the store; forget jobs no longer waiting."""
        if not self._learned_from_store:  # a start; the jobs finished from now on do better
            self._learned_from_store = True
            for videos in (False, True):
                durations = [
                    duration
                    for kind in JobKind
                    if kind.makes_video == videos
                    for duration in self._store.recent_durations(kind, STORE_DURATIONS)
                ]
                self._schedule.learn(videos, durations)
        if len(self._by_job) > MAX_TRACKED:
            waiting = {job.id for job in self._store.jobs_in_states(WAITING_STATES)}
            for job_id in [j for j in self._by_job if j not in waiting]:
                del self._by_job[job_id]
                self._started.pop(job_id, None)

    def add(self, job: Job, elapsed: float, progress: int | None) -> list[Reading]:
        """Note what a status call showed; the job's last readings."""
        readings = self._by_job.setdefault(job.id, [])
        self._started.setdefault(job.id, (job.kind.makes_video, _submitted(job)))
        readings.append(Reading(elapsed, progress))
        del readings[:-MAX_READINGS]
        return readings

    def finished(self, job: Job, *, complete: bool) -> None:
        """Forget a job's readings; a complete job teaches the schedule of its kind."""
        readings = self._by_job.pop(job.id, [])
        self._started.pop(job.id, None)
        if complete:
            now, videos = self._clock(), job.kind.makes_video
            running = [now - at for video, at in self._started.values() if video == videos]
            self._schedule.learn_finished(job.kind, readings, now - _submitted(job), running)


def _submitted(job: Job) -> float:
    return job.submitted_at or job.created_at
