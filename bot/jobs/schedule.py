"""When to poll a job next: pure functions of what is known about it.

No progress curve is assumed (see `bot.jobs.estimate`): the bot sleeps through most of the
time a job still needs, by the shape of the bars of finished jobs of its kind once learned
(or by its own bar's rate once steady), then polls at the kind's `tail` spacing (its lag
target) around the likely end. How much of such an estimate is slept through is learned per
kind from the jobs that finished (`bot.jobs.trust`): a bar that stalls and then jumps to
done soon teaches the schedule to poll its kind as if it said nothing; until that is known,
no estimate is slept on for longer than half the job's age. A bar that jumps or stalls is
polled as if silent; a rate guessed from one or two values never sleeps longer than a silent
job would, and no estimate sleeps past the longest durations seen. Durations of finished
jobs (with the ages of those still running), learned per kind, place the first poll one
spacing after the shortest jobs end (the key's, when its load widens it) and space the polls
of a silent job evenly. While several videos wait, one sweep of the video list serves them
all; it comes sooner when one of them is near its end. A video whose bar moves evenly (in
steps or not, `bot.jobs.even_bar`) pins its own end instead: each poll comes where the next
step may, which narrows its pace, until its end is known to within a few seconds, then the
window is polled closely; as long as finished videos showed such bars (`Evenness`), and
while its own bar fits one. Its first value is awaited at a spacing of its age, but no more
than BLANK_VIDEO_SPACING apart while it is not known whether videos show values at all,
unless a sweep watches for its end. A video in its last two steps is not slept on while the
estimates of its kind are unproven: its steps may be uneven. A job found done at its first
poll is taken to have ended about as densely as jobs are seen to end just after that poll,
so that the shortest durations learned do not sink each time one is; when far more jobs are
done at their first poll than the durations learned expect, the jobs have become shorter
(`bot.jobs.first_answers`) and only the last few durations are kept.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.jobs.estimate import (
    MAX_DURATIONS,
    Curve,
    Durations,
    Reading,
    best_estimate,
    erratic,
    expected_left,
    remaining,
)
from bot.jobs.even_bar import (
    Blankness,
    EvenMode,
    Evenness,
    even_bar,
    steps_to_end,
    tolerance,
    values_shown,
)
from bot.jobs.first_answers import WINDOW as FIRST_ANSWERS
from bot.jobs.first_answers import FirstAnswers
from bot.jobs.models import JobKind
from bot.jobs.trust import Trust

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How one kind of job is polled, in seconds."""

    first: float  # after the create call, until durations are known
    floor: float  # never sooner than this
    ceiling: float  # never later than this while it is working
    tail: float  # the spacing around the likely end: about the lag it costs
    lead: float  # share of the soonest remaining time by the bar's own rate to sleep through
    target: float  # the lag a sleep on an estimate may cost, for all but a few jobs
    quiet_growth: float  # while nothing shows progress: spacing as a share of the elapsed time


IMAGE_POLICY = PollPolicy(
    first=4.0, floor=0.5, ceiling=30.0, tail=1.5, lead=0.8, target=2.0, quiet_growth=0.1
)
VIDEO_POLICY = PollPolicy(
    first=20.0, floor=2.0, ceiling=120.0, tail=7.0, lead=0.8, target=10.0, quiet_growth=0.5
)

# With two videos or more pending, one `GET /api/videos` shows every finished one at once;
# each video's own status is then read only for its progress. The more videos, the more
# often (the cost per video stays about one call in SWEEP_BUDGET seconds).
SWEEP_MIN_VIDEOS = 2
SWEEP_BUDGET = 30.0
SWEEP_INTERVALS = (2.0, 7.0)  # the shortest and the longest
# A sweep is one call for all the videos: when the bar of one of them says its end is near,
# the sweep comes when its own schedule would poll it, or every SWEEP_NEAR_END seconds.
SWEEP_NEAR_END = 2.0
SWEPT_VIDEO_INTERVAL = 90.0
# A video whose bar moves evenly: its end once known to within EVEN_END_WINDOW seconds (plus
# twice the readings' tolerance) is polled EVEN_END_SPACING apart through that window; in a
# wider one, a poll comes after 1 / EVEN_END_POLLS of what is left of it, and no more than
# EVEN_WIDE_SPACING after the last: the end may be anywhere in such a window, and polled
# sparsely there, a video was noticed later than by the fastest fixed poller compared.
EVEN_END_WINDOW = 4.0
EVEN_END_SPACING = 1.25
EVEN_END_POLLS = 4
EVEN_WIDE_SPACING = 2.0
# A video within LAST_STEPS steps of its end (its bar's steps), while it is not known how far
# estimates of its kind hold (or, on trial, whether its bar is even): polled every tail.
LAST_STEPS = 2
# A video that may be read as even, before its bar shows a value: spacing as a share of its age.
AWAITING_GROWTH = 1.0
# A video whose bar shows nothing yet may stay blank to its end (polled at a spacing of its
# age, such lone videos were noticed 100-120 s late, p95). While it is not known whether the
# bars of videos show values at all, or once they are known to stay blank but not yet how
# long videos take, one is polled at least this often.
BLANK_VIDEO_SPACING = 30.0
# After a single progress value, sleep at most this share of the time it took to show.
SINGLE_READING_SHARE = 0.5
# Until finished jobs show how far estimates of a kind hold, none is slept on for longer than
# this share of the job's age: a bar that creeps, then speeds up (progress as the cube of the
# time, say) ends long before its rate says; slept through as said, the first such jobs were
# noticed 4-11 s late (p95).
UNPROVEN_AGE_SHARE = 0.5
# Durations below this quantile are "the shortest jobs"; above the upper one, "the longest".
SHORTEST, LONGEST = 0.01, 0.98

# An image that shows nothing before any duration is known: spacing as a share of its age.
COLD_GROWTH = 0.02
# The first poll is judged over FIRST_WINDOW jobs: when over FIRST_LATE of them are done at
# it, it comes FIRST_STEP times sooner (down to FIRST_SCALE_MIN); under FIRST_EARLY, later.
FIRST_WINDOW = 10
FIRST_LATE, FIRST_EARLY = 0.85, 0.5
FIRST_STEP = 0.8
FIRST_SCALE_MIN = 0.3
# A job found done at its first poll is placed by how densely jobs end over FIRST_DENSITY_SPAN
# of that poll's time after it; but while more than FIRST_SHORTER_AFTER of the last
# FIRST_RECENT jobs were, half-way to its start (jobs may have become shorter).
FIRST_DENSITY_SPAN = 0.5
FIRST_RECENT = 20
FIRST_SHORTER_AFTER = 2
# Durations learned before first answers are judged against them (`FirstAnswers`).
FIRST_ANSWERS_FROM = 50

ERROR_BACKOFF_BASE = 2.0
ERROR_BACKOFF_CAP = 300.0


def policy_for(kind: JobKind) -> PollPolicy:
    return VIDEO_POLICY if kind.makes_video else IMAGE_POLICY


def first_poll_delay(
    kind: JobKind, seen: Durations, scale: float = 1.0, spacing: float = 0.0
) -> float:
    """After the create call: one spacing after the shortest jobs of this kind end (`scale`:
    see `Learned.first_scale`). The spacing is the tail, or the wider `spacing` the key's
    load holds its polls to (`bot.jobs.spacing`): a job that ends just after the shortest
    then waits no longer than one that ends between two later polls."""
    policy = policy_for(kind)
    gap = max(policy.tail, spacing)
    planned = policy.first if not seen.known else shortest_end(seen) + gap
    return max(planned * scale, policy.floor)


def shortest_end(seen: Durations) -> float:
    """When the shortest jobs of a kind end: the SHORTEST quantile of their durations. Until
    about 1 / SHORTEST durations are known it cannot be read from them: one job in n + 1 is
    shorter than the n before it, and polled first after them, such videos were noticed
    35-52 s late. So it is put below the shortest known, at the square root of the share of
    that quantile they can read: a third of it at 10 durations, half at 24, all of it from
    99 (in proportion to that share, the first jobs were as safe, but more calls went to
    them and silent bars fell behind a fixed poller making as many calls more often)."""
    readable = min(1.0, SHORTEST * (len(seen) + 1))
    return seen.quantile(SHORTEST) * math.sqrt(readable)


def quiet_delay(kind: JobKind, elapsed: float, seen: Durations, blank: bool = False) -> float:
    """The next poll of a job that has shown no progress yet; `blank`: most finished jobs of
    its kind showed none to their end (a video's bar is otherwise blank only in its queue)."""
    policy = policy_for(kind)
    if seen.known and elapsed < (soonest := shortest_end(seen)):
        return soonest - elapsed
    if kind.makes_video and not blank:
        return max(policy.tail, policy.quiet_growth * elapsed)
    if kind.makes_video and not seen.known:
        return BLANK_VIDEO_SPACING
    if not seen.known:  # nothing learned yet: about the tail, slowly wider
        return max(policy.tail, COLD_GROWTH * elapsed)
    # An even spacing while most jobs end (a fixed poller's lag for fewer calls), then wider.
    return policy.tail + policy.quiet_growth * max(0.0, elapsed - seen.quantile(LONGEST))


@dataclass(frozen=True, slots=True)
class NextPoll:
    delay: float  # seconds to the next status call
    end_is_near: bool  # the bar puts the end within two tail spacings
    # A video whose own polls pin its end (its bar is read as even): it needs no sweep.
    self_paced: bool = False
    # A video whose bar may soon be read as even, once it shows a value: its own polls are
    # not spaced out for the sweep.
    awaits_value: bool = False


def next_poll(
    kind: JobKind,
    readings: Sequence[Reading],
    seen: Durations,
    curve: Curve | None = None,
    trust: Trust | None = None,
    even: EvenMode = "off",
    swept: bool = False,
    blank: bool = False,
) -> NextPoll:
    """When to make the next status call of a job that is not done yet: by the shape of the
    bars of finished jobs (`curve`) once known, else by this bar's own rate; `trust` is the
    share of such an estimate that jobs of the kind showed safe to sleep
    (`bot.jobs.trust`); `even`: whether bars of the kind are read as even (a video's, while
    it fits one; `Evenness`); `swept`: a video whose end a sweep of the video list notices;
    `blank`: most finished jobs of the kind showed no progress to their end. Also whether
    the bar says the end is near (a sweep then comes)."""
    policy = policy_for(kind)
    awaits_value = False
    if kind.makes_video and even != "off":
        planned = even_video_poll(readings, trial=even == "trial")
        if planned is not None:
            return planned
        awaits_value = not values_shown(readings)
    shows_progress = remaining(readings) is not None
    left = best_estimate(readings, curve, shows_progress and erratic(readings))
    elapsed = readings[-1].elapsed
    quiet = quiet_delay(kind, elapsed, seen, blank)
    if awaits_value:
        # Its first value only starts the even reading: no need to see it at once.
        quiet = max(quiet, AWAITING_GROWTH * elapsed)
    if kind.makes_video and even == "trial" and not swept and not shows_progress:
        # Until finished videos showed values, its bar may stay blank to its end, which
        # only a sweep would notice.
        until_shortest = shortest_end(seen) - elapsed if seen.known else 0.0
        quiet = min(quiet, max(BLANK_VIDEO_SPACING, until_shortest))
    if left is None and shows_progress and kind.makes_video:
        delay = policy.tail  # a video that shows progress is past its queue
    elif left is None:
        # Bars of this kind say little of their end, or this one jumps or stalls: poll as if
        # it said nothing.
        delay = quiet
    elif left.soonest > 2 * policy.tail:
        # A curve's soonest is already the early end of what jobs of the kind did: all of
        # it can be slept through; a bar's own rate keeps a margin (`lead`).
        learned = trust.share(left) if trust is not None else None
        unproven = learned is None
        if learned is None:
            learned = 1.0 if left.by_curve else policy.lead
        delay = left.soonest * learned
        if unproven:
            delay = min(delay, max(UNPROVEN_AGE_SHARE * elapsed, 2 * policy.tail))
        if unproven and kind.makes_video and _near_last_steps(readings):
            # Steps that need not be even: the last two may come at half their share of the
            # time. Until finished videos say how far such an estimate holds, no long sleep.
            delay = min(delay, policy.tail)
        if not left.steady:
            # A guessed rate sleeps no longer than the bar took to move, nor than a silent
            # job of this kind would: a bar that jumped once may stall, then jump to done.
            share = SINGLE_READING_SHARE if left.single else 1.0
            delay = min(delay, share * left.span, quiet)
        if seen.known:
            # An estimate that this job will outlast nearly every job of its kind is not
            # believed past that point.
            delay = min(delay, max(seen.quantile(LONGEST) - readings[-1].elapsed, quiet))
    else:
        delay = policy.tail
    near = left is not None and left.soonest <= 2 * policy.tail
    return NextPoll(min(max(delay, policy.floor), policy.ceiling), near, awaits_value=awaits_value)


def _near_last_steps(readings: Sequence[Reading]) -> bool:
    steps = steps_to_end(readings)
    return steps is not None and steps <= LAST_STEPS


def even_video_poll(readings: Sequence[Reading], trial: bool = False) -> NextPoll | None:
    """The next poll of a video whose bar moves evenly (`bot.jobs.even_bar`): at the middle
    of the times the first of its next steps not yet known to within EVEN_END_WINDOW
    seconds may come (which halves what is known of its pace), until its end is known that
    well; then through that window, EVEN_END_SPACING apart. None when its bar does not fit
    an even one. On `trial` (too few videos known to say whether their bars are even), a bar
    within two steps of its end is polled at least every video tail: if it is not even after
    all, its end may come before the window."""
    now = readings[-1].elapsed
    slack = tolerance(now)
    bar = even_bar(readings, slack)
    if bar is None:
        return None
    # However many readings, the times stay as uncertain as the readings themselves.
    known = EVEN_END_WINDOW + 2 * slack
    end_soonest, end_latest = bar.reaches(100)
    near = end_soonest - now <= 2 * VIDEO_POLICY.tail
    if end_latest - end_soonest > known:
        level = max(r.progress or 0 for r in readings)
        for value in range(level + bar.step, 100, bar.step):
            soonest, latest = bar.reaches(value)
            if latest - soonest > known:
                delay = max((soonest + latest) / 2 - now, EVEN_END_SPACING)
                return _even_poll(delay, near, trial and _near_last_steps(readings))
    if end_soonest > now + EVEN_END_SPACING:
        delay = end_soonest - now
    elif end_latest - now <= known:
        delay = EVEN_END_SPACING
    else:
        # In a window still wide (no step left to learn from: say the first value seen was
        # the last before the end): closer as the end nears, never far apart.
        delay = min(max(EVEN_END_SPACING, (end_latest - now) / EVEN_END_POLLS), EVEN_WIDE_SPACING)
    return _even_poll(delay, near, trial)


def _even_poll(delay: float, near: bool, on_trial_near_end: bool) -> NextPoll:
    limit = VIDEO_POLICY.tail if on_trial_near_end else VIDEO_POLICY.ceiling
    return NextPoll(min(delay, limit), near, self_paced=True)


def sweep_interval(videos_waiting: int, wanted_in: float | None = None) -> float:
    """Seconds to the next sweep: sooner the more videos it serves, and near the end of one
    of them, as soon as its own schedule would poll it (`wanted_in`), or SWEEP_NEAR_END."""
    low, high = SWEEP_INTERVALS
    interval = min(max(SWEEP_BUDGET / max(videos_waiting, 1), low), high)
    return interval if wanted_in is None else min(interval, max(wanted_in, SWEEP_NEAR_END))


def backoff_delay(
    attempts: int, retry_after: float | None = None, cap: float = ERROR_BACKOFF_CAP
) -> float:
    """Exponential backoff with jitter after `attempts` consecutive failures."""
    exponential = min(cap, ERROR_BACKOFF_BASE ** max(attempts, 1))
    delay = random.uniform(exponential / 2, exponential)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


class Learned:
    """What finished jobs have taught, image kinds and videos apart, on the schedule's clock:
    their durations, their progress curve, and how the first poll fares."""

    def __init__(self) -> None:
        self.images = Durations()
        self.videos = Durations()
        self.image_curve = Curve()
        self.video_curve = Curve()
        self.trust = {False: Trust(), True: Trust()}
        self.video_evenness = Evenness()  # only videos are read as even bars
        self.video_blankness = Blankness()
        self._samples = {
            False: deque[float](maxlen=MAX_DURATIONS),
            True: deque(maxlen=MAX_DURATIONS),
        }
        # The first poll, as a share of what the durations suggest: lowered while most jobs
        # are already done at it (then their durations are only known to be shorter).
        self.first_scale = {False: 1.0, True: 1.0}
        self._firsts = {False: deque[bool](maxlen=FIRST_WINDOW), True: deque(maxlen=FIRST_WINDOW)}
        # Whether each of the last jobs was found done at its first poll (not cleared).
        self._recent_firsts = {
            False: deque[bool](maxlen=FIRST_RECENT),
            True: deque(maxlen=FIRST_RECENT),
        }
        self.first_answers = {False: FirstAnswers(), True: FirstAnswers()}

    def of(self, kind: JobKind) -> Durations:
        return self.videos if kind.makes_video else self.images

    def curve_of(self, kind: JobKind) -> Curve:
        return self.video_curve if kind.makes_video else self.image_curve

    def set_durations(self, videos: bool, durations: Sequence[float]) -> None:
        self._samples[videos].clear()
        self._samples[videos].extend(durations)
        self._refresh(videos)

    def note(
        self,
        kind: JobKind,
        readings: Sequence[Reading],
        took: float,
        running: Sequence[float] = (),
    ) -> float:
        """A job found complete `took` seconds after it was submitted; `running`: the ages
        of the jobs of its kind still running. Returns when it probably ended, in seconds
        after it was submitted: the duration learned from it."""
        videos = kind.makes_video
        if not readings:
            self.first_answer(kind, took, done=True)
        self._recent_firsts[videos].append(not readings)
        ended = self._ended(kind, readings, took)
        # Judged with the curve as it was while the job ran, before the job teaches it.
        policy = policy_for(kind)
        self.trust[videos].learn(readings, ended, self.curve_of(kind), policy.tail, policy.target)
        self.curve_of(kind).learn(readings, took)
        if videos:
            self.video_evenness.learn(readings, took)
            self.video_blankness.learn(readings, took)
        self._samples[videos].append(ended)
        self._refresh(videos, running)
        firsts = self._firsts[videos]
        firsts.append(not readings)
        if len(firsts) == FIRST_WINDOW:
            late = sum(firsts) / FIRST_WINDOW
            scale = self.first_scale[videos]
            if late > FIRST_LATE:
                scale = max(scale * FIRST_STEP, FIRST_SCALE_MIN)
            elif late < FIRST_EARLY:
                scale = min(scale / FIRST_STEP, 1.0)
            self.first_scale[videos] = scale
            firsts.clear()
        return ended

    def first_answer(self, kind: JobKind, elapsed: float, done: bool) -> None:
        """A job's first status answer, `elapsed` seconds after it was submitted: `done`,
        or still running. When far more jobs are done at it than the durations learned
        expect (`FirstAnswers`), those durations no longer describe the jobs: only the
        last few are kept, and the first poll is placed afresh from them."""
        videos = kind.makes_video
        seen = self.of(kind)
        if len(seen) < FIRST_ANSWERS_FROM:
            return
        answers = self.first_answers[videos]
        answers.add(done, seen.share_within(elapsed))
        if answers.sooner_than_learned():
            log.info(
                "%s end sooner than the %d durations learned: learning them afresh",
                "videos" if videos else "images",
                len(seen),
            )
            recent = list(self._samples[videos])[-FIRST_ANSWERS:]
            self.set_durations(videos, recent)
            answers.clear()

    def _ended(self, kind: JobKind, readings: Sequence[Reading], took: float) -> float:
        """When a job found complete `took` seconds in probably ended: half-way between the
        last sight of it working and then.

        One found done at its first poll ended at some time before it. That poll comes just
        after the shortest jobs end, so the jobs it finds done are taken to have ended as
        densely as jobs are seen to end just after it: this one in the middle of the time
        they take at that density. (Half-way to its start would put the shortest jobs ever
        shorter, and the first poll of every job sooner, each time one is.) While more than
        FIRST_SHORTER_AFTER of the last FIRST_RECENT jobs were found done at their first
        poll, jobs may be shorter than learned: half-way, so that the first poll comes
        sooner."""
        if readings:
            return (readings[-1].elapsed + took) / 2
        half_way = took / 2
        videos = kind.makes_video
        if sum(self._recent_firsts[videos]) > FIRST_SHORTER_AFTER:
            return half_way
        samples = self._samples[videos]
        width = max(policy_for(kind).tail, FIRST_DENSITY_SPAN * took)
        ending_after = sum(took < ended <= took + width for ended in samples)
        if not ending_after:
            return half_way
        done_by = 1 + sum(ended <= took for ended in samples)
        spread = done_by * width / ending_after  # their time at that density
        return max(half_way, took - spread / 2)

    def _refresh(self, videos: bool, running: Sequence[float] = ()) -> None:
        known = Durations(self._samples[videos], running)
        if videos:
            self.videos = known
        else:
            self.images = known


@dataclass(frozen=True, slots=True)
class Schedule:
    """The poll schedule on a clock that may run `speed` times faster than real time.

    Real Miraflow runs at speed 1. The simulator can run its jobs faster (`simulate
    --speed`); a bot that polls it at the same speed behaves as it would in real time.
    Readings and durations are given in real seconds; `learned` is shared by every holder
    of this schedule (the job service places first polls with it).
    """

    speed: float = 1.0
    learned: Learned = field(default_factory=Learned, compare=False)

    def learn(self, videos: bool, durations: Sequence[float]) -> None:
        """Durations of jobs finished before (from the store): a start, until the poller's
        own findings replace them."""
        self.learned.set_durations(videos, [d * self.speed for d in durations])

    def learn_finished(
        self,
        kind: JobKind,
        readings: Sequence[Reading],
        took: float,
        running: Sequence[float] = (),
    ) -> float:
        """A job found complete `took` seconds after it was submitted, and what its bar
        showed along the way; `running`: the ages of the jobs of its kind still running.
        Returns when it probably ended, in seconds after it was submitted."""
        scaled = [Reading(r.elapsed * self.speed, r.progress) for r in readings]
        ages = [age * self.speed for age in running]
        return self.learned.note(kind, scaled, took * self.speed, ages) / self.speed

    def first_answer_running(self, kind: JobKind, elapsed: float) -> None:
        """A job still running at its first status answer, `elapsed` seconds after it was
        submitted (`Learned.first_answer`; one found done there teaches it by finishing)."""
        self.learned.first_answer(kind, elapsed * self.speed, done=False)

    def first(self, kind: JobKind, spacing: float = 0.0) -> float:
        """The first poll after the create call; `spacing`: the least spacing of the polls
        of the job's key, on this clock (0: none)."""
        learned = self.learned
        scale = learned.first_scale[kind.makes_video]
        delay = first_poll_delay(kind, learned.of(kind), scale, spacing * self.speed)
        return delay / self.speed

    def plan(self, kind: JobKind, readings: Sequence[Reading], swept: bool = False) -> NextPoll:
        scaled = [Reading(r.elapsed * self.speed, r.progress) for r in readings]
        learned = self.learned
        videos = kind.makes_video
        trust = learned.trust[videos]
        even = learned.video_evenness.mode if videos else "off"
        seen, curve = learned.of(kind), learned.curve_of(kind)
        blank = videos and learned.video_blankness.blank
        planned = next_poll(kind, scaled, seen, curve, trust, even, swept, blank)
        return replace(planned, delay=planned.delay / self.speed)

    def expected_left(self, kind: JobKind, progress: int | None, elapsed: float) -> float | None:
        """Seconds a job probably still needs (see `estimate.expected_left`); None if unknown."""
        left = expected_left(progress, elapsed * self.speed, self.learned.curve_of(kind))
        return None if left is None else left / self.speed

    def swept_video(self) -> float:
        """The next status call of a video whose end a sweep will notice."""
        return SWEPT_VIDEO_INTERVAL / self.speed

    def sweep_interval(self, videos_waiting: int, wanted_in: float | None = None) -> float:
        wanted = None if wanted_in is None else wanted_in * self.speed
        return sweep_interval(videos_waiting, wanted) / self.speed

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        delay = backoff_delay(attempts) / self.speed
        return max(delay, retry_after) if retry_after is not None else delay

    def timed_out(self, elapsed: float, timeout: float) -> bool:
        return elapsed * self.speed > timeout
