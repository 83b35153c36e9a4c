"""The pacer in front of every Miraflow attempt: outages and server limits, counted at the
simulator (the client's retries included), through the real client and poller."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.calls import request_recorder
from bot.jobs.models import JobKind, JobState
from bot.jobs.pacing import OUTAGE_AFTER, PRIORITY, PROBE_INTERVAL, Pacer
from bot.jobs.poller import PollerConfig
from bot.jobs.schedule import Schedule
from bot.miraflow import MiraflowClient, MiraflowConnectionError, MiraflowError
from bot.miraflow.constants import MAX_RETRY_AFTER
from bot.miraflow.errors import parse_retry_after
from tests.jobs.test_poller import poller_world, submit, wait_delivered
from tests.open_pacer import OpenPacer

SPEED = 20.0  # a simulated second lasts 50 ms
CEILING = 10.0


def api_times(sim, start: float, end: float) -> list[float]:
    """When the simulator received /api requests between two instants (real seconds)."""
    return [r.time for r in sim.requests if r.path.startswith("/api/") and start <= r.time < end]


def most_in_one_second(times: list[float], speed: float = SPEED) -> int:
    window, ordered, most, first = 1.0 / speed, sorted(times), 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.fixture
async def world(tmp_path):
    schedule = Schedule(SPEED)
    config = PollerConfig(calls_per_second=CEILING, max_in_flight=8, schedule=schedule)
    async with poller_world(tmp_path, 5, SPEED, config) as world:
        yield world


@pytest.mark.usefixtures("short_gc_pauses")
@pytest.mark.parametrize("refused", [False, True], ids=["503", "connection refused"])
async def test_an_outage_gets_one_probe_at_a_time_then_a_paced_catch_up(world, refused):
    sim = world.sim
    sim.config.image_seconds = (20.0, 40.0)  # all end during the outage
    jobs = [await submit(world.service, JobKind.IMAGE, n) for n in range(12)]
    world.poller.start()
    await sim.wait_for_requests("GET", "/api/image/", count=3, timeout=5)
    outage_start = sim.now()
    if refused:
        await sim.refuse_connections()
    else:
        sim.outage(503)
    await asyncio.sleep(60.0 / SPEED)
    outage_end = sim.now()
    if refused:
        await sim.refuse_connections(False)
    else:
        sim.outage(None)
    await wait_delivered(world.delivery, len(jobs), timeout=30)

    if not refused:  # a refused connection never reaches the server to be counted
        after_five = api_times(sim, outage_start + 5.0 / SPEED, outage_end)
        assert len(after_five) <= 55  # at most one call a second on average
        assert len(after_five) >= 1  # but it keeps probing
    assert most_in_one_second(api_times(sim, 0, sim.now())) <= CEILING
    assert {world.store.get(j.id).state for j in jobs} == {JobState.DELIVERED}


async def test_retries_inside_the_client_wait_at_the_gate_too(world):
    """Twenty status calls in a 30-s outage, each allowed many quick retries: after the
    first failures the server sees one probe at a time, and every call succeeds after it."""
    sim = world.sim
    pacer = Pacer(CEILING, SPEED)
    async with MiraflowClient(
        sim.api_key, base_url=sim.base_url, max_retries=50, backoff_base=0.001, backoff_cap=0.01
    ) as client:
        client.pace_with(pacer)
        job = await client.generate_image("a cat", "cat")
        sim.outage(503)
        start = sim.now()

        async def poll() -> None:
            PRIORITY.set("poll")
            await client.image_job(job.job_id)

        calls = asyncio.gather(*(poll() for _ in range(20)))
        await asyncio.sleep(30.0 / SPEED)
        end = sim.now()
        sim.outage(None)
        await calls
        during = len(api_times(sim, start, end))
        # Without the gate: up to 20 x 51 attempts. With it: the first round, then probes.
        assert during <= 20 + 30.0 / PROBE_INTERVAL + 2
        assert not pacer.down


async def test_an_attempt_hears_when_its_request_starts(world):
    """The pacer counts an attempt from the instant aiohttp starts its request (its own
    trace), which other trace configs given to the client see too."""
    sim = world.sim
    traced: list[float] = []
    pacer = OpenPacer()
    async with MiraflowClient(
        sim.api_key, base_url=sim.base_url, trace_configs=[request_recorder(traced)]
    ) as client:
        client.pace_with(pacer)
        before = time.time()
        await client.list_avatars()
    assert len(traced) == 1
    # Told once before sending, and again by the trace as the request starts.
    assert len(pacer.left) == 2
    assert before <= pacer.left[0] <= pacer.left[1] <= traced[0][0]


async def test_a_call_someone_waits_on_fails_at_once_while_miraflow_is_down(world):
    sim = world.sim
    pacer = Pacer(CEILING, SPEED)
    async with MiraflowClient(sim.api_key, base_url=sim.base_url, max_retries=0) as client:
        client.pace_with(pacer)
        sim.outage(503)
        for _ in range(OUTAGE_AFTER):
            with pytest.raises(MiraflowError):
                await client.list_avatars()
        assert pacer.down
        before = len(sim.requests)
        with pytest.raises(MiraflowConnectionError):
            await client.list_avatars()
        assert len(sim.requests) == before  # nothing was sent
        sim.outage(None)


async def test_under_a_server_limit_the_rate_follows_it(world):
    sim = world.sim
    sim.config.image_seconds = (400.0, 400.0)  # still working throughout: steady demand
    for n in range(40):
        await submit(world.service, JobKind.IMAGE, n)
    sim.config.rate_limit_per_second = 3
    sim.config.retry_after = 1.0 / SPEED
    world.poller.start()
    await sim.wait_for_requests("GET", "/api/image/", count=20, timeout=10)
    start = sim.now()
    await asyncio.sleep(40.0 / SPEED)
    answered = [
        r for r in sim.requests if r.path.startswith("/api/") and r.time >= start and r.status
    ]
    rejected = sum(1 for r in answered if r.status == 429)
    accepted = len(answered) - rejected
    assert rejected <= 0.1 * len(answered)
    assert accepted / 40.0 >= 2.0  # the bench holds it to 2.5 on a quiet machine


def test_retry_after_is_honoured_up_to_a_minute():
    # The cap is applied once, where the header is parsed; the pacer holds what it is told.
    now = [1000.0]
    pacer = Pacer(CEILING, clock=lambda: now[0])
    pacer.report(False, 429, parse_retry_after("3600"))
    assert pacer.paused_until == pytest.approx(1000.0 + MAX_RETRY_AFTER)
    pacer.report(False, 429, parse_retry_after("2"))
    assert pacer.paused_until == pytest.approx(1000.0 + MAX_RETRY_AFTER)


async def test_a_probe_dropped_before_it_leaves_lets_the_next_call_probe() -> None:
    pacer = Pacer(CEILING, speed=1000.0)
    for _ in range(OUTAGE_AFTER):
        pacer.report(False, None, None)
    assert pacer.down
    held = asyncio.Event()
    limiter_acquire = pacer._limiter.acquire

    async def full_limiter(**kwargs):
        held.set()
        await asyncio.Event().wait()  # no slot comes: the probe waits here

    pacer._limiter.acquire = full_limiter  # type: ignore[method-assign]
    PRIORITY.set("poll")
    dropped = asyncio.create_task(pacer.acquire())
    await asyncio.wait_for(held.wait(), 5)
    dropped.cancel()
    await asyncio.gather(dropped, return_exceptions=True)
    pacer._limiter.acquire = limiter_acquire  # type: ignore[method-assign]
    attempt = await asyncio.wait_for(pacer.acquire(), 5)
    assert attempt.probe
