"""The benchmark's warm start (`bench/poller.py --model NAME --warm N`): the bot first follows
other jobs, then restarts on their store, and only the jobs that follow are measured."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.poller import run_phase
from bench.scenarios import images_over, run_model
from bot.jobs.models import JobKind
from bot.jobs.store import JobStore

FAST = 50.0  # simulated seconds per real second: linear jobs of 5-60 s end within ~1.5 s


@pytest.mark.timeout(60)
async def test_a_phase_on_a_given_store_keeps_what_the_earlier_phase_learned(
    tmp_path: Path,
) -> None:
    store_path = tmp_path / "jobs.sqlite3"
    rng = random.Random(7)
    first = await run_phase(
        images_over(3.0, 3, rng), FAST, 7, 10.0, settle=None, model="linear", store_path=store_path
    )
    second = await run_phase(
        images_over(3.0, 4, rng), FAST, 8, 10.0, settle=None, model="linear", store_path=store_path
    )
    assert len(first["records"]) == 3
    assert len(second["records"]) == 4  # the measured phase counts only its own jobs
    store = JobStore(store_path)
    try:
        assert len(store.recent_durations(JobKind.IMAGE, 100)) == 7
    finally:
        store.close()


@pytest.mark.timeout(60)
async def test_a_warm_model_run_measures_only_the_jobs_after_the_warm_up() -> None:
    figures = await run_model("linear", jobs=4, speed=FAST, ceiling=10.0, seed=3, warm=3)
    assert figures["warm"] == 3
    bot = figures["images"]["bot"]["image"]
    assert bot["jobs"] == 4
    assert bot["undelivered"] == 0
