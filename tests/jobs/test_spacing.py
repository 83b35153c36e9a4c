"""The steady spacing of a key's image polls while its ceiling is the limit (pure, fake clock)."""

from __future__ import annotations

import pytest

from bot.jobs.spacing import LOAD_MEMORY, RELEASE_HALF_LIFE, UTILISATION, LoadSpacing
from tests.jobs.fakes import Clock

TAIL = 1.5
RATE = 10.0


def ask_all(spacing: LoadSpacing, jobs: range, delay: float = TAIL) -> list[float]:
    return [spacing.spaced(job, delay, RATE) for job in jobs]


def hold_load(spacing: LoadSpacing, clock: Clock, jobs: range, seconds: float, speed=1.0):
    """Every job asks for a poll at the tail spacing, once a (schedule) second."""
    for _ in range(int(seconds)):
        clock.now += 1.0 / speed
        ask_all(spacing, jobs, TAIL / speed)


def test_a_load_that_fits_the_ceiling_changes_nothing():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    hold_load(spacing, clock, range(5), 300)  # 5 jobs at 1.5 s: 3.3 calls a second of 10
    assert spacing.floor < TAIL
    assert spacing.spaced(1, TAIL, RATE) == TAIL


def test_a_steady_load_over_the_ceiling_spaces_polls_so_that_it_fits_with_room():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    hold_load(spacing, clock, range(30), 5 * LOAD_MEMORY)  # 30 jobs at 1.5 s: 20 a second
    expected = 30 / (UTILISATION * RATE)
    assert spacing.floor == pytest.approx(expected, rel=0.02)
    assert spacing.spaced(0, TAIL, RATE) == pytest.approx(expected, rel=0.02)
    assert spacing.spaced(0, 60.0, RATE) == 60.0  # a longer sleep stays as it was


def test_a_short_burst_moves_the_spacing_little():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    hold_load(spacing, clock, range(10), 5 * LOAD_MEMORY)
    before = spacing.floor
    hold_load(spacing, clock, range(40), 5)  # four times the jobs for five seconds
    assert spacing.floor < before * 1.5


def test_the_spacing_of_a_busy_spell_is_kept_after_it_and_let_go_of_slowly():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    busy = range(30)
    hold_load(spacing, clock, busy, 5 * LOAD_MEMORY)
    peak = spacing.floor
    for job in busy[5:]:
        spacing.forget(job)
    hold_load(spacing, clock, range(5), 300)
    assert spacing.floor > 0.85 * peak  # five minutes later: still about the same
    hold_load(spacing, clock, range(5), 4 * RELEASE_HALF_LIFE)
    assert spacing.floor < TAIL  # hours later the light load rules again


def test_a_job_that_sleeps_counts_for_its_share():
    clock = Clock()
    asleep, awake = LoadSpacing(TAIL, clock), LoadSpacing(TAIL, clock)
    for _ in range(int(5 * LOAD_MEMORY)):
        clock.now += 1.0
        ask_all(asleep, range(100), 15.0)  # 100 jobs asleep 15 s: as 10 at the tail
        ask_all(awake, range(10), TAIL)
    assert asleep.floor == pytest.approx(awake.floor, rel=0.02)


def test_a_job_no_longer_polled_stops_counting():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    ask_all(spacing, range(40))
    for job in range(40):
        spacing.forget(job)
    spacing.forget(99)  # never asked: nothing to forget
    clock.now += 5 * LOAD_MEMORY
    hold_load(spacing, clock, range(1), RELEASE_HALF_LIFE * 8)
    assert spacing.floor == pytest.approx(1 / (UTILISATION * RATE), rel=0.05)  # one job


def test_a_job_that_is_never_polled_again_is_dropped_once_stale():
    clock = Clock()
    spacing = LoadSpacing(TAIL, clock)
    ask_all(spacing, range(40))  # then cancelled: never polled, never forgotten
    hold_load(spacing, clock, range(40, 41), RELEASE_HALF_LIFE * 8)
    assert spacing.floor == pytest.approx(1 / (UTILISATION * RATE), rel=0.05)  # one job


def test_seconds_are_of_the_schedules_clock():
    slow_clock, fast_clock = Clock(), Clock()
    slow, fast = LoadSpacing(TAIL, slow_clock), LoadSpacing(TAIL, fast_clock, speed=10.0)
    hold_load(slow, slow_clock, range(30), 5 * LOAD_MEMORY)
    hold_load(fast, fast_clock, range(30), 5 * LOAD_MEMORY, speed=10.0)
    assert fast.floor == pytest.approx(slow.floor / 10.0, rel=0.02)
