"""When to poll a job next: pure functions of what is known about it."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.jobs.models import JobKind


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often one kind of job is polled, in seconds."""

    first: float  # after the create call
    floor: float  # never sooner than this
    ceiling: float  # never later than this while it is working
    typical: float  # how long such a job usually takes, before anything is known


IMAGE_POLICY = PollPolicy(first=4.0, floor=1.0, ceiling=5.0, typical=24.0)
VIDEO_POLICY = PollPolicy(first=20.0, floor=3.0, ceiling=45.0, typical=300.0)

ERROR_BACKOFF_BASE = 2.0
ERROR_BACKOFF_CAP = 300.0


def policy_for(kind: JobKind) -> PollPolicy:
    return VIDEO_POLICY if kind.makes_video else IMAGE_POLICY


def first_poll_delay(kind: JobKind) -> float:
    return policy_for(kind).first


def estimated_remaining(kind: JobKind, progress: int | None, elapsed: float) -> float:
    """Seconds a job probably still needs, from its progress so far.

    Miraflow's progress climbs fast and then crawls near the end, so a plain linear
    extrapolation from progress would call the end too early; treat progress as if
    90 % is reached at 60 % of the duration.
    """
    policy = policy_for(kind)
    if not progress or progress <= 0 or elapsed <= 0:
        return max(policy.typical - elapsed, policy.floor)
    progress = min(progress, 99)
    fraction_done = 0.6 * progress / 90 if progress <= 90 else 0.6 + 0.4 * (progress - 90) / 10
    fraction_done = max(fraction_done, 0.01)
    return max(elapsed / fraction_done - elapsed, 0.0)


def next_poll_delay(kind: JobKind, progress: int | None, elapsed: float) -> float:
    """How long to wait before the next status call of a job that is not done yet."""
    policy = policy_for(kind)
    remaining = estimated_remaining(kind, progress, elapsed)
    delay = remaining / 2
    return min(max(delay, policy.floor), policy.ceiling)


def backoff_delay(
    attempts: int, retry_after: float | None = None, cap: float = ERROR_BACKOFF_CAP
) -> float:
    """Exponential backoff with jitter after `attempts` consecutive failures."""
    exponential = min(cap, ERROR_BACKOFF_BASE ** max(attempts, 1))
    delay = random.uniform(exponential / 2, exponential)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


@dataclass(frozen=True, slots=True)
class Schedule:
    """The poll schedule on a clock that may run `speed` times faster than real time.

    Real Miraflow runs at speed 1. The simulator can run its jobs faster (`simulate
    --speed`); a bot that polls it at the same speed behaves as it would in real time.
    """

    speed: float = 1.0

    def first(self, kind: JobKind) -> float:
        return first_poll_delay(kind) / self.speed

    def next(self, kind: JobKind, progress: int | None, elapsed: float) -> float:
        return next_poll_delay(kind, progress, elapsed * self.speed) / self.speed

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        delay = backoff_delay(attempts) / self.speed
        return max(delay, retry_after) if retry_after is not None else delay

    def timed_out(self, elapsed: float, timeout: float) -> bool:
        return elapsed * self.speed > timeout
