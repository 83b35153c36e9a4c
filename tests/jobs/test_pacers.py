"""One pacer per Miraflow key: every call of a client the registry hands out takes a slot of
its key's pacer (creates, uploads, list calls included), and the ceiling of each is shared
out between the live processes."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.clients import PacedClients
from bot.jobs.job_requests import TextVideoRequest
from bot.jobs.models import JobKind
from bot.jobs.pacing import Pacers
from bot.jobs.store import JobStore
from bot.jobs.unclear import UnclearVideos
from bot.miraflow import MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator
from tests.jobs.test_pacing import most_in_one_second

# Slower than the other pacing tests: at 2 calls a second the calls leave 1 ms inside a
# window at x20, less than the jitter of their arrival at the simulator.
SPEED = 5.0
CEILING = 2.0
OWN_KEY = "mf_own_key_of_server_two"


class TwoKeys:
    def __init__(self, bot: MiraflowClient, own: MiraflowClient) -> None:
        self.bot, self.own = bot, own

    def for_guild(self, guild_id: int | None) -> MiraflowClient:
        return self.own if guild_id == 2 else self.bot


async def test_each_key_has_its_own_pacer_whose_ceiling_the_live_workers_share() -> None:
    async with (
        MiraflowClient("mf_a", base_url="http://127.0.0.1:9") as a,
        MiraflowClient("mf_b", base_url="http://127.0.0.1:9") as b,
    ):
        pacers = Pacers(10.0)
        clients = PacedClients(TwoKeys(a, b), pacers)
        assert clients.for_guild(1) is a and clients.for_guild(2) is b
        assert pacers.of(a) is pacers.of(a) is not pacers.of(b)
        pacers.share(2)
        assert pacers.of(a).rate == pacers.of(b).rate == 5.0
        pacers.of(a).report(False, 429, 0.0)  # a server limit lowers a's rate only
        slowed = pacers.of(a).rate
        assert slowed < 5.0
        pacers.share(1)
        assert pacers.of(b).rate == 10.0
        assert pacers.of(a).rate == pytest.approx(slowed)  # it creeps back up, not at once


@pytest.mark.usefixtures("short_gc_pauses")
async def test_every_call_of_a_paced_client_takes_a_slot(tmp_path) -> None:
    config = SimulatorConfig(speed=SPEED, seed=2, other_api_keys=(OWN_KEY,))
    async with (
        run_simulator(config) as sim,
        MiraflowClient(sim.api_key, base_url=sim.base_url) as bot_client,
        MiraflowClient(OWN_KEY, base_url=sim.base_url) as own_client,
    ):
        store = JobStore(tmp_path / "jobs.sqlite3")
        clients = PacedClients(TwoKeys(bot_client, own_client), Pacers(CEILING, SPEED))
        unclear = UnclearVideos(store, clients, lambda: None, video_timeout=60.0)
        unclear_video = store.create_job(  # looked for in the list of server 1's key
            kind=JobKind.VIDEO,
            user_id=7,
            channel_id=8,
            guild_id=1,
            request=TextVideoRequest(avatar_id="a", voice_id="v", text="hi", name="hi #0000abcd"),
            upload_limit=10 << 20,
        )

        async def calls_of(client: MiraflowClient) -> None:
            await client.upload_media(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "a.png", "image/png")
            await client.generate_image("a cat", "cat")
            await client.list_videos()

        try:
            await asyncio.gather(
                *(calls_of(clients.for_guild(g)) for g in (1, 1, 2, 2)),
                *(unclear.look([unclear_video]) for _ in range(3)),
            )
        finally:
            store.close()

    by_key = {
        key: [r.time for r in sim.requests if r.headers.get("x-api-key") == key]
        for key in (sim.api_key, OWN_KEY)
    }
    # An upload is three calls (initialize, the keyless PUT, finalize), then create, list.
    assert len(by_key[sim.api_key]) == 2 * 4 + 3 and len(by_key[OWN_KEY]) == 2 * 4
    for times in by_key.values():
        assert most_in_one_second(times, SPEED) <= CEILING
    assert sum(1 for r in sim.requests if r.path == "/api/image/generate") == 4  # sent once
