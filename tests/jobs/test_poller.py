"""The poller against the simulator over real HTTP, with a recording stand-in for delivery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.jobs.job_requests import PictureRequest, TextVideoRequest
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.poller import Poller, PollerConfig
from bot.jobs.schedule import BLANK_VIDEO_SPACING, IMAGE_POLICY, Schedule
from bot.jobs.service import JobService, Origin, Quotas
from bot.jobs.store import JobStore
from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator
from tests.jobs.fakes import RecordingFrontend

SPEED = 200.0


class RecordingDelivery:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.delivered: list[int] = []
        self.event = asyncio.Event()

    async def deliver(self, job: Job, status=None) -> None:
        self.store.set_state(job.id, JobState.DELIVERED, only_from={JobState.COMPLETE})
        self.delivered.append(job.id)
        self.event.set()


@contextlib.asynccontextmanager
async def poller_world(
    tmp_path: Path, seed: int, speed: float, config: PollerConfig
) -> AsyncIterator[SimpleNamespace]:
    """A simulator, a store, a client and a job service whose poller (not started) follows
    its jobs with `config` (its schedule at `speed`)."""
    async with run_simulator(SimulatorConfig(speed=speed, seed=seed)) as sim:
        store = JobStore(tmp_path / "jobs.sqlite3")
        async with MiraflowClient(sim.api_key, base_url=sim.base_url) as client:
            delivery = RecordingDelivery(store)
            frontend = RecordingFrontend()
            poller = Poller(store, client, delivery, frontend, config)
            service = JobService(
                store,
                client,
                frontend,
                quotas=Quotas(100, 100),
                wake_poller=poller.wake,
                schedule=config.schedule,
                first_poll=poller.first_poll_delay,
            )
            yield SimpleNamespace(
                sim=sim,
                store=store,
                client=client,
                service=service,
                delivery=delivery,
                poller=poller,
            )
            await poller.stop()
        store.close()


@pytest.fixture
async def world(tmp_path):
    config = PollerConfig(schedule=Schedule(SPEED))
    async with poller_world(tmp_path, 3, SPEED, config) as world:
        world.poller.start()
        yield world


async def submit(service, kind, n, client=None):
    if kind is JobKind.VIDEO:
        avatar = (await client.list_avatars())[0].id
        voice = (await client.list_voices())[0].id
        request = TextVideoRequest(
            avatar_id=avatar, voice_id=voice, text=f"hello {n}", name=f"v{n}"
        )
    else:
        request = PictureRequest(prompt=f"picture {n}", name=f"p{n}", seed=n)
    return await service.submit(Origin(n, 1, 1, 10**7), request)


async def wait_delivered(delivery, count, timeout=10.0):
    async with asyncio.timeout(timeout):
        while len(delivery.delivered) < count:
            delivery.event.clear()
            await delivery.event.wait()


async def test_a_new_job_wakes_the_idle_poller_at_once(world):
    sim = world.sim
    service = world.service
    delivery = world.delivery
    await asyncio.sleep(0.05)  # the poller has found nothing to do and is asleep
    started = time.monotonic()
    job = await submit(service, JobKind.IMAGE, 1)
    await sim.wait_for_requests("GET", f"/api/image/{job.miraflow_job_id}", timeout=5)
    assert time.monotonic() - started < 2.0
    await wait_delivered(delivery, 1)


async def test_one_broken_job_does_not_stop_the_others(world):
    store = world.store
    service = world.service
    delivery = world.delivery
    broken = store.create_job(
        kind=JobKind.IMAGE,
        user_id=9,
        channel_id=1,
        guild_id=1,
        request=PictureRequest(prompt=""),
        upload_limit=1,
    )
    store.set_state(broken.id, JobState.QUEUED)  # no Miraflow job id: every poll of it fails
    jobs = [await submit(service, JobKind.IMAGE, n) for n in range(3)]
    await wait_delivered(delivery, 3)
    assert sorted(delivery.delivered) == sorted(j.id for j in jobs)
    assert store.get(broken.id).attempts >= 1
    assert store.get(broken.id).state is JobState.QUEUED


async def test_a_finished_job_keeps_when_it_probably_ended_closer_than_when_it_was_found(
    tmp_path,
):
    # Slower than the other tests: the time on the wire, the same for both, stays small
    # beside the spacing of the polls.
    speed = 50.0
    async with poller_world(tmp_path, 3, speed, PollerConfig(schedule=Schedule(speed))) as world:
        sim, store, delivery = world.sim, world.store, world.delivery
        world.poller.start()
        jobs = [await submit(world.service, JobKind.IMAGE, n) for n in range(12)]
        await wait_delivered(delivery, 12)
        finals = [store.get(job.id) for job in jobs]
        ends = [sim.jobs[job.miraflow_job_id].complete_at for job in jobs]
    found_late, ended_off = [], []
    for final, ended in zip(finals, ends, strict=True):
        assert final.submitted_at < final.ended_at <= final.completed_at
        found_late.append(final.completed_at - ended)
        ended_off.append(abs(final.ended_at - ended))
    # Found done up to a poll's spacing late; the estimate is about half as far off.
    assert sum(ended_off) < 0.8 * sum(found_late)


async def test_a_restart_does_not_put_the_first_poll_later(tmp_path):
    """A job found done at its first poll is stored as having ended before it: read back as
    found-done times at a restart, the shortest durations would be the last first polls,
    and each restart would put the first poll a spacing later."""
    config = PollerConfig(schedule=Schedule(SPEED))
    async with poller_world(tmp_path, 5, SPEED, config) as world:
        sim, poller, client = world.sim, world.poller, world.client
        # No bar, lognormal 3-120 s: the first poll is placed by the shortest durations.
        sim.config.progress_model = "none"
        poller.start()
        for n in range(40):
            await submit(world.service, JobKind.IMAGE, n)
        await wait_delivered(world.delivery, 40)
        before = poller.first_poll_delay(JobKind.IMAGE, client)
        await poller.stop()

        restarted_config = PollerConfig(schedule=Schedule(SPEED))
        restarted = Poller(
            world.store, client, world.delivery, RecordingFrontend(), restarted_config
        )
        restarted._readings.tidy()  # what its loop does first: learn the store's durations
        after = restarted.first_poll_delay(JobKind.IMAGE, client)
    assert after == pytest.approx(before, rel=0.02)


async def test_when_jobs_become_much_shorter_than_learned_the_first_poll_follows_them(tmp_path):
    """Jobs found done at their first poll are learned as ending no sooner than half of it:
    without a check of how many are, the first poll stays at about two spacings however
    short the jobs have become, held there by all the durations learned before."""
    config = PollerConfig(schedule=Schedule(SPEED))
    async with poller_world(tmp_path, 5, SPEED, config) as world:
        sim, poller, client = world.sim, world.poller, world.client
        sim.config.progress_model = "none"  # no bar, lognormal 3-120 s
        poller.start()
        for n in range(200):
            await submit(world.service, JobKind.IMAGE, n)
        await wait_delivered(world.delivery, 200)
        learned = poller.first_poll_delay(JobKind.IMAGE, client) * SPEED
        sim.config.progress_model = "none-short"  # the same, a quarter as long: 1-30 s
        for n in range(200, 230):
            await submit(world.service, JobKind.IMAGE, n)
        await wait_delivered(world.delivery, 230)
        after = poller.first_poll_delay(JobKind.IMAGE, client) * SPEED
    # Without the check: 0.89-0.93 of what it was; with it, about 0.6.
    assert after < 0.75 * learned


async def test_a_sweep_of_the_video_list_finds_every_finished_video(world):
    sim = world.sim
    client = world.client
    service = world.service
    delivery = world.delivery
    sim.config.video_seconds = (2000.0, 2000.0)  # 10 s real: they wait for us
    jobs = [await submit(service, JobKind.VIDEO, n, client) for n in range(4)]
    store = world.store
    # Once each has had its first status call, the next is far off while sweeps run.
    async with asyncio.timeout(5):
        while any(store.get(job.id).polls < 1 for job in jobs):
            await asyncio.sleep(0.01)
    await sim.wait_for_requests("GET", "/api/videos", timeout=5)
    finished_at = time.time()
    for job in jobs:
        sim.complete_now(job.miraflow_job_id)
    await wait_delivered(delivery, 4)
    status_calls_after = [
        r for r in sim.requests if r.time >= finished_at and r.path.endswith("/status")
    ]
    assert status_calls_after == [], "the sweep, not per-video polls, noticed them"
    for job in jobs:  # what their durations are learned from after a restart
        final = store.get(job.id)
        assert finished_at - 1.0 < final.ended_at <= final.completed_at


async def test_a_video_the_sweep_finishes_during_its_own_status_call_is_delivered_at_once(world):
    sim, client, service, delivery, store = (
        world.sim,
        world.client,
        world.service,
        world.delivery,
        world.store,
    )
    sim.config.video_seconds = (4000.0, 4000.0)
    jobs = [await submit(service, JobKind.VIDEO, n, client) for n in range(4)]
    async with asyncio.timeout(5):
        while any(store.get(job.id).polls < 1 for job in jobs):
            await asyncio.sleep(0.01)
    first = jobs[0]
    sim.hang(f"/api/video/{first.miraflow_job_id}/status")
    async with asyncio.timeout(5):
        while sim.held_requests < 1:  # its next status call is under way, and held
            await asyncio.sleep(0.01)
    for job in jobs:
        sim.complete_now(job.miraflow_job_id)
    # Its own call is still held: the sweep's finding is delivered without waiting for it.
    await wait_delivered(delivery, 4, timeout=5)
    assert first.id in delivery.delivered
    sim.unhang()


async def test_videos_whose_bars_move_evenly_pin_their_own_ends_and_the_sweep_stops(world):
    sim, client, service, delivery = world.sim, world.client, world.service, world.delivery
    sim.config.progress_model = "video-steps"  # 10 % steps: bars read as even
    sim.config.video_seconds = (1500.0, 1500.0)  # 7.5 s real
    started = time.time()
    jobs = [await submit(service, JobKind.VIDEO, n, client) for n in range(3)]
    await wait_delivered(delivery, 3, timeout=30.0)
    sim_seconds = [(r.time - started) * SPEED for r in sim.requests if r.path == "/api/videos"]
    # Before they show a value, three videos are swept; once each pins its own end, there
    # is nothing left to sweep for.
    assert sim_seconds, "swept while their bars showed nothing"
    assert max(sim_seconds) < 750.0, "still swept after the videos paced themselves"
    for job in jobs:
        polls = [r for r in sim.requests if r.path == f"/api/video/{job.miraflow_job_id}/status"]
        assert len(polls) <= 1500.0 / 5.0 / 3, "a third of a 5-s poller's calls at most"


async def test_a_lone_video_whose_bar_stays_blank_is_never_left_unpolled_for_long(world):
    sim, client, service, delivery = world.sim, world.client, world.service, world.delivery
    sim.config.progress_model = "video-blank"  # no progress shown until done
    sim.config.video_seconds = (600.0, 600.0)  # 3 s real
    started = time.time()
    job = await submit(service, JobKind.VIDEO, 1, client)
    await wait_delivered(delivery, 1, timeout=15.0)
    path = f"/api/video/{job.miraflow_job_id}/status"
    polls = [(r.time - started) * SPEED for r in sim.requests if r.path == path]
    # Its first value was awaited at a spacing of its age (polls 20, 40, 80 ... 640 s in).
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert max(gaps) <= 1.25 * BLANK_VIDEO_SPACING


async def test_an_images_first_poll_waits_for_the_spacing_of_its_key(tmp_path):
    # The poller is not started: only the create call and the first poll it plans.
    config = PollerConfig(calls_per_second=2.0, schedule=Schedule(SPEED))
    async with poller_world(tmp_path, 3, SPEED, config) as world:
        poller, client = world.poller, world.client
        config.schedule.learn(False, [(20.0 + n) / SPEED for n in range(100)])
        light = poller.first_poll_delay(JobKind.IMAGE, client)
        assert light == pytest.approx(config.schedule.first(JobKind.IMAGE))
        # Twenty images asking for polls at the tail: more than 2 calls a second serve.
        spacing = poller._spacing_of(client)
        for job_id in range(1000, 1020):
            spacing.spaced(job_id, IMAGE_POLICY.tail / SPEED, 2.0)
        assert spacing.floor > 2 * IMAGE_POLICY.tail / SPEED
        job = await submit(world.service, JobKind.IMAGE, 1)
        first = job.next_poll_at - job.submitted_at
        assert first == pytest.approx(config.schedule.first(JobKind.IMAGE, spacing.floor), rel=0.05)
        assert first > light + IMAGE_POLICY.tail / SPEED
        # A video's first poll is no image poll: the key's image spacing does not hold it.
        video = poller.first_poll_delay(JobKind.VIDEO, client)
        assert video == pytest.approx(config.schedule.first(JobKind.VIDEO))


async def test_a_restarted_poller_keeps_its_keys_spacing_and_a_servers_key_starts_afresh(
    tmp_path,
):
    # At real speed: the kept spacing is let go of by the schedule's clock (a half-life of
    # 30 minutes, 9 s at SPEED), and the restart must not wait for it.
    config = PollerConfig(calls_per_second=2.0, schedule=Schedule(1.0))
    async with poller_world(tmp_path, 3, SPEED, config) as world:
        poller, client, store = world.poller, world.client, world.store
        # Twenty images asking for polls at the tail: more than 2 calls a second serve.
        for job_id in range(1000, 1020):
            poller._spaced(SimpleNamespace(id=job_id), IMAGE_POLICY.tail, client)
        floor = poller._spacing_of(client).floor
        assert floor > 2 * IMAGE_POLICY.tail

        restarted = Poller(store, client, world.delivery, RecordingFrontend(), config)
        assert restarted._spacing_of(client).floor == pytest.approx(floor, rel=0.06)
        async with MiraflowClient("a-servers-key", base_url=world.sim.base_url) as servers:
            assert restarted._spacing_of(servers).floor == 0.0


async def test_a_429_pauses_polling_for_its_retry_after(tmp_path):
    async with run_simulator(SimulatorConfig(speed=SPEED, seed=4)) as sim:
        store = JobStore(tmp_path / "jobs.sqlite3")
        # No retries inside the client: the poller itself must honour the 429.
        async with MiraflowClient(sim.api_key, base_url=sim.base_url, max_retries=0) as client:
            schedule = Schedule(SPEED)
            delivery = RecordingDelivery(store)
            frontend = RecordingFrontend()
            poller = Poller(store, client, delivery, frontend, PollerConfig(schedule=schedule))
            service = JobService(
                store,
                client,
                frontend,
                quotas=Quotas(9, 9),
                wake_poller=poller.wake,
                schedule=schedule,
            )
            sim.config.image_seconds = (400.0, 400.0)  # 2 s real: still working after the 429
            poller.start()
            job = await submit(service, JobKind.IMAGE, 1)
            path = f"/api/image/{job.miraflow_job_id}"
            sim.fail_next(1, status=429, path_prefix=path, retry_after=0.6)
            await sim.wait_for_requests("GET", path, count=2, timeout=5)
            limited, after = [r for r in sim.requests if r.path == path][:2]
            assert limited.status == 429
            assert after.time - limited.time >= 0.6
            await wait_delivered(delivery, 1)
            await poller.stop()
        store.close()
