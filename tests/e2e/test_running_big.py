"""Two bot processes, one shard each, on one PostgreSQL store, with the fake Discord and the
simulator: 30 jobs, one process killed with SIGKILL mid-way; every job is delivered exactly
once, the killed process's jobs are taken over within seconds, and the Miraflow ceiling
holds for both together, counting every call (creates, status, downloads, lists)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.jobs.models import JobState
from bot.jobs.store.postgres import PgStore
from tests.e2e.harness import BotProcess, bot_environment, wait_until
from tests.fakediscord import FakeDiscord
from tests.pg import PgSchema

CREATE = ("POST", "/api/image/generate")
JOBS = 30
CEILING = 4  # Miraflow calls per (simulated) second, for both processes together
TAKEOVER_SECONDS = 10.0  # the spec's "within seconds": the survivor holds the dead one's jobs
# Slower than the other end-to-end tests: at 40x a simulated second lasts 25 ms, and the
# scheduling jitter of two processes on a busy machine (tens of ms when the whole suite
# runs) would blur the count per second.
SPEED = 5.0


@pytest.fixture
def store(pg_schema: PgSchema) -> Iterator[PgStore]:
    with PgStore(pg_schema.conninfo) as opened:
        yield opened


def results(fd: FakeDiscord) -> list:
    return [m for guild in fd.guilds for m in fd.messages(guild.channel_id) if m.files]


def claimed_by(store: PgStore, shards: str) -> set[int]:
    """The jobs the worker running these shards holds now."""
    with store.pool.connection() as conn:
        rows = conn.execute(
            "SELECT c.job_id FROM job_claims c JOIN workers w ON w.id = c.worker_id"
            " WHERE w.shards = %s",
            (shards,),
        ).fetchall()
    return {row[0] for row in rows}


def ended(store: PgStore, jobs: set[int]) -> set[int]:
    """Those of the jobs that are no longer pollable (delivered, failed...)."""
    return {job_id for job_id in jobs if (job := store.get(job_id)) and job.state.is_terminal}


def busiest_second(times: list[float]) -> int:
    """The most calls that arrived within any one simulated second."""
    window = 1.0 / SPEED
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.usefixtures("short_gc_pauses")
async def test_two_processes_deliver_every_job_once_through_a_kill(
    sim, tmp_path, pg_schema: PgSchema, store: PgStore
) -> None:
    sim.config.speed = SPEED
    sim.config.image_seconds = (15.0, 25.0)  # 3-5 s of real time
    async with FakeDiscord(guilds=2, shards=2) as fd:
        env = bot_environment(
            fd,
            sim,
            tmp_path / "unused.sqlite3",
            DATABASE_URL=pg_schema.url,
            SHARD_COUNT="2",
            MAX_ACTIVE_JOBS_PER_USER="20",
            MIRAFLOW_POLLS_PER_SECOND=str(CEILING),
            MIRAFLOW_TIME_SCALE=str(SPEED),
            LOG_LEVEL="INFO",
        )
        first = BotProcess({**env, "SHARD_IDS": "0"}, tmp_path / "first.log")
        second = BotProcess({**env, "SHARD_IDS": "1"}, tmp_path / "second.log")
        first.start()
        second.start()
        try:
            await fd.wait_for_shards(2, timeout=30)
            for n in range(JOBS):
                guild = fd.guilds[n % 2]
                inter = await fd.invoke(
                    "imagine",
                    {"prompt": f"ship number {n}"},
                    user=guild.users.alice,
                    channel_id=guild.channel_id,
                )
                await fd.wait_for_ack(inter, timeout=5)
            await sim.wait_for_requests(*CREATE, count=JOBS, timeout=20)
            await wait_until(lambda: len(results(fd)) >= 5, timeout=30)
            orphans = claimed_by(store, "0")
            first.kill()  # SIGKILL: no clean stop, its claims are freed by the survivor
            killed_at = time.monotonic()
            delivered_at_kill = len(results(fd))
            assert orphans, "the killed process held jobs"
            # Taken over: each of its jobs is claimed by the survivor, or already ended.
            await wait_until(
                lambda: not orphans - claimed_by(store, "1") - ended(store, orphans),
                timeout=30,
                interval=0.05,
                in_thread=True,
            )
            takeover = time.monotonic() - killed_at
            await wait_until(lambda: len(results(fd)) >= JOBS, timeout=90)
            all_delivered = time.monotonic() - killed_at
            await second.terminate()
        finally:
            for process in (first, second):
                if process.is_running():
                    process.kill()

        posted = results(fd)
        logs = first.log_text() + second.log_text()
        assert len(posted) == JOBS, logs
        assert delivered_at_kill < JOBS, "the kill came mid-way"
        assert sorted(m.embeds[0]["description"] for m in posted) == sorted(
            f"ship number {n}" for n in range(JOBS)
        )
        assert len({m.nonce for m in posted}) == JOBS
    assert sim.count(*CREATE) == JOBS
    assert store.count_by_state() == {JobState.DELIVERED.value: JOBS}
    every_call = [r.time for r in sim.requests]
    polls = [r.time for r in sim.requests if r.method == "GET" and r.path.startswith("/api/image/")]
    print(
        f"{len(every_call)} Miraflow calls ({len(polls)} status calls); busiest simulated"
        f" second: {busiest_second(every_call)} calls ({busiest_second(polls)} status calls),"
        f" ceiling {CEILING}; {len(orphans)} jobs of the killed process taken over"
        f" {takeover:.1f} s after the kill, every job delivered {all_delivered:.1f} s after it"
    )
    assert busiest_second(polls) <= CEILING, busiest_second(polls)
    assert takeover <= TAKEOVER_SECONDS, takeover
    assert busiest_second(every_call) <= CEILING, busiest_second(every_call)  # every call
