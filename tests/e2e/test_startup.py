"""Start-up and shut-down: command sync by hash, clean SIGTERM, no secret in the logs."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.jobs.models import JobState
from bot.jobs.store import JobStore
from tests.e2e.harness import BotProcess, bot_environment, running_bot, wait_until

EXPECTED = {"imagine"}


async def test_commands_are_synced_only_when_they_change(fd, sim, db_path):
    async with running_bot(fd, sim, db_path):
        pass
    assert len(fd.command_syncs) == 1
    assert set(fd.command_syncs[0].names) >= EXPECTED
    assert fd.command_syncs[0].guild_id is None

    async with running_bot(fd, sim, db_path):
        pass
    assert len(fd.command_syncs) == 1, "an unchanged command set must not be synced again"

    # A development guild is a change too: commands are copied there at once.
    async with running_bot(fd, sim, db_path, DEV_GUILD_ID=str(fd.guild_id)):
        pass
    assert [s.guild_id for s in fd.command_syncs[1:]] == [None, fd.guild_id]


async def test_the_sync_subcommand_forces_a_sync(fd, sim, db_path, tmp_path):
    async with running_bot(fd, sim, db_path):
        pass
    env = {**os.environ, **bot_environment(fd, sim, db_path)}
    child = await _run_async([sys.executable, "-m", "bot", "sync"], env, tmp_path)
    assert child == 0
    assert len(fd.command_syncs) == 2


async def _run_async(argv, env, cwd):
    import asyncio

    process = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_sigterm_stops_cleanly_and_pending_jobs_resume(fd, sim, db_path, tmp_path):
    sim.config.image_seconds = (200.0, 200.0)  # 5 s of real time
    env = bot_environment(fd, sim, db_path)
    process = BotProcess(env, tmp_path / "bot.log")
    process.start()
    try:
        await fd.wait_for_ready_client(timeout=20)
        sim.config.latency = 1.0  # the create call is still under way when SIGTERM comes
        inter = await fd.invoke("imagine", {"prompt": "a slow sunrise"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        await sim.wait_for_requests("POST", "/api/image/generate")
        assert await process.terminate() == 0
        sim.config.latency = 0.0
        answer = await fd.wait_for_response(inter, timeout=5)
        assert "Started job #1" in answer.content
        with JobStore(db_path) as store:
            assert store.get(1).state in (JobState.QUEUED, JobState.WORKING)
        process.start()
        await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
        assert await process.terminate() == 0
    finally:
        if process.is_running():
            process.kill()
    log = process.log_text()
    assert "stopped" in log
    assert "Traceback" not in log
    # DEBUG logging shows every Miraflow call, but never a secret.
    assert "GET /api/image/" in log
    assert fd.token not in log
    assert sim.api_key not in log


async def test_jobs_wait_in_the_store_while_the_bot_is_down(fd, sim, db_path):
    sim.config.image_seconds = (80.0, 80.0)
    async with running_bot(fd, sim, db_path) as bot:
        inter = await fd.invoke("imagine", {"prompt": "while you sleep"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        await wait_until(lambda: bot.store.get(1) and bot.store.get(1).miraflow_job_id)
    sim.complete_now(next(iter(sim.jobs)))
    async with running_bot(fd, sim, db_path):
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    assert sim.count("POST", "/api/image/generate") == 1
