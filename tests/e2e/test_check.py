"""`miraflow-bot check`, run as a real process against the fake Discord and the simulator."""

from __future__ import annotations

import asyncio
import os
import stat
import sys

from tests.e2e.harness import bot_environment, running_bot
from tests.pg import describe, server_url

CHECKS = ["Discord token", "Miraflow key", "store", "commands synced"]


async def run_check(env: dict[str, str], cwd) -> tuple[int, list[str], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        env={**os.environ, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=40)
    return process.returncode, stdout.decode().splitlines(), stderr.decode()


def verdicts(lines: list[str]) -> dict[str, bool]:
    """Each check's name and whether it passed, from its one line."""
    found = {}
    for line in lines:
        mark, _, rest = line.partition("  ")
        found[rest.strip().split(":")[0]] = mark.strip() == "ok"
    return found


def assert_no_secret(env: dict[str, str], *texts: str) -> None:
    for text in texts:
        assert env["DISCORD_TOKEN"] not in text
        assert env["MIRAFLOW_API_KEY"] not in text


async def test_all_good(fd, sim, db_path, tmp_path):
    async with running_bot(fd, sim, db_path):
        pass  # the first start syncs the commands and stores their hash
    await sim.wait_for_requests("GET", "/api/voices")  # the bot's own catalogue fetch
    calls_before = sim.count()
    env = bot_environment(fd, sim, db_path)
    code, lines, stderr = await run_check(env, tmp_path)
    assert code == 0, (lines, stderr)
    assert len(lines) == len(CHECKS)
    assert verdicts(lines) == dict.fromkeys(CHECKS, True)
    assert f"logged in as {fd.bot_user.username}" in lines[0]
    assert sim.count() - calls_before == 1, "one GET /api/avatars, and nothing else"
    assert "Traceback" not in stderr
    assert_no_secret(env, "\n".join(lines), stderr)
    assert len(fd.command_syncs) == 1, "check must not sync"


async def test_a_wrong_discord_token(fd, sim, db_path, tmp_path):
    async with running_bot(fd, sim, db_path):
        pass
    env = bot_environment(fd, sim, db_path, DISCORD_TOKEN="MTIz.wrong.token-value-xyz")
    code, lines, stderr = await run_check(env, tmp_path)
    assert code == 1
    assert verdicts(lines) == {**dict.fromkeys(CHECKS, True), "Discord token": False}
    assert "DISCORD_TOKEN" in lines[0]
    assert_no_secret(env, "\n".join(lines), stderr)


async def test_a_wrong_miraflow_key(fd, sim, db_path, tmp_path):
    async with running_bot(fd, sim, db_path):
        pass
    env = bot_environment(fd, sim, db_path, MIRAFLOW_API_KEY="mf_wrong_key_0123456789")
    code, lines, stderr = await run_check(env, tmp_path)
    assert code == 1
    assert verdicts(lines) == {**dict.fromkeys(CHECKS, True), "Miraflow key": False}
    assert "MIRAFLOW_API_KEY" in lines[1]
    assert_no_secret(env, "\n".join(lines), stderr)


async def test_an_unwritable_store(fd, sim, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    env = bot_environment(fd, sim, blocker / "jobs.sqlite3")
    code, lines, stderr = await run_check(env, tmp_path)
    assert code == 1
    assert verdicts(lines) == {
        "Discord token": True,
        "Miraflow key": True,
        "store": False,
        "commands synced": False,
    }
    assert str(blocker) in lines[2]
    assert "Traceback" not in stderr


async def test_a_new_store_is_created_private(fd, sim, tmp_path):
    folder = tmp_path / "new" / "data"
    store = folder / "jobs.sqlite3"
    env = bot_environment(fd, sim, store)
    _code, lines, stderr = await run_check(env, tmp_path)
    assert verdicts(lines)["store"], (lines, stderr)
    # The bot keeps the modes check gave them: they must be private from the start.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    files = [path for path in folder.glob("jobs.sqlite3*") if path.is_file()]
    assert store in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_commands_not_synced_since_they_changed(fd, sim, db_path, tmp_path):
    async with running_bot(fd, sim, db_path):
        pass
    # A development guild changes the command set's hash, as a new command would.
    env = bot_environment(fd, sim, db_path, DEV_GUILD_ID=str(fd.guild_id))
    code, lines, _ = await run_check(env, tmp_path)
    assert code == 1
    assert verdicts(lines) == {**dict.fromkeys(CHECKS, True), "commands synced": False}
    assert "miraflow-bot sync" in lines[3]


async def test_a_postgresql_store(fd, sim, db_path, tmp_path, pg_schema):
    env = bot_environment(fd, sim, db_path, DATABASE_URL=pg_schema.url)
    code, lines, stderr = await run_check(env, tmp_path)
    assert code == 1  # never synced: a new database
    assert verdicts(lines) == {**dict.fromkeys(CHECKS, True), "commands synced": False}
    assert f"PostgreSQL at {describe(server_url())}" in lines[2]
    assert "Traceback" not in stderr
