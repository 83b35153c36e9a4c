"""When a bar that moves evenly will reach a value: bounds from every reading at once.

A bar that moves at an even rate after a start it does not show (a queue), in steps of any
size (10 % steps, or whole percents), shows value v at elapsed t only if
`start + v·pace <= t < start + (v + step)·pace`, where `pace` is seconds per percent and
`step` the size of its steps. Each reading is such a pair of bounds on (start, pace), and
together they pin the pace far better than the rate between two readings does: readings
that fall at different points of different steps bound it from both sides (a vernier). From
the (start, pace) the readings allow, the earliest and the latest time the bar can reach any
value follow, the end (100 %) included.

Nothing is assumed of the step: it is taken as the greatest common divisor of the values
shown, which is the true step or a multiple of it (a looser, still true bound). A bar that
does not move evenly soon allows no (start, pace) at all, and then nothing is said.
Readings are taken as `tolerance` seconds early or late at most (the bar's own updates, the
network).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.jobs.estimate import Reading

# How early or late a reading may be taken to be: seconds, plus a share of the elapsed time
# (a bar updated every so often, the network).
TOLERANCE, TOLERANCE_SHARE = 1.0, 0.0025
# Bars of a kind are tried as even until EVEN_MIN of the last EVEN_KEEP finished jobs whose
# readings say (see `Evenness.learn`) are known, then read as even while EVEN_SHARE of them
# were even to their end.
EVEN_KEEP, EVEN_MIN, EVEN_SHARE = 20, 5, 0.8
# A job's readings pin its pace when its slowest pace is at most EVIDENCE times its fastest.
EVIDENCE = 1.2


# How the bars of a kind are read: not as even, as even on trial, as even.
EvenMode = Literal["off", "trial", "on"]


def tolerance(elapsed: float) -> float:
    return TOLERANCE + TOLERANCE_SHARE * elapsed


@dataclass(frozen=True, slots=True)
class EvenBar:
    """The (start, pace) an even bar's readings allow, as bounds on its end E = start +
    100·pace: for each pace, E lies above every `lower` line and at or below every `upper`
    line (a line: E = at + slope·pace)."""

    step: int
    lower: tuple[tuple[float, float], ...]
    upper: tuple[tuple[float, float], ...]
    slowest: float  # the pace (seconds per percent) bounds
    fastest: float

    def reaches(self, value: float) -> tuple[float, float]:
        """The earliest and the latest elapsed time at which the bar shows `value` (100: the
        end), over every (start, pace) the readings allow."""
        back = 100.0 - value  # value is reached `back` percents of pace before the end
        paces = self._corners()
        earliest = min(_top(self.lower, pace) - back * pace for pace in paces)
        latest = max(_bottom(self.upper, pace) - back * pace for pace in paces)
        return earliest, latest

    def _corners(self) -> list[float]:
        """The paces at which the bounds can be extreme: the ends of the allowed range and
        where two lines of one side cross inside it."""
        corners = [self.fastest, self.slowest]
        for lines in (self.lower, self.upper):
            for n, (at_a, slope_a) in enumerate(lines):
                for at_b, slope_b in lines[n + 1 :]:
                    if slope_a != slope_b:
                        pace = (at_b - at_a) / (slope_a - slope_b)
                        if self.fastest < pace < self.slowest:
                            corners.append(pace)
        return corners


def _top(lines: Sequence[tuple[float, float]], pace: float) -> float:
    return max(at + slope * pace for at, slope in lines)


def _bottom(lines: Sequence[tuple[float, float]], pace: float) -> float:
    return min(at + slope * pace for at, slope in lines)


def values_shown(readings: Sequence[Reading]) -> set[int]:
    """The values between 0 and 100 (both left out) a bar has shown."""
    return {r.progress for r in readings if r.progress is not None and 0 < r.progress < 100}


def even_bar(
    readings: Sequence[Reading], tolerance: float, done_by: float | None = None
) -> EvenBar | None:
    """The even bar these readings allow (`done_by`: the job was seen done then); None when
    they show no value between 0 and 100, or no even bar fits them."""
    values = values_shown(readings)
    if not values:
        return None
    shown = [r for r in readings if r.progress is not None and 0 <= r.progress < 100]
    step = 0
    for value in values:
        step = math.gcd(step, value)
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for reading in shown:
        value = int(reading.progress or 0)
        first.setdefault(value, reading.elapsed)
        last[value] = reading.elapsed
    # Shown v at t: the end comes after t + (100 - v - step)·pace (the bar had not yet
    # moved on) and no later than t + (100 - v)·pace (it had reached v).
    lower = tuple(
        (t - tolerance, float(100 - value - min(step, 100 - value))) for value, t in last.items()
    )
    # The bar did not start before the job was submitted: E >= 100·pace.
    lower += ((-tolerance, 100.0),)
    upper = tuple((t + tolerance, float(100 - value)) for value, t in first.items() if value > 0)
    if done_by is not None:
        upper += ((done_by + tolerance, 0.0),)
    fastest, slowest = 0.0, math.inf
    for at_low, slope_low in lower:
        for at_up, slope_up in upper:
            # at_low + slope_low·pace <= at_up + slope_up·pace
            excess, room = slope_low - slope_up, at_up - at_low
            if excess > 0:
                slowest = min(slowest, room / excess)
            elif excess < 0 and room < 0:
                fastest = max(fastest, room / excess)
            elif excess == 0 and room < 0:
                return None
    if fastest > slowest or math.isinf(slowest):
        return None
    return EvenBar(step, lower, upper, slowest, fastest)


class Evenness:
    """Whether the bars of one kind of job move evenly, learned from finished jobs: bars
    that did not are better not read as even (their even fits, while they last, are wrong:
    they sleep past ends). Until enough jobs are known, bars are tried as even."""

    def __init__(self) -> None:
        self._even: deque[bool] = deque(maxlen=EVEN_KEEP)

    def learn(self, readings: Sequence[Reading], took: float) -> None:
        """A job found complete `took` seconds after it was submitted: was it even to its
        end? (Jobs that showed too few values tell nothing.)"""
        if not values_shown(readings):
            return
        bar = even_bar(readings, tolerance(took), done_by=took)
        if bar is None:
            self._even.append(False)
        elif bar.slowest <= EVIDENCE * bar.fastest:
            # A few readings far apart fit some even bar whatever the bar did: only those
            # that pin its pace say it was even.
            self._even.append(True)

    @property
    def mode(self) -> EvenMode:
        known = len(self._even)
        if known < EVEN_MIN:
            return "trial"
        return "on" if sum(self._even) >= EVEN_SHARE * known else "off"
