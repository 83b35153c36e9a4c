"""Runs the real bot against the fake Discord and the Miraflow simulator.

`running_bot` starts a MiraflowBot in this process; `BotProcess` runs `python -m bot`
as a child process (for crash tests), configured only through its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.discord_bot import MiraflowBot
from bot.jobs.models import JobState
from bot.jobs.store import Store, open_store
from bot.miraflow import MiraflowClient
from bot.miraflow.simulator.catalogue import AVATARS_BY_ID, VOICES_BY_ID
from bot.settings import load_settings
from tests.fakediscord import FakeDiscord

# The simulator runs image jobs of 8-40 simulated seconds in 0.2-1 real second at this
# speed; the bot polls on the same scaled clock.
SPEED = 40.0
# A stock avatar and voice of the simulator, for the tests that make a video.
AVA = next(a.id for a in AVATARS_BY_ID.values() if a.name == "Ava")
ARIA = next(v.id for v in VOICES_BY_ID.values() if v.name == "Aria")


def bot_environment(fd: FakeDiscord, sim: Any, db_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DISCORD_TOKEN": fd.token,
        "MIRAFLOW_API_KEY": sim.api_key,
        "MIRAFLOW_BASE_URL": sim.base_url,
        "DATABASE_PATH": str(db_path),
        "DISCORD_API_BASE_URL": fd.api_base,
        "DISCORD_GATEWAY_URL": fd.gateway_url,
        "MIRAFLOW_TIME_SCALE": str(SPEED),
        "MIRAFLOW_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "DEBUG",
    }
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def running_bot(
    fd: FakeDiscord, sim: Any, db_path: Path, **overrides: str
) -> AsyncIterator[MiraflowBot]:
    """A MiraflowBot connected to `fd` and `sim`, in this process, until the block ends."""
    fd.point_discord_py()
    settings = load_settings(bot_environment(fd, sim, db_path, **overrides))
    store = open_store(settings.database_url, settings.database_path)
    try:
        async with MiraflowClient(
            settings.miraflow_api_key,
            base_url=settings.miraflow_base_url,
            timeout=settings.miraflow_timeout,
            read_timeout=settings.download_stall_timeout,
            stall_timeout=settings.download_stall_timeout,
            download_deadline=settings.download_deadline,
        ) as client:
            bot = MiraflowBot(settings, store, client, guild_ready_timeout=0.05)
            await bot.login(settings.discord_token)
            task = asyncio.create_task(bot.connect())
            try:
                await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
                yield bot
            finally:
                await bot.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, timeout=10)
    finally:
        store.close()


class BotProcess:
    """`python -m bot` in a child process, for tests that kill it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = {**os.environ, **env}
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self._log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._log_path.parent,
        )
        log.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    async def terminate(self) -> int:
        """SIGTERM, then wait without blocking the event loop the fake Discord runs on."""
        assert self.process is not None
        self.process.terminate()
        await wait_until(lambda: self.process.poll() is not None, timeout=20)
        return self.process.returncode

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self._log_path.read_text(errors="replace")


async def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    in_thread: bool = False,
) -> None:
    """Wait for a condition the code under test makes true (for state kept outside
    asyncio events: database rows, a child process). `in_thread`: the condition is checked
    in a thread, so that its queries do not hold up a simulator on this loop (it records
    a request's arrival when its handler runs)."""
    deadline = time.monotonic() + timeout
    while not (await asyncio.to_thread(condition) if in_thread else condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


def job_states(store: Store, user_id: int) -> list[JobState]:
    return [job.state for job in store.recent_jobs(user_id, limit=1000)]
