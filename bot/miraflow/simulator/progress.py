"""Progress models: how long a simulated job takes and what its progress bar shows.

The bot must poll well on curves it was not tuned to, so the simulator can draw its jobs
from several models (``SimulatorConfig.progress_model``, ``simulate --progress-model``):

- ``default``: the configured duration ranges; fast to 90 % at 60 % of the time, then a crawl;
- ``linear``: images 5-60 s, progress proportional to the time worked;
- ``fast-then-crawl``: images 8-40 s, 90 % at about 20 % of the time (jittered), then a crawl;
- ``none``: images lognormal 3-120 s, progress absent or 0 until done;
- ``none-short``: the same, a quarter as long (lognormal 1-30 s), as when Miraflow's queue
  has emptied: for a bot that learned ``none`` first (`bench/poller.py --warm-model`);
- ``stalls-then-jumps``: images 10-90 s, flat stretches broken by sudden jumps;
- ``very-fast``: images 1-3 s;
- ``slow-then-fast``: images 5-60 s whose bar creeps, then speeds up (the cube of the share
  of the time worked): its rate says the end is much further than it is;
- ``waits-at-99``: images 10-60 s at 99 % from about half their time (45-55 %, jittered)
  until done, as when a finished picture is still being stored;
- ``coarse-steps``: images 10-60 s whose bar moves in 25 % steps;
- ``video-steps``: videos 60-600 s whose progress moves in 10 % steps;
- ``video-uneven-steps``: the same, but each step lasts between half and one and a half
  times its share, at random (a bar that is not even);
- ``video-blank``: videos 60-600 s whose progress is absent or 0 until done;
- ``mixed``: each image from one of the image models above, videos in 10 % steps.

A model that says nothing of a kind leaves it to the default curve and duration range.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

# Progress is precomputed at this many points of a job's duration.
PROGRESS_POINTS = 200
# The default curve reaches FAST_PHASE_PROGRESS % at FAST_PHASE_END, then crawls to 99.
FAST_PHASE_END = 0.6
FAST_PHASE_PROGRESS = 90.0
LAST_WORKING_PROGRESS = 99
PROGRESS_JITTER = 2.5

# A curve: percent done at a share of the duration (queue included), for one job.
Curve = Callable[[float], float | None]


def nominal_progress(fraction: float, queue_fraction: float) -> float:
    """Percent done at ``fraction`` of the duration: fast at first (90 % at 60 %), then a crawl
    to 99 % at the end, like real inference progress bars."""
    if fraction <= queue_fraction:
        return 0.0
    if fraction <= FAST_PHASE_END:
        share = (fraction - queue_fraction) / (FAST_PHASE_END - queue_fraction)
        return FAST_PHASE_PROGRESS * (1.0 - (1.0 - share) ** 2)
    share = min((fraction - FAST_PHASE_END) / (1.0 - FAST_PHASE_END), 1.0)
    crawl = LAST_WORKING_PROGRESS - FAST_PHASE_PROGRESS
    return FAST_PHASE_PROGRESS + crawl * (1.0 - (1.0 - share) ** 1.5)


def sampled(curve: Curve, rng: random.Random, jitter: float) -> list[int | None]:
    """The curve at PROGRESS_POINTS points, jittered, never decreasing, at most 99."""
    points: list[int | None] = []
    highest = 0.0
    for index in range(PROGRESS_POINTS):
        value = curve(index / PROGRESS_POINTS)
        if value is None:
            points.append(None)
            continue
        shaken = value + (rng.uniform(-jitter, jitter) if jitter else 0.0)
        highest = max(highest, shaken)
        points.append(min(max(int(highest), 0), LAST_WORKING_PROGRESS))
    return points


def default_curve(queue: float) -> Curve:
    return lambda fraction: nominal_progress(fraction, queue)


def linear_curve(queue: float) -> Curve:
    return lambda f: 0.0 if f <= queue else 100.0 * (f - queue) / (1.0 - queue)


def fast_then_crawl_curve(queue: float, rng: random.Random) -> Curve:
    knee = min(max(rng.gauss(0.2, 0.04), 0.1), 0.3)  # 90 % at about 20 % of the time

    def curve(f: float) -> float:
        if f <= queue:
            return 0.0
        if f <= knee:
            share = (f - queue) / max(knee - queue, 1e-6)
            return FAST_PHASE_PROGRESS * (1.0 - (1.0 - share) ** 2)
        crawl = LAST_WORKING_PROGRESS - FAST_PHASE_PROGRESS
        return FAST_PHASE_PROGRESS + crawl * (f - knee) / (1.0 - knee)

    return curve


def no_progress_curve(rng: random.Random) -> Curve:
    shown: float | None = 0.0 if rng.random() < 0.5 else None  # absent, or a stuck 0 %
    return lambda _f: shown


def stalls_then_jumps_curve(queue: float, rng: random.Random) -> Curve:
    """Flat stretches, then jumps: 2-5 jumps at random times, to random heights; the last
    level is left for a final jump to done."""
    jumps = sorted(rng.uniform(queue, 0.95) for _ in range(rng.randint(2, 5)))
    levels = sorted(rng.uniform(5.0, 95.0) for _ in jumps)

    def curve(f: float) -> float:
        reached = 0.0
        for at, level in zip(jumps, levels, strict=True):
            if f >= at:
                reached = level
        return reached

    return curve


def slow_then_fast_curve(queue: float) -> Curve:
    return lambda f: 0.0 if f <= queue else 100.0 * ((f - queue) / (1.0 - queue)) ** 3


def waits_at_99_curve(queue: float, rng: random.Random) -> Curve:
    waits_from = rng.uniform(0.45, 0.55)  # 99 % from this share of the time on

    def curve(f: float) -> float:
        if f <= queue:
            return 0.0
        return LAST_WORKING_PROGRESS * min((f - queue) / max(waits_from - queue, 1e-6), 1.0)

    return curve


def steps_curve(queue: float, step: float = 10.0) -> Curve:
    def curve(f: float) -> float:
        if f <= queue:
            return 0.0
        return min(math.floor(100.0 * (f - queue) / (1.0 - queue) / step) * step, 90.0)

    return curve


def uneven_steps_curve(queue: float, rng: random.Random, step: float = 10.0) -> Curve:
    """Steps of `step` percent whose lengths vary at random, 0.5-1.5 times their share."""
    lengths = [rng.uniform(0.5, 1.5) for _ in range(round(100.0 / step))]
    total, at, starts = sum(lengths), queue, []
    for length in lengths[:-1]:
        at += (1.0 - queue) * length / total
        starts.append(at)

    def curve(f: float) -> float:
        if f <= queue:
            return 0.0
        return step * sum(1 for start in starts if f >= start)

    return curve


def lognormal_seconds(rng: random.Random, low: float, high: float, median: float) -> float:
    return min(max(rng.lognormvariate(math.log(median), 0.9), low), high)


@dataclass(frozen=True, slots=True)
class ImageModel:
    seconds: tuple[float, float] | None  # None: the configured range
    curve: Callable[[float, random.Random], Curve]
    jitter: float = 0.0
    lognormal: bool = False
    median: float = 15.0  # of a lognormal duration, before it is held to `seconds`


IMAGE_MODELS: dict[str, ImageModel] = {
    "default": ImageModel(None, lambda q, _r: default_curve(q), PROGRESS_JITTER),
    "linear": ImageModel((5.0, 60.0), lambda q, _r: linear_curve(q)),
    "fast-then-crawl": ImageModel((8.0, 40.0), fast_then_crawl_curve, 1.0),
    "none": ImageModel((3.0, 120.0), lambda _q, r: no_progress_curve(r), lognormal=True),
    "none-short": ImageModel(
        (1.0, 30.0), lambda _q, r: no_progress_curve(r), lognormal=True, median=15.0 / 4
    ),
    "stalls-then-jumps": ImageModel((10.0, 90.0), stalls_then_jumps_curve),
    "very-fast": ImageModel((1.0, 3.0), lambda q, _r: linear_curve(q)),
    "slow-then-fast": ImageModel((5.0, 60.0), lambda q, _r: slow_then_fast_curve(q)),
    "waits-at-99": ImageModel((10.0, 60.0), waits_at_99_curve),
    "coarse-steps": ImageModel((10.0, 60.0), lambda q, _r: steps_curve(q, 25.0)),
}
# The models of images in a "mixed" run (drawn at random per job).
MIXED_IMAGE_MODELS = ("default", "linear", "fast-then-crawl", "none", "stalls-then-jumps")
VIDEO_STEP_MODELS = frozenset({"video-steps", "mixed"})
VIDEO_MODELS = ("video-steps", "video-uneven-steps", "video-blank")  # images: the default
PROGRESS_MODELS: tuple[str, ...] = (*IMAGE_MODELS, *VIDEO_MODELS, "mixed")


def plan(
    model: str, is_video: bool, configured: tuple[float, float], rng: random.Random
) -> tuple[float, Callable[[float, random.Random], list[int | None]]]:
    """A job's duration under ``model`` (``configured``: the kind's configured range, used where
    the model sets none), and how to draw its progress points given its queue share."""
    if model not in PROGRESS_MODELS:
        raise ValueError(f"unknown progress model {model!r}; one of {', '.join(PROGRESS_MODELS)}")
    if is_video:
        duration = rng.uniform(*configured)
        if model in VIDEO_STEP_MODELS:
            return duration, lambda q, r: sampled(steps_curve(q), r, 0.0)
        if model == "video-uneven-steps":
            return duration, lambda q, r: sampled(uneven_steps_curve(q, r), r, 0.0)
        if model == "video-blank":
            return duration, lambda _q, r: sampled(no_progress_curve(r), r, 0.0)
        return duration, lambda q, r: sampled(default_curve(q), r, PROGRESS_JITTER)
    name = model
    if model == "mixed":
        name = rng.choice(MIXED_IMAGE_MODELS)
    elif model in VIDEO_MODELS:
        name = "default"
    image = IMAGE_MODELS[name]
    low, high = image.seconds if image.seconds is not None else configured
    if image.lognormal:
        duration = lognormal_seconds(rng, low, high, image.median)
    else:
        duration = rng.uniform(low, high)
    return duration, lambda q, r: sampled(image.curve(q, r), r, image.jitter)
