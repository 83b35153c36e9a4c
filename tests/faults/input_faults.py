"""Fault checks on what members send: hostile pictures and blank-looking prompts, through the
fake Discord and the bot running in this process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from PIL import Image

from bot.discord_bot import MiraflowBot
from bot.media import MAX_IMAGE_PIXELS
from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from tests.e2e.harness import SPEED, running_bot
from tests.fakediscord import FakeDiscord

REPO_ROOT = Path(__file__).resolve().parents[2]
EDIT_MEMORY_BENCH = REPO_ROOT / "bench" / "edit_memory.py"


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path, **overrides: str
) -> AsyncIterator[tuple[FakeDiscord, MiraflowSimulator, MiraflowBot]]:
    async with (
        FakeDiscord() as fd,
        run_simulator(SimulatorConfig(speed=SPEED, seed=5)) as sim,
        running_bot(fd, sim, tmp_path / "jobs.sqlite3", **overrides) as bot,
    ):
        yield fd, sim, bot


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 255).save(out, format="PNG")
    return out.getvalue()


async def too_many_pixels(tmp_path: Path) -> None:
    side = int(MAX_IMAGE_PIXELS**0.5)
    huge = png((side + 1, side))  # one column over; a few kB, as a bomb would be
    async with world(tmp_path) as (fd, sim, _bot):
        inter = await fd.invoke(
            "edit",
            {"prompt": "make it blue"},
            user=fd.users.alice,
            attachments={"image": ("bomb.png", huge, "image/png")},
        )
        answer = await fd.wait_for_response(inter, timeout=10)
        assert answer.ephemeral and "too many pixels" in answer.content, answer.content
        assert sim.count("POST", "/api/media") == 0


async def simultaneous_edits_decode_one_at_a_time(tmp_path: Path) -> None:
    """Six /edit at once: their files are read, decoded and uploaded one request at a time."""
    lock = threading.Lock()
    running = [0]
    most = [0]

    def watched(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.1)  # a large picture takes this long to decode
            return real(*args, **kwargs)  # the real checks, watched
        finally:
            with lock:
                running[0] -= 1

    picture, mask = png((64, 64)), png((64, 64), "L")
    async with world(tmp_path, MAX_ACTIVE_JOBS_PER_USER="10") as (fd, sim, _bot):
        cog_module = sys.modules["cogs.edit"]  # as the bot loaded it
        real = cog_module.prepare_files
        cog_module.prepare_files = watched
        try:
            interactions = await asyncio.gather(
                *(
                    fd.invoke(
                        "edit",
                        {"prompt": f"a red door {n}"},
                        user=fd.users.alice,
                        attachments={
                            "image": ("p.png", picture, "image/png"),
                            "mask": ("m.png", mask, "image/png"),
                        },
                    )
                    for n in range(6)
                )
            )
            for inter in interactions:
                answer = await fd.wait_for_response(inter, timeout=20)
                assert "Started job" in answer.content, answer.content
        finally:
            cog_module.prepare_files = real
    assert most[0] == 1, f"{most[0]} requests decoded their pictures at once"
    assert sim.count("POST", "/api/image/inpaint") == 6


async def six_largest_edits_in_a_bot_process_of_its_own(tmp_path: Path) -> None:
    """The real-size figure: `bench/edit_memory.py` runs the bot as a server owner does, in a
    process of its own, sends six /edit with the largest accepted picture (4096 x 4096, 20 MiB)
    and a mask, and measures the growth of its peak RSS. It exits 1 past 300 MB."""
    bench = await asyncio.create_subprocess_exec(
        sys.executable, str(EDIT_MEMORY_BENCH), "--requests", "6",
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,  # its group holds the bot it starts: killed together
    )  # fmt: skip
    try:
        output, errors = await asyncio.wait_for(bench.communicate(), timeout=50)
    finally:
        if bench.returncode is None:
            os.killpg(bench.pid, signal.SIGKILL)
            await bench.wait()
    figures = json.loads(output.decode().strip().splitlines()[-1])
    print(f"six largest /edit: peak RSS growth {figures['peak_growth_mb']} MB")
    assert figures["pixels"] == MAX_IMAGE_PIXELS and figures["mask_bytes"] > 20_000_000
    assert figures["jobs_started"] == 6, errors.decode()[-2000:]
    assert figures["hwm_was_reset"], "the peak counted is this run's"
    assert figures["peak_growth_mb"] <= 300, figures
    assert bench.returncode == 0


async def blank_looking_prompt(tmp_path: Path) -> None:
    async with world(tmp_path) as (fd, sim, bot):
        for prompt in ("\u200b\u200d\u2060", "\u3164\u115f\u1160", "\u2800 \u00ad"):
            inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
            answer = await fd.wait_for_response(inter, timeout=10)
            assert answer.ephemeral and "prompt is empty" in answer.content
        assert sim.count("POST", "/api/image") == 0
        assert bot.store.recent_jobs(fd.users.alice.id) == []
