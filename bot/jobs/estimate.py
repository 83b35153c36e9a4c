"""How long a job still needs, from what it has reported and from the jobs seen before.

Nothing here assumes the shape of Miraflow's progress bar. From a job's readings (progress
at a known elapsed time) the rate is taken between the first sightings of its last two
progress values, so a bar that moves in steps or stalls is measured from step to step; the
end is then expected when the bar would reach 100 %, and no sooner than one step before.
A job that shows no progress at all is polled at an even spacing between the earliest and the
latest durations seen for its kind, which is what keeps the 95th percentile of lag low for the
fewest calls when nothing but the elapsed time is known.

The poll schedule uses the readings (`remaining`, `Curve`); a status message, which sees only
a job's last progress, gets `time_left` (`Estimates` reads the recent durations from the
store, cached a minute per kind: the query is not indexed, about 40 ms over 100,000 jobs).
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.store import Store

# Readings kept per job: enough to see its last two progress values.
MAX_READINGS = 64
# Durations of finished jobs kept per kind, and how many are needed before they are used.
MAX_DURATIONS = 500
MIN_DURATIONS = 10
# Share of its duration at which a finished job showed each progress value: kept per value,
# pooled over CURVE_POOL values either side, used from CURVE_MIN samples on.
CURVE_KEEP = 60
CURVE_POOL = 2
CURVE_MIN = 12
# The quantiles of those shares that make the "soonest" and the "centre" estimates.
CURVE_SOONEST, CURVE_CENTRE = 0.95, 0.5
# A job's bar follows the curve when the durations its values imply (each where the curve's
# median puts it) are within CURVE_AGREE times of each other.
CURVE_AGREE = 2.0
# A value is taken as seen late when its first sighting says a duration over SEEN_LATE
# times what the value before said.
SEEN_LATE = 1.2
# A bar is erratic when it moves JUMP_FACTOR times more (or less) than its rate said, give or
# take JUMP_SLACK percent.
JUMP_FACTOR = 3.0
JUMP_SLACK = 12.0
# Two rates agree when the faster is at most STEADY_RATIO times the slower.
STEADY_RATIO = 1.5
# The rate is measured over the last RATE_WINDOW progress values once they agree.
RATE_WINDOW = 4


@dataclass(frozen=True, slots=True)
class Reading:
    elapsed: float  # seconds since the job was submitted
    progress: int | None  # percent; None when the status carried none


@dataclass(frozen=True, slots=True)
class Remaining:
    """Seconds a job probably still needs: `centre`, and `soonest` allowing for the size of
    the bar's last step (a bar in 10 % steps may reach the end a whole step early)."""

    soonest: float
    centre: float
    single: bool = False  # from a single progress value (the rate is a guess)
    steady: bool = False  # the last two rates measured agree
    per_percent: float = 0.0  # seconds per percent, at the last measured rate
    level_since: float = 0.0  # when the bar first showed its current value
    span: float = 0.0  # the seconds the rate was measured over
    by_curve: bool = False  # read off the kind's curve, not the bar's own rate


def remaining(readings: Sequence[Reading]) -> Remaining | None:
    """What the readings say of the time left; None when no progress has been shown."""
    firsts: list[Reading] = []  # the first reading of each higher progress value
    start = 0.0  # the last moment the bar still showed nothing
    before = 0.0  # the reading before the latest of `firsts`: the value came in between
    last_seen = 0.0
    for reading in readings:
        shown = reading.progress or 0
        if shown <= 0:
            if not firsts:
                start = reading.elapsed
        elif not firsts or shown > (firsts[-1].progress or 0):
            firsts.append(reading)
            before = last_seen
        last_seen = reading.elapsed
    if not firsts:
        return None
    latest, now = firsts[-1], readings[-1].elapsed
    level = latest.progress or 0
    steady = False
    wide_step = 0
    if len(firsts) >= 2:
        step = level - (firsts[-2].progress or 0)
        span = latest.elapsed - firsts[-2].elapsed
        if len(firsts) >= 3:
            # The rate over the last few values, steadier than one step sampled by polls.
            first = firsts[-min(len(firsts), RATE_WINDOW)]
            wide_step, wide_span = level - (first.progress or 0), latest.elapsed - first.elapsed
            rates = sorted((step / max(span, 1e-9), wide_step / max(wide_span, 1e-9)))
            steady = rates[1] <= STEADY_RATIO * rates[0]
            if steady:  # the wide rate, over the last step
                span = step * wide_span / wide_step
    else:
        step, span = level, latest.elapsed - start
    if level >= 100:
        return Remaining(0.0, 0.0)
    per_percent = max(span, 0.0) / step
    since = now - latest.elapsed
    centre = (100 - level) * per_percent - since
    # The end may come a whole step early (the bar moves between the values it shows), or,
    # for a bar in coarse steps, as early as the value's first sighting allows: it came
    # after the reading before, and the rate it was measured with is then that much faster.
    seen_late = (latest.elapsed - before) * (1.0 + (100 - level) / max(wide_step, step))
    soonest = max((100 - level - step) * per_percent, centre + since - seen_late) - since
    return Remaining(
        max(soonest, 0.0),
        max(centre, 0.0),
        len(firsts) < 2,
        steady,
        per_percent,
        latest.elapsed,
        span,
    )


def erratic(readings: Sequence[Reading]) -> bool:
    """Whether the bar has moved unlike any rate it showed: jumped far ahead of it, or stood
    still far longer. Such a bar says little of the end, and is better not trusted."""
    return bool(readings) and erratic_so_far(readings)[-1]


def erratic_so_far(readings: Sequence[Reading]) -> list[bool]:
    """`erratic` of each prefix of the readings (`[:1]`, `[:2]`, ...), in one pass. Only the
    readings kept (MAX_READINGS) are judged: a bar that went on steadily since is trusted
    again (a fast climb that turned into a crawl, say)."""
    flags: list[bool] = []
    seen = False
    for n in range(len(readings)):
        if not seen and n >= 2:
            seen = _moved_unlike_its_rate(readings, n)
        flags.append(seen)
    return flags


def _moved_unlike_its_rate(readings: Sequence[Reading], n: int) -> bool:
    before = remaining(readings[:n])
    now, last = readings[n], readings[n - 1]
    if before is None or before.per_percent <= 0 or now.progress is None:
        return False
    # From when the bar first showed the value it still showed before this reading.
    expected = (now.elapsed - before.level_since) / before.per_percent
    moved = now.progress - (last.progress or 0)
    too_far = moved > JUMP_FACTOR * expected + JUMP_SLACK
    return too_far or moved < expected / JUMP_FACTOR - JUMP_SLACK


class Durations:
    """Durations of finished jobs of one kind, in seconds, sorted; with the ages of jobs of
    the kind still running (`running`), the quantiles allow for them (Kaplan-Meier): just
    after a start only the short jobs have finished, and the durations alone would say
    that jobs are shorter than they are."""

    def __init__(self, values: Sequence[float] = (), running: Sequence[float] = ()) -> None:
        self._sorted = sorted(v for v in values if v > 0)[-MAX_DURATIONS:]
        alive = sorted(age for age in running if age > 0)
        self._longest = max([*self._sorted[-1:], *alive[-1:]], default=0.0)
        self._shares = _finished_by(self._sorted, alive) if alive and self._sorted else None

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def known(self) -> bool:
        return len(self._sorted) >= MIN_DURATIONS

    def quantile(self, q: float) -> float:
        if self._shares is not None:
            for duration, share in self._shares:
                if share >= q:
                    return duration
            return self._longest  # past every finished one: at least as long as any seen
        index = min(len(self._sorted) - 1, max(0, round(q * (len(self._sorted) - 1))))
        return self._sorted[index]

    def share_within(self, elapsed: float) -> float:
        """The share of jobs of the kind done within `elapsed` seconds, as these durations
        say; never quite 0 or 1 (the next job may be the shortest or the longest yet)."""
        if self._shares is not None:
            share = max((s for d, s in self._shares if d <= elapsed), default=0.0)
            count = len(self._sorted)
            return (share * count + 1) / (count + 2)
        return (bisect.bisect_right(self._sorted, elapsed) + 1) / (len(self._sorted) + 2)

    @property
    def median(self) -> float:
        middle = len(self._sorted) // 2
        if len(self._sorted) % 2:
            return self._sorted[middle]
        return (self._sorted[middle - 1] + self._sorted[middle]) / 2


def _finished_by(ended: Sequence[float], alive: Sequence[float]) -> list[tuple[float, float]]:
    """The Kaplan-Meier estimate of the share of jobs finished within each duration seen,
    from the durations of finished jobs and the ages of running ones (both sorted)."""
    shares: list[tuple[float, float]] = []
    at_risk, surviving, a = len(ended) + len(alive), 1.0, 0
    for duration in ended:
        while a < len(alive) and alive[a] < duration:  # gone from view before it ended
            at_risk -= 1
            a += 1
        surviving *= 1.0 - 1.0 / at_risk
        at_risk -= 1
        shares.append((duration, 1.0 - surviving))
    return shares


class Curve:
    """How far into its duration a job of one kind is when its bar shows a value, learned
    from the readings of finished jobs: the bar's shape, whatever it is."""

    def __init__(self) -> None:
        self._shares: list[deque[float]] = [deque(maxlen=CURVE_KEEP) for _ in range(100)]
        self._pooled: dict[int, list[float]] = {}  # `shares`, until the next job is learned

    def learn(self, readings: Sequence[Reading], duration: float) -> None:
        if duration <= 0:
            return
        self._pooled.clear()
        # One share per value and job, when the value first showed: a bar that stood still
        # for many polls weighs no more than any other.
        for reading in _first_sightings(readings):
            self._shares[reading.progress or 0].append(min(reading.elapsed / duration, 1.0))

    def shares(self, progress: int) -> list[float]:
        """The shares seen at about `progress` percent, sorted; empty if too few."""
        pooled = self._pooled.get(progress)
        if pooled is None:
            low, high = max(progress - CURVE_POOL, 1), min(progress + CURVE_POOL, 99)
            pooled = sorted(s for level in range(low, high + 1) for s in self._shares[level])
            self._pooled[progress] = pooled
        return pooled if len(pooled) >= CURVE_MIN else []


def remaining_by_curve(readings: Sequence[Reading], curve: Curve) -> Remaining | None:
    """The time left if this job follows the shape of the bars of the jobs before it; None
    when its bar shows nothing, or when too few jobs showed this value."""
    latest = readings[-1]
    if latest.progress is None or not 0 < latest.progress < 100 or latest.elapsed <= 0:
        return None
    shares = curve.shares(latest.progress)
    if not shares:
        return None
    # Shares are of when a value first showed: so is the time each is read from.
    firsts = _first_sightings(readings)
    since = firsts[-1].elapsed
    # However wide the shares at this value, the soonest (an early quantile) allows for it;
    # how far it can be slept through is learned (`bot.jobs.trust`).
    soonest = _duration(since, shares, CURVE_SOONEST)
    centre = _duration(since, shares, CURVE_CENTRE)
    if len(firsts) >= 2 and (before := curve.shares(firsts[-2].progress or 0)):
        # A value first seen long after the bar reached it (one that waits at 99 %) puts
        # the end later than it is: when it says a much longer job than the value before
        # did, the soonest end is read from that one too.
        earlier = firsts[-2].elapsed
        if centre > SEEN_LATE * _duration(earlier, before, CURVE_CENTRE):
            soonest = min(soonest, _duration(earlier, before, CURVE_SOONEST))
    now = latest.elapsed
    steady = agrees(readings, curve)
    return Remaining(max(soonest - now, 0.0), max(centre - now, 0.0), steady=steady, by_curve=True)


def _duration(reached: float, shares: list[float], q: float) -> float:
    """A job's duration if it first showed a value at `reached` seconds, at the `q` quantile
    of the `shares` of their durations at which jobs showed it."""
    share = shares[min(len(shares) - 1, round(q * (len(shares) - 1)))]
    return reached / max(share, 1e-3)


def _first_sightings(readings: Sequence[Reading]) -> list[Reading]:
    """The first reading of each value the bar showed (above 0, under 100), in order."""
    firsts: list[Reading] = []
    seen: set[int] = set()
    for reading in readings:
        value = reading.progress
        if value is not None and 0 < value < 100 and value not in seen:
            seen.add(value)
            firsts.append(reading)
    return firsts


def agrees(readings: Sequence[Reading], curve: Curve) -> bool:
    """Whether this bar's values, each read where the kind's curve usually shows it, tell of
    about one duration: a bar that jumps and stalls at its own times does not follow it."""
    implied: list[float] = []
    for reading in _first_sightings([r for r in readings if r.elapsed > 0]):
        shares = curve.shares(reading.progress or 0)
        if shares:
            implied.append(reading.elapsed / max(shares[len(shares) // 2], 1e-3))
    return len(implied) < 2 or max(implied) <= CURVE_AGREE * min(implied)


def best_estimate(
    readings: Sequence[Reading], curve: Curve | None, jumpy: bool
) -> Remaining | None:
    """The estimate of the time left to go by: the bar's own rate while it is steady, else
    its kind's curve where the bar follows it, else a rate guessed from one or two values
    (held to a silent job's spacing by the schedule); None when nothing can be said (no
    progress shown, or a bar that jumps or stalls: `jumpy`, see `erratic`)."""
    own = remaining(readings)
    if own is not None and own.steady and not jumpy:
        return own
    by_curve = remaining_by_curve(readings, curve) if curve is not None else None
    if by_curve is not None and by_curve.steady:
        return by_curve
    if own is not None and not jumpy:
        return own
    return None


# Before any bar of a kind is learned, a cancelled job's expected end (it counts toward its
# requester's limit until then) is read off Miraflow's usual bar: queued for the first
# tenth, an ease-out climb to 90 % at 60 % of the duration, then a crawl to 99 %. Polling
# assumes no shape; a limit needs a best guess at once.
NOMINAL_QUEUE, NOMINAL_FAST_END, NOMINAL_FAST, NOMINAL_LAST = 0.1, 0.6, 90.0, 99.0


def nominal_share(progress: float) -> float:
    """The share of a job's duration gone by when the usual bar shows `progress` percent."""
    if progress <= NOMINAL_FAST:
        climbed = 1.0 - math.sqrt(max(0.0, 1.0 - progress / NOMINAL_FAST))
        return NOMINAL_QUEUE + climbed * (NOMINAL_FAST_END - NOMINAL_QUEUE)
    crawl = min(progress - NOMINAL_FAST, NOMINAL_LAST - NOMINAL_FAST - 0.1)
    crawled = 1.0 - (1.0 - crawl / (NOMINAL_LAST - NOMINAL_FAST)) ** (1 / 1.5)
    return NOMINAL_FAST_END + crawled * (1.0 - NOMINAL_FAST_END)


def expected_left(progress: int | None, elapsed: float, curve: Curve) -> float | None:
    """Seconds a job showing `progress` after `elapsed` seconds probably still needs: by its
    kind's learned curve once known, else by the usual bar; None when it shows nothing."""
    if progress is None or progress <= 0 or elapsed <= 0:
        return None
    by_curve = remaining_by_curve([Reading(elapsed, progress)], curve)
    if by_curve is not None:
        return by_curve.centre
    return max(elapsed / nominal_share(min(progress, 99)) - elapsed, 0.0)


# -- the time left shown in status messages ------------------------------------------------

MIN_SAMPLES = 3  # no estimate until this many jobs of the kind have finished
SAMPLES = 50  # the most recent durations considered
REFRESH_SECONDS = 60.0
_RUNNING = frozenset({JobState.QUEUED, JobState.WORKING})


def time_left(durations: Sequence[float], progress: int | None, elapsed: float) -> float | None:
    """Seconds a job probably has left, or None with too few past durations to say.

    The typical duration is the median of `durations` (one very slow job does not sway
    it). With a progress percentage, what is left is the share of the typical duration not
    done yet; once the job has run longer than typical, its own pace (`remaining` from this
    one reading) says more. Without one, the typical duration less the time spent. Never
    negative.
    """
    seen = Durations([d for d in durations if d >= 0])
    if len(seen) < MIN_SAMPLES:
        return None
    typical = seen.median
    if progress is not None and 0 < progress < 100:
        own = remaining([Reading(elapsed, progress)])
        if elapsed > typical and own is not None:
            return own.centre
        return typical * (100 - progress) / 100
    return max(0.0, typical - elapsed)


class Estimates:
    """Time left of running jobs, from the durations the store has seen, by kind."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[JobKind, tuple[float, list[float]]] = {}

    def durations(self, kind: JobKind) -> list[float]:
        now = self._clock()
        cached = self._cache.get(kind)
        if cached is None or now - cached[0] >= REFRESH_SECONDS:
            cached = (now, self._store.recent_durations(kind, SAMPLES))
            self._cache[kind] = cached
        return cached[1]

    def saw_finished(self, kind: JobKind) -> None:
        """A job of `kind` finished: while there are too few durations for an estimate,
        read them again at the next refresh rather than a minute later."""
        cached = self._cache.get(kind)
        if cached is not None and len(cached[1]) < MIN_SAMPLES:
            del self._cache[kind]

    def left(self, job: Job) -> float | None:
        """Seconds `job` probably has left; None when it is not running or there is too
        little history."""
        if job.state not in _RUNNING or job.submitted_at is None:
            return None
        elapsed = max(0.0, self._clock() - job.submitted_at)
        return time_left(self.durations(job.kind), job.progress, elapsed)
