"""What the poller saw of each waiting job's progress bar, and what finished jobs teach the
poll schedule: their durations (from the store at start, then from the poller's own
findings, with the ages of the jobs still running) and the shape of their bars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.jobs.estimate import MAX_READINGS, Reading
from bot.jobs.models import WAITING_STATES, Job, JobKind
from bot.jobs.schedule import Schedule
from bot.jobs.store import Store

MAX_TRACKED = 1000  # readings of more jobs than this: forget those no longer waiting
STORE_DURATIONS = 200  # durations read from the store per kind at start


@dataclass(slots=True)
class Tracked:
    """A waiting job, as far as its readings go."""

    videos: bool
    started: float  # when Miraflow took it
    readings: list[Reading] = field(default_factory=list)


class Readings:
    def __init__(self, store: Store, schedule: Schedule, clock: Callable[[], float]) -> None:
        self._store = store
        self._schedule = schedule
        self._clock = clock
        self._by_job: dict[int, Tracked] = {}
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

    def add(self, job: Job, elapsed: float, progress: int | None) -> list[Reading]:
        """Note what a status call showed; the job's last readings."""
        tracked = self._by_job.get(job.id)
        if tracked is None:  # its first answer since this start: no readings yet
            tracked = self._by_job[job.id] = Tracked(job.kind.makes_video, job.started_at)
            self._schedule.first_answer_running(job.kind, elapsed)
        readings = tracked.readings
        readings.append(Reading(elapsed, progress))
        del readings[:-MAX_READINGS]
        return readings

    def finished(self, job: Job, *, complete: bool) -> float | None:
        """Forget a job's readings; a complete job teaches the schedule of its kind. For
        one, when it probably ended (the time to keep as its `ended_at`)."""
        tracked = self._by_job.pop(job.id, None)
        if not complete:
            return None
        now, videos = self._clock(), job.kind.makes_video
        readings = tracked.readings if tracked is not None else []
        running = [now - t.started for t in self._by_job.values() if t.videos == videos]
        ended = self._schedule.learn_finished(job.kind, readings, now - job.started_at, running)
        return job.started_at + ended
