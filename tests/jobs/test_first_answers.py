"""Jobs that now end much sooner than the durations learned say (`bot.jobs.first_answers`):
found out from how many are done at their first poll, and the old durations let go."""

from __future__ import annotations

import math
import random

import pytest

from bot.jobs.estimate import Durations, Reading
from bot.jobs.first_answers import FEWEST, WINDOW, FirstAnswers, at_least
from bot.jobs.models import JobKind
from bot.jobs.schedule import FIRST_ANSWERS_FROM, IMAGE_POLICY, Learned, first_poll_delay

IMAGE = JobKind.IMAGE


def silent_durations(rng: random.Random, count: int, median: float = 15.0) -> list[float]:
    """As the simulator's `none` model draws them (`none-short`: median 3.75 s)."""
    low, high = (3.0, 120.0) if median == 15.0 else (1.0, 30.0)
    return [min(max(rng.lognormvariate(math.log(median), 0.9), low), high) for _ in range(count)]


def test_the_chance_of_so_many_is_the_binomial_tail() -> None:
    assert at_least(0, 20, 0.1) == pytest.approx(1.0)
    assert at_least(2, 2, 0.5) == pytest.approx(0.25)
    assert at_least(1, 3, 0.5) == pytest.approx(0.875)


def test_as_many_done_at_the_first_poll_as_expected_is_no_surprise() -> None:
    answers = FirstAnswers()
    for n in range(WINDOW):
        answers.add(n % 10 == 0, 0.1)  # 2 of 20 where 2 are expected
    assert not answers.sooner_than_learned()
    for n in range(WINDOW):
        answers.add(n % 4 == 0, 0.1)  # 5 of 20: unusual, not unheard of (p = 4 %)
    assert not answers.sooner_than_learned()


def test_far_more_done_at_the_first_poll_than_expected_is_a_change() -> None:
    answers = FirstAnswers()
    for _ in range(FEWEST - 1):
        answers.add(True, 0.05)
    assert not answers.sooner_than_learned()  # too few to judge
    answers.add(True, 0.05)
    assert answers.sooner_than_learned()
    answers.clear()
    for n in range(WINDOW):
        answers.add(n % 2 == 0, 0.1)  # 10 of 20 where 2 are expected
    assert answers.sooner_than_learned()


def test_the_share_of_durations_within_a_time_is_never_quite_0_or_1() -> None:
    durations = Durations([float(d) for d in range(1, 11)])
    assert durations.share_within(0.5) == pytest.approx(1 / 12)
    assert durations.share_within(5.0) == pytest.approx(6 / 12)
    assert durations.share_within(99.0) == pytest.approx(11 / 12)
    # With jobs still running, the shares allow for them (Kaplan-Meier): fewer are done.
    running = Durations([float(d) for d in range(1, 11)], running=[4.5] * 10)
    assert running.share_within(5.0) < durations.share_within(5.0)


def learned_from(durations: list[float]) -> Learned:
    learned = Learned()
    learned.set_durations(False, durations)
    return learned


def follow_first_answers(learned: Learned, durations: list[float]) -> int:
    """Each job polled from the first poll the durations learned place, then every tail,
    and learned from; the number of times the learned durations were let go."""
    let_go = 0
    for duration in durations:
        first = first_poll_delay(IMAGE, learned.images)
        before = len(learned.images)
        if duration <= first:
            learned.note(IMAGE, [], first)
        else:
            learned.first_answer(IMAGE, first, done=False)
            working = math.ceil((duration - first) / IMAGE_POLICY.tail)
            readings = [Reading(first + k * IMAGE_POLICY.tail, None) for k in range(working)]
            learned.note(IMAGE, readings, first + working * IMAGE_POLICY.tail)
        let_go += len(learned.images) < before
    return let_go


def test_jobs_a_quarter_as_long_as_learned_let_the_old_durations_go() -> None:
    rng = random.Random(1)
    learned = learned_from(silent_durations(rng, 200))
    first_before = first_poll_delay(IMAGE, learned.images)
    assert follow_first_answers(learned, silent_durations(rng, 10, median=3.75)) == 1
    assert len(learned.images) < FIRST_ANSWERS_FROM  # learning afresh from the last few
    assert first_poll_delay(IMAGE, learned.images) < 0.7 * first_before


def test_jobs_like_those_learned_seldom_let_them_go() -> None:
    # Judged anew at each first answer, SURPRISE is not the rate of false alarms: over 30
    # sets of 2000 such jobs, the durations were let go 10 times, about once in 6000 jobs
    # (each time, the next jobs are polled from 20 durations while more are learned).
    let_go = 0
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        learned = learned_from(silent_durations(rng, 200))
        let_go += follow_first_answers(learned, silent_durations(rng, 2000))
    assert let_go <= 1


def test_first_answers_are_not_judged_on_a_few_durations() -> None:
    rng = random.Random(4)
    learned = learned_from(silent_durations(rng, FIRST_ANSWERS_FROM - 1))
    for _ in range(WINDOW):
        learned.first_answer(IMAGE, 0.5, done=True)  # before nearly every duration learned
    assert len(learned.images) == FIRST_ANSWERS_FROM - 1
