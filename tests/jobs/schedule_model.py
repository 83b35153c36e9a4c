"""The poll schedule run in pure time on the simulator's progress models (no I/O, no clock).

Each job is drawn as the simulator draws it, created at 0; the schedule's pure functions
say when to ask, and the simulated job's state at that instant is the answer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from bot.jobs.estimate import MAX_READINGS, Reading
from bot.jobs.models import JobKind
from bot.jobs.schedule import Learned, Schedule
from bot.miraflow.simulator import SimulatorConfig
from bot.miraflow.simulator.jobs import SimJob, new_job


@dataclass(frozen=True, slots=True)
class Outcome:
    calls: float  # mean per job
    p95_lag: float


def draw_jobs(model: str, kind: JobKind, count: int, seed: int) -> list[SimJob]:
    rng = random.Random(seed)
    config = SimulatorConfig(progress_model=model)
    sim_kind = "video" if kind.makes_video else "image"
    return [new_job(rng, sim_kind, {}, config, now=0.0) for _ in range(count)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(0.95 * len(ordered)) - 1))]


def bot_outcome(
    jobs: list[SimJob],
    kind: JobKind,
    learned: Learned,
    overlap: int = 20,
    lags: list[float] | None = None,
) -> Outcome:
    """The schedule on these jobs, one after the other; each teaches `learned` once the
    `overlap` jobs after it have started (as when that many run at once). Each job's lag is
    added to `lags`, if given."""
    calls, finished = [], []
    lags = [] if lags is None else lags
    schedule = Schedule(learned=learned)
    for job in jobs:
        t = schedule.first(kind)
        n, readings = 0, []
        while True:
            n += 1
            status = job.status_at(t)
            if status.is_terminal:
                break
            readings.append(Reading(t, status.progress))
            del readings[:-MAX_READINGS]  # as many as the poller keeps
            t += schedule.plan(kind, readings).delay
        finished.append((readings, t))
        if len(finished) > overlap:
            learned.note(kind, *finished.pop(0))
        calls.append(n)
        lags.append(t - job.duration)
    for done in finished:
        learned.note(kind, *done)
    return Outcome(sum(calls) / len(calls), p95(lags))


def fixed_outcome(jobs: list[SimJob], interval: float) -> Outcome:
    calls = [math.ceil(job.duration / interval) for job in jobs]
    lags = [c * interval - job.duration for c, job in zip(calls, jobs, strict=True)]
    return Outcome(sum(calls) / len(calls), p95(lags))


def fixed_p95_at(jobs: list[SimJob], calls: float) -> float:
    """The p95 lag of the fixed poller making `calls` calls per job (interpolated)."""
    lo, hi = 0.05, 600.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if fixed_outcome(jobs, mid).calls > calls:
            lo = mid
        else:
            hi = mid
    return fixed_outcome(jobs, hi).p95_lag
