from __future__ import annotations

import asyncio
import time

import pytest

from bot.jobs.models import JobKind
from bot.jobs.poller import RateLimiter
from bot.jobs.schedule import (
    IMAGE_POLICY,
    VIDEO_POLICY,
    Schedule,
    backoff_delay,
    estimated_remaining,
    fraction_elapsed,
    next_poll_delay,
)


@pytest.mark.parametrize("kind", list(JobKind))
def test_delays_stay_within_the_kind_policy(kind):
    policy = VIDEO_POLICY if kind.makes_video else IMAGE_POLICY
    for progress in (None, 0, 10, 50, 90, 95, 99, 100):
        for elapsed in (0.0, 1.0, 10.0, 100.0, 1000.0):
            delay = next_poll_delay(kind, progress, elapsed)
            assert policy.floor <= delay <= policy.ceiling


def test_the_progress_model_matches_a_fast_climb_and_a_slow_crawl():
    assert fraction_elapsed(0) == pytest.approx(0.1)  # queued for the first tenth
    assert fraction_elapsed(90) == pytest.approx(0.6)
    assert fraction_elapsed(99) <= 1.0
    samples = [fraction_elapsed(p) for p in range(100)]
    assert samples == sorted(samples)


def test_remaining_time_accounts_for_the_slow_finish():
    # 90 % is reached at 60 % of the duration: 60 s in at 90 % means about 40 s to go.
    assert estimated_remaining(90, 60.0) == pytest.approx(40.0)
    assert estimated_remaining(None, 10.0) is None


def test_polls_sleep_through_most_of_the_job_then_come_often_near_its_end():
    early = next_poll_delay(JobKind.IMAGE, 30, 4.0)
    late = next_poll_delay(JobKind.IMAGE, 99, 30.0)
    assert late == IMAGE_POLICY.tail < early
    assert next_poll_delay(JobKind.VIDEO, 20, 60.0) > next_poll_delay(JobKind.VIDEO, 98, 400.0)


def test_backoff_grows_is_capped_and_honours_retry_after():
    assert backoff_delay(1) <= 2.0
    assert 16.0 <= backoff_delay(5) <= 32.0
    assert backoff_delay(50) <= 300.0
    assert backoff_delay(1, retry_after=7.0) >= 7.0


def test_a_faster_clock_scales_every_delay():
    normal, fast = Schedule(), Schedule(speed=10.0)
    assert fast.first(JobKind.IMAGE) == pytest.approx(normal.first(JobKind.IMAGE) / 10)
    assert fast.next(JobKind.VIDEO, 50, 10.0) == pytest.approx(
        normal.next(JobKind.VIDEO, 50, 100.0) / 10
    )
    assert fast.sweep_interval() == pytest.approx(normal.sweep_interval() / 10)
    assert fast.timed_out(200.0, 1800.0) and not normal.timed_out(200.0, 1800.0)
    assert fast.backoff(3, retry_after=1.0) >= 1.0


async def test_the_rate_limiter_never_lets_more_than_the_ceiling_through_in_a_second():
    # 10 calls a second on a clock 200 times faster: a "second" lasts 5 ms.
    limiter = RateLimiter(10.0, speed=200.0)
    times: list[float] = []

    async def call():
        await limiter.acquire()
        times.append(time.monotonic())

    await asyncio.gather(*(call() for _ in range(60)))
    times.sort()
    window = 1.0 / 200.0
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + window) <= 10
    # Spread out, not bunched: 60 calls take about 6 "seconds".
    assert times[-1] - times[0] >= 5 * window


async def test_urgent_calls_go_before_the_ones_that_can_wait():
    limiter = RateLimiter(10.0, speed=200.0)
    order: list[str] = []

    async def call(kind: str):
        await limiter.acquire(urgent=kind == "urgent")
        order.append(kind)

    waiting = [call("progress") for _ in range(5)] + [call("urgent") for _ in range(5)]
    await asyncio.gather(*waiting)
    # The first call finds the limiter idle; after it, every urgent call comes first.
    assert order[1:6] == ["urgent"] * 5 or order[:5] == ["urgent"] * 5
    assert order.count("progress") == 5
