"""Several processes on one PostgreSQL store: claims, heartbeats, take-over, wake-ups, the
shared ceiling. Each "process" is a `SharedStore` with a store (pool) of its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bot.jobs import claims
from bot.jobs.claims import OneProcess, SharedStore, expected_workers
from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.service import JobService, Quotas
from bot.jobs.store import JobStore
from bot.jobs.store.postgres import PgStore
from bot.miraflow import MiraflowClient
from tests.jobs.fakes import RecordingFrontend
from tests.pg import PgSchema

T0 = 1_700_000_000.0
STALE = 0.6  # seconds: short, so that take-over is quick to test


class Poller:
    """What the claims tell the poller: wake up, and its share of the ceiling."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.workers = 0

    def wake(self) -> None:
        self.woken.set()

    def share_ceiling(self, workers: int) -> None:
        self.workers = workers


@pytest.fixture
def stores(pg_schema: PgSchema) -> Iterator[list[PgStore]]:
    opened = [PgStore(pg_schema.conninfo) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def worker(store: PgStore) -> SharedStore:
    return SharedStore(store.claim_rows(STALE), heartbeat_interval=0.1)


def submitted(store: PgStore, count: int, next_poll_at: float = T0) -> list[Job]:
    jobs = []
    for n in range(count):
        job = store.create_job(
            kind=JobKind.IMAGE,
            user_id=n,
            channel_id=1,
            guild_id=2,
            request=PictureRequest("a lighthouse"),
            upload_limit=1024,
            now=T0,
        )
        queued = store.mark_submitted(job.id, f"mf-{job.id}", next_poll_at, now=T0)
        assert queued is not None
        jobs.append(queued)
    return jobs


def ids(jobs: list[Job]) -> set[int]:
    return {job.id for job in jobs}


async def test_two_workers_never_claim_the_same_job(stores: list[PgStore]) -> None:
    jobs = submitted(stores[0], 10)
    a, b = worker(stores[0]), worker(stores[1])

    first = a.due_jobs(T0, 6)
    second = b.due_jobs(T0, 10)

    assert len(first) == 6 and len(second) == 4
    assert ids(first) | ids(second) == ids(jobs) and not ids(first) & ids(second)
    assert ids(a.due_jobs(T0, 10)) == ids(first), "a worker keeps its own jobs"
    assert a.next_due_at() == T0
    assert a.next_due_at(excluding=ids(first)) is None, "the other worker's jobs are not due here"


async def test_claims_taken_at_the_same_moment_do_not_overlap(stores: list[PgStore]) -> None:
    jobs = submitted(stores[0], 40)
    a, b = worker(stores[0]), worker(stores[1])

    first, second = await asyncio.gather(
        asyncio.to_thread(a.due_jobs, T0, 40), asyncio.to_thread(b.due_jobs, T0, 40)
    )

    assert not ids(first) & ids(second)
    assert ids(first) | ids(second) == ids(jobs)


async def test_a_silent_workers_jobs_are_taken_over(stores: list[PgStore]) -> None:
    a, b = worker(stores[0]), worker(stores[1])
    poller_a, poller_b = Poller(), Poller()
    await a.start(poller_a)
    await b.start(poller_b)
    assert poller_a.workers == poller_b.workers == 2
    jobs = submitted(stores[0], 3)
    held = a.due_jobs(T0, 10)
    assert ids(held) == ids(jobs) and b.due_jobs(T0, 10) == []

    for task in a._tasks:  # a is killed: no more heartbeats, no clean leave
        task.cancel()
    poller_b.woken.clear()
    async with asyncio.timeout(10):
        await poller_b.woken.wait()
        while poller_b.workers != 1:
            await asyncio.sleep(0.05)

    assert ids(b.due_jobs(T0, 10)) == ids(jobs)
    await b.stop()


async def test_a_process_that_starts_first_takes_its_share_while_the_others_join(
    stores: list[PgStore],
) -> None:
    # SHARD_COUNT=2, SHARD_IDS=0 and 1: two processes are expected.
    assert expected_workers(2, [0]) == 2 and expected_workers(None, None) == 1
    a = SharedStore(stores[0].claim_rows(STALE), heartbeat_interval=0.1, expected_workers=2)
    b = SharedStore(stores[1].claim_rows(STALE), heartbeat_interval=0.1, expected_workers=2)
    poller_a, poller_b = Poller(), Poller()
    await a.start(poller_a)
    assert poller_a.workers == 2  # alone so far, but not taking the whole ceiling
    await b.start(poller_b)
    assert poller_a.workers == poller_b.workers == 2
    for task in a._tasks:  # a is killed: b, having seen it, takes the whole ceiling
        task.cancel()
    async with asyncio.timeout(10):
        while poller_b.workers != 1:
            await asyncio.sleep(0.05)
    await b.stop()


async def test_a_clean_stop_frees_the_jobs_at_once(stores: list[PgStore]) -> None:
    a, b = worker(stores[0]), worker(stores[1])
    poller_b = Poller()
    await a.start(Poller())
    await b.start(poller_b)
    jobs = submitted(stores[0], 2)
    assert ids(a.due_jobs(T0, 10)) == ids(jobs)
    poller_b.woken.clear()

    await a.stop()

    async with asyncio.timeout(10):
        await poller_b.woken.wait()  # LISTEN: the freed jobs wake the other worker
    assert ids(b.due_jobs(T0, 10)) == ids(jobs)
    await b.stop()


async def test_a_submitted_job_wakes_every_worker(stores: list[PgStore]) -> None:
    b = worker(stores[1])
    poller_b = Poller()
    await b.start(poller_b)
    poller_b.woken.clear()

    submitted(stores[0], 1)  # written by another process

    async with asyncio.timeout(10):
        await poller_b.woken.wait()
    await b.stop()


async def test_a_swept_job_is_handled_by_its_holder_only(stores: list[PgStore]) -> None:
    a, b = worker(stores[0]), worker(stores[1])
    later = time.time() + 600
    mine, theirs, free = submitted(stores[0], 3, next_poll_at=later)
    assert ids(a.due_jobs(later, 1)) == {mine.id}
    assert ids(b.due_jobs(later, 1)) == {theirs.id}
    for job in (mine, theirs, free):
        stores[0].set_state(job.id, JobState.COMPLETE)

    taken = a.take([stores[0].get(job.id) for job in (mine, theirs, free)])  # type: ignore[misc]

    assert ids(taken) == {mine.id, free.id}
    handed = stores[1].get(theirs.id)
    assert handed is not None and handed.next_poll_at is not None
    assert handed.next_poll_at <= time.time(), "made due now, for its holder"


def test_one_process_handles_every_job(tmp_path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job = store.create_job(
            kind=JobKind.IMAGE,
            user_id=1,
            channel_id=1,
            guild_id=None,
            request=PictureRequest("a lighthouse"),
            upload_limit=1024,
            now=T0,
        )
        store.mark_submitted(job.id, "mf", T0, now=T0)
        source = OneProcess(store)
        assert ids(source.due_jobs(T0, 5)) == {job.id}
        assert source.take([job]) == [job]
        assert source.interrupted_before() is None


async def test_the_heartbeat_looks_for_interrupted_jobs_now_and_then(
    stores: list[PgStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "RECOVER_EVERY", 2)
    asked: list[float] = []
    looked = asyncio.Event()

    async def recover(before: float) -> None:
        asked.append(before)
        looked.set()

    source = worker(stores[0])
    await source.start(Poller(), recover)
    async with asyncio.timeout(10):
        await looked.wait()
    await source.stop()

    assert asked[0] <= time.time() - claims.INTERRUPTED_AFTER


async def test_only_old_submitting_jobs_are_interrupted_and_told_once(
    stores: list[PgStore],
) -> None:
    now = time.time()
    jobs = []
    for age in (claims.INTERRUPTED_AFTER + 60, 10.0):  # a killed process's; a live call's
        jobs.append(
            stores[0].create_job(
                kind=JobKind.IMAGE,
                user_id=1,
                channel_id=1,
                guild_id=2,
                request=PictureRequest("a lighthouse", name="l"),
                upload_limit=1024,
                now=now - age,
            )
        )
    old, young = jobs
    frontends = [RecordingFrontend(), RecordingFrontend()]
    unused = MiraflowClient("never-called", base_url="http://127.0.0.1:9")  # no create call
    services = [
        JobService(store, unused, frontend, quotas=Quotas(5, 5), wake_poller=lambda: None)
        for store, frontend in zip(stores, frontends, strict=True)
    ]

    for service in services:  # two processes look at the same moment
        await service.recover_interrupted(now - claims.INTERRUPTED_AFTER)

    assert stores[0].get(old.id).state is JobState.UNKNOWN  # type: ignore[union-attr]
    assert stores[0].get(young.id).state is JobState.SUBMITTING  # type: ignore[union-attr]
    told = [job_id for frontend in frontends for job_id, _ in frontend.notices]
    assert told == [old.id]
