"""The gate every HTTP attempt to Miraflow passes through, retries included.

- A ceiling: at most `rate` attempts in any one-second window, in the order they came,
  never more than twice as close together as an even spread. An attempt counts from the
  instant its request starts (the client says when: `Departure.started`), so one that
  leaves late cannot crowd the next window.
- Retry-After: after a 429 no attempt of the poller leaves before it has passed (the
  header's seconds, capped at a minute where it is parsed: `parse_retry_after`); a call a
  member waits on is not held.
- A server-side limit: on a 429 the rate drops just under what the server let through in
  the last second, then creeps back up to the ceiling while no 429 comes.
- An outage: after OUTAGE_AFTER failed attempts in a row (no connection, or a 5xx) the
  whole client counts as down. Then one probe at a time, every PROBE_INTERVAL seconds, goes
  out; the poller's other attempts wait, and a call a member is waiting on fails at once.
  The first answer opens the gate, and the attempts held catch up at the ceiling.

`PRIORITY` (a context variable, set by the poller in its own tasks) says which kind of call
an attempt belongs to. `Pacers` gives each Miraflow client (each key) a pacer of its own, at
the ceiling shared out between the live processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from bot.miraflow import MiraflowClient, MiraflowConnectionError

log = logging.getLogger(__name__)

Priority = Literal["user", "poll", "sweep", "progress"]
# "user": a call someone waits on (never held through an outage); "poll": a status call of
# the poller; "sweep": the list of finished videos, one call for every video waiting (goes
# before the polls waiting); "progress": a video's progress while a sweep watches its end
# (goes last).
PRIORITY: ContextVar[Priority] = ContextVar("miraflow_call_priority", default="user")

OUTAGE_AFTER = 3
PROBE_INTERVAL = 1.25
RETRY_AFTER_DEFAULT = 1.0
SLOWDOWN = 0.92  # share of the last second's accepted calls to go on at, after a 429
RECOVERY = 0.02  # calls per second regained per second without a 429
MIN_RATE = 0.5
SLACK = 1.05
# Real seconds added to each counted window, whatever the clock's speed: requests that left
# a second apart can arrive closer together at Miraflow (2 % of the ceiling at real speed).
NETWORK_ALLOWANCE = 0.02
# Calls may leave BUNCHING times closer together than an even spread, as long as a window
# holds no more than the ceiling: calls due together wait less.
BUNCHING = 2.0
# Calls remembered, in windows' worth: enough that one whose request left late is counted.
KEPT_WINDOWS = 2
MAX_DEFER = 3.0  # seconds a call that is not urgent lets urgent ones go first


class Signal:
    """Wakes everyone waiting on it at once, each waiting at most some seconds."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


class Departure:
    """One attempt let through: when it left (when it was let through, until its request
    says it started)."""

    __slots__ = ("_clock", "at")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.at = clock()

    def started(self) -> None:
        """The request is leaving now."""
        self.at = max(self.at, self._clock())


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt the pacer let through."""

    probe: bool  # the outage's probe: its answer says whether Miraflow is back
    departure: Departure

    def started(self) -> None:
        """Its request is leaving now."""
        self.departure.started()


class RateLimiter:
    """At most `rate` calls in any one-second window, never more than BUNCHING times closer
    together than an even spread, served in the order they came (urgent ones first)."""

    def __init__(
        self,
        rate: float,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        allowance: float = NETWORK_ALLOWANCE,
    ) -> None:
        # On a clock `speed` times faster, a "second" lasts 1/speed real seconds.
        self._speed = speed
        # Calls spaced as if a second lasted SLACK seconds; windows counted from when calls
        # left (between a slot and its request starting, a busy loop can lose milliseconds),
        # `allowance` real seconds longer than a second for the way to Miraflow.
        self._window = 1.0 / speed + allowance
        self._clock = clock
        self._next_slot = 0.0
        self._recent: deque[Departure] = deque()
        # Callers waiting, urgent and not, each in the order they came: only the first of a
        # line may take a slot (without it, every sleeper woke for the same slot and the
        # unlucky ones waited many times the queue's length).
        self._lines: dict[bool, deque[object]] = {True: deque(), False: deque()}
        self._moved = Signal()
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self._interval = SLACK / (rate * self._speed * BUNCHING)
        self._per_window = max(1, math.floor(rate + 0.5))

    async def acquire(self, *, urgent: bool = True, ahead: bool = False) -> Departure:
        """Wait for a slot. A call that is not urgent (a video's progress, while a sweep
        watches for its end) lets every urgent one waiting go first; one `ahead` goes before
        the others of its line."""
        me = object()
        line = self._lines[urgent]
        if ahead:
            line.appendleft(me)
        else:
            line.append(me)
        # A call that can wait does so for a few seconds at most: under a steady stream of
        # urgent calls it would otherwise wait forever (and hold its job with it).
        patience = self._clock() + MAX_DEFER / self._speed
        try:
            while True:
                now = self._clock()
                if line[0] is not me:
                    await self._moved.wait(None)
                    continue
                if not urgent and self._lines[True] and now < patience:
                    await self._moved.wait(patience - now)
                    continue
                slot = max(now, self._next_slot)
                if len(self._recent) >= self._per_window:
                    # By when the calls left, not the order they were let through: one
                    # that left late is still in the window after later ones.
                    left = sorted(departure.at for departure in self._recent)
                    slot = max(slot, left[-self._per_window] + self._window)
                if slot <= now:
                    break
                await asyncio.sleep(slot - now)
        finally:
            line.remove(me)
            self._moved.fire()
        # From the slot this call was given, not from when its task woke (on a busy loop the
        # difference adds up to a rate well under the ceiling); an idle spell gives no credit.
        late = now - self._next_slot
        self._next_slot = (self._next_slot if 0 <= late < self._interval else now) + self._interval
        departure = Departure(self._clock)
        self._recent.append(departure)
        while len(self._recent) > KEPT_WINDOWS * self._per_window:
            self._recent.popleft()
        return departure


class Pacer:
    """The gate of one Miraflow client (see the module's docstring); times are on a clock
    `speed` times faster than real time, like the poll schedule's."""

    def __init__(
        self,
        ceiling: float,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        allowance: float = NETWORK_ALLOWANCE,
    ) -> None:
        self._ceiling = ceiling
        self._speed = speed
        self._clock = clock
        self._limiter = RateLimiter(ceiling, speed, clock, allowance)
        self._paused_until = 0.0
        self._failures = 0
        self.down = False
        self._probing = False
        self._next_probe = 0.0
        self._accepted: deque[float] = deque()  # answers other than 429 in the last second
        self._slowed_at = -math.inf
        self._rate_at = clock()
        self._changed = Signal()

    @property
    def rate(self) -> float:
        return self._limiter.rate

    def set_ceiling(self, ceiling: float) -> None:
        """A new ceiling (this process's share); a rate a server's 429s lowered stays lower."""
        slowed = self._limiter.rate < self._ceiling
        self._ceiling = ceiling
        self._limiter.set_rate(min(self._limiter.rate, ceiling) if slowed else ceiling)

    @property
    def paused_until(self) -> float:
        """Until when a Retry-After holds every attempt back (on the pacer's clock)."""
        return self._paused_until

    async def acquire(self) -> Attempt:
        """Wait until an attempt may leave."""
        priority = PRIORITY.get()
        probe = False
        while True:
            now = self._clock()
            # A member's call is not held a minute: a 429 of its own is told to them.
            if now < self._paused_until and priority != "user":
                await self._changed.wait(self._paused_until - now)
                continue
            if not self.down:
                break
            if priority == "user":
                raise MiraflowConnectionError(
                    "Miraflow is not answering at the moment", request_sent=False
                )
            if not self._probing and now >= self._next_probe:
                self._probing = probe = True
                self._next_probe = now + PROBE_INTERVAL / self._speed
                break
            await self._changed.wait(
                max(self._next_probe - now, 0.0) or PROBE_INTERVAL / self._speed
            )
        self._regain_rate()
        try:
            departure = await self._limiter.acquire(
                urgent=priority != "progress", ahead=priority == "sweep"
            )
        except asyncio.CancelledError:
            if probe:  # a probe dropped before it left: the next one may go
                self._probing = False
            raise
        return Attempt(probe, departure)

    def report(self, probe: bool, status: int | None, retry_after: float | None) -> None:
        """What became of an attempt: its HTTP status, None if no answer came."""
        now = self._clock()
        if probe:
            self._probing = False
        if status == 429:
            # The server's own seconds (already capped): not scaled.
            wait = RETRY_AFTER_DEFAULT / self._speed if retry_after is None else retry_after
            self._paused_until = max(self._paused_until, now + wait)
            self._slow_down(now)
        elif status is None or status >= 500:
            self._failures += 1
            if self._failures >= OUTAGE_AFTER and not self.down:
                log.warning("Miraflow is not answering; probing it until it does")
                self.down = True
                self._next_probe = now + PROBE_INTERVAL / self._speed
        else:
            if self.down:
                log.warning("Miraflow answers again; catching up")
            self.down = False
            self._failures = 0
            self._accepted.append(now)
        self._changed.fire()

    def _slow_down(self, now: float) -> None:
        second = 1.0 / self._speed
        if now - self._slowed_at < second:
            return  # the 429s of calls that left before the last slow-down
        while self._accepted and self._accepted[0] <= now - second:
            self._accepted.popleft()
        rate = self._limiter.rate
        # What got through in the last second, unless a pause left it unrepresentative.
        rate = max(MIN_RATE, min(rate, max(len(self._accepted), rate / 2)) * SLOWDOWN)
        self._limiter.set_rate(rate)
        self._slowed_at = now
        self._rate_at = now
        log.info("Miraflow limits its calls: down to %.2f a second", rate)

    def _regain_rate(self) -> None:
        now = self._clock()
        if self._limiter.rate < self._ceiling:
            gained = RECOVERY * (now - self._rate_at) * self._speed
            self._limiter.set_rate(min(self._ceiling, self._limiter.rate + gained))
        self._rate_at = now
        while len(self._accepted) > 4 * self._ceiling:
            self._accepted.popleft()


class Pacers:
    """One pacer per Miraflow client, that is per key: each account has its own ceiling,
    divided between the live processes that share the store (`share`)."""

    def __init__(
        self, ceiling: float, speed: float = 1.0, allowance: float = NETWORK_ALLOWANCE
    ) -> None:
        self._ceiling = ceiling
        self._speed = speed
        self._allowance = allowance
        self._workers = 1
        self._pacers: weakref.WeakKeyDictionary[MiraflowClient, Pacer] = weakref.WeakKeyDictionary()

    def pace(self, client: MiraflowClient) -> MiraflowClient:
        """`client`, its every HTTP attempt passing its own pacer from now on."""
        if client not in self._pacers:
            share = self._ceiling / self._workers
            pacer = self._pacers[client] = Pacer(share, self._speed, allowance=self._allowance)
            client.pace_with(pacer)
        return client

    def of(self, client: MiraflowClient) -> Pacer:
        self.pace(client)
        return self._pacers[client]

    def share(self, workers: int) -> None:
        """`workers` live processes make calls with the same keys: each makes its share."""
        self._workers = max(workers, 1)
        for pacer in list(self._pacers.values()):
            pacer.set_ceiling(self._ceiling / self._workers)
