"""How long a job has left, from how long the jobs of its kind took before.

`time_left` is pure; `Estimates` reads the recent durations from the store, cached a minute
per kind: the query is not indexed (about 40 ms over 100,000 jobs), so a status refresh must
not run it each time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.store import Store

MIN_SAMPLES = 3  # no estimate until this many jobs of the kind have finished
SAMPLES = 50  # the most recent durations considered
REFRESH_SECONDS = 60.0
_RUNNING = frozenset({JobState.QUEUED, JobState.WORKING})


def time_left(durations: Sequence[float], progress: int | None, elapsed: float) -> float | None:
    """Seconds a job probably has left, or None with too few past durations to say.

    The typical duration is the median of `durations` (one very slow job does not sway
    it). With a progress percentage, what is left is the share of the typical duration not
    done yet; once the job has run longer than typical, its own pace says more. Without
    one, the typical duration less the time spent. Never negative.
    """
    usable = [d for d in durations if d >= 0]
    if len(usable) < MIN_SAMPLES:
        return None
    typical = statistics.median(usable)
    if progress is not None and 0 < progress < 100:
        if elapsed > typical:
            return elapsed * (100 - progress) / progress
        return typical * (100 - progress) / 100
    return max(0.0, typical - elapsed)


class Estimates:
    """Time left of running jobs, from the durations the store has seen, by kind."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[JobKind, tuple[float, list[float]]] = {}

    def durations(self, kind: JobKind) -> list[float]:
        now = self._clock()
        cached = self._cache.get(kind)
        if cached is None or now - cached[0] >= REFRESH_SECONDS:
            cached = (now, self._store.recent_durations(kind, SAMPLES))
            self._cache[kind] = cached
        return cached[1]

    def saw_finished(self, kind: JobKind) -> None:
        """A job of `kind` finished: while there are too few durations for an estimate,
        read them again at the next refresh rather than a minute later."""
        cached = self._cache.get(kind)
        if cached is not None and len(cached[1]) < MIN_SAMPLES:
            del self._cache[kind]

    def left(self, job: Job) -> float | None:
        """Seconds `job` probably has left; None when it is not running or there is too
        little history."""
        if job.state not in _RUNNING or job.submitted_at is None:
            return None
        elapsed = max(0.0, self._clock() - job.submitted_at)
        return time_left(self.durations(job.kind), job.progress, elapsed)
