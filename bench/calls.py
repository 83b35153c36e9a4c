"""What the poller benchmarks count: every request the bot's client starts and every answer
it gets (aiohttp trace hooks), status calls per job, percentiles."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import aiohttp


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def request_recorder(sent: list[tuple[float, str, str]]) -> aiohttp.TraceConfig:
    """Notes the time, method and path of every request the client starts."""

    async def on_start(_session: Any, _context: Any, params: Any) -> None:
        sent.append((time.time(), params.method, params.url.path))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return trace


def answer_recorder(answers: list[tuple[float, str, int | None]]) -> aiohttp.TraceConfig:
    """Notes the time, path and status of every answer (None: no answer, a failed connection)."""

    async def on_end(_session: Any, _context: Any, params: Any) -> None:
        answers.append((time.time(), params.url.path, params.response.status))

    async def on_error(_session: Any, _context: Any, params: Any) -> None:
        answers.append((time.time(), params.url.path, None))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_error)
    return trace


SWEEP_PATH = "/api/videos"  # one call for every video: no job's own


def job_id_of(path: str) -> str:
    """The Miraflow id in a status path (`/api/image/ID`, `/api/video/ID/status`)."""
    return path.split("/")[3]


def own_calls(calls: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The status calls that ask after one job: (when, its Miraflow id), sweeps left out."""
    return [(at, job_id_of(path)) for at, path in calls if path != SWEEP_PATH]


def calls_per_job(records: list[dict[str, Any]], calls: list[tuple[float, str]]) -> None:
    by_id = Counter(job_id for _, job_id in own_calls(calls))
    shared = sum(1 for _, path in calls if path == SWEEP_PATH)
    videos = [r for r in records if r["kind"] == "video"]
    share = shared / len(videos) if videos else 0.0
    for record in records:
        own = by_id[record["miraflow_id"]]
        record["calls"] = own + (share if record["kind"] == "video" else 0.0)
