"""Fixed-interval pollers, evaluated exactly on the jobs of a benchmark run.

Each job is known by when it was created and when the simulator completed it (simulated
seconds). A fixed poller asks about a job `interval` seconds after its creation, then
`interval` seconds after each answer, until an answer shows it done. Without a ceiling the
polls fall exactly on time; with one, all polls share a limiter that spaces calls evenly,
`1/ceiling` apart (as the bot's does), and a poll waits for its slot. Each job's create call
takes a slot too, at its creation, before any poll waiting then: the ceiling counts every
call, as the bot's does. Creates are in `call_times` (the peak counts every call, like the
bot's), not in `calls` (status calls per job).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from bench.calls import percentile


@dataclass(frozen=True, slots=True)
class Timeline:
    created: float
    done: float


@dataclass(frozen=True, slots=True)
class FixedResult:
    calls: list[int]  # per job, in the order given
    lags: list[float]  # per job: from its completion to the poll that saw it
    call_times: list[float]


CREATE, POLL = 0, 1


def run_fixed(jobs: list[Timeline], interval: float, ceiling: float | None) -> FixedResult:
    calls = [0] * len(jobs)
    lags = [0.0] * len(jobs)
    times: list[float] = []
    # (when, 0 for a create and 1 for a poll: creates first, job)
    due = [(job.created, CREATE, n) for n, job in enumerate(jobs)]
    heapq.heapify(due)
    spacing = 1.0 / ceiling if ceiling else 0.0
    next_slot = -math.inf
    while due:
        wanted, call, n = heapq.heappop(due)
        at = max(wanted, next_slot) if ceiling else wanted
        next_slot = at + spacing
        times.append(at)
        if call == CREATE:
            heapq.heappush(due, (jobs[n].created + interval, POLL, n))
            continue
        calls[n] += 1
        if at >= jobs[n].done:
            lags[n] = at - jobs[n].done
        else:
            heapq.heappush(due, (at + interval, POLL, n))
    return FixedResult(calls, lags, times)


def peak_per_second(times: list[float], second: float = 1.0) -> int:
    """The most calls in any window of one (simulated) second."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - second + 1e-9:  # evenly spaced calls: not one too many
            start += 1
        most = max(most, end - start + 1)
    return most


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    interval: float
    calls: float  # per job
    p95_lag: float


def fixed_point(jobs: list[Timeline], interval: float, ceiling: float | None) -> FrontierPoint:
    result = run_fixed(jobs, interval, ceiling)
    return FrontierPoint(interval, sum(result.calls) / len(jobs), percentile(result.lags, 95))


def same_calls(jobs: list[Timeline], calls: float, ceiling: float | None) -> FrontierPoint:
    """The fixed poller making as many calls per job as `calls` (the longest interval that
    makes at least that many): the frontier at that number of calls."""
    short, long = 0.05, 600.0
    for _ in range(40):
        middle = (short + long) / 2
        if fixed_point(jobs, middle, ceiling).calls >= calls:
            short = middle
        else:
            long = middle
    return fixed_point(jobs, short, ceiling)
