"""How much does the bot's memory grow under six simultaneous hostile /edit requests?

    python bench/edit_memory.py [--requests 6]

Each request carries the largest picture the bot accepts, by pixels (`MAX_IMAGE_PIXELS`) and
by bytes (`MAX_ATTACHMENT_MB`, padded with a PNG ancillary chunk), with transparency, and a
mask of the same size: the costliest path (decode, compare sizes, normalise the mask). The
bot runs as a server owner runs it (`python -m bot run`) in a process of its own; the
simulator and the fake Discord run in this one. Figure: the growth of the bot's peak RSS
(VmHWM, reset before; and 20 ms samples) over its settled RSS. Target: <= 300 MB.

Prints a table, then the figures as JSON on the last line. Exit status 1 if the target is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    MIB,
    BotProcess,
    RssSampler,
    bot_environment,
    fake_world,
    mib,
    note,
    print_json_line,
    print_table,
    proc_status_kib,
    reset_peak_rss,
    settled_rss_kib,
    verdict,
)
from PIL import Image

from bot.media import MAX_IMAGE_PIXELS
from bot.miraflow.simulator.pictures import padded_png
from bot.settings import DEFAULTS

TARGET_MB = 300.0
MAX_BYTES = int(float(DEFAULTS["MAX_ATTACHMENT_MB"]) * MIB)


def largest_pictures() -> tuple[bytes, bytes, int]:
    """The picture and its mask (RGBA PNGs of MAX_IMAGE_PIXELS, padded to the byte limit)."""
    side = math.isqrt(MAX_IMAGE_PIXELS)
    gradient = Image.linear_gradient("L").resize((side, side))
    picture = Image.merge("RGBA", (gradient, gradient.transpose(Image.Transpose.ROTATE_90),
                                   gradient, gradient))  # fmt: skip
    opaque = Image.new("L", (side, side), 255)
    mask = Image.merge("RGBA", (gradient, gradient, gradient, opaque))  # white at the bottom
    encoded = []
    for image in (picture, mask):
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)
        encoded.append(padded_png(out.getvalue(), MAX_BYTES - 16))
    return encoded[0], encoded[1], side * side


async def measure(requests: int, folder: Path) -> dict[str, Any]:
    picture, mask, pixels = await asyncio.to_thread(largest_pictures)
    note(f"picture and mask: {pixels} pixels, {len(picture)} and {len(mask)} bytes")
    async with fake_world(seed=3, image_seconds=(600.0, 600.0)) as (sim, fd):
        env = bot_environment(
            fd, sim, folder / "edit.sqlite3", MAX_ACTIVE_JOBS_PER_USER=str(requests + 1)
        )
        bot = BotProcess.plain(env, folder / "bot-edit.log")
        bot.start()
        try:
            await fd.wait_for_ready_client(timeout=30)
            before_kib = await settled_rss_kib(bot.pid)
            peak_was_reset = reset_peak_rss(bot.pid)
            started = time.monotonic()
            with RssSampler(bot.pid) as sampler:
                interactions = await asyncio.gather(
                    *(
                        fd.invoke(
                            "edit",
                            {"prompt": f"a red door, take {n}"},
                            user=fd.users.alice,
                            attachments={
                                "image": ("photo.png", picture, "image/png"),
                                "mask": ("mask.png", mask, "image/png"),
                            },
                        )
                        for n in range(requests)
                    )
                )
                answers = await asyncio.gather(
                    *(fd.wait_for_response(i, timeout=300) for i in interactions)
                )
            seconds = time.monotonic() - started
            hwm_after = proc_status_kib(bot.pid, "VmHWM")
        except BaseException:
            note("the bot's last log lines:\n" + bot.log_tail())
            raise
        finally:
            await bot.terminate()
    started_jobs = sum("Started job" in answer.content for answer in answers)
    if started_jobs < requests:
        note(f"an answer: {answers[0].content}")
    sampled_peak = sampler.peak_kib() or before_kib
    peak_kib = max(sampled_peak, hwm_after or 0) if peak_was_reset else sampled_peak
    growth_mb = (peak_kib - before_kib) * 1024 / 1e6
    return {
        "requests": requests,
        "pixels": pixels,
        "picture_bytes": len(picture),
        "mask_bytes": len(mask),
        "jobs_started": started_jobs,
        "seconds_for_all": round(seconds, 1),
        "rss_before_mib": mib(before_kib),
        "rss_peak_mib": mib(peak_kib),
        "hwm_was_reset": peak_was_reset,
        "peak_growth_mb": round(growth_mb, 1),
        "target_mb": TARGET_MB,
        "target_met": started_jobs == requests and growth_mb <= TARGET_MB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edit-memory-") as folder:
        figures = asyncio.run(measure(args.requests, Path(folder)))
    print_table(
        ["requests", "jobs started", "seconds", "RSS before", "peak growth", "target"],
        [[
            figures["requests"], figures["jobs_started"], figures["seconds_for_all"],
            f"{figures['rss_before_mib']} MiB", f"{figures['peak_growth_mb']} MB",
            f"<= {TARGET_MB:.0f} MB {verdict(figures['target_met'])}",
        ]],
    )  # fmt: skip
    print_json_line(figures)
    return 0 if figures["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
