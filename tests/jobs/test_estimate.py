"""The time-left estimate: a pure function of past durations, progress and time spent."""

from __future__ import annotations

import pytest

from bot.jobs.estimate import (
    CURVE_MIN,
    MIN_SAMPLES,
    REFRESH_SECONDS,
    Curve,
    Estimates,
    Reading,
    expected_left,
    time_left,
)
from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import JobStore

T0 = 1_700_000_000.0


def test_no_estimate_before_enough_jobs_have_finished() -> None:
    assert time_left([10.0] * (MIN_SAMPLES - 1), 50, 5.0) is None
    assert time_left([], None, 0.0) is None


def test_progress_leaves_its_share_of_the_typical_duration() -> None:
    assert time_left([10.0, 20.0, 1000.0], 25, 5.0) == 15.0  # median 20, 75% left


def test_without_progress_the_time_spent_is_taken_off() -> None:
    assert time_left([30.0, 30.0, 30.0], None, 12.0) == 18.0
    assert time_left([30.0, 30.0, 30.0], None, 45.0) == 0.0


def test_a_job_slower_than_usual_is_judged_by_its_own_pace() -> None:
    assert time_left([10.0, 10.0, 10.0], 50, 40.0) == 40.0


def test_the_expected_end_follows_the_learned_curve_else_the_usual_bar() -> None:
    curve = Curve()
    assert expected_left(None, 10.0, curve) is None
    # The usual bar: 90 % at 60 % of the duration.
    assert expected_left(90, 60.0, curve) == pytest.approx(40.0)
    # Bars that reach 50 % at a fifth of the duration, learned from finished jobs.
    for _ in range(CURVE_MIN):
        curve.learn([Reading(20.0, 50)], 100.0)
    assert expected_left(50, 10.0, curve) == pytest.approx(40.0)


def finished(store: JobStore, kind: JobKind, took: float) -> None:
    job = store.create_job(
        kind=kind, user_id=1, channel_id=2, guild_id=3, request=_request(), upload_limit=1, now=T0
    )
    store.mark_submitted(job.id, f"mf-{job.id}", next_poll_at=T0, now=T0)
    store.set_state(job.id, JobState.COMPLETE, now=T0 + took)


def _request() -> PictureRequest:
    return PictureRequest("a cat")


def test_estimates_read_the_durations_the_store_has_seen(tmp_path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    now = [T0 + 1000]
    estimates = Estimates(store, clock=lambda: now[0])
    try:
        for took in (8.0, 10.0, 12.0):
            finished(store, JobKind.IMAGE, took)
        assert sorted(store.recent_durations(JobKind.IMAGE, 10)) == [8.0, 10.0, 12.0]
        assert store.recent_durations(JobKind.VIDEO, 10) == []

        running = store.create_job(
            kind=JobKind.IMAGE,
            user_id=1,
            channel_id=2,
            guild_id=3,
            request=_request(),
            upload_limit=1,
            now=now[0],
        )
        running = store.mark_submitted(running.id, "mf-x", next_poll_at=now[0], now=now[0])
        assert running is not None
        now[0] += 4
        assert estimates.left(running) == 6.0
    finally:
        store.close()


def test_durations_are_cached_until_a_job_of_a_sparse_kind_finishes(tmp_path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    now = [T0 + 1000]
    estimates = Estimates(store, clock=lambda: now[0])
    try:
        finished(store, JobKind.IMAGE, 5.0)
        assert estimates.durations(JobKind.IMAGE) == [5.0]
        finished(store, JobKind.IMAGE, 7.0)
        assert estimates.durations(JobKind.IMAGE) == [5.0]  # cached
        estimates.saw_finished(JobKind.IMAGE)
        assert len(estimates.durations(JobKind.IMAGE)) == 2
        finished(store, JobKind.IMAGE, 9.0)
        estimates.saw_finished(JobKind.IMAGE)
        assert len(estimates.durations(JobKind.IMAGE)) == 3
        finished(store, JobKind.IMAGE, 11.0)
        estimates.saw_finished(JobKind.IMAGE)  # enough now: the minute's cache stands
        assert len(estimates.durations(JobKind.IMAGE)) == 3
        now[0] += REFRESH_SECONDS
        assert len(estimates.durations(JobKind.IMAGE)) == 4
    finally:
        store.close()
