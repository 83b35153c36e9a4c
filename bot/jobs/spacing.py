"""A steady spacing for the polls of one Miraflow key while its ceiling is the limit.

When more image jobs ask for close polls than the key's ceiling serves, the pacer's queue
stretches every gap by a wait that moves with the load, and polls that bunch up wait a
random while on top: a job's lag is its gap, and a p95 is made of the widest gaps. Polls
spaced evenly, a little wider, do better than polls spaced close and then queued. So each
key keeps a spacing under which the load it has seen fits well inside its ceiling, and no
image poll is planned closer than that.

The load is the number of jobs asking for polls at the tail spacing (a job that sleeps
longer counts for its share), averaged over LOAD_MEMORY seconds. The spacing follows the
busiest such load and lets go of it only slowly (RELEASE_HALF_LIFE): a spacing that follows
the load up and down moves, and a moving spacing costs more at the p95 than the queue it
avoids. While the load fits (most of the time on most keys) it is below the tail spacing
and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# Share of the key's ceiling the averaged load is planned to use: the rest absorbs the
# bursts (creates, first polls, jobs arriving together) without a queue.
UTILISATION = 0.74
LOAD_MEMORY = 60.0  # seconds of the schedule's clock
RELEASE_HALF_LIFE = 1800.0
# An ask not followed by a poll this long after it was due is dropped (a cancelled job).
STALE_AFTER = 60.0


def let_go(spacing: float, elapsed: float) -> float:
    """A spacing `elapsed` seconds (of the schedule's clock) after it was reached."""
    return spacing * 0.5 ** (elapsed / RELEASE_HALF_LIFE)


class LoadSpacing:
    """The least spacing of one key's image polls; times on the poller's clock, durations
    given in seconds of the schedule's clock `speed` times faster."""

    def __init__(
        self, tail: float, clock: Callable[[], float], speed: float = 1.0, floor: float = 0.0
    ) -> None:
        """`floor`: the spacing to start from (one kept from before a restart)."""
        self._tail = tail / speed
        self._clock = clock
        self._speed = speed
        self._asks: dict[int, tuple[float, float]] = {}  # job: (its weight, when it is due)
        self._demand = 0.0  # sum of the weights
        self._average = 0.0
        self._weight = 0.0  # of the average so far: the first minute is not read as idle
        self._floor = floor
        self._at: float | None = None
        self._pruned_at = clock()

    @property
    def floor(self) -> float:
        """Seconds no image poll of the key is planned closer than, now."""
        return self._floor

    def spaced(self, job_id: int, delay: float, rate: float) -> float:
        """`delay`, the schedule's next poll of a job, no closer than the key's spacing;
        `rate`: the key's calls a second (of the schedule's clock) at the moment."""
        now = self._clock()
        self._age(now)
        weight = min(1.0, self._tail / delay) if delay > 0 else 1.0
        self._demand += weight - self._asks.get(job_id, (0.0, 0.0))[0]
        self._asks[job_id] = (weight, now + delay)
        if now - self._pruned_at > STALE_AFTER / self._speed:
            self._prune(now)
        level = self._average / self._weight if self._weight > 0 else self._demand
        self._floor = max(self._floor, level / (UTILISATION * rate * self._speed))
        return max(delay, self._floor)

    def forget(self, job_id: int) -> None:
        """The job is not polled any more."""
        weight, _ = self._asks.pop(job_id, (0.0, 0.0))
        self._demand -= weight

    def _age(self, now: float) -> None:
        if self._at is None:
            self._at = now
        elapsed = max(0.0, now - self._at) * self._speed
        self._at = now
        share = 1.0 - math.exp(-elapsed / LOAD_MEMORY)
        self._average += share * (self._demand - self._average)
        self._weight += share * (1.0 - self._weight)
        self._floor = let_go(self._floor, elapsed)

    def _prune(self, now: float) -> None:
        stale = STALE_AFTER / self._speed
        for job_id in [j for j, (_, due) in self._asks.items() if due + stale < now]:
            self.forget(job_id)
        self._pruned_at = now
        self._demand = max(self._demand, 0.0)
