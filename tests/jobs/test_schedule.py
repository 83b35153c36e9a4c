from __future__ import annotations

import asyncio
import math
import time

import pytest

from bot.jobs.estimate import (
    CURVE_MIN,
    Curve,
    Durations,
    Reading,
    erratic,
    remaining,
    remaining_by_curve,
)
from bot.jobs.models import JobKind
from bot.jobs.pacing import NETWORK_ALLOWANCE, RateLimiter
from bot.jobs.schedule import (
    BLANK_VIDEO_SPACING,
    FIRST_SHORTER_AFTER,
    FIRST_STEP,
    FIRST_WINDOW,
    IMAGE_POLICY,
    SHORTEST,
    VIDEO_POLICY,
    Learned,
    Schedule,
    backoff_delay,
    first_poll_delay,
    next_poll,
    shortest_end,
    sweep_interval,
)
from bot.jobs.trust import TRUST_MIN, Trust

NOTHING = Durations()


@pytest.mark.parametrize("kind", list(JobKind))
def test_delays_stay_within_the_kind_policy(kind):
    policy = VIDEO_POLICY if kind.makes_video else IMAGE_POLICY
    seen = Durations([5.0 + n for n in range(100)])
    for progress in (None, 0, 10, 50, 90, 95, 99):
        for elapsed in (1.0, 10.0, 100.0, 1000.0):
            for durations in (NOTHING, seen):
                readings = [Reading(elapsed / 2, 5), Reading(elapsed, progress)]
                delay = next_poll(kind, readings, durations).delay
                assert policy.floor <= delay <= policy.ceiling


def test_the_time_left_comes_from_the_rate_the_bar_has_shown():
    # 10 % more every 4 s, at 50 % now: 20 s to go; 12 s at the soonest, as the bar's last
    # step (20 %) could hide 8 s of it.
    readings = [Reading(4.0, 10), Reading(8.0, 20), Reading(12.0, 30), Reading(20.0, 50)]
    left = remaining(readings)
    assert left is not None and left.steady
    assert left.centre == pytest.approx(20.0)
    assert left.soonest == pytest.approx(12.0)
    assert remaining([Reading(3.0, None), Reading(6.0, 0)]) is None


def test_time_spent_without_moving_counts_against_the_time_left():
    moving = [Reading(10.0, 40), Reading(20.0, 60)]
    stuck = [*moving, Reading(25.0, 60)]
    assert remaining(stuck).centre == pytest.approx(remaining(moving).centre - 5.0)


def test_a_bar_that_jumps_or_stalls_is_not_trusted():
    steady = [Reading(5.0 * n, 10 * n) for n in range(1, 6)]
    assert not erratic(steady)
    jumped = [*steady, Reading(27.0, 95)]
    stalled = [*steady, Reading(60.0, 50)]
    assert erratic(jumped) and erratic(stalled)


def kept_their_word() -> Trust:
    """A trust learned from jobs whose steady bars ended where their rate said."""
    trust = Trust()
    for n in range(TRUST_MIN):
        duration = 40.0 + n
        readings = [Reading(t, int(100 * t / duration)) for t in range(2, int(duration), 2)]
        trust.learn(readings, duration, Curve(), IMAGE_POLICY.tail, IMAGE_POLICY.target)
    return trust


def test_polls_sleep_through_most_of_the_job_then_come_often_near_its_end():
    early = [Reading(4.0 * n, 5 * n) for n in range(1, 5)]  # 20 % at 16 s: 64 s to go
    late = [Reading(4.0 * n, 24 * n) for n in range(1, 5)]  # 96 % at 16 s
    trust = kept_their_word()
    assert next_poll(JobKind.IMAGE, late, NOTHING, trust=trust).delay == IMAGE_POLICY.tail
    assert next_poll(JobKind.IMAGE, early, NOTHING, trust=trust).delay > 10 * IMAGE_POLICY.tail


def test_until_estimates_are_proven_none_is_slept_on_for_longer_than_half_the_job_has_run():
    # A bar slow at first and fast at the end (progress as the cube of the time): 3 % at
    # 9 s and 6 % at 12 s, a rate that says 200 s more, for a job that ends at 30 s. Slept
    # through as said (the first jobs of a kind, before any was learned), it was noticed
    # 15-19 s late.
    accelerating = [Reading(t, int(100 * (t / 30.0) ** 3)) for t in (9.0, 10.5, 12.0)]
    assert remaining(accelerating).steady
    assert next_poll(JobKind.IMAGE, accelerating, NOTHING).delay <= 12.0 / 2
    assert next_poll(JobKind.IMAGE, accelerating, NOTHING, trust=kept_their_word()).delay > 20.0


def test_learned_durations_place_the_first_poll_and_space_silent_jobs():
    seen = Durations([20.0 + n for n in range(100)])  # 20-119 s
    assert first_poll_delay(JobKind.IMAGE, NOTHING) == IMAGE_POLICY.first
    assert first_poll_delay(JobKind.IMAGE, seen) == pytest.approx(21.0 + IMAGE_POLICY.tail)
    silent = [Reading(5.0, None)]
    assert next_poll(JobKind.IMAGE, silent, seen).delay == pytest.approx(16.0)  # to 21 s
    # While most jobs end: an even spacing, the lag a fixed poller would give for more calls.
    assert next_poll(JobKind.IMAGE, [Reading(60.0, None)], seen).delay == IMAGE_POLICY.tail
    assert next_poll(JobKind.IMAGE, [Reading(200.0, None)], seen).delay > IMAGE_POLICY.tail


def test_the_first_poll_comes_one_of_the_keys_spacings_after_the_shortest_jobs():
    seen = Durations([20.0 + n for n in range(100)])  # 20-119 s: the shortest end at 21 s
    tail = IMAGE_POLICY.tail
    # A key whose load fits its ceiling spaces polls closer than the tail: the tail.
    assert first_poll_delay(JobKind.IMAGE, seen, spacing=1.0) == pytest.approx(21.0 + tail)
    # A full gate holds the key's polls 2.5 s apart: a job that ends just after the
    # shortest then waits no longer than one that ends between two later polls (a tail
    # after them, silent bars were behind the fixed poller making as many calls).
    assert first_poll_delay(JobKind.IMAGE, seen, spacing=2.5) == pytest.approx(23.5)
    assert first_poll_delay(JobKind.IMAGE, NOTHING, spacing=2.5) == IMAGE_POLICY.first
    # On a clock ten times faster, the key's spacing is given in its seconds.
    fast = Schedule(speed=10.0)
    fast.learn(False, [d / 10.0 for d in range(20, 120)])
    assert fast.first(JobKind.IMAGE, spacing=0.25) == pytest.approx(2.35)
    assert fast.first(JobKind.IMAGE) == pytest.approx((21.0 + tail) / 10.0)


def test_a_rate_guessed_from_one_value_sleeps_no_longer_than_a_silent_job():
    # 40 % shown at once after 25 s: a steady bar would need ~37 s more, but a bar that
    # jumps may stall and jump to done; while most jobs of the kind end, it is polled as
    # closely as a silent one.
    seen = Durations([10.0 + n for n in range(80)])  # 10-89 s
    jumped = [Reading(20.0, 0), Reading(25.0, 40)]
    silent = [Reading(20.0, 0), Reading(25.0, 0)]
    assert (
        next_poll(JobKind.IMAGE, jumped, seen).delay == next_poll(JobKind.IMAGE, silent, seen).delay
    )


def test_a_learned_curve_is_slept_through_to_its_soonest_end():
    # Bars of this kind showed 50 % at 30-34 % of their duration: at 50 % after 6 s, the
    # latest share seen (about 34 %) gives the soonest end, about 11.6 s from now.
    curve = Curve()
    shares = [0.30 + n * 0.05 / CURVE_MIN for n in range(CURVE_MIN)]
    for share in shares:
        curve.learn([Reading(share * 100.0, 50)], 100.0)
    soonest = 6.0 / shares[-2] - 6.0
    readings = [Reading(6.0, 50)]
    assert remaining_by_curve(readings, curve).soonest == pytest.approx(soonest)
    trust = kept_their_word()
    share = trust.share(remaining_by_curve(readings, curve))
    delay = next_poll(JobKind.IMAGE, readings, Durations(), curve, trust).delay
    assert delay == pytest.approx(soonest * share) and delay > 3 * IMAGE_POLICY.tail
    # Until estimates of the kind are proven: no longer than half the job's age (or 2 tails).
    unproven = next_poll(JobKind.IMAGE, readings, Durations(), curve).delay
    assert unproven == pytest.approx(2 * IMAGE_POLICY.tail)


def test_a_bar_is_judged_by_how_well_its_own_values_agree_with_its_kind_curve():
    # Bars of this kind show 20 % at a fifth of their duration and 50 % at half of it.
    curve = Curve()
    for _ in range(CURVE_MIN):
        curve.learn([Reading(20.0, 20), Reading(50.0, 50)], 100.0)
    follows = [Reading(10.0, 20), Reading(25.0, 50)]  # both say 50 s
    own_times = [Reading(10.0, 20), Reading(60.0, 50)]  # 50 s, then 120 s: a stall
    assert remaining_by_curve(follows, curve).steady
    assert not remaining_by_curve(own_times, curve).steady


def test_a_value_seen_long_after_the_bar_reached_it_does_not_put_the_end_later():
    # Bars of this kind show 60 % at 30-35 % of their duration and reach 99 % at half of
    # it, where they wait until done. A job seen at 60 % after 12 s is seen at 99 % only
    # at 35 s (it got there at about 18 s): read from 35 s, 99 % would say 31 s more; the
    # 60 % before says the end comes from about 34 s on.
    curve = Curve()
    for n in range(CURVE_MIN):
        share = 0.30 + n * 0.05 / CURVE_MIN
        curve.learn([Reading(share * 100.0, 60), Reading(50.0, 99)], 100.0)
    seen_late = [Reading(12.0, 60), Reading(35.0, 99)]
    left = remaining_by_curve(seen_late, curve)
    assert left is not None and left.soonest < 1.0
    assert left.centre > 30.0  # where 99 % alone puts it, for a status message
    # Seen at 99 % as soon as the bar got there, both values say about 17 s more.
    on_time = remaining_by_curve([Reading(12.0, 60), Reading(18.0, 99)], curve)
    assert on_time is not None and on_time.soonest > 15.0


def test_a_bar_that_stood_still_teaches_its_curve_once():
    # One job stalled at 30 % for many polls weighs as much as any other at that value.
    curve = Curve()
    curve.learn([Reading(float(t), 30) for t in range(10, 90)], 100.0)
    for _ in range(CURVE_MIN - 1):
        curve.learn([Reading(50.0, 30)], 100.0)
    assert curve.shares(30) == [0.1] + [0.5] * (CURVE_MIN - 1)


def test_the_sweep_comes_more_often_the_more_videos_it_serves():
    assert sweep_interval(2) > sweep_interval(10) >= 2.0


def test_backoff_grows_is_capped_and_honours_retry_after():
    assert backoff_delay(1) <= 2.0
    assert 16.0 <= backoff_delay(5) <= 32.0
    assert backoff_delay(50) <= 300.0
    assert backoff_delay(1, retry_after=7.0) >= 7.0


def test_a_faster_clock_scales_every_delay():
    normal, fast = Schedule(), Schedule(speed=10.0)
    readings = [Reading(5.0, 10), Reading(10.0, 20)]
    fast_readings = [Reading(0.5, 10), Reading(1.0, 20)]
    assert fast.first(JobKind.IMAGE) == pytest.approx(normal.first(JobKind.IMAGE) / 10)
    assert fast.plan(JobKind.VIDEO, fast_readings).delay == pytest.approx(
        normal.plan(JobKind.VIDEO, readings).delay / 10
    )
    assert fast.sweep_interval(3) == pytest.approx(normal.sweep_interval(3) / 10)
    assert fast.timed_out(200.0, 1800.0) and not normal.timed_out(200.0, 1800.0)
    assert fast.backoff(3, retry_after=1.0) >= 1.0


def test_durations_learned_on_a_faster_clock_are_scaled_to_it():
    fast = Schedule(speed=10.0)
    fast.learn(False, [2.0 + n / 20 for n in range(100)])  # 20-69.5 simulated seconds
    images = fast.learned.images
    assert images.quantile(0.0) == pytest.approx(20.0)
    assert 20.0 <= images.quantile(SHORTEST) <= 21.0
    assert fast.first(JobKind.IMAGE) == pytest.approx(
        (images.quantile(SHORTEST) + IMAGE_POLICY.tail) / 10
    )
    assert not fast.learned.videos.known


def test_while_few_durations_are_known_the_first_poll_comes_before_the_shortest():
    # One job in eleven is shorter than the ten before it: the first poll does not wait for
    # the shortest of ten, but comes at a third of it.
    ten = Durations([130.0 + 10 * n for n in range(10)])
    assert ten.known
    assert shortest_end(ten) == pytest.approx(130.0 * math.sqrt(SHORTEST * 11))
    assert first_poll_delay(JobKind.VIDEO, ten) == pytest.approx(
        shortest_end(ten) + VIDEO_POLICY.tail
    )
    # The more are known, the closer to the shortest; from about a hundred, at it.
    fifty = Durations([130.0 + n for n in range(50)])
    assert shortest_end(ten) < shortest_end(fifty) < 130.0
    hundred = Durations([130.0 + n / 10 for n in range(100)])
    assert shortest_end(hundred) == pytest.approx(hundred.quantile(SHORTEST))


def test_the_first_poll_comes_sooner_while_most_jobs_are_done_at_it():
    learned = Learned()
    for _ in range(FIRST_WINDOW):  # found done at the first poll, 4 s in
        learned.note(JobKind.IMAGE, [], 4.0)
    assert learned.first_scale[False] == pytest.approx(FIRST_STEP)
    for _ in range(FIRST_WINDOW):  # seen working first, done later
        learned.note(JobKind.IMAGE, [Reading(3.0, 50)], 4.0)
    assert learned.first_scale[False] == pytest.approx(1.0)
    assert learned.first_scale[True] == 1.0
    # Durations are taken half-way between the last sight of the job working and its end.
    assert learned.images.quantile(1.0) == pytest.approx(3.5)


# A lone video in 10 % steps of uneven length, read from a bench run: its bar fits no even
# one, and it ended 61 s after the last reading (its rate said about 100 s).
UNEVEN_VIDEO = [
    Reading(t, p)
    for t, p in [
        (20.2, None), (40.5, None), (81.2, 0), (162.5, 20), (245.4, 30), (287.1, 40),
        (322.1, 50), (355.5, 60), (389.5, 70), (423.4, 70), (431.3, 70), (435.3, 70),
        (484.4, 80), (486.7, 80), (493.8, 80),
    ]
]  # fmt: skip


@pytest.mark.parametrize("even", ["trial", "on", "off"])
def test_a_video_two_steps_from_its_end_is_not_slept_on_before_estimates_are_proven(even):
    unproven = Trust()
    near_end = next_poll(JobKind.VIDEO, UNEVEN_VIDEO, NOTHING, Curve(), unproven, even)
    assert near_end.delay <= VIDEO_POLICY.tail  # it slept 79 s, 17 s past the end
    three_steps_left = UNEVEN_VIDEO[:-6]
    earlier = next_poll(JobKind.VIDEO, three_steps_left, NOTHING, Curve(), unproven, even)
    assert earlier.delay > 3 * VIDEO_POLICY.tail


def test_a_blank_video_on_trial_is_polled_often_unless_a_sweep_watches_for_its_end():
    # Its first value would start the even reading, and is awaited at a spacing of its age;
    # but a bar of a kind not yet known may stay blank to its end.
    blank = [Reading(20.0, None), Reading(60.0, 0), Reading(120.0, 0)]
    alone = next_poll(JobKind.VIDEO, blank, NOTHING, Curve(), Trust(), "trial")
    assert alone.delay == BLANK_VIDEO_SPACING
    swept = next_poll(JobKind.VIDEO, blank, NOTHING, Curve(), Trust(), "trial", swept=True)
    assert swept.delay == VIDEO_POLICY.ceiling  # its age, up to the ceiling
    # Once finished videos showed values (their bars read as even), it is awaited as before.
    proven = next_poll(JobKind.VIDEO, blank, NOTHING, Curve(), Trust(), "on")
    assert proven.delay == VIDEO_POLICY.ceiling


def silent_jobs_ending_from_12_s(count: int = 40) -> Learned:
    """Jobs seen working, then found done: they ended 12 s, 12.7 s, 13.4 s, ... in."""
    learned = Learned()
    for n in range(count):
        ended = 12.0 + 0.7 * n
        learned.note(JobKind.IMAGE, [Reading(ended - 0.25, None)], ended + 0.25)
    return learned


def test_a_job_found_done_at_its_first_poll_ended_about_as_densely_as_jobs_end_after_it():
    learned = silent_jobs_ending_from_12_s(100)  # enough that the shortest is read as is
    learned.note(JobKind.IMAGE, [], 13.0)
    # Not half-way (6.5 s): that would bring every first poll 5 s sooner, before any job
    # of the kind ever ended.
    assert learned.images.quantile(0.0) >= 13.0 - IMAGE_POLICY.tail
    assert first_poll_delay(JobKind.IMAGE, learned.images) >= 12.0


def test_when_several_recent_jobs_are_done_at_their_first_poll_they_are_taken_as_shorter():
    learned = silent_jobs_ending_from_12_s()
    for _ in range(FIRST_SHORTER_AFTER):
        learned.note(JobKind.IMAGE, [], 13.0)
    assert learned.images.quantile(0.0) > 11.0
    learned.note(JobKind.IMAGE, [], 13.0)  # one more of the last few: jobs got shorter
    assert learned.images.quantile(0.0) == pytest.approx(6.5)
    assert first_poll_delay(JobKind.IMAGE, learned.images) < 10.0


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


async def test_a_call_is_counted_from_when_its_request_left():
    # Ten calls fill a window; the first one's request leaves late (a busy loop): the
    # eleventh waits until that departure and the eight after it are all it shares a window
    # with, not a window from the first one's slot.
    speed = 200.0
    limiter = RateLimiter(10.0, speed=speed)
    first = [await limiter.acquire() for _ in range(10)]
    await asyncio.sleep(0.003)
    first[0].started()
    await limiter.acquire()
    assert time.monotonic() >= first[1].at + 1.0 / speed + NETWORK_ALLOWANCE


async def test_a_call_that_left_after_later_ones_still_counts_in_their_window():
    # The first call's request leaves after ten more were let through (a busy loop): the
    # calls after it wait until ten departures fit in a window, by when they left.
    speed = 20.0
    window = 1.0 / speed
    limiter = RateLimiter(10.0, speed=speed, allowance=0.0)
    late = await limiter.acquire()
    departures = [await limiter.acquire() for _ in range(10)]
    await asyncio.sleep(window / 10)
    late.started()
    departures += [late, *[await limiter.acquire() for _ in range(10)]]
    starts = sorted(departure.at for departure in departures)
    for i, start in enumerate(starts):
        assert sum(1 for t in starts[i:] if t < start + window) <= 10


async def test_calls_are_served_in_the_order_they_came():
    # Ten calls wait; ten more come while they do: none of the late ones goes first.
    limiter = RateLimiter(10.0, speed=200.0)
    order: list[int] = []

    async def call(n: int):
        await limiter.acquire()
        order.append(n)

    early = [asyncio.create_task(call(n)) for n in range(10)]
    while len(order) < 2:
        await asyncio.sleep(0)
    late = [asyncio.create_task(call(n)) for n in range(10, 20)]
    await asyncio.gather(*early, *late)
    assert order == list(range(20))


async def test_a_call_ahead_goes_before_the_others_waiting():
    # A sweep (one call for every video waiting) does not wait behind the single polls.
    limiter = RateLimiter(10.0, speed=200.0)
    order: list[str] = []

    async def call(name: str, ahead: bool = False):
        await limiter.acquire(ahead=ahead)
        order.append(name)

    polls = [asyncio.create_task(call(f"poll {n}")) for n in range(20)]
    while len(order) < 2:
        await asyncio.sleep(0)
    await asyncio.gather(call("sweep", ahead=True), *polls)
    assert order.index("sweep") <= 3


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


def test_durations_allow_for_the_jobs_still_running():
    # Just after a start only the short jobs have finished: half of the jobs seen so far
    # are still running, older than any that finished. The durations alone would put the
    # longest jobs at 30 s; with them, the longest are at least as old as those.
    finished = [10.0 + n for n in range(21)]  # 10-30 s
    alone = Durations(finished)
    with_running = Durations(finished, running=[5.0, 12.0, *[60.0] * 20])
    assert alone.quantile(0.98) == pytest.approx(30.0)
    assert with_running.quantile(0.98) == pytest.approx(60.0)
    assert with_running.quantile(0.25) == pytest.approx(alone.quantile(0.5), abs=1.0)
    assert Durations(finished, running=[]).quantile(0.5) == alone.quantile(0.5)
