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
# A job that showed no value by this share of its duration had a blank bar: not an even one.
# When that many of the finished jobs of a kind had one, its bars are taken to stay blank.
BLANK_SHARE, BLANK_MAJORITY = 0.5, 0.5


# How the bars of a kind are read: not as even, as even on trial, as even.
EvenMode = Literal["off", "trial", "on"]


def tolerance(elapsed: float) -> float:
    return TOLERANCE + TOLERANCE_SHARE * elapsed


Line = tuple[float, float]  # E = at + slope·pace


@dataclass(frozen=True, slots=True)
class EvenBar:
    """The (start, pace) an even bar's readings allow, as bounds on its end E = start +
    100·pace: for each pace between `fastest` and `slowest`, E lies above every lower line
    and at or below every upper line. `corners`: the paces where those bounds bend (and the
    ends of the range), each with the highest lower line and the lowest upper line there."""

    step: int
    lower: tuple[Line, ...]
    upper: tuple[Line, ...]
    slowest: float  # the pace (seconds per percent) bounds
    fastest: float
    corners: tuple[tuple[float, float, float], ...]

    def bounds_at(self, pace: float) -> tuple[float, float]:
        """The end's bounds if the bar moves at `pace`."""
        return _top(self.lower, pace), _bottom(self.upper, pace)

    def reaches(self, value: float) -> tuple[float, float]:
        """The earliest and the latest elapsed time at which the bar shows `value` (100: the
        end), over every (start, pace) the readings allow."""
        back = 100.0 - value  # value is reached `back` percents of pace before the end
        # Both bounds are piecewise linear in the pace: their extremes lie at corners.
        earliest = min(low - back * pace for pace, low, _high in self.corners)
        latest = max(high - back * pace for pace, _low, high in self.corners)
        return earliest, latest


def _top(lines: Sequence[Line], pace: float) -> float:
    return max(at + slope * pace for at, slope in lines)


def _bottom(lines: Sequence[Line], pace: float) -> float:
    return min(at + slope * pace for at, slope in lines)


def _bends(lines: Sequence[Line], fastest: float, slowest: float, top: bool) -> list[float]:
    """The paces inside (fastest, slowest) where the highest (`top`) or the lowest of
    `lines` changes from one line to another."""
    sign = 1.0 if top else -1.0
    pace = fastest
    bends: list[float] = []
    # The line that is highest (lowest) just after `pace`: the greatest (least) slope on ties.
    current = max(lines, key=lambda line: (sign * (line[0] + line[1] * pace), sign * line[1]))
    while True:
        at, slope = current
        following = [
            ((o_at - at) / (slope - o_slope), (o_at, o_slope))
            for o_at, o_slope in lines
            if sign * o_slope > sign * slope
        ]
        crossing = [(p, line) for p, line in following if pace < p < slowest]
        if not crossing:
            return bends
        pace = min(p for p, _line in crossing)
        bends.append(pace)
        current = max((line for p, line in crossing if p == pace), key=lambda line: sign * line[1])


def values_shown(readings: Sequence[Reading]) -> set[int]:
    """The values between 0 and 100 (both left out) a bar has shown."""
    return {r.progress for r in readings if r.progress is not None and 0 < r.progress < 100}


def steps_to_end(readings: Sequence[Reading]) -> int | None:
    """How many of its steps (the common divisor of the values it has shown) a bar still has
    to climb to 100; None before it shows a value."""
    values = values_shown(readings)
    if not values:
        return None
    return math.ceil((100 - max(values)) / _step(values))


def _step(values: set[int]) -> int:
    step = 0
    for value in values:
        step = math.gcd(step, value)
    return step


def even_bar(
    readings: Sequence[Reading], tolerance: float, done_by: float | None = None
) -> EvenBar | None:
    """The even bar these readings allow (`done_by`: the job was seen done then); None when
    they show no value between 0 and 100, or no even bar fits them."""
    values = values_shown(readings)
    if not values:
        return None
    shown = [r for r in readings if r.progress is not None and 0 <= r.progress < 100]
    step = _step(values)
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for reading in shown:
        value = int(reading.progress or 0)
        first.setdefault(value, reading.elapsed)
        last[value] = reading.elapsed
    # Shown v at t: the end comes after t + (100 - v - step)·pace (the bar had not yet
    # moved on) and no later than t + (100 - v)·pace (it had reached v).
    lower: list[Line] = [
        (t - tolerance, float(100 - value - min(step, 100 - value))) for value, t in last.items()
    ]
    # The bar did not start before the job was submitted: E >= 100·pace.
    lower.append((-tolerance, 100.0))
    upper: list[Line] = [
        (t + tolerance, float(100 - value)) for value, t in first.items() if value > 0
    ]
    if done_by is not None:
        upper.append((done_by + tolerance, 0.0))
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
    paces = {fastest, slowest}
    paces.update(_bends(lower, fastest, slowest, top=True))
    paces.update(_bends(upper, fastest, slowest, top=False))
    corners = tuple((pace, _top(lower, pace), _bottom(upper, pace)) for pace in sorted(paces))
    return EvenBar(step, tuple(lower), tuple(upper), slowest, fastest, corners)


def _seen_past_half(readings: Sequence[Reading], took: float) -> bool:
    """Whether a job was seen working past BLANK_SHARE of its duration (a bar that showed no
    value by then had a blank one)."""
    return bool(readings) and readings[-1].elapsed >= BLANK_SHARE * took


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
            if _seen_past_half(readings, took):  # a blank bar: nothing to read as even
                self._even.append(False)
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


class Blankness:
    """Whether the bars of one kind of job stay blank (absent or 0) to the end, learned from
    finished jobs: a blank bar is then no sign of a queue, and the job may end at any time."""

    def __init__(self) -> None:
        self._blank: deque[bool] = deque(maxlen=EVEN_KEEP)

    def learn(self, readings: Sequence[Reading], took: float) -> None:
        """A job found complete `took` seconds after it was submitted. (One seen blank only
        early on tells nothing.)"""
        if values_shown(readings):
            self._blank.append(False)
        elif _seen_past_half(readings, took):
            self._blank.append(True)

    @property
    def blank(self) -> bool:
        known = len(self._blank)
        return known >= EVEN_MIN and sum(self._blank) >= BLANK_MAJORITY * known
