"""A job's backoff after an error: in the store, or in memory when the store cannot be
written (disk full, read-only), so that such a job is not touched again before it is due
and the poller never spins on it."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from bot.jobs.models import Job
from bot.jobs.schedule import Schedule
from bot.jobs.store import Store

log = logging.getLogger(__name__)

STORE_ERROR_LOG_INTERVAL = 60.0  # real seconds between two "store cannot be written" lines
# A job whose status call failed for a passing reason (the pacer waits out outages) is asked
# again within this many seconds, not after a backoff of its own.
TRANSIENT_RETRY_CAP = 5.0


class Backoff:
    def __init__(self, store: Store, schedule: Schedule, clock: Callable[[], float]) -> None:
        self._store = store
        self._schedule = schedule
        self._clock = clock
        # Jobs whose last store write failed: job id -> (failures, not before).
        self.held: dict[int, tuple[int, float]] = {}
        self._store_error_logged_at = -math.inf

    def ready(self, job_id: int, now: float) -> bool:
        held = self.held.get(job_id)
        return held is None or held[1] <= now

    def waiting(self, now: float) -> dict[int, float]:
        """Held jobs not due yet, with when they are."""
        return {job_id: at for job_id, (_, at) in self.held.items() if at > now}

    def release(self, job: Job) -> None:
        """Before any call for a held job, a write to the store: it raises while it fails."""
        if job.id in self.held:
            self._store.update(job.id, attempts=job.attempts)
            del self.held[job.id]

    def reschedule(self, job: Job, retry_after: float | None, *, transient: bool = False) -> None:
        """Back a job off in the store, after `job.attempts + 1` failures in a row."""
        attempts = job.attempts + 1
        delay = self._schedule.backoff(attempts, retry_after)
        if transient:
            delay = min(delay, max(TRANSIENT_RETRY_CAP / self._schedule.speed, retry_after or 0))
        self._store.update(job.id, attempts=attempts, next_poll_at=self._clock() + delay)

    def after_error(self, job: Job, exc: Exception) -> None:
        """Back a job off after an unexpected error. When the store cannot take even that
        write, the backoff is kept in memory: the job is not touched again before it is due."""
        try:
            self.reschedule(job, None)
        except Exception as write_error:
            failures = self.held.get(job.id, (0, 0.0))[0] + 1
            delay = self._schedule.backoff(failures)
            self.held[job.id] = (failures, self._clock() + delay)
            now = time.monotonic()
            if now - self._store_error_logged_at >= STORE_ERROR_LOG_INTERVAL:
                self._store_error_logged_at = now
                log.error(
                    "the store cannot be written (%s); %d jobs wait for it",
                    write_error,
                    len(self.held),
                )
            return
        log.error("job %s: unexpected error; trying again later", job.id, exc_info=exc)
