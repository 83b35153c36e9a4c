"""How much memory does streaming a 200 MB video to disk cost? (target: at most 32 MB)

Starts the Miraflow simulator in this process, creates a video job, completes it, then streams
the video with `MiraflowClient.download_video` to a temporary file while measuring:

- the peak of Python allocations during the download (tracemalloc), and
- the growth of the process's peak resident memory (VmHWM from /proc/self/status, reset
  before the download where the kernel allows; else ru_maxrss, which cannot be reset).

Both figures include the simulator's side of the transfer, which runs in the same process.
Prints a human line, then the figures as JSON on the last line.

    python bench/download_memory.py [--size-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator

TARGET_MB = 32.0
MB = 2**20


def peak_rss_kib() -> tuple[int, str]:
    """The process's peak resident memory in KiB, and where the figure comes from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (maxrss // 1024 if sys.platform == "darwin" else maxrss), "ru_maxrss"


def current_rss_kib() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux 4.0+: writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def measure(size: int) -> dict[str, object]:
    config = SimulatorConfig(api_key="bench-key", video_seconds=(60.0, 60.0), video_size=size)
    async with run_simulator(config) as sim, MiraflowClient(sim.api_key, sim.base_url) as client:
        avatar = (await client.list_avatars())[0]
        voice = (await client.list_voices())[0]
        job = await client.create_video(avatar.id, "bench", voice_id=voice.id, text="Hello")
        sim.complete_now(job.job_id)
        with tempfile.TemporaryDirectory() as folder:
            dest = Path(folder) / "video.mp4"
            peak_was_reset = reset_peak_rss()
            rss_before = current_rss_kib()
            hwm_before, rss_source = peak_rss_kib()
            # With a reset, the growth is measured from the RSS of now, not from an old peak.
            baseline = rss_before if peak_was_reset and rss_before is not None else hwm_before
            tracemalloc.start()
            started = time.perf_counter()
            written = await client.download_video(job.job_id, dest)
            seconds = time.perf_counter() - started
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            hwm_after, _ = peak_rss_kib()
            on_disk = dest.stat().st_size
    rss_growth_mb = max(0, hwm_after - baseline) / 1024
    traced_peak_mb = traced_peak / MB
    return {
        "video_bytes": size,
        "written_bytes": written,
        "file_bytes": on_disk,
        "seconds": round(seconds, 3),
        "throughput_mb_s": round(written / MB / seconds, 1),
        "tracemalloc_peak_mb": round(traced_peak_mb, 2),
        "rss_peak_growth_mb": round(rss_growth_mb, 2),
        "rss_source": rss_source,
        "rss_peak_reset": peak_was_reset,
        "target_mb": TARGET_MB,
        "within_target": written == size == on_disk
        and max(traced_peak_mb, rss_growth_mb) <= TARGET_MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="video size in MiB")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.size_mb * MB))
    verdict = "within" if figures["within_target"] else "OVER"
    print(
        f"Streamed {figures['written_bytes'] / MB:.0f} MiB in {figures['seconds']:.1f} s "
        f"({figures['throughput_mb_s']} MiB/s): Python allocations peaked at "
        f"{figures['tracemalloc_peak_mb']} MiB, peak RSS grew by "
        f"{figures['rss_peak_growth_mb']} MiB ({figures['rss_source']}), "
        f"{verdict} the {TARGET_MB:.0f} MiB target."
    )
    print(json.dumps(figures))
    return 0 if figures["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
