"""The video sweep comes when a swept video's bar says its end is near, not only at the
pace its number of videos sets."""

from __future__ import annotations

import pytest

from bot.jobs.estimate import Durations, Reading
from bot.jobs.job_requests import TextVideoRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.schedule import (
    SWEEP_INTERVALS,
    SWEEP_NEAR_END,
    VIDEO_POLICY,
    Schedule,
    next_poll,
    sweep_interval,
)
from bot.jobs.store import JobStore
from bot.jobs.sweep import VideoSweep
from bot.miraflow import MiraflowClient


def test_near_a_video_end_the_sweep_comes_when_its_own_schedule_would_poll_it():
    paced = sweep_interval(10)
    assert sweep_interval(10, wanted_in=100.0) == paced  # nothing near: the usual pace
    assert sweep_interval(10, wanted_in=2.5) == 2.5
    assert sweep_interval(10, wanted_in=0.1) == SWEEP_NEAR_END  # never closer than this
    assert sweep_interval(2, wanted_in=None) == SWEEP_INTERVALS[1]


def test_a_bar_says_its_end_is_near_only_when_its_rate_puts_it_there():
    # 10 % more every 30 s, read every 5 s: at 90 %, seen within 5 s of showing, about 30 s
    # are left; 20 s later, 10.
    steps = [Reading(t, min(t // 30, 9) * 10) for t in range(30, 275, 5)]
    assert steps[-1].progress == 90 and steps[-2].progress == 80
    assert not next_poll(JobKind.VIDEO, steps, Durations()).end_is_near
    later = [*steps, *(Reading(steps[-1].elapsed + t, 90) for t in (5.0, 10.0, 15.0, 20.0))]
    assert next_poll(JobKind.VIDEO, later, Durations()).end_is_near
    silent = [Reading(30.0 * n, None) for n in range(1, 10)]
    assert not next_poll(JobKind.VIDEO, silent, Durations()).end_is_near
    assert 2 * VIDEO_POLICY.tail < 30.0  # (what "near" means for videos)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sweep_and_clock(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    for n in range(3):
        job = store.create_job(
            kind=JobKind.VIDEO,
            user_id=n,
            channel_id=8,
            guild_id=1,
            request=TextVideoRequest(avatar_id="a", voice_id="v", text="hi", name=f"v{n}"),
            upload_limit=10 << 20,
        )
        store.set_state(job.id, JobState.WORKING, miraflow_job_id=f"mf{n}")
    clock = Clock()
    client = MiraflowClient("mf_test", base_url="http://127.0.0.1:9")
    yield VideoSweep(store, client, Schedule(), clock), clock, store
    store.close()


def test_a_swept_video_near_its_end_brings_the_sweep_forward(sweep_and_clock):
    sweep, clock, store = sweep_and_clock
    job_id = store.waiting_jobs(JobKind.VIDEO)[0].id
    assert sweep.due() and sweep.active
    paced = sweep_interval(3)
    assert sweep.next_at == pytest.approx(clock.now + paced)
    sweep.wants(job_id, clock.now + 2.5)  # its bar says its end is near
    clock.now += 2.4
    assert not sweep.due()
    clock.now += 0.1
    assert sweep.due()
    assert sweep.next_at == pytest.approx(clock.now + SWEEP_NEAR_END)
    sweep.wants(job_id, None)  # no longer near: back to the usual pace
    clock.now += SWEEP_NEAR_END
    assert sweep.due()
    assert sweep.next_at == pytest.approx(clock.now + paced)


def test_videos_that_pin_their_own_end_do_not_count_towards_a_sweep(sweep_and_clock):
    sweep, clock, store = sweep_and_clock
    first, second, _third = (job.id for job in store.waiting_jobs(JobKind.VIDEO))
    sweep.paces_itself(first, True)  # their bars are read as even
    sweep.paces_itself(second, True)
    assert not sweep.due() and not sweep.active  # one video left to sweep for: none
    sweep.paces_itself(second, False)  # its bar no longer fits an even one
    clock.now += SWEEP_INTERVALS[1]
    assert sweep.due() and sweep.active
    assert sweep.self_paced(first) and not sweep.self_paced(second)
