"""A server with its own Miraflow key: its jobs' status calls go with its key, under a
ceiling of their own (a second account in the simulator: polled with another key, a job is 404)."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.job_requests import PictureRequest
from bot.jobs.poller import Poller, PollerConfig
from bot.jobs.schedule import Schedule
from bot.jobs.service import JobService, Origin, Quotas
from bot.jobs.store import JobStore
from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator
from tests.jobs.fakes import RecordingFrontend
from tests.jobs.test_poller import RecordingDelivery, wait_delivered

SPEED = 50.0
CEILING = 2.0
OWN_KEY = "mf_own_key_of_server_two"
BOT_GUILD, OWN_GUILD = 1, 2


class TwoKeys:
    def __init__(self, bot: MiraflowClient, own: MiraflowClient) -> None:
        self.bot, self.own = bot, own

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        return self.own if guild_id == OWN_GUILD else self.bot


def busiest_second(times: list[float]) -> int:
    window, times = 1.0 / SPEED, sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.usefixtures("short_gc_pauses")
async def test_each_key_has_its_own_calls_and_ceiling(tmp_path) -> None:
    config = SimulatorConfig(speed=SPEED, seed=5, other_api_keys=(OWN_KEY,))
    config.image_seconds = (20.0, 30.0)
    async with (
        run_simulator(config) as sim,
        MiraflowClient(sim.api_key, base_url=sim.base_url) as bot_client,
        MiraflowClient(OWN_KEY, base_url=sim.base_url) as own_client,
    ):
        store = JobStore(tmp_path / "jobs.sqlite3")
        clients = TwoKeys(bot_client, own_client)
        schedule = Schedule(SPEED)
        delivery = RecordingDelivery(store)
        frontend = RecordingFrontend()
        poller = Poller(
            store,
            bot_client,
            delivery,
            frontend,
            PollerConfig(calls_per_second=CEILING, schedule=schedule),
            clients=clients,
        )
        service = JobService(
            store,
            bot_client,
            frontend,
            quotas=Quotas(100, 100),
            wake_poller=poller.wake,
            schedule=schedule,
            clients=clients,
        )
        poller.start()
        try:
            jobs = await asyncio.gather(
                *(
                    service.submit(
                        Origin(n, 1, BOT_GUILD if n % 2 else OWN_GUILD, 10**7),
                        PictureRequest(prompt=f"picture {n}", name=f"p{n}", seed=n),
                    )
                    for n in range(12)
                )
            )
            await wait_delivered(delivery, len(jobs), timeout=30)
        finally:
            await poller.stop()
            store.close()

    assert {job.id for job in jobs} == set(delivery.delivered)
    status_calls = [
        r for r in sim.requests if r.method == "GET" and r.path.startswith("/api/image/")
    ]
    creates = [r for r in sim.requests if r.method == "POST"]
    by_key = {
        key: [r.time for r in status_calls if r.headers.get("x-api-key") == key]
        for key in (sim.api_key, OWN_KEY)
    }
    assert sorted(r.headers.get("x-api-key") for r in creates) == sorted([sim.api_key, OWN_KEY] * 6)
    assert by_key[sim.api_key] and by_key[OWN_KEY]
    assert len(status_calls) == sum(map(len, by_key.values()))
    for times in by_key.values():
        assert busiest_second(times) <= CEILING
