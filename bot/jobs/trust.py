"""How much of an estimated time left may be slept through, learned from finished jobs.

Whatever a bar's shape, the schedule's estimate of a job's end (`estimate.best_estimate`)
is checked against what jobs of the kind then did: each finished job is replayed, reading
by reading, and wherever the estimate would have slept for long (its `soonest` over twice
the kind's tail spacing), the share of that sleep which would still have noticed the end
within the kind's lag target is worked out. A job's lowest share is what would have been
safe for all of its sleeps; a low quantile of those over the jobs is the trust, kept for
each thing an estimate is read from (a steady rate, the kind's curve, a guess). On a bar
whose rate says where it ends (linear, a crawl) it is about 1; on one that stalls and then
jumps to done it falls towards 0, and such a job is polled about as if its bar said
nothing. Until enough jobs are known the estimate is trusted as it is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Literal

from bot.jobs.estimate import Curve, Reading, Remaining, best_estimate, erratic_so_far

# Jobs kept (the most recent), and how many are needed before they are used.
TRUST_KEEP = 200
TRUST_MIN = 20
# The quantile of the jobs' shares that makes the trust: about the share of jobs whose end
# a sleep so trusted notices more than a lag target late.
TRUST_QUANTILE = 0.03
# Past estimates that ended later than their soonest let a sleep run past it, up to this.
TRUST_MAX = 1.5


# What an estimate was read from: the bar's steady rate, its kind's curve, or a rate guessed
# from one or two values; ANY: all of them together.
Source = Literal["rate", "curve", "guess", "any"]
SOURCES: tuple[Source, ...] = ("rate", "curve", "guess", "any")


def source_of(left: Remaining) -> Source:
    if left.by_curve:
        return "curve"
    return "rate" if left.steady else "guess"


class Trust:
    """For one kind of job: the share of an estimate's `soonest` that is safe to sleep, by
    what the estimate was read from, or over all of them while that has too few jobs; None
    until known."""

    def __init__(self) -> None:
        self._lowest = {source: deque[float](maxlen=TRUST_KEEP) for source in SOURCES}
        self._share: dict[Source, float | None] = dict.fromkeys(SOURCES)

    def share(self, left: Remaining) -> float | None:
        own = self._share[source_of(left)]
        return own if own is not None else self._share["any"]

    def learn(
        self, readings: Sequence[Reading], end: float, curve: Curve, tail: float, target: float
    ) -> None:
        """A job that ended about `end` seconds in, having shown `readings`: how its
        estimates (with `curve` as it was while it ran) would have fared. Estimates of less
        than two `tail`s are not slept on; a sleep may end up to `target` after the job."""
        jumpy = erratic_so_far(readings)
        lowest: dict[Source, float] = {}
        for n in range(1, len(readings) + 1):
            seen = readings[:n]
            left = best_estimate(seen, curve, jumpy[n - 1])
            if left is None or left.soonest <= 2 * tail:
                continue
            # A sleep of `share * soonest` notices the end within `target` of it.
            share = max(end - seen[-1].elapsed + target, 0.0) / left.soonest
            source = source_of(left)
            lowest[source] = min(share, lowest.get(source, share))
        if not lowest:
            return
        lowest["any"] = min(lowest.values())
        for source, share in lowest.items():
            self._lowest[source].append(share)
        for key, shares in self._lowest.items():
            self._share[key] = _low(shares)


def _low(shares: Sequence[float]) -> float | None:
    if len(shares) < TRUST_MIN:
        return None
    ordered = sorted(shares)
    return min(TRUST_MAX, ordered[int(TRUST_QUANTILE * (len(ordered) - 1))])
