"""The console script, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def run_bot(args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "MIRAFLOW_API_KEY")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env there
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "abc.def.ghi"}, "MIRAFLOW_API_KEY"),
        ({"MIRAFLOW_API_KEY": "k" * 20}, "DISCORD_TOKEN"),
    ],
)
def test_missing_secret_prints_one_line_and_exits_2(env, missing, tmp_path):
    result = run_bot([], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_the_subcommands(tmp_path):
    result = run_bot(["--help"], {}, tmp_path)
    assert result.returncode == 0
    for word in ("run", "sync", "simulate", "check"):
        assert word in result.stdout


def test_readme_invite_permissions_are_the_documented_ones():
    import discord

    needed = discord.Permissions(
        view_channel=True,
        send_messages=True,
        attach_files=True,
        embed_links=True,
        read_message_history=True,
    )
    readme = (ROOT / "README.md").read_text()
    assert f"permissions={needed.value}" in readme
    assert "scope=bot%20applications.commands" in readme


async def test_simulate_serves_the_miraflow_api_and_says_how_to_use_it(tmp_path):
    import asyncio
    import re

    import aiohttp

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "simulate",
        "--port",
        "0",
        "--api-key",
        "try-me-123",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        base_url = re.search(r"MIRAFLOW_BASE_URL=(\S+?),", line).group(1)
        assert "MIRAFLOW_API_KEY=try-me-123" in line
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{base_url}/api/avatars", headers={"x-api-key": "try-me-123"}
            ) as r:
                assert r.status == 200
                assert (await r.json())["avatars"]
            async with http.get(f"{base_url}/api/avatars") as r:
                assert r.status == 401
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


def test_an_unreachable_database_url_prints_one_line_and_exits_2(tmp_path):
    env = {
        "DISCORD_TOKEN": "abc.def.ghi",
        "MIRAFLOW_API_KEY": "k" * 20,
        "DATABASE_URL": "postgresql://bot:pw-never-shown@127.0.0.1:1/miraflow",
    }
    result = run_bot([], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0] and "127.0.0.1:1" in lines[0]
    assert "pw-never-shown" not in result.stderr
    assert "Traceback" not in result.stderr
