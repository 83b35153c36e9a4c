"""Fault checks on the process side: a second bot, the disk, start-up, logs. Each runs the
real CLI (`python -m bot run`) as a child process against the fake Discord and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from bot.discord_endpoints import point_discord_at
from bot.jobs.models import JobState
from bot.jobs.store import JobStore
from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from bot.startup import wait_for_discord
from tests.e2e.harness import SPEED, BotProcess, bot_environment, wait_until
from tests.fakediscord import FakeDiscord
from tests.pg import fresh_schema, server_url

VOICE_WARNING = "voice will NOT be supported"


@contextlib.asynccontextmanager
async def discord_and_miraflow() -> AsyncIterator[tuple[FakeDiscord, MiraflowSimulator]]:
    async with FakeDiscord() as fd, run_simulator(SimulatorConfig(speed=SPEED, seed=3)) as sim:
        yield fd, sim


@contextlib.asynccontextmanager
async def bot_process(env: dict[str, str], log: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(env, log)
    process.start()
    try:
        yield process
    finally:
        if process.is_running():
            process.kill()


async def run_cli(env: dict[str, str], cwd: Path, timeout: float = 30) -> tuple[int, str]:
    """`python -m bot run` to its end: its exit status and what it printed."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        env={**os.environ, **env}, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(child.communicate(), timeout=timeout)
    return child.returncode, output.decode(errors="replace")


async def second_bot_on_the_same_store(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        env = bot_environment(fd, sim, tmp_path / "data" / "jobs.sqlite3")
        async with bot_process(env, tmp_path / "first.log") as first:
            await fd.wait_for_ready_client(timeout=20)
            status, output = await run_cli({**env, "LOG_LEVEL": "INFO"}, tmp_path)
            assert status == 3, output
            assert output.strip().count("\n") == 0, output
            assert "another process holds the store" in output
            # The first goes on serving.
            inter = await fd.invoke("imagine", {"prompt": "still here"}, user=fd.users.alice)
            assert "Started job #1" in (await fd.wait_for_response(inter, timeout=10)).content
            await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
            assert first.is_running()
        assert len(fd.gateway.sessions) == 1, "the second bot never connected"


async def second_bot_while_a_create_call_is_in_flight(tmp_path: Path) -> None:
    """The first bot's job is still `submitting` (its create call unanswered) when a second
    bot starts on its store: before the lock, the second marked it unknown."""
    async with discord_and_miraflow() as (fd, sim):
        sim.hang("/api/image/generate", after_processing=True)
        db = tmp_path / "data" / "jobs.sqlite3"
        env = bot_environment(fd, sim, db, LOG_LEVEL="INFO")
        async with bot_process(env, tmp_path / "first.log") as first:
            await fd.wait_for_ready_client(timeout=20)
            inter = await fd.invoke("imagine", {"prompt": "in flight"}, user=fd.users.alice)
            await fd.wait_for_ack(inter, timeout=3)
            await wait_until(lambda: sim.held_requests == 1, timeout=10)

            status, output = await run_cli(env, tmp_path)
            assert status == 3, output

            sim.unhang()
            await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
            assert first.is_running()
            with JobStore(db) as store:
                await wait_until(lambda: store.get(1).state is JobState.DELIVERED, timeout=10)
            assert await first.terminate() == 0
        said = " ".join(m.content for m in fd.messages(fd.channel_id))
        assert "restarted" not in said and "won't resend" not in said
        assert sim.count("POST", "/api/image/generate") == 1


async def store_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "data"
    store = folder / "jobs.sqlite3"
    async with discord_and_miraflow() as (fd, sim):
        env = bot_environment(fd, sim, store)
        async with bot_process(env, tmp_path / "bot.log") as process:
            await fd.wait_for_ready_client(timeout=20)
            assert await process.terminate() == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.glob("jobs.sqlite3*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def killed_bot_leaves_no_temp_files(tmp_path: Path) -> None:
    store = tmp_path / "data" / "jobs.sqlite3"
    temp_root = store.with_name(store.name + ".tmp")
    async with discord_and_miraflow() as (fd, sim):
        sim.config.download_mode = "stall"  # the result is half-downloaded when the bot dies
        env = bot_environment(fd, sim, store)
        async with bot_process(env, tmp_path / "bot.log") as process:
            await fd.wait_for_ready_client(timeout=20)
            await fd.invoke("imagine", {"prompt": "cut short"}, user=fd.users.alice)
            await wait_until(lambda: any(temp_root.glob("miraflow-*/*.part")), timeout=30)
            left = next(temp_root.glob("miraflow-*/*.part"))
            process.process.send_signal(9)
            process.process.wait(timeout=10)
            assert left.exists()
            sim.config.download_mode = "normal"
            process.start()
            await wait_until(lambda: not left.parent.exists(), timeout=20)
            await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
            assert await process.terminate() == 0


async def killed_bot_on_postgresql_leaves_no_temp_files(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # the system's temp folder, for the bot (TMPDIR)
    temp.mkdir()
    with fresh_schema(server_url()) as schema:
        async with discord_and_miraflow() as (fd, sim):
            sim.config.download_mode = "stall"  # the result is half-downloaded when it dies
            env = bot_environment(
                fd, sim, tmp_path / "unused.sqlite3", DATABASE_URL=schema.url, TMPDIR=str(temp)
            )
            async with bot_process(env, tmp_path / "bot.log") as process:
                await fd.wait_for_ready_client(timeout=20)
                await fd.invoke("imagine", {"prompt": "cut short"}, user=fd.users.alice)
                await wait_until(lambda: any(temp.glob("**/*.part")), timeout=30)
                left = next(temp.glob("**/*.part"))
                process.process.send_signal(9)
                process.process.wait(timeout=10)
                dead_folder = left.parent.parent  # <root>/<pid>, then the download's own
                assert left.exists()
                sim.config.download_mode = "normal"
                process.start()
                await wait_until(lambda: not dead_folder.exists(), timeout=20)
                await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
                own = [path for path in dead_folder.parent.iterdir() if path.is_dir()]
                assert [path.name for path in own] == [str(process.process.pid)]
                assert await process.terminate() == 0
    assert list(dead_folder.parent.iterdir()) == []  # its own folder and lock, removed


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _unreachable_discord(tmp_path: Path, api_base: str, words: str) -> None:
    async with discord_and_miraflow() as (fd, sim):
        env = bot_environment(fd, sim, tmp_path / "jobs.sqlite3", DISCORD_API_BASE_URL=api_base)
        async with bot_process(env, tmp_path / "bot.log") as process:
            await wait_until(lambda: process.log_text().count("attempt 2 failed") == 1, timeout=20)
            assert await process.terminate() == 0
    log = process.log_text()
    attempts = [line for line in log.splitlines() if "Discord is unreachable" in line]
    assert len(attempts) >= 2 and all(words in line for line in attempts), log
    assert "next in 1 s" in attempts[0] and "next in 2 s" in attempts[1]
    assert "Traceback" not in log
    assert VOICE_WARNING not in log


async def discord_refuses_connections(tmp_path: Path) -> None:
    await _unreachable_discord(tmp_path, f"http://127.0.0.1:{_closed_port()}", "connection")


async def discord_name_does_not_resolve(tmp_path: Path) -> None:
    await _unreachable_discord(tmp_path, "http://discord.invalid", "does not resolve")


async def discord_refuses_the_token(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        env = bot_environment(fd, sim, tmp_path / "jobs.sqlite3", DISCORD_TOKEN="not-my-token")
        status, output = await run_cli(env, tmp_path)
    assert status == 1
    last_line = output.strip().splitlines()[-1]
    assert last_line == "miraflow-bot: Discord refused DISCORD_TOKEN; check it in .env"
    assert "Traceback" not in output and VOICE_WARNING not in output


async def unusable_database_path(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    async with discord_and_miraflow() as (fd, sim):
        for path in (tmp_path / "a-file" / "jobs.sqlite3", tmp_path):
            env = bot_environment(fd, sim, path, LOG_LEVEL="INFO")
            status, output = await run_cli(env, tmp_path)
            assert status == 2, output
            assert len(output.strip().splitlines()) == 1, output
            assert "DATABASE_PATH" in output and "Traceback" not in output


async def tokens_in_debug_logs(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        env = bot_environment(fd, sim, tmp_path / "jobs.sqlite3", LOG_LEVEL="DEBUG")
        async with bot_process(env, tmp_path / "bot.log") as process:
            await fd.wait_for_ready_client(timeout=20)
            inter = await fd.invoke("imagine", {"prompt": "log me"}, user=fd.users.alice)
            await fd.wait_for_response(inter, timeout=10)
            await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
            assert await process.terminate() == 0
    log = process.log_text()
    assert f"/interactions/{inter.id}/" in log, "the DEBUG log shows the callback's URL"
    assert inter.token not in log
    assert fd.token not in log and sim.api_key not in log


async def discord_does_not_answer(_tmp_path: Path) -> None:
    """A server that accepts connections and never answers: each attempt times out."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("bot.startup").addHandler(handler)
    point_discord_at(f"http://127.0.0.1:{port}", None)
    try:
        waiting = asyncio.create_task(
            wait_for_discord(first_delay=0.05, max_delay=0.1, attempt_timeout=0.2)
        )
        await wait_until(lambda: len(records) >= 3, timeout=10)
        waiting.cancel()
    finally:
        point_discord_at(None, None)
        logging.getLogger("bot.startup").removeHandler(handler)
        for writer in accepted:
            writer.close()
        server.close()
    assert all("no answer in time" in record.getMessage() for record in records)
    assert all(record.exc_info is None for record in records)
    assert len(accepted) >= 3
