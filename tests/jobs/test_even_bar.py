"""An even bar's end, bounded from all its readings at once; and when bars are read as even."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from bot.jobs.estimate import Reading
from bot.jobs.even_bar import EVEN_MIN, Blankness, Evenness, even_bar, steps_to_end, tolerance
from bot.jobs.schedule import EVEN_END_SPACING, EVEN_WIDE_SPACING, even_video_poll


def stepped(start: float, pace: float, step: int = 10):
    """A bar that shows nothing until `start`, then moves `step` percent every step·pace s."""

    def shows(t: float) -> int:
        if t < start:
            return 0
        return min(math.floor((t - start) / pace / step) * step, 100)

    return shows


def follow(bar_at, end: float, first: float = 65.0) -> list[Reading]:
    """The readings `even_video_poll` asks for until the bar is done (the last one: done)."""
    readings = [Reading(first, bar_at(first))]
    while readings[-1].elapsed < end:
        planned = even_video_poll(readings)
        assert planned is not None and planned.self_paced, readings
        t = readings[-1].elapsed + planned.delay
        readings.append(Reading(t, bar_at(t)))
    return readings


def test_a_bar_in_10_percent_steps_is_caught_within_the_close_spacing_of_its_end():
    bar_at = stepped(start=30.0, pace=3.0)  # 10 % every 30 s; done at 330 s
    readings = follow(bar_at, 330.0)
    assert readings[-1].elapsed - 330.0 <= EVEN_END_SPACING
    assert len(readings) <= 20  # a 5-s poller: 66
    # Before the window, its bounds held the end, and were a few seconds apart.
    working = [r for r in readings if r.elapsed < 330.0]
    bar = even_bar(working, tolerance(working[-1].elapsed))
    earliest, latest = bar.reaches(100)
    assert earliest <= 330.0 <= latest
    assert latest - earliest <= 12.0


def test_the_end_is_never_ruled_out_however_the_readings_fall():
    # Whatever the bar's start, pace and step, and readings taken up to the tolerance late
    # or early, the bar fits and its true end lies within the bounds.
    rng = random.Random(5)
    for _ in range(300):
        start, pace = rng.uniform(0.0, 60.0), rng.uniform(0.2, 6.0)
        step = rng.choice([1, 5, 10, 25])
        bar_at = stepped(start, pace, step)
        end = start + 100 * pace
        t, readings = rng.uniform(1.0, 30.0), []
        while t < end:
            shown = bar_at(min(max(t + rng.uniform(-0.9, 0.9), 0.0), end - 1e-6))
            readings.append(Reading(t, shown))
            t += rng.uniform(0.5, 40.0)
        bar = even_bar(readings, tolerance(readings[-1].elapsed))
        if not any(r.progress for r in readings):
            assert bar is None
            continue
        assert bar is not None, readings
        earliest, latest = bar.reaches(100)
        assert earliest - 1e-6 <= end <= latest + 1e-6


def test_the_step_is_the_common_divisor_of_the_values_shown():
    assert even_bar([Reading(50.0, 20), Reading(110.0, 50)], 1.0).step == 10
    assert even_bar([Reading(50.0, 30), Reading(110.0, 60)], 1.0).step == 30
    assert even_bar([Reading(50.0, 13), Reading(110.0, 27)], 1.0).step == 1


def test_a_bar_that_slows_down_fits_no_even_bar():
    # 50 % in 20 s, then 30 % more in 40 s, then 10 % in 60 s: an ease-out.
    readings = [Reading(20.0, 50), Reading(60.0, 80), Reading(120.0, 90)]
    assert even_bar(readings, tolerance(120.0)) is None


def test_a_bar_that_shows_nothing_says_nothing():
    assert even_bar([Reading(10.0, None), Reading(20.0, 0)], 1.0) is None


def test_after_a_first_value_the_next_poll_halves_where_the_next_step_may_come():
    # 10 % at 20 s: the bar did not start before 0, so the next step comes by 40 s or so.
    planned = even_video_poll([Reading(20.0, 10)])
    assert planned is not None and planned.self_paced
    assert 20.0 + planned.delay == pytest.approx(31.5, abs=1.0)


def test_once_the_end_is_pinned_it_is_polled_closely_through_its_window():
    bar_at = stepped(start=30.0, pace=3.0)
    readings = follow(bar_at, 330.0)
    last_step = [r.elapsed for r in readings if r.progress == 90]
    # Seen at 90 %, it sleeps until the window its bounds leave, then polls closely.
    assert last_step[1] - last_step[0] > 10.0
    gaps = [b - a for a, b in itertools.pairwise(last_step[2:])]
    assert len(gaps) >= 2 and all(gap == pytest.approx(EVEN_END_SPACING) for gap in gaps)
    assert 330.0 - last_step[1] <= 12.0


def test_a_wide_last_window_is_crossed_no_closer_than_needed_nor_far_apart():
    # First seen at 90 % after 320 s: the end may be anywhere in the next 36 s, and there
    # is no step left to learn from.
    readings = [Reading(20.0, None), Reading(160.0, 0), Reading(320.0, 90)]
    polls = 0
    while (planned := even_video_poll(readings)) is not None and polls < 50:
        polls += 1
        readings.append(Reading(readings[-1].elapsed + planned.delay, 90))
    assert readings[-1].elapsed >= 355.0  # crossed the window (its end then rules it out)
    gaps = [b.elapsed - a.elapsed for a, b in itertools.pairwise(readings[2:])]
    assert max(gaps) <= EVEN_WIDE_SPACING  # an end anywhere in it is seen soon after
    crossed = readings[-1].elapsed - 320.0
    assert polls <= 0.75 * crossed / EVEN_END_SPACING  # 23, against 33 at the close spacing


def test_bars_are_read_as_even_until_finished_jobs_show_otherwise():
    evenness = Evenness()
    assert evenness.mode == "trial"  # nothing known yet
    bar_at = stepped(start=30.0, pace=3.0)
    times = [40.0, 75.0, 95.0, 131.0, 158.0, 190.0, 212.0, 247.0, 271.0, 302.0, 325.0]
    for _ in range(EVEN_MIN):
        evenness.learn([Reading(t, bar_at(t)) for t in times], 331.0)
    assert evenness.mode == "on"
    slowing = [Reading(20.0, 50), Reading(60.0, 80), Reading(120.0, 90)]
    for _ in range(EVEN_MIN * 4):
        evenness.learn(slowing, 200.0)
    assert evenness.mode == "off"


def test_bars_still_blank_past_half_of_their_jobs_are_not_read_as_even():
    # Their first value is not awaited for ever (a blank video was polled at a spacing of
    # its age: noticed 100-120 s late). A bar seen blank only early on says nothing.
    evenness = Evenness()
    for _ in range(EVEN_MIN * 4):
        evenness.learn([Reading(20.0, None), Reading(40.0, 0)], 300.0)
    assert evenness.mode == "trial"
    for _ in range(EVEN_MIN):
        evenness.learn([Reading(20.0, None), Reading(100.0, 0), Reading(170.0, 0)], 300.0)
    assert evenness.mode == "off"


def test_bars_are_taken_to_stay_blank_once_most_finished_jobs_had_blank_ones():
    blankness = Blankness()
    blank = [Reading(20.0, None), Reading(100.0, 0), Reading(170.0, 0)]
    for _ in range(EVEN_MIN - 1):
        blankness.learn(blank, 300.0)
    assert not blankness.blank  # too few known
    blankness.learn([Reading(20.0, None), Reading(40.0, 0)], 300.0)  # seen early only
    assert not blankness.blank
    blankness.learn(blank, 300.0)
    assert blankness.blank
    moving = [Reading(20.0, 0), Reading(100.0, 30), Reading(170.0, 60)]
    for _ in range(EVEN_MIN + 1):
        blankness.learn(moving, 300.0)
    assert not blankness.blank  # most of the last jobs showed values


def test_a_few_readings_far_apart_are_no_evidence_of_an_even_bar():
    evenness = Evenness()
    for _ in range(EVEN_MIN * 4):
        evenness.learn([Reading(20.0, 50), Reading(60.0, 80), Reading(120.0, 90)], 200.0)
    assert evenness.mode == "off"
    # Sparse readings fit some even bar whatever the bar did: they do not count.
    for _ in range(EVEN_MIN * 4):
        evenness.learn([Reading(20.0, None), Reading(110.0, 40), Reading(200.0, 80)], 231.0)
    assert evenness.mode == "off"


def test_the_bounds_are_the_extremes_over_every_pace_allowed():
    # `reaches` looks only where the bounds bend: a fine sweep of paces finds nothing beyond.
    rng = random.Random(8)
    for _ in range(100):
        bar_at = stepped(rng.uniform(0.0, 40.0), rng.uniform(0.3, 4.0), rng.choice([1, 10]))
        t, readings = rng.uniform(5.0, 40.0), []
        for _ in range(rng.randint(2, 30)):
            readings.append(Reading(t, bar_at(t)))
            t += rng.uniform(0.5, 25.0)
        bar = even_bar(readings, 1.0)
        if bar is None:
            continue
        paces = [bar.fastest + (bar.slowest - bar.fastest) * n / 2000 for n in range(2001)]
        for value in (100.0, 90.0, 50.0):
            back = 100.0 - value
            earliest, latest = bar.reaches(value)
            swept_lo = min(bar.bounds_at(p)[0] - back * p for p in paces)
            swept_hi = max(bar.bounds_at(p)[1] - back * p for p in paces)
            assert earliest <= swept_lo + 1e-6 and latest >= swept_hi - 1e-6
            slack = 200 * (bar.slowest - bar.fastest) / 2000
            assert earliest >= swept_lo - slack and latest <= swept_hi + slack


def test_steps_to_end_are_counted_in_the_bar_s_own_steps():
    assert steps_to_end([Reading(5.0, None), Reading(9.0, 0)]) is None
    assert steps_to_end([Reading(5.0, 30), Reading(9.0, 80)]) == 2
    assert steps_to_end([Reading(5.0, 25), Reading(9.0, 75)]) == 1
    assert steps_to_end([Reading(5.0, 10), Reading(9.0, 15)]) == 17  # 5 % steps
