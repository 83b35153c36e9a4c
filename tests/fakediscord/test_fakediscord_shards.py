"""Several guilds and shards: each guild only on the shard that owns it, across processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.gateway import GatewaySession
from tests.fakediscord.tinybot import ShardedTinyBot, TinyBot


@pytest.fixture
async def fd4() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=4, shards=2) as fake:
        fake.point_discord_py()
        yield fake


def events(session: GatewaySession, name: str) -> list[dict]:
    return [frame["d"] for frame in session.history if frame["t"] == name]


async def test_guild_ids_spread_round_robin_over_any_shard_count(fd4: FakeDiscord) -> None:
    ids = [guild.id for guild in fd4.guilds]
    assert ids[0] == fd4.guild_id and len(set(ids)) == 4
    for shard_count in (1, 2, 3, 4, 5, 8):
        assert [fd4.shard_of(i, shard_count) for i in ids] == [k % shard_count for k in range(4)]
    channels = {guild.channel_id for guild in fd4.guilds} | {g.other_channel_id for g in fd4.guilds}
    assert len(channels) == 8 and fd4.guilds[1].users.alice != fd4.users.alice


async def test_an_auto_sharded_bot_gets_each_guild_from_its_shard(fd4: FakeDiscord) -> None:
    bot = ShardedTinyBot()
    await bot.login(fd4.token)
    task = asyncio.create_task(bot.connect())
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        shard0, shard1 = await fd4.wait_for_shards(2, 5)
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        assert [bot.get_guild(g.id).shard_id for g in fd4.guilds] == [0, 1, 0, 1]
        for shard_id, session in enumerate((shard0, shard1)):
            (ready,) = events(session, "READY")
            assert ready["shard"] == [shard_id, 2]
            owned = [str(g.id) for g in fd4.guilds[shard_id::2]]
            assert [g["id"] for g in ready["guilds"]] == owned
            assert [g["id"] for g in events(session, "GUILD_CREATE")] == owned
        guild = fd4.guilds[1]
        inter = await fd4.invoke("hello", {"name": "one"}, channel_id=guild.channel_id)
        assert inter.payload["member"]["user"]["id"] == str(guild.users.alice.id)
        response = await fd4.wait_for_response(inter)
        assert response.content == "Hello one" and response.guild_id == guild.id
        assert [e["id"] for e in events(shard1, "INTERACTION_CREATE")] == [str(inter.id)]
        assert events(shard0, "INTERACTION_CREATE") == []
        assert [e["id"] for e in events(shard1, "MESSAGE_CREATE")] == [str(response.id)]
        assert events(shard0, "MESSAGE_CREATE") == []
        dm = await fd4.invoke(
            "hello", {"name": "dm"}, channel_id=fd4.dm_channel_id(guild.users.bob.id)
        )
        await fd4.wait_for_response(dm)
        assert [e["id"] for e in events(shard0, "INTERACTION_CREATE")] == [str(dm.id)]
        await fd4.disconnect_all()
        resumed = await fd4.wait_for_shards(2, 5)
        assert resumed == [shard0, shard1] and fd4.gateway.resume_count == 2
        again = await fd4.invoke("hello", {"name": "two"}, channel_id=fd4.guilds[3].channel_id)
        assert (await fd4.wait_for_response(again)).content == "Hello two"
        assert str(again.id) in [e["id"] for e in events(shard1, "INTERACTION_CREATE")]
    finally:
        await bot.close()
        await task


async def test_an_unsharded_client_gets_every_guild_and_reaches_each_over_rest(
    fd4: FakeDiscord,
) -> None:
    bot = TinyBot()
    await bot.login(fd4.token)
    task = asyncio.create_task(bot.connect())
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        assert sorted(g.id for g in bot.guilds) == sorted(g.id for g in fd4.guilds)
        third = fd4.guilds[2]
        member = await bot.get_guild(third.id).fetch_member(third.users.bob.id)
        assert member.name == "bob" and member.id != fd4.users.bob.id
        sent = await bot.get_channel(third.other_channel_id).send("hi")
        assert fd4.messages(third.other_channel_id)[0].guild_id == third.id == sent.guild.id
        updated = asyncio.create_task(bot.wait_for("guild_update"))
        await fd4.set_upload_limit(50 * 1024 * 1024, guild_id=third.id)
        _, after = await asyncio.wait_for(updated, 5)
        assert after.id == third.id and after.filesize_limit == 50 * 1024 * 1024
        posted = await fd4.post_message("look", channel_id=third.channel_id)
        assert posted.author_id == third.users.alice.id
        inter = await fd4.invoke_message_command("Describe", posted)
        assert (await fd4.wait_for_response(inter)).content == "alice | 'look'"
        assert inter.guild_id == third.id
    finally:
        await bot.close()
        await task


async def test_an_identify_with_an_impossible_shard_is_closed_4010(fd4: FakeDiscord) -> None:
    identify = {"op": 2, "d": {"token": fd4.token, "intents": 1, "shard": [2, 2]}}
    async with aiohttp.ClientSession() as http, http.ws_connect(fd4.gateway_url) as ws:
        assert (await ws.receive_json())["op"] == 10
        await ws.send_str(json.dumps(identify))
        await ws.receive()
        assert ws.close_code == 4010
    assert fd4.sessions == []


SHARD_PROCESS = """
import os, discord
from bot.discord_endpoints import point_discord_at

point_discord_at(os.environ["DISCORD_API_BASE_URL"], os.environ["DISCORD_GATEWAY_URL"])
SHARD = int(os.environ["SHARD_ID"])

class Client(discord.AutoShardedClient):
    async def on_ready(self):
        channel = self.get_channel(int(os.environ["CHANNEL_ID"]))
        names = sorted(guild.name for guild in self.guilds)
        await channel.send(f"shard {SHARD} ready with {names}")

    async def on_interaction(self, interaction):
        await interaction.response.send_message(f"shard {interaction.guild.shard_id} of {SHARD}")
        if interaction.data["name"] == "stop":
            await self.close()

Client(
    intents=discord.Intents.default(), guild_ready_timeout=0.1, shard_ids=[SHARD], shard_count=2
).run(os.environ["DISCORD_TOKEN"], log_handler=None)
"""


async def test_two_processes_with_a_shard_each_see_every_guild(fd4: FakeDiscord) -> None:
    processes = []
    for shard_id in (0, 1):
        env = {
            **os.environ,
            "DISCORD_API_BASE_URL": fd4.api_base,
            "DISCORD_GATEWAY_URL": fd4.gateway_url,
            "DISCORD_TOKEN": fd4.token,
            "SHARD_ID": str(shard_id),
            "CHANNEL_ID": str(fd4.guilds[shard_id].channel_id),
        }
        processes.append(
            await asyncio.create_subprocess_exec(sys.executable, "-c", SHARD_PROCESS, env=env)
        )
    try:
        sessions = await fd4.wait_for_shards(2, 30)
        assert [s.shard for s in sessions] == [(0, 2), (1, 2)]
        for shard_id in (0, 1):
            names = sorted(g.name for g in fd4.guilds[shard_id::2])
            ready = await fd4.wait_for_message(
                lambda m, k=shard_id: m.content.startswith(f"shard {k}"), 30
            )
            assert ready.content == f"shard {shard_id} ready with {names}"
        for k, guild in enumerate(fd4.guilds):
            inter = await fd4.invoke("stop" if k >= 2 else "ping", channel_id=guild.channel_id)
            assert (await fd4.wait_for_response(inter)).content == f"shard {k % 2} of {k % 2}"
        assert [await asyncio.wait_for(p.wait(), 30) for p in processes] == [0, 0]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
