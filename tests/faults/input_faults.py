"""Fault checks on what members send: hostile pictures and blank-looking prompts, through the
fake Discord and the bot running in this process."""

from __future__ import annotations

import asyncio
import contextlib
import io
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


async def blank_looking_prompt(tmp_path: Path) -> None:
    async with world(tmp_path) as (fd, sim, bot):
        for prompt in ("\u200b\u200d\u2060", "\u3164\u115f\u1160", "\u2800 \u00ad"):
            inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
            answer = await fd.wait_for_response(inter, timeout=10)
            assert answer.ephemeral and "prompt is empty" in answer.content
        assert sim.count("POST", "/api/image") == 0
        assert bot.store.recent_jobs(fd.users.alice.id) == []
