"""The fixed-interval pollers the benchmark compares the bot with (`bench/fixed.py`)."""

from __future__ import annotations

import pytest

from bench.fixed import Timeline, run_fixed


def test_a_free_fixed_poller_asks_every_interval_until_it_sees_the_end() -> None:
    result = run_fixed([Timeline(created=0.0, done=7.0)], interval=2.0, ceiling=None)
    assert result.calls == [4]  # at 2, 4, 6 and 8 s
    assert result.lags == [pytest.approx(1.0)]
    assert result.call_times == [0.0, 2.0, 4.0, 6.0, 8.0]  # the create call, then the polls


def test_a_held_fixed_poller_shares_its_ceiling_with_the_create_calls() -> None:
    # One call a second: three creates at 0 take the slots at 0, 1 and 2 s, so the first
    # poll of the first job, due at 2 s, goes at 3 s, and the others queue behind it.
    jobs = [Timeline(created=0.0, done=2.5) for _ in range(3)]
    result = run_fixed(jobs, interval=2.0, ceiling=1.0)
    assert result.call_times == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.calls == [1, 1, 1]
    assert result.lags == [pytest.approx(0.5), pytest.approx(1.5), pytest.approx(2.5)]
