"""Which jobs this process handles: all of them (one process on SQLite), or those it claims
in a PostgreSQL store shared with other processes.

The poller asks its `JobSource` for due jobs, for when the next one is due, and whether it
may handle the jobs a video sweep found finished. `OneProcess` answers from the store as it
is. `SharedStore` claims jobs (see `bot/jobs/store/postgres_claims.py`), keeps this worker's
heartbeat, frees the claims of workers that stopped beating (a killed process's jobs are
taken over within `stale_after` seconds), wakes the poller on `LISTEN` (a job submitted or
freed elsewhere; the poller's timer stays the safety net), and gives the poller its share of
the Miraflow calls-per-second ceiling: the ceiling divided by the live workers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Protocol

import psycopg

from bot.jobs.models import Job
from bot.jobs.store import Store

if TYPE_CHECKING:
    from bot.jobs.store.postgres_claims import PgClaimRows

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0  # seconds
STALE_AFTER = 5.0  # a worker silent this long is gone: its jobs are freed
FORGET_EVERY = 30  # beats between clean-ups of this worker's claims on ended jobs
LISTEN_RETRY = 5.0  # seconds before listening again after the connection was lost
# A job submitting for this long is no live process's: no upload and create call lasts
# nearly as long (the client's time-outs are far shorter).
INTERRUPTED_AFTER = 600.0
RECOVER_EVERY = 60  # beats between looks for such jobs (a killed process leaves them)


class Wakeable(Protocol):
    def wake(self) -> None: ...
    def share_ceiling(self, workers: int) -> None: ...


# The service's `recover_interrupted`: marks (and tells) jobs left submitting before a time.
Recover = Callable[[float], Awaitable[None]]


class JobSource(Protocol):
    expected_workers: int  # processes taken to share the store before any is seen

    def due_jobs(self, now: float, limit: int) -> list[Job]: ...
    def next_due_at(self, excluding: Collection[int] = ()) -> float | None: ...
    def take(self, jobs: list[Job]) -> list[Job]: ...
    async def start(self, poller: Wakeable, recover: Recover | None = None) -> None: ...
    async def stop(self) -> None: ...
    def interrupted_before(self) -> float | None: ...


class OneProcess:
    """The only process on its store (SQLite holds a lock to make sure): every job is ours."""

    expected_workers = 1

    def __init__(self, store: Store) -> None:
        self._store = store

    def due_jobs(self, now: float, limit: int) -> list[Job]:
        return self._store.due_jobs(now, limit)

    def next_due_at(self, excluding: Collection[int] = ()) -> float | None:
        return self._store.next_due_at(excluding)

    def take(self, jobs: list[Job]) -> list[Job]:
        return jobs

    async def start(self, poller: Wakeable, recover: Recover | None = None) -> None:
        return None  # jobs interrupted by a stop are recovered at start, once

    async def stop(self) -> None:
        return None

    def interrupted_before(self) -> float | None:
        """Every job still submitting at start was this process's: recover them all."""
        return None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SharedStore:
    """One of several processes on a PostgreSQL store."""

    def __init__(
        self,
        rows: PgClaimRows,
        *,
        shards: str = "",
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        expected_workers: int = 1,
    ) -> None:
        self.worker_id = worker_name()
        self._rows = rows
        self._shards = shards
        self._interval = heartbeat_interval
        # The processes the shard settings promise (`expected_workers`): each is counted
        # as live until all have been seen, so that a process that starts first (or whose
        # heartbeat lags) does not take the whole ceiling while the others join.
        self.expected_workers = max(expected_workers, 1)
        self._seen_all = self.expected_workers == 1
        self._tasks: list[asyncio.Task[None]] = []
        self._beats = 0
        self._recover: Recover | None = None

    def due_jobs(self, now: float, limit: int) -> list[Job]:
        return self._rows.claim_due(self.worker_id, now, limit)

    def next_due_at(self, excluding: Collection[int] = ()) -> float | None:
        return self._rows.next_due_at(self.worker_id, excluding)

    def take(self, jobs: list[Job]) -> list[Job]:
        ours = self._rows.take(self.worker_id, [job.id for job in jobs])
        return [job for job in jobs if job.id in ours]

    def interrupted_before(self) -> float | None:
        """Only a job submitting for longer than any create call can take is interrupted: a
        younger one may be another live process's call under way."""
        return time.time() - INTERRUPTED_AFTER

    async def start(self, poller: Wakeable, recover: Recover | None = None) -> None:
        """Join: beat once, then wait a beat so that the others see this worker (and shrink
        their share of the ceiling) before it makes its first call. `recover` is called
        every RECOVER_EVERY beats for jobs a killed process left submitting."""
        self._recover = recover
        await self._beat(poller)
        log.info("worker %s joined the shared store", self.worker_id)
        self._tasks = [
            asyncio.create_task(self._heartbeat(poller), name="claims-heartbeat"),
            asyncio.create_task(self._listen(poller), name="claims-listen"),
        ]
        await asyncio.sleep(self._interval * 1.5)

    async def stop(self) -> None:
        """Leave: this worker's claims are freed at once for the others."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await asyncio.to_thread(self._rows.leave, self.worker_id)
        except psycopg.Error as exc:
            log.warning(
                "could not free this worker's claims (%s); they free in %.0f s",
                exc,
                self._rows.stale_after,
            )

    async def _beat(self, poller: Wakeable) -> None:
        beat = await asyncio.to_thread(self._rows.beat, self.worker_id, self._shards)
        if beat.inserted and self._beats:
            log.warning(
                "worker %s was silent for over %.0f s and taken for gone: its jobs went to "
                "the others",
                self.worker_id,
                self._rows.stale_after,
            )
        self._beats += 1
        self._seen_all = self._seen_all or beat.live_workers >= self.expected_workers
        poller.share_ceiling(beat.live_workers if self._seen_all else self.expected_workers)
        if beat.released_jobs:
            log.info("freed %d claims of stopped workers", beat.released_jobs)
            poller.wake()
        if self._beats % FORGET_EVERY == 0:
            await asyncio.to_thread(self._rows.forget_finished, self.worker_id)
        if self._recover is not None and self._beats % RECOVER_EVERY == 0:
            try:
                await self._recover(time.time() - INTERRUPTED_AFTER)
            except Exception:  # the heartbeat must go on whatever a notice met
                log.exception("recovering interrupted jobs failed; trying again later")

    async def _heartbeat(self, poller: Wakeable) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._beat(poller)
            except psycopg.Error as exc:
                log.warning("heartbeat failed: %s", exc)

    async def _listen(self, poller: Wakeable) -> None:
        while True:
            try:
                async for _ in self._rows.notifications():
                    poller.wake()
            except psycopg.Error as exc:
                log.warning("lost the LISTEN connection (%s); polling on the timer meanwhile", exc)
            await asyncio.sleep(LISTEN_RETRY)


def job_source_for(
    store: Store, *, shard_count: int | None = None, shard_ids: Sequence[int] | None = None
) -> JobSource:
    """`SharedStore` on PostgreSQL, `OneProcess` on SQLite."""
    from bot.jobs.store.postgres import PgStore

    if isinstance(store, PgStore):
        rows = store.claim_rows(STALE_AFTER)
        shards = ",".join(map(str, shard_ids or ()))
        expected = expected_workers(shard_count, shard_ids)
        return SharedStore(rows, shards=shards, expected_workers=expected)
    return OneProcess(store)


def expected_workers(shard_count: int | None, shard_ids: Sequence[int] | None) -> int:
    """The processes that share the store, as the shard settings say: SHARD_COUNT shards,
    each process running as many as this one (1 when not sharded by process)."""
    if not shard_count or not shard_ids:
        return 1
    return max(1, math.ceil(shard_count / len(shard_ids)))
