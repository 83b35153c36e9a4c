from __future__ import annotations

import pytest

from bot.jobs.models import JobKind
from bot.jobs.schedule import (
    IMAGE_POLICY,
    VIDEO_POLICY,
    Schedule,
    backoff_delay,
    estimated_remaining,
    next_poll_delay,
)


@pytest.mark.parametrize("kind", list(JobKind))
def test_delays_stay_within_the_kind_policy(kind):
    policy = VIDEO_POLICY if kind.makes_video else IMAGE_POLICY
    for progress in (None, 0, 10, 50, 90, 95, 99, 100):
        for elapsed in (0.0, 1.0, 10.0, 100.0, 1000.0):
            delay = next_poll_delay(kind, progress, elapsed)
            assert policy.floor <= delay <= policy.ceiling


def test_polls_come_sooner_as_the_job_nears_its_end():
    early = next_poll_delay(JobKind.VIDEO, 20, 60.0)
    late = next_poll_delay(JobKind.VIDEO, 97, 300.0)
    assert late < early


def test_remaining_time_accounts_for_the_slow_finish():
    # 90 % is reached at 60 % of the duration: 60 s in at 90 % means about 40 s to go.
    assert estimated_remaining(JobKind.IMAGE, 90, 60.0) == pytest.approx(40.0)
    assert estimated_remaining(JobKind.IMAGE, 45, 30.0) == pytest.approx(70.0)


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
    assert fast.timed_out(200.0, 1800.0) and not normal.timed_out(200.0, 1800.0)
    assert fast.backoff(3, retry_after=1.0) >= 1.0
