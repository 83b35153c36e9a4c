"""`bench/poller.py --model NAME` and `--fault NAME`: the poller on one progress model or fault.

A model run follows its jobs with the bot's real poller against the simulator, then
evaluates fixed-interval pollers (every 2, 5 and 10 s) exactly on the same jobs' timelines,
with and without the bot's calls-per-second ceiling (see `bench/fixed.py`). A fault run puts
the bot through an outage or a server-side rate limit and measures what it sends.
"""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench.calls import calls_per_job, own_calls, percentile
from bench.fixed import Timeline, peak_per_second, run_fixed, same_calls
from bench.poller import Arrival, Disturbance, run_phase
from bot.jobs.models import JobKind
from bot.miraflow.simulator import MiraflowSimulator
from bot.miraflow.simulator.progress import IMAGE_MODELS, VIDEO_MODELS

FIXED = (2.0, 5.0, 10.0)
MODELS = (*IMAGE_MODELS, *VIDEO_MODELS, "mixed")
FAULTS = ("outage-refused", "outage-503", "limit-429")
OUTAGE_START, OUTAGE_SECONDS = 60.0, 60.0
SERVER_LIMIT = 3.0
WARM_SEED = 1000  # the warm-up's jobs: another seed, so none of them is measured again


def images_over(window: float, count: int, rng: random.Random) -> list[Arrival]:
    times = sorted(rng.uniform(0, window) for _ in range(count))
    return [Arrival(at, JobKind.IMAGE) for at in times]


def model_plans(model: str, jobs: int, rng: random.Random) -> list[tuple[str, list[Arrival]]]:
    """The runs of a model, each named: its jobs and when they arrive (simulated seconds)."""
    if model in IMAGE_MODELS:
        # Spread so that about 20 are pending at once: the 5-s poller then asks ~4 times a second.
        window = jobs * 1.5
        return [("images", images_over(window, jobs, rng))]
    if model in VIDEO_MODELS:
        lone = [Arrival(n * 620.0, JobKind.VIDEO) for n in range(max(jobs // 25, 4))]
        batches = [Arrival(b * 300.0, JobKind.VIDEO) for b in range(2) for _ in range(10)]
        # (two batches of ten, five minutes apart)
        return [("videos alone", lone), ("videos in batches", batches)]
    if model == "mixed":
        # Poisson arrivals at the rate that keeps the 5-s poller at the ceiling of 10 calls/s:
        # ~50 jobs pending, over a mean duration of ~52 s.
        kinds = [JobKind.IMAGE] * jobs + [JobKind.VIDEO] * max(jobs // 10, 1)
        rng.shuffle(kinds)
        at, plan = 0.0, []
        for kind in kinds:
            at += rng.expovariate(1.0)
            plan.append(Arrival(at, kind))
        return [("mixed", plan)]
    raise ValueError(f"unknown model {model!r}")


def speed_for(model: str, run: str, speed: float) -> float:
    # Lone videos take ten minutes each: run them faster (lag targets are of 10 s there).
    return max(speed, 50.0) if run == "videos alone" else speed


def note_seen_lags(
    records: list[dict[str, Any]], calls: list[tuple[float, str]], started: float, speed: float
) -> None:
    """Each image's lag as the fixed pollers' is counted: from its completion to the instant
    the status call that saw it done left (its last), in simulated seconds. The bot's own
    `lag` runs on to the hand-over, through the answer's way back and its handling, which
    the exactly evaluated fixed pollers are spared. Videos: None (a sweep may see them)."""
    last_sent = {job_id: at for at, job_id in own_calls(calls)}  # each job's last call
    for record in records:
        sent = last_sent.get(record["miraflow_id"])
        seen = record["kind"] == "image" and sent is not None and record["lag"] is not None
        record["seen_lag"] = (sent - started) * speed - record["done"] if seen else None


def bot_figures(records: list[dict[str, Any]], attempts: list[float], speed: float) -> dict:
    lags = [r["lag"] for r in records if r["lag"] is not None]
    calls = [r["calls"] for r in records]
    figures = {
        "jobs": len(records),
        "undelivered": len(records) - len(lags),
        "calls_per_job": round(sum(calls) / len(calls), 2),
        "lag_p50": round(percentile(lags, 50), 2),
        "lag_p95": round(percentile(lags, 95), 2),
        "peak_calls_per_second": peak_per_second([t * speed for t in attempts]),
    }
    seen = [r["seen_lag"] for r in records if r.get("seen_lag") is not None]
    if seen:
        figures["seen_lag_p95"] = round(percentile(seen, 95), 2)
    return figures


def fixed_figures(
    records: list[dict[str, Any]], kinds: list[str], ceiling: float
) -> dict[str, dict[str, Any]]:
    """Per fixed interval, free and held to `ceiling`: figures per kind, and the peak."""
    timelines = [Timeline(r["created"], r["done"]) for r in records]
    out: dict[str, dict[str, Any]] = {}
    for interval in FIXED:
        for label, limit in (("free", None), ("ceiling", ceiling)):
            result = run_fixed(timelines, interval, limit)
            entry: dict[str, Any] = {"peak_calls_per_second": peak_per_second(result.call_times)}
            for kind in kinds:
                mine = [n for n, r in enumerate(records) if r["kind"] == kind]
                lags = [result.lags[n] for n in mine]
                entry[kind] = {
                    "calls_per_job": round(sum(result.calls[n] for n in mine) / len(mine), 2),
                    "lag_p50": round(percentile(lags, 50), 2),
                    "lag_p95": round(percentile(lags, 95), 2),
                }
            out[f"every {interval:g} s, {label}"] = entry
    return out


def frontier_at(records: list[dict[str, Any]], calls: float, ceiling: float) -> dict[str, Any]:
    """The fixed pollers (free, and held to `ceiling`) making as many calls per job as the
    bot: "never behind the frontier" means a p95 no higher than theirs."""
    timelines = [Timeline(r["created"], r["done"]) for r in records]
    out: dict[str, Any] = {}
    for label, limit in (("free", None), ("ceiling", ceiling)):
        point = same_calls(timelines, calls, limit)
        out[label] = {
            "interval": round(point.interval, 3),
            "calls_per_job": round(point.calls, 2),
            "lag_p95": round(point.p95_lag, 2),
        }
    return out


async def run_model(
    model: str,
    jobs: int,
    speed: float,
    ceiling: float,
    seed: int,
    warm: int = 0,
    warm_model: str | None = None,
) -> dict:
    """Each run of `model`; with `warm`, the bot first follows that many other jobs of the
    model (another seed), or of `warm_model`, and restarts on their store, as a bot past
    its first day does: only the jobs that follow are measured."""
    rng = random.Random(seed)
    warm_model = warm_model or model
    figures: dict[str, Any] = {"model": model, "ceiling": ceiling, "warm": warm}
    if warm and warm_model != model:
        figures["warm_model"] = warm_model
    warm_rng = random.Random(seed + WARM_SEED)
    warm_plans = dict(model_plans(warm_model, warm, warm_rng)) if warm else {}
    for run, plan in model_plans(model, jobs, rng):
        run_speed = speed_for(model, run, speed)
        warm_plan = warm_plans.get(run)
        # The warm-up's store, kept for the run that follows: a folder only with a warm-up.
        keeps = (
            nullcontext()
            if warm_plan is None
            else tempfile.TemporaryDirectory(prefix="bench-model-")
        )
        with keeps as folder:
            store_path = Path(folder) / "jobs.sqlite3" if folder else None
            figures[run] = await measure_run(
                model, plan, warm_plan, run_speed, ceiling, seed, store_path, warm_model
            )
    return figures


async def measure_run(
    model: str,
    plan: list[Arrival],
    warm_plan: list[Arrival] | None,
    speed: float,
    ceiling: float,
    seed: int,
    store_path: Path | None,
    warm_model: str,
) -> dict[str, Any]:
    """One run of a model: the bot's figures and the fixed pollers' on its jobs; with
    `warm_plan` (jobs of `warm_model`), after the bot followed those jobs first on the
    same store (`store_path`)."""
    if warm_plan is not None:
        await run_phase(
            warm_plan,
            speed,
            seed + WARM_SEED,
            ceiling,
            settle=None,
            model=warm_model,
            store_path=store_path,
        )
    phase = await run_phase(
        plan, speed, seed, ceiling, settle=None, model=model, store_path=store_path
    )
    records = phase["records"]
    calls_per_job(records, phase["calls"])
    note_seen_lags(records, phase["calls"], phase["started"], speed)
    kinds = sorted({r["kind"] for r in records})
    figures: dict[str, Any] = {
        "speed": speed,
        "bot": {
            kind: bot_figures([r for r in records if r["kind"] == kind], phase["attempts"], speed)
            for kind in kinds
        },
        "fixed": fixed_figures(records, kinds, ceiling),
    }
    if len(kinds) == 1:
        figures["fixed_same_calls"] = frontier_at(
            records, figures["bot"][kinds[0]]["calls_per_job"], ceiling
        )
    figures["bot"]["peak_calls_per_second"] = peak_per_second(
        [t * speed for t in phase["attempts"]]
    )
    return figures


def outage(status: int | None) -> Disturbance:
    """An outage from OUTAGE_START for OUTAGE_SECONDS: refused connections (None) or `status`."""

    async def disturb(sim: MiraflowSimulator, started: float) -> None:
        speed = sim.config.speed
        await asyncio.sleep(max(0.0, started + OUTAGE_START / speed - time.time()))
        if status is None:
            await sim.refuse_connections()
        else:
            sim.outage(status)
        await asyncio.sleep(OUTAGE_SECONDS / speed)
        if status is None:
            await sim.refuse_connections(False)
        else:
            sim.outage(None)

    return disturb


async def run_fault(fault: str, jobs: int, speed: float, ceiling: float, seed: int) -> dict:
    rng = random.Random(seed)
    figures: dict[str, Any] = {"fault": fault, "ceiling": ceiling, "speed": speed}
    if fault == "limit-429":
        # Far more work than 3 calls a second can follow: the bot is held to the server's limit.
        plan = images_over(30.0, jobs, rng)
        phase = await run_phase(
            plan, speed, seed, ceiling, settle=90.0, model="default", rate_limit=SERVER_LIMIT
        )
        start, end = phase["started"] + 10.0 / speed, phase["started"] + 90.0 / speed
        seen = [
            status
            for at, path, status in phase["answers"]
            if start <= at < end and path.startswith("/api/")
        ]
        ok = sum(1 for s in seen if s is not None and s != 429)
        rejected = sum(1 for s in seen if s == 429)
        seconds = (end - start) * speed
        figures.update(
            server_limit=SERVER_LIMIT,
            window_seconds=seconds,
            successful_per_second=round(ok / seconds, 2),
            rejected_share=round(rejected / max(len(seen), 1), 3),
            targets="successful >= 2.5/s, rejected <= 10 %",
        )
        return figures
    status = None if fault == "outage-refused" else 503
    window = OUTAGE_START + OUTAGE_SECONDS + 60.0
    plan = images_over(window, jobs, rng)
    phase = await run_phase(plan, speed, seed, ceiling, settle=None, disturb=outage(status))
    begin = phase["started"] + (OUTAGE_START + 5.0) / speed
    end = phase["started"] + (OUTAGE_START + OUTAGE_SECONDS) / speed
    during = [t for t in phase["attempts"] if begin <= t < end]
    seconds = (end - begin) * speed
    finished_in = [
        r for r in phase["records"] if OUTAGE_START <= r["done"] < OUTAGE_START + OUTAGE_SECONDS
    ]
    after = [
        r["lag"] - (OUTAGE_START + OUTAGE_SECONDS - r["done"])
        for r in finished_in
        if r["lag"] is not None
    ]
    figures.update(
        outage_seconds=OUTAGE_SECONDS,
        calls_per_second_after_first_5s=round(len(during) / seconds, 2),
        peak_calls_per_second_in_outage=peak_per_second([t * speed for t in during]),
        peak_calls_per_second=peak_per_second([t * speed for t in phase["attempts"]]),
        finished_during=len(finished_in),
        noticed_after_end_p95=round(percentile(after, 95), 2) if after else math.nan,
        noticed_after_end_max=round(max(after), 2) if after else math.nan,
        undelivered=sum(1 for r in phase["records"] if r["lag"] is None),
        creates_refused=phase["refused"],
        targets="<= 1 call/s on average after 5 s, never over the ceiling; p95 <= 5 s",
    )
    return figures
