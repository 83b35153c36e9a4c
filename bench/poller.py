"""How fast results reach users, and how many Miraflow calls it costs.

    python bench/poller.py --jobs 1000
    python bench/poller.py --model NAME   # one progress model: see bench/scenarios.py
    python bench/poller.py --fault NAME   # outage-refused, outage-503, limit-429

The bot's real poller (with its real store and Miraflow client) follows a mix of image
jobs (8-40 s) and video jobs (1-10 min) that arrive over time on the simulator's scaled
clock, whose progress climbs fast then crawls near the end. Reported per kind:

- delivery lag: from the instant the simulator completes a job to the instant the poller
  hands it to delivery (the download and upload that follow cost the same whatever the
  poller, so they are left out), in simulated seconds: p50 / p95 / max; with `--post`, to
  the instant its message is posted: the real delivery downloads the result and posts it
  to a fake Discord in the same process (its real cost is then multiplied by the speed);
- Miraflow status calls per job (mean / max), shared calls (`GET /api/videos`) spread over
  the jobs they served.

On the same jobs, naive fixed-interval pollers (every 1, 2, 3, 5, 10 s) are evaluated
exactly from each job's timeline (no rate ceiling, no overhead: a flattering baseline),
drawing the frontier of calls per job against p95 lag. A second phase puts 1000 jobs in
flight at once and checks that the calls per second stay under the ceiling.

The last line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calls import answer_recorder, calls_per_job, percentile, request_recorder
from bench.fixed import peak_per_second
from bot.discord_side.frontend import DiscordFrontend
from bot.discord_side.status import StatusBoard
from bot.jobs.delivery import Delivery
from bot.jobs.frontend import FreshLink, Notice, Posted, ResultFile
from bot.jobs.job_requests import JobRequest, PictureRequest, TextVideoRequest
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.pacing import NETWORK_ALLOWANCE
from bot.jobs.poller import Poller, PollerConfig
from bot.jobs.schedule import Schedule
from bot.jobs.service import JobService, Origin, Quotas
from bot.jobs.store import JobStore
from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from tests.fakediscord import FakeDiscord

FIXED_INTERVALS = (1.0, 2.0, 3.0, 5.0, 10.0)
CEILING = 10.0  # Miraflow calls per (simulated) second: the bot's default
# Status calls: an image job, a video job's status, the list of finished videos (a sweep).
# Downloads of results are not status calls.
STATUS_PATH = re.compile(r"^/api/(image/[^/]+|video/[^/]+/status|videos)$")


class RecordingDelivery:
    """Stands in for delivery: marks the job delivered and notes when it was handed over."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.handed_at: dict[int, float] = {}

    async def deliver(self, job: Job, status: Any = None) -> None:
        self.handed_at[job.id] = time.time()
        self.store.set_state(job.id, JobState.DELIVERED, only_from={JobState.COMPLETE})


class PostingDelivery:
    """The bot's real delivery, posting to a fake Discord; notes when each post is made."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.handed_at: dict[int, float] = {}

    async def deliver(self, job: Job, status: Any = None) -> None:
        await self.delivery.deliver(job, status)
        self.handed_at[job.id] = time.time()


class SilentFrontend:
    """Shows nothing: without `--post`, deliveries are recorded, never posted."""

    def words(self, notice: Notice) -> str:
        return notice.outcome.value

    async def show_status(self, job: Job, *, force: bool = False) -> None:
        return None

    async def notify(self, job: Job, notice: Notice) -> None:
        return None

    async def post_result(
        self, job: Job, result: ResultFile, fresh_link: FreshLink
    ) -> Posted | None:
        return None


Disturbance = Callable[[MiraflowSimulator, float], Awaitable[None]]


@dataclass
class Arrival:
    at: float  # simulated seconds after the start
    kind: JobKind


def arrivals(count: int, window: float, image_share: float, rng: random.Random) -> list[Arrival]:
    times = sorted(rng.uniform(0, window) for _ in range(count))
    return [
        Arrival(t, JobKind.IMAGE if rng.random() < image_share else JobKind.VIDEO) for t in times
    ]


def request_for(kind: JobKind, n: int, avatar_id: str, voice_id: str) -> JobRequest:
    if kind is JobKind.VIDEO:
        return TextVideoRequest(
            avatar_id=avatar_id, voice_id=voice_id, text=f"line {n}", name=f"v{n}"
        )
    return PictureRequest(prompt=f"picture {n}", name=f"p{n}", seed=n)


async def posting_delivery(
    stack: contextlib.AsyncExitStack, store: JobStore, client: MiraflowClient
) -> tuple[PostingDelivery, int, int]:
    """The real delivery path, posting to a fake Discord; with its channel and guild ids."""
    fd = await stack.enter_async_context(FakeDiscord())
    fd.point_discord_py()
    discord_client = discord.Client(intents=discord.Intents.none())
    stack.push_async_callback(discord_client.close)
    await discord_client.login(fd.token)
    frontend = DiscordFrontend(discord_client, StatusBoard(discord_client, store))
    return (
        PostingDelivery(Delivery(store, client, frontend)),
        fd.channel_id,
        fd.guild_id,
    )


async def run_phase(
    arrivals_list: list[Arrival],
    speed: float,
    seed: int,
    ceiling: float,
    settle: float | None,
    post: bool = False,
    *,
    model: str = "default",
    rate_limit: float | None = None,
    disturb: Disturbance | None = None,
    store_path: Path | None = None,
) -> dict[str, Any]:
    """Run the real poller over these arrivals; return per-job records and call times.

    `disturb(sim, started)` runs beside it (a fault: an outage, ...); `rate_limit` is the
    server's limit in calls per simulated second, with a Retry-After of one simulated second.
    `store_path`: the job store to start from (the bot restarted on what it has seen before);
    a new, empty one by default.
    """
    config = SimulatorConfig(
        speed=speed,
        seed=seed,
        progress_model=model,
        rate_limit_per_second=rate_limit,
        retry_after=1.0 / speed,
    )
    async with run_simulator(config) as sim, contextlib.AsyncExitStack() as stack:
        if store_path is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-poller-"))
            store_path = Path(folder) / "jobs.sqlite3"
        store = JobStore(store_path)
        sent: list[tuple[float, str, str]] = []
        answers: list[tuple[float, str, int | None]] = []
        async with MiraflowClient(
            sim.api_key,
            base_url=sim.base_url,
            trace_configs=[request_recorder(sent), answer_recorder(answers)],
        ) as client:
            avatar = (await client.list_avatars())[0].id
            voice = (await client.list_voices())[0].id
            sent.clear()
            answers.clear()
            schedule = Schedule(speed)
            channel_id, guild_id = 1, 1
            if post:
                delivery, channel_id, guild_id = await posting_delivery(stack, store, client)
            else:
                delivery = RecordingDelivery(store)
            poller = Poller(
                store,
                client,
                delivery,  # type: ignore[arg-type]
                SilentFrontend(),
                PollerConfig(
                    calls_per_second=ceiling,
                    max_in_flight=16,
                    schedule=schedule,
                    # The same share of a second as at real speed: the simulator's clock
                    # is `speed` times faster, and calls are counted as they leave.
                    network_allowance=NETWORK_ALLOWANCE / speed,
                ),
            )
            service = JobService(
                store,
                client,
                SilentFrontend(),
                quotas=Quotas(10**9, 10**9),
                wake_poller=poller.wake,
                schedule=schedule,
                first_poll=poller.first_poll_delay,
            )
            poller.start()
            started = time.time()
            disturbing = asyncio.create_task(disturb(sim, started)) if disturb else None
            submissions = []
            for n, arrival in enumerate(arrivals_list):
                delay = started + arrival.at / speed - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                submissions.append(
                    asyncio.create_task(
                        service.submit(
                            Origin(n, channel_id, guild_id, 10 * 1024 * 1024),
                            request_for(arrival.kind, n, avatar, voice),
                        )
                    )
                )
            # A create call fails in an outage, as it would for a member: that job never was.
            submitted = await asyncio.gather(*submissions, return_exceptions=True)
            jobs = [job for job in submitted if isinstance(job, Job)]
            if settle is None:
                while store.pending_count():
                    await asyncio.sleep(0.05)
            else:
                await asyncio.sleep(settle / speed)
            await poller.stop(grace=1.0)
            if disturbing is not None:
                disturbing.cancel()
                await asyncio.gather(disturbing, return_exceptions=True)
            finished = time.time()
            records = []
            for job in jobs:
                sim_job = sim.jobs[job.miraflow_job_id]
                final = store.get(job.id)
                handed = delivery.handed_at.get(job.id)
                records.append(
                    {
                        "kind": "video" if job.kind.makes_video else "image",
                        "miraflow_id": job.miraflow_job_id,
                        "duration": sim_job.duration,
                        "created": (sim_job.created_at - started) * speed,
                        "done": (sim_job.complete_at - started) * speed,
                        "lag": None if handed is None else (handed - sim_job.complete_at) * speed,
                        "state": final.state.value if final else None,
                    }
                )
            # Counted as the bot sends them: the simulator shares this process's event loop,
            # so its arrival times bunch up whenever the loop is busy.
            calls = [
                (at, path)
                for at, method, path in sent
                if method == "GET" and STATUS_PATH.match(path)
            ]
            attempts = [at for at, _method, path in sent if path.startswith("/api/")]
        store.close()
    return {
        "refused": len(submitted) - len(jobs),
        "records": records,
        "calls": calls,
        "attempts": attempts,
        "answers": answers,
        "started": started,
        "finished": finished,
    }


def fixed_poller(durations: list[float], interval: float) -> tuple[float, float, float]:
    """Mean calls, p95 lag and max lag of a poller that asks every `interval` seconds."""
    calls, lags = [], []
    for d in durations:
        polls = math.ceil(d / interval)
        calls.append(polls)
        lags.append(polls * interval - d)
    return sum(calls) / len(calls), percentile(lags, 95), max(lags)


def summarise(records: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    mine = [r for r in records if r["kind"] == kind]
    lags = [r["lag"] for r in mine if r["lag"] is not None]
    calls = [r["calls"] for r in mine]
    durations = [r["duration"] for r in mine]
    frontier = []
    for interval in FIXED_INTERVALS:
        mean_calls, p95, worst = fixed_poller(durations, interval)
        frontier.append(
            {
                "interval": interval,
                "calls_per_job": round(mean_calls, 2),
                "p95_lag": round(p95, 2),
                "max_lag": round(worst, 2),
            }
        )
    bot = {
        "jobs": len(mine),
        "undelivered": len(mine) - len(lags),
        "lag_p50": round(percentile(lags, 50), 2),
        "lag_p95": round(percentile(lags, 95), 2),
        "lag_max": round(max(lags), 2) if lags else None,
        "calls_mean": round(sum(calls) / len(calls), 2) if calls else None,
        "calls_max": round(max(calls), 2) if calls else None,
    }
    dominated_by = [
        f["interval"]
        for f in frontier
        if f["calls_per_job"] <= bot["calls_mean"] and f["p95_lag"] <= bot["lag_p95"]
    ]
    bot["outside_frontier"] = not dominated_by
    bot["dominated_by"] = dominated_by
    five = next(f for f in frontier if f["interval"] == 5.0)
    bot["calls_vs_5s"] = round(bot["calls_mean"] / five["calls_per_job"], 3)
    return {"bot": bot, "fixed": frontier}


def print_kind(kind: str, summary: dict[str, Any]) -> None:
    bot = summary["bot"]
    print(f"\n{kind}s ({bot['jobs']} jobs, {bot['undelivered']} undelivered)")
    print(f"  {'poller':<12}{'calls/job':>10}{'p50 lag':>10}{'p95 lag':>10}{'max lag':>10}")
    print(
        f"  {'bot':<12}{bot['calls_mean']:>10}{bot['lag_p50']:>10}{bot['lag_p95']:>10}"
        f"{bot['lag_max']:>10}"
    )
    for f in summary["fixed"]:
        print(
            f"  {'every ' + str(int(f['interval'])) + ' s':<12}{f['calls_per_job']:>10}"
            f"{'':>10}{f['p95_lag']:>10}{f['max_lag']:>10}"
        )
    verdict = "outside" if bot["outside_frontier"] else f"dominated by {bot['dominated_by']}"
    print(f"  bot vs frontier: {verdict}; calls vs 5-s poller: x{bot['calls_vs_5s']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--jobs", type=int, help="jobs to follow (default: 1000; 200 with --model or --fault)"
    )
    parser.add_argument("--speed", type=float, default=10.0, help="simulated s per real s")
    parser.add_argument("--window", type=float, default=600.0, help="arrival window (sim s)")
    parser.add_argument("--image-share", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ceiling", type=float, default=CEILING, help="calls per sim second")
    parser.add_argument("--skip-burst", action="store_true", help="skip the 1000-at-once phase")
    parser.add_argument(
        "--post",
        action="store_true",
        help="deliver for real (download, then post to a fake Discord): lag up to the post",
    )
    parser.add_argument("--model", help="one progress model, with fixed pollers on its jobs")
    parser.add_argument("--fault", help="outage-refused, outage-503 or limit-429")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        help="with --model: first follow this many other jobs, restart on their store",
    )
    parser.add_argument(
        "--warm-model", help="with --warm: the progress model of those jobs (default: --model)"
    )
    args = parser.parse_args()
    if args.model or args.fault:
        from bench import scenarios

        jobs = args.jobs or 200
        if args.model:
            figures = await scenarios.run_model(
                args.model, jobs, args.speed, args.ceiling, args.seed, args.warm, args.warm_model
            )
        else:
            figures = await scenarios.run_fault(
                args.fault, jobs, args.speed, args.ceiling, args.seed
            )
        print(json.dumps(figures, indent=1))
        print(json.dumps(figures))
        return

    args.jobs = args.jobs or 1000
    rng = random.Random(args.seed)
    plan = arrivals(args.jobs, args.window, args.image_share, rng)
    print(f"phase 1: {args.jobs} jobs over {args.window:.0f} s at speed x{args.speed:g} ...")
    phase = await run_phase(plan, args.speed, args.seed, args.ceiling, settle=None, post=args.post)
    calls_per_job(phase["records"], phase["calls"])
    figures: dict[str, Any] = {
        "jobs": args.jobs,
        "speed": args.speed,
        "ceiling": args.ceiling,
        "lag_until": "message posted" if args.post else "handed to delivery",
    }
    for kind in ("image", "video"):
        figures[kind] = summarise(phase["records"], kind)
        print_kind(kind, figures[kind])
    figures["max_calls_per_second"] = float(
        peak_per_second([t * args.speed for t, _ in phase["calls"]])
    )
    print(
        f"\nmost calls in one second: {figures['max_calls_per_second']:.0f} "
        f"(ceiling {args.ceiling:g})"
    )

    if not args.skip_burst:
        burst = [Arrival(0.0, a.kind) for a in plan]
        print(f"\nphase 2: {len(burst)} jobs in flight at once, 120 s ...")
        heavy = await run_phase(burst, args.speed, args.seed + 1, args.ceiling, settle=120.0)
        figures["burst_max_calls_per_second"] = float(
            peak_per_second([t * args.speed for t, _ in heavy["calls"]])
        )
        print(
            f"most calls in one second with {len(burst)} pending: "
            f"{figures['burst_max_calls_per_second']:.0f} (ceiling {args.ceiling:g})"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
