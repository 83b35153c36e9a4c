"""How much memory does the bot process use? A 200 MB video, and 10 000 pending jobs.

    python bench/memory.py [--video-mb 200] [--jobs 10000] [--poll-seconds 30]

The bot runs as a server owner runs it (`python -m bot run`, configured by its environment)
in a process of its own; the Miraflow simulator and the fake Discord run in this process.
This process reads the bot's VmRSS from /proc/<pid>/status every 20 ms (on a thread, so that
its own busy event loop cannot delay the samples) and its VmHWM (peak RSS; reset through
/proc/<pid>/clear_refs before a measurement where the kernel allows it).

(a) Idle: the bot's RSS once started and settled, with an empty job store.
    Then a video of `--video-mb` MiB delivered end to end: the simulator serves videos of
    that size, the fake Discord's upload limit is raised above it so that the bot really
    uploads the file, and the video is asked for with /speak (if /speak fails: /videos get
    of a finished video; failing both: a complete video job written in the store). Figure:
    the growth of the bot's peak RSS over its settled RSS. Target: <= 32 MiB. (The fake
    Discord keeps the uploaded bytes in memory: that is this process, not the bot.)
(b) `--jobs` pending jobs (queued or working images and videos whose Miraflow jobs exist in
    the simulator and stay unfinished) written in the store before the bot starts; the
    poller runs for `--poll-seconds`. Figures: RSS after start-up, steady (median of the
    samples of the window's second half) and peak. Target: <= 150 MiB.

Prints tables, then the figures as JSON on the last line. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
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

from bot.jobs.job_requests import PictureRequest, TextVideoRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import JobStore
from bot.miraflow.simulator.catalogue import AVATARS_BY_ID, VOICES_BY_ID

VIDEO_TARGET_MIB = 32.0
PENDING_TARGET_MIB = 150.0
# For the video: jobs run 40x faster than real time and the bot polls on the same clock,
# so the video is ready about a second after it is asked for.
VIDEO_SPEED = 40.0
DELIVERY_TIMEOUT = 150.0
TREND_STEP = 5  # seconds between the RSS figures shown for the pending jobs' window
AVATAR = next(iter(AVATARS_BY_ID.values()))
VOICE = next(iter(VOICES_BY_ID.values()))
SCRIPT = "Welcome to the lighthouse, where the light never sleeps."


def is_video_post(message: Any) -> bool:
    return any(f.name.endswith(".mp4") for f in message.files)


# --- (a) the idle bot, then one large video --------------------------------------------


async def ask_with_speak(fd: Any, sim: Any, db_path: Path) -> str:
    inter = await fd.invoke(
        "speak", {"text": SCRIPT, "avatar": AVATAR.id, "voice": VOICE.id}, user=fd.users.alice
    )
    await fd.wait_for_response(inter, lambda m: "Started job" in m.content, timeout=15)
    return "/speak"


def finished_sim_video(sim: Any) -> str:
    params = {"avatarId": AVATAR.id, "name": "bench video", "voiceId": VOICE.id, "text": SCRIPT}
    job = sim.create_job("video", params)
    sim.complete_now(job.id)
    return job.id


async def ask_with_videos_get(fd: Any, sim: Any, db_path: Path) -> str:
    video_id = finished_sim_video(sim)
    inter = await fd.invoke("videos", {"video": video_id}, subcommand="get", user=fd.users.owner)
    await fd.wait_for_response(inter, timeout=15)
    return "/videos get"


async def write_complete_job(fd: Any, sim: Any, db_path: Path) -> str:
    """A complete video job written beside the running bot; its poller finds it when it next
    looks at the store (at most a minute later when it has nothing else to do)."""
    video_id = finished_sim_video(sim)
    with JobStore(db_path) as store:
        job = store.create_job(
            kind=JobKind.VIDEO,
            user_id=fd.users.alice.id,
            channel_id=fd.channel_id,
            guild_id=fd.guild_id,
            request=TextVideoRequest(
                avatar_id=AVATAR.id, voice_id=VOICE.id, name="bench video", text=SCRIPT
            ),
            upload_limit=fd.state.guild.upload_limit,
        )
        store.mark_submitted(job.id, video_id, next_poll_at=time.time())
        store.set_state(job.id, JobState.COMPLETE)
    return "job row written in the store"


TRIGGERS: list[Callable[[Any, Any, Path], Awaitable[str]]] = [
    ask_with_speak,
    ask_with_videos_get,
    write_complete_job,
]


async def deliver_large_video(fd: Any, sim: Any, db_path: Path) -> tuple[str, float]:
    """Ask for a video by the first way that works; (how, seconds until it was posted)."""
    for trigger in TRIGGERS:
        started = time.monotonic()
        try:
            how = await trigger(fd, sim, db_path)
            message = await fd.wait_for_message(is_video_post, timeout=DELIVERY_TIMEOUT)
        except (TimeoutError, AssertionError, ValueError, KeyError) as exc:
            note(f"{trigger.__name__} did not deliver the video ({exc!r:.200}); next way")
            continue
        if message.files[0].size < 1 * MIB:
            raise RuntimeError("the video was posted, but not the large file")
        return how, time.monotonic() - started
    raise RuntimeError("no way of asking for the video worked")


async def measure_idle_and_video(video_mb: int, folder: Path) -> dict[str, Any]:
    video_bytes = video_mb * MIB
    upload_limit = video_bytes + 50 * MIB
    db_path = folder / "video.sqlite3"
    async with fake_world(
        speed=VIDEO_SPEED, seed=7, video_seconds=(40.0, 40.0), video_size=video_bytes
    ) as (sim, fd):
        await fd.set_upload_limit(upload_limit)
        env = bot_environment(fd, sim, db_path, MIRAFLOW_TIME_SCALE=str(VIDEO_SPEED))
        bot = BotProcess.plain(env, folder / "bot-video.log")
        bot.start()
        try:
            await fd.wait_for_ready_client(timeout=30)
            idle_kib = await settled_rss_kib(bot.pid)
            note(f"bot idle at {mib(idle_kib)} MiB; asking for a {video_mb} MiB video")
            peak_was_reset = reset_peak_rss(bot.pid)
            before_kib = proc_status_kib(bot.pid, "VmRSS") or idle_kib
            hwm_before = proc_status_kib(bot.pid, "VmHWM")
            with RssSampler(bot.pid) as sampler:
                how, seconds = await deliver_large_video(fd, sim, db_path)
                # The job's final writes and the temporary file's removal follow the post.
                await asyncio.sleep(0.5)
            hwm_after = proc_status_kib(bot.pid, "VmHWM")
            after_kib = proc_status_kib(bot.pid, "VmRSS")
        except BaseException:
            note("the bot's last log lines:\n" + bot.log_tail())
            raise
        finally:
            await bot.terminate()
        posted = next(m for m in fd.all_messages() if is_video_post(m))
        posted_bytes = posted.files[0].size
    sampled_peak = sampler.peak_kib() or before_kib
    # Without a reset, VmHWM may still hold a start-up peak: then only the samples count.
    peak_kib = max(sampled_peak, hwm_after or 0) if peak_was_reset else sampled_peak
    growth_mib = (peak_kib - before_kib) / 1024
    return {
        "idle_rss_mib": mib(idle_kib),
        "video": {
            "asked_with": how,
            "video_bytes": video_bytes,
            "posted_bytes": posted_bytes,
            "uploaded_whole": posted_bytes == video_bytes,
            "seconds_to_post": round(seconds, 1),
            "rss_before_mib": mib(before_kib),
            "rss_peak_sampled_mib": mib(sampled_peak),
            "hwm_before_mib": mib(hwm_before),
            "hwm_after_mib": mib(hwm_after),
            "hwm_was_reset": peak_was_reset,
            "rss_after_mib": mib(after_kib),
            "samples": len(sampler.samples),
            "peak_growth_mib": round(growth_mib, 1),
            "target_mib": VIDEO_TARGET_MIB,
            "target_met": posted_bytes == video_bytes and growth_mib <= VIDEO_TARGET_MIB,
        },
    }


# --- (b) many pending jobs -------------------------------------------------------------


def image_request(n: int) -> PictureRequest:
    prompt = f"pending picture {n}: a lighthouse at dusk, volumetric light, film grain"
    return PictureRequest(prompt=prompt, name=prompt[:60], aspect_ratio="16:9", seed=n)


def video_request(n: int) -> TextVideoRequest:
    return TextVideoRequest(
        avatar_id=AVATAR.id,
        avatar_name=AVATAR.name,
        name=f"pending video {n}",
        voice_id=VOICE.id,
        voice_name=VOICE.name,
        text=f"{SCRIPT} This is pending video number {n}.",
    )


def fill_store(db_path: Path, sim: Any, fd: Any, jobs: int) -> dict[str, int]:
    """`jobs` pending jobs, each with a Miraflow job in the simulator that stays unfinished:
    two thirds pictures, one third videos; half queued, half working; due over a minute."""
    rng = random.Random(jobs)
    now = time.time()
    kinds = {"image": 0, "video": 0, "queued": 0, "working": 0}
    users = [10**17 + n for n in range(max(jobs // 20, 1))]
    with JobStore(db_path) as store:
        for n in range(jobs):
            is_video = n % 3 == 0
            sim_kind, kind = ("video", JobKind.VIDEO) if is_video else ("image", JobKind.IMAGE)
            request = video_request(n) if is_video else image_request(n)
            sim_params = (
                {"avatarId": AVATAR.id, "name": request.name, "voiceId": VOICE.id, "text": "hi"}
                if is_video
                else {"prompt": image_request(n).prompt, "name": request.name}
            )
            sim_job = sim.create_job(sim_kind, sim_params)
            created = now - rng.uniform(0, 600)
            job = store.create_job(
                kind=kind,
                user_id=rng.choice(users),
                channel_id=fd.channel_id,
                guild_id=fd.guild_id,
                request=request,
                upload_limit=10 * MIB,
                now=created,
            )
            store.mark_submitted(job.id, sim_job.id, next_poll_at=now + rng.uniform(-30, 30))
            kinds[sim_kind] += 1
            if rng.random() < 0.5:
                store.set_state(job.id, JobState.WORKING)
                store.update(job.id, progress=rng.randrange(1, 90), polls=rng.randrange(1, 20))
                kinds["working"] += 1
            else:
                kinds["queued"] += 1
        kinds["pending_in_store"] = store.pending_count()
    return kinds


def status_calls(sim: Any) -> int:
    return sum(
        1
        for request in sim.requests
        if request.method == "GET"
        and (request.path.startswith("/api/image/") or request.path.endswith("/status"))
    )


async def measure_pending(jobs: int, poll_seconds: float, folder: Path) -> dict[str, Any]:
    db_path = folder / "pending.sqlite3"
    # Jobs of two hours (simulated = real here): none finishes during the measurement.
    async with fake_world(
        speed=1.0, seed=7, image_seconds=(7200.0, 7200.0), video_seconds=(7200.0, 7200.0)
    ) as (sim, fd):
        started = time.monotonic()
        store_figures = fill_store(db_path, sim, fd, jobs)
        note(f"{jobs} pending jobs written in {time.monotonic() - started:.1f} s; starting the bot")
        env = bot_environment(fd, sim, db_path, MIRAFLOW_TIME_SCALE="1")
        bot = BotProcess.plain(env, folder / "bot-pending.log")
        bot.start()
        try:
            with RssSampler(bot.pid) as sampler:
                await fd.wait_for_ready_client(timeout=60)
                ready_at = time.monotonic()
                ready_kib = proc_status_kib(bot.pid, "VmRSS")
                calls_before = status_calls(sim)
                note(f"bot ready at {mib(ready_kib)} MiB; polling for {poll_seconds:.0f} s")
                await asyncio.sleep(poll_seconds)
                calls = status_calls(sim) - calls_before
            hwm_kib = proc_status_kib(bot.pid, "VmHWM")
            if not bot.is_running():
                raise RuntimeError("the bot stopped during the measurement")
        except BaseException:
            note("the bot's last log lines:\n" + bot.log_tail())
            raise
        finally:
            await bot.terminate()
    window = sampler.values_kib(since=ready_at)
    second_half = sampler.values_kib(since=ready_at + poll_seconds / 2)
    steady_kib = statistics.median(second_half) if second_half else None
    peak_kib = max(max(sampler.values_kib(), default=0), hwm_kib or 0)
    trend = [
        mib(sampler.value_at(ready_at + second))
        for second in range(0, int(poll_seconds) + 1, TREND_STEP)
    ]
    return {
        "jobs": store_figures,
        "poll_seconds": poll_seconds,
        "status_calls": calls,
        "rss_ready_mib": mib(ready_kib),
        "rss_steady_mib": mib(steady_kib),
        "rss_peak_window_mib": mib(max(window, default=None)),
        "rss_peak_mib": mib(peak_kib),
        f"rss_every_{TREND_STEP}s_mib": trend,
        "target_mib": PENDING_TARGET_MIB,
        "target_met": peak_kib / 1024 <= PENDING_TARGET_MIB,
    }


# --- reporting -----------------------------------------------------------------------


def report(figures: dict[str, Any]) -> None:
    video, pending = figures["video"], figures["pending"]
    print(f"Bot process RSS, idle with an empty store: {figures['idle_rss_mib']} MiB")
    print()
    print(
        f"(a) a {video['video_bytes'] / MIB:.0f} MiB video delivered end to end "
        f"(asked with {video['asked_with']}; posted {video['posted_bytes'] / MIB:.1f} MiB "
        f"{video['seconds_to_post']} s later)"
    )
    print_table(
        ["bot process", "MiB"],
        [
            ["RSS before", video["rss_before_mib"]],
            ["RSS peak (sampled every 20 ms)", video["rss_peak_sampled_mib"]],
            [f"VmHWM after (reset before: {video['hwm_was_reset']})", video["hwm_after_mib"]],
            ["RSS after", video["rss_after_mib"]],
            ["peak growth", video["peak_growth_mib"]],
        ],
    )
    print(
        f"target: growth <= {VIDEO_TARGET_MIB:.0f} MiB and the whole file uploaded: "
        f"{verdict(video['target_met'])}"
    )
    print()
    jobs = pending["jobs"]
    print(
        f"(b) {jobs['pending_in_store']} pending jobs ({jobs['image']} pictures, "
        f"{jobs['video']} videos; {jobs['queued']} queued, {jobs['working']} working), "
        f"poller running {pending['poll_seconds']:.0f} s: {pending['status_calls']} status calls"
    )
    print_table(
        ["bot process", "MiB"],
        [
            ["RSS when connected", pending["rss_ready_mib"]],
            ["RSS steady (median, second half)", pending["rss_steady_mib"]],
            ["RSS peak (samples and VmHWM)", pending["rss_peak_mib"]],
        ],
    )
    trend = pending[f"rss_every_{TREND_STEP}s_mib"]
    print(f"RSS every {TREND_STEP} s from connection (MiB): {' '.join(map(str, trend))}")
    print(f"target: peak <= {PENDING_TARGET_MIB:.0f} MiB: {verdict(pending['target_met'])}")
    print()
    print(
        f"bench process (fake Discord + simulator) peak RSS: "
        f"{figures['bench_process_peak_rss_mib']} MiB"
    )


async def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    idle_and_video = await measure_idle_and_video(args.video_mb, folder)
    pending = await measure_pending(args.jobs, args.poll_seconds, folder)
    return {
        "idle_rss_mib": idle_and_video["idle_rss_mib"],
        "video": idle_and_video["video"],
        "pending": pending,
        "targets_met": idle_and_video["video"]["target_met"] and pending["target_met"],
        # This process: the fake Discord keeps every uploaded byte (ru_maxrss is in KiB).
        "bench_process_peak_rss_mib": mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video-mb", type=int, default=200, help="video size in MiB")
    parser.add_argument("--jobs", type=int, default=10_000, help="pending jobs in the store")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="poller run time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="miraflow-memory-") as folder:
        figures = asyncio.run(measure(args, Path(folder)))
    report(figures)
    print_json_line(figures)
    return 0 if figures["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
