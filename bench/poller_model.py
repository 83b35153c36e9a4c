"""The image poller under the calls-per-second ceiling, as a discrete-event model: many seeds
in seconds, where `bench/poller.py` takes a minute a run.

    python bench/poller_model.py --model none --jobs 200 --seeds 12 [--no-spacing]
        [--warm 200 [--warm-model none]]

Jobs are drawn and arrive as in `bench/poller.py --model NAME` (images, uniform over 1.5 s
a job); the schedule's own pure functions (`bot.jobs.schedule`, learning from each job it
finds done) say when to poll, and the key's spacing (`bot.jobs.spacing`) is the bot's own
class on the model's clock. The pacer is modelled: a create goes before the polls due, polls
go in the order they are due, at most `ceiling` calls in any window of 1.02 s and never
more than twice as close as an even spread (`bot.jobs.pacing`). Not modelled: time on the
wire, the poller's cap on calls in flight, and a busy event loop, so absolute figures sit
a little under the benchmark's; the comparison with the fixed poller making as many calls
(`bench.fixed.same_calls`, free of the ceiling) is what it is for. With `--warm`, the bot
restarts on what a warm-up left, as in the benchmark: the durations it learned (as its
store keeps them) and its key's spacing.

The last line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calls import percentile
from bench.fixed import Timeline, same_calls
from bench.scenarios import WARM_SEED
from bot.jobs.estimate import MAX_READINGS, Reading
from bot.jobs.models import JobKind
from bot.jobs.pacing import BUNCHING, NETWORK_ALLOWANCE, SLACK
from bot.jobs.readings import STORE_DURATIONS
from bot.jobs.schedule import IMAGE_POLICY, Learned, first_poll_delay, next_poll
from bot.jobs.spacing import LoadSpacing
from bot.miraflow.simulator import SimulatorConfig
from bot.miraflow.simulator.jobs import new_job

IMAGE = JobKind.IMAGE
WINDOW = 1.0 + NETWORK_ALLOWANCE  # seconds a ceiling's worth of calls is counted over


class ModelPacer:
    """The pacer's slots: `rate` a window, never BUNCHING times closer than even."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._per_window = max(1, math.floor(rate + 0.5))
        self._interval = SLACK / (rate * BUNCHING)
        self._next_slot = 0.0
        self._recent: deque[float] = deque()

    def slot(self, wanted: float) -> float:
        at = max(wanted, self._next_slot)
        if len(self._recent) >= self._per_window:
            at = max(at, self._recent[-self._per_window] + WINDOW)
        return at

    def take(self, at: float) -> None:
        late = at - self._next_slot
        self._next_slot = (self._next_slot if 0 <= late < self._interval else at) + self._interval
        self._recent.append(at)
        while len(self._recent) > 2 * self._per_window:
            self._recent.popleft()


@dataclass(frozen=True, slots=True)
class Figures:
    calls_per_job: float
    lag_p95: float
    fixed_same_calls_p95: float  # the free fixed poller making as many calls per job

    @property
    def ratio(self) -> float:
        return self.lag_p95 / self.fixed_same_calls_p95


@dataclass(frozen=True, slots=True)
class Kept:
    """What a restarted bot starts from: the durations its store holds, its key's spacing."""

    durations: list[float]
    spacing: float


def run(
    model: str,
    jobs: int,
    seed: int,
    *,
    spaced: bool = True,
    ceiling: float = 10.0,
    warm: tuple[str, int] | None = None,
) -> Figures:
    """`warm`: first follow that many jobs of that model (another seed), then restart on
    what they left (as `bench/poller.py --warm N --warm-model NAME`)."""
    kept = None
    if warm is not None:
        warm_model, warm_jobs = warm
        _, kept = follow(warm_model, warm_jobs, seed + WARM_SEED, spaced, ceiling, None)
    figures, _ = follow(model, jobs, seed, spaced, ceiling, kept)
    return figures


def follow(
    model: str, jobs: int, seed: int, spaced: bool, ceiling: float, kept: Kept | None
) -> tuple[Figures, Kept]:
    rng = random.Random(seed)
    config = SimulatorConfig(progress_model=model)
    arrivals = sorted(rng.uniform(0, jobs * 1.5) for _ in range(jobs))
    sims = [new_job(rng, "image", {}, config, now=0.0) for _ in arrivals]
    learned = Learned()
    if kept is not None:
        learned.set_durations(False, kept.durations[-STORE_DURATIONS:])
    pacer = ModelPacer(ceiling)
    now = 0.0
    floor = kept.spacing if kept is not None else 0.0
    spacing = LoadSpacing(IMAGE_POLICY.tail, lambda: now, floor=floor)
    due: list[tuple[float, int]] = []
    readings: list[list[Reading]] = [[] for _ in arrivals]
    calls = [0] * jobs
    lags: list[float] = []
    durations: list[float] = []
    created = 0
    while created < jobs or due:
        arriving = arrivals[created] if created < jobs else math.inf
        polling = due[0][0] if due else math.inf
        at = pacer.slot(max(now, min(arriving, polling)))
        pacer.take(at)
        now = at
        if arriving <= at:  # a member's call goes before the polls due
            scale = learned.first_scale[False]
            first = first_poll_delay(IMAGE, learned.of(IMAGE), scale, spacing.floor)
            heapq.heappush(due, (arriving + first, created))
            created += 1
            continue
        _, n = heapq.heappop(due)
        calls[n] += 1
        age = now - arrivals[n]
        status = sims[n].status_at(age)
        if status.is_terminal:
            lags.append(age - sims[n].duration)
            running = [now - arrivals[m] for _, m in due]
            durations.append(learned.note(IMAGE, readings[n], age, running))
            spacing.forget(n)
            continue
        if not readings[n]:
            learned.first_answer(IMAGE, age, done=False)
        readings[n].append(Reading(age, status.progress))
        del readings[n][:-MAX_READINGS]
        seen, curve, trust = learned.of(IMAGE), learned.curve_of(IMAGE), learned.trust[False]
        delay = next_poll(IMAGE, readings[n], seen, curve, trust).delay
        if spaced:
            delay = spacing.spaced(n, delay, pacer.rate)
        heapq.heappush(due, (now + delay, n))
    timelines = [Timeline(a, a + job.duration) for a, job in zip(arrivals, sims, strict=True)]
    per_job = sum(calls) / jobs
    figures = Figures(per_job, percentile(lags, 95), same_calls(timelines, per_job, None).p95_lag)
    return figures, Kept(durations, spacing.floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="none")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--no-spacing", action="store_true", help="the poller without its spacing")
    parser.add_argument("--warm", type=int, default=0, help="first follow this many other jobs")
    parser.add_argument("--warm-model", help="the model of those jobs (default: --model)")
    args = parser.parse_args()
    warm = (args.warm_model or args.model, args.warm) if args.warm else None
    runs = []
    for seed in range(1, args.seeds + 1):
        figures = run(args.model, args.jobs, seed, spaced=not args.no_spacing, warm=warm)
        runs.append({"seed": seed, **asdict(figures), "ratio": round(figures.ratio, 3)})
        print(
            f"seed {seed}: {figures.calls_per_job:.2f} calls/job, p95 {figures.lag_p95:.2f} s, "
            f"fixed at the same calls {figures.fixed_same_calls_p95:.2f} s",
            flush=True,
        )
    ratios = [r["ratio"] for r in runs]
    summary = {
        "model": args.model,
        "jobs": args.jobs,
        "spacing": not args.no_spacing,
        "warm": list(warm) if warm else None,
        "calls_per_job": round(statistics.mean(r["calls_per_job"] for r in runs), 2),
        "ratio_to_fixed_mean": round(statistics.mean(ratios), 3),
        "ratio_to_fixed_worst": max(ratios),
        "seeds_ahead": sum(ratio < 1.0 for ratio in ratios),
        "seeds": len(runs),
    }
    print(json.dumps({**summary, "runs": runs}))


if __name__ == "__main__":
    main()
