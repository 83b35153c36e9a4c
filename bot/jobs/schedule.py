"""When to poll a job next: pure functions of what is known about it.

Miraflow's progress climbs fast, then crawls near the end (about 90 % at 60 % of the
duration, then slowly to 99 %). From the progress seen at a given elapsed time the bot
estimates how long the job will take in all, sleeps through most of what is left, and
polls often only around the expected end.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from bot.jobs.models import JobKind

# The bot's model of a progress bar: queued for the first tenth, then an ease-out climb to
# 90 % at 60 % of the duration, then an ease-out crawl to 99 % at the end.
QUEUE_SHARE = 0.1
FAST_END = 0.6
FAST_PROGRESS = 90.0
LAST_PROGRESS = 99.0


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How one kind of job is polled, in seconds."""

    first: float  # after the create call
    floor: float  # never sooner than this
    ceiling: float  # never later than this while it is working
    tail: float  # the interval around the expected end
    lead: float  # share of the estimated remaining time to sleep through before checking


IMAGE_POLICY = PollPolicy(first=4.0, floor=1.0, ceiling=10.0, tail=1.0, lead=0.8)
VIDEO_POLICY = PollPolicy(first=20.0, floor=3.0, ceiling=60.0, tail=4.0, lead=0.8)

# With several videos pending, one `GET /api/videos` every SWEEP_INTERVAL seconds shows
# every finished one at once; each video's own status is then read only for its progress.
SWEEP_MIN_VIDEOS = 3
SWEEP_INTERVAL = 3.0
SWEPT_VIDEO_INTERVAL = 60.0

ERROR_BACKOFF_BASE = 2.0
ERROR_BACKOFF_CAP = 300.0


def policy_for(kind: JobKind) -> PollPolicy:
    return VIDEO_POLICY if kind.makes_video else IMAGE_POLICY


def first_poll_delay(kind: JobKind) -> float:
    return policy_for(kind).first


def fraction_elapsed(progress: float) -> float:
    """The share of a job's duration gone by when its bar shows `progress` percent."""
    if progress <= FAST_PROGRESS:
        climbed = 1.0 - math.sqrt(max(0.0, 1.0 - progress / FAST_PROGRESS))
        return QUEUE_SHARE + climbed * (FAST_END - QUEUE_SHARE)
    crawl = min(progress - FAST_PROGRESS, LAST_PROGRESS - FAST_PROGRESS - 0.1)
    crawled = 1.0 - (1.0 - crawl / (LAST_PROGRESS - FAST_PROGRESS)) ** (1 / 1.5)
    return FAST_END + crawled * (1.0 - FAST_END)


def estimated_remaining(progress: int | None, elapsed: float) -> float | None:
    """Seconds a working job probably still needs; None when its progress says nothing."""
    if progress is None or progress <= 0 or elapsed <= 0:
        return None
    return max(elapsed / fraction_elapsed(min(progress, 99)) - elapsed, 0.0)


def next_poll_delay(kind: JobKind, progress: int | None, elapsed: float) -> float:
    """How long to wait before the next status call of a job that is not done yet."""
    policy = policy_for(kind)
    remaining = estimated_remaining(progress, elapsed)
    if remaining is None:  # still queued: it will take at least as long again
        delay = max(policy.first / 2, elapsed * 0.5)
    elif remaining <= policy.tail * 2:
        delay = policy.tail
    else:
        delay = remaining * policy.lead
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

    def swept_video(self) -> float:
        """The next status call of a video whose end a sweep will notice."""
        return SWEPT_VIDEO_INTERVAL / self.speed

    def sweep_interval(self) -> float:
        return SWEEP_INTERVAL / self.speed

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        delay = backoff_delay(attempts) / self.speed
        return max(delay, retry_after) if retry_after is not None else delay

    def timed_out(self, elapsed: float, timeout: float) -> bool:
        return elapsed * self.speed > timeout
