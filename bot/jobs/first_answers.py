"""Whether jobs of a kind now end sooner than the durations learned from them say.

The first poll of a job comes a spacing after the shortest durations learned, and a job
found done at it is only known to have ended before it: its duration is learned as an
estimate no shorter than half that poll. So when Miraflow becomes much faster (its queue
has emptied, say), the shortest durations learned sink only to about one spacing and stay
there: the first poll settles at two spacings, however short the jobs now are, and the
durations learned before (up to MAX_DURATIONS of them, read back at each start) hold it
there. In the model of the gate (10 sets of 200), a bot that had learned silent jobs of
3-120 s, then followed jobs a quarter as long, was 9 % behind a fixed poller making as
many calls, where a bot that had learned nothing was 13 % ahead.

What gives such a change away is the first answers: under the durations learned, each job
is done at its first poll with the share of durations within that poll's time. When far
more of the last jobs (FEWEST to WINDOW of them) are done at it than those shares add up
to, less likely than SURPRISE by chance, the jobs are not those the durations describe
(the schedule then keeps only the last few: 8 % ahead in the case above). First polls
already planned stay where they are.
"""

from __future__ import annotations

import math
from collections import deque

WINDOW = 20  # first answers judged together: the last ones, at most
FEWEST = 5  # ... and at least
SURPRISE = 1e-3  # how unlikely the count of jobs done at their first poll must be by chance


class FirstAnswers:
    """The first answers of the last WINDOW jobs of one kind: done or not, and how likely
    the durations learned made it that the job was done."""

    def __init__(self) -> None:
        self._answers: deque[tuple[bool, float]] = deque(maxlen=WINDOW)

    def add(self, done: bool, expected: float) -> None:
        """A job's first answer: `done` or still running; `expected`: the share of the
        durations learned within the time of that answer."""
        self._answers.append((done, expected))

    def sooner_than_learned(self) -> bool:
        """Far more of the last WINDOW jobs were done at their first poll than expected."""
        count = len(self._answers)
        if count < FEWEST:
            return False
        done = sum(1 for was_done, _ in self._answers if was_done)
        expected = sum(share for _, share in self._answers) / count
        return done > expected * count and at_least(done, count, expected) < SURPRISE

    def clear(self) -> None:
        self._answers.clear()


def at_least(count: int, trials: int, chance: float) -> float:
    """The probability of `count` or more successes in `trials`, each of `chance`. The
    shares differ from job to job: taken at their mean, the spread is, if anything, wider
    than theirs, so a surprise is not overstated."""
    return sum(
        math.comb(trials, k) * chance**k * (1.0 - chance) ** (trials - k)
        for k in range(count, trials + 1)
    )
