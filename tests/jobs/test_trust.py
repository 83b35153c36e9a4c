"""How far an estimate of the time left is slept through: learned from finished jobs, by
what the estimate was read from, whatever the bar's shape."""

from __future__ import annotations

from bot.jobs.estimate import Curve, Durations, Reading, Remaining, remaining
from bot.jobs.models import JobKind
from bot.jobs.schedule import IMAGE_POLICY, Learned, next_poll
from bot.jobs.trust import TRUST_MIN, Trust

TAIL, TARGET = IMAGE_POLICY.tail, IMAGE_POLICY.target


def climbing(duration: float, slowness: float = 1.0) -> list[Reading]:
    """A bar read every 2 s that climbs steadily, `slowness` times slower than it should:
    a slow one jumps to done from well below 100 %."""
    return [Reading(t, int(100 * t / duration / slowness)) for t in range(2, int(duration), 2)]


def learned_from(jobs: int, slowness: float) -> Trust:
    trust = Trust()
    for n in range(jobs):
        duration = 40.0 + n
        trust.learn(climbing(duration, slowness), duration, Curve(), TAIL, TARGET)
    return trust


def steady_estimate() -> Remaining:
    estimate = remaining(climbing(50.0)[:10])
    assert estimate is not None and estimate.steady and not estimate.by_curve
    return estimate


def test_nothing_is_trusted_or_distrusted_before_enough_jobs_are_known():
    assert learned_from(TRUST_MIN - 1, slowness=3.0).share(steady_estimate()) is None
    assert learned_from(TRUST_MIN, slowness=3.0).share(steady_estimate()) is not None


def test_a_steady_bar_that_keeps_its_word_is_trusted_whole():
    assert learned_from(TRUST_MIN, slowness=1.0).share(steady_estimate()) >= 1.0


def test_a_bar_that_jumps_to_done_long_before_its_rate_says_is_hardly_trusted():
    assert learned_from(TRUST_MIN, slowness=3.0).share(steady_estimate()) < 0.3


def test_a_source_without_jobs_of_its_own_goes_by_all_of_them():
    trust = learned_from(TRUST_MIN, slowness=1.0)
    by_curve = Remaining(20.0, 25.0, steady=True, by_curve=True)  # no curve was ever used
    rate = trust.share(steady_estimate())
    assert rate is not None and trust.share(by_curve) is not None
    assert trust.share(by_curve) <= rate


def test_a_distrusted_estimate_is_polled_about_as_closely_as_a_silent_job():
    # 20 s into a job of a kind that takes 40-100 s, a steadily climbing bar says about 20 s
    # are left: slept through where bars kept their word. Once the kind's bars are known to
    # jump to done from a third of the way up, it is no longer.
    learned = Learned()
    seen = Durations([40.0 + n for n in range(60)])
    bar = climbing(40.0)[:10]
    honest = learned_from(TRUST_MIN, slowness=1.0)
    trusting = next_poll(JobKind.IMAGE, bar, seen, learned.image_curve, honest).delay
    for n in range(TRUST_MIN):
        duration = 40.0 + n
        learned.note(JobKind.IMAGE, climbing(duration, slowness=3.0), duration + 1.0)
    wary = next_poll(JobKind.IMAGE, bar, seen, learned.image_curve, learned.trust[False]).delay
    assert trusting > 15.0
    assert wary <= 0.3 * trusting
