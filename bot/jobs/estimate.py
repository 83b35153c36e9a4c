"""How long a job has left, from how long the jobs of its kind took before.

`time_left` is pure; `Estimates` reads the recent durations from the store, cached a while
per kind so a status refresh rarely costs a query.
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
        if cached is None or now - cached[0] >= REFRESH_SECONDS or len(cached[1]) < MIN_SAMPLES:
            cached = (now, self._store.recent_durations(kind, SAMPLES))
            self._cache[kind] = cached
        return cached[1]

    def left(self, job: Job) -> float | None:
        """Seconds `job` probably has left; None when it is not running or there is too
        little history."""
        if job.state not in _RUNNING or job.submitted_at is None:
            return None
        elapsed = max(0.0, self._clock() - job.submitted_at)
        return time_left(self.durations(job.kind), job.progress, elapsed)
