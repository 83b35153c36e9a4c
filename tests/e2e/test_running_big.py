"""Two bot processes, one shard each, on one PostgreSQL store, with the fake Discord and the
simulator: 30 jobs, one process killed with SIGKILL mid-way; every job is delivered exactly
once and the Miraflow ceiling holds for both together."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.jobs.models import JobState
from bot.jobs.store.postgres import PgStore
from tests.e2e.harness import BotProcess, bot_environment, wait_until
from tests.fakediscord import FakeDiscord
from tests.pg import PgSchema

CREATE = ("POST", "/api/image/generate")
JOBS = 30
CEILING = 4  # status calls per (simulated) second, for both processes together
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
            first.kill()  # SIGKILL: no clean stop, its claims are freed by the survivor
            delivered_at_kill = len(results(fd))
            await wait_until(lambda: len(results(fd)) >= JOBS, timeout=90)
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
    polls = [r.time for r in sim.requests if r.method == "GET" and r.path.startswith("/api/image/")]
    assert busiest_second(polls) <= CEILING, busiest_second(polls)
