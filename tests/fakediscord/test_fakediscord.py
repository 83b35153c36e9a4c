"""The fake Discord driven by the real discord.py client: connecting, app commands, the gateway.

These tests double as the harness's how-to; see tinybot.py for the bot and conftest.py for
how a client is connected.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import logging
import os
import sys
import time
import warnings

import aiohttp
import discord
import pytest
import yarl

from bot.discord_endpoints import point_discord_at
from tests.fakediscord import CommandHidden, FakeDiscord
from tests.fakediscord.tinybot import PNG, TinyBot

# connecting


async def test_a_client_connects_fast_with_a_full_guild_cache(fd: FakeDiscord) -> None:
    started = time.monotonic()
    client = TinyBot()
    await client.login(fd.token)
    task = asyncio.create_task(client.connect())
    await asyncio.wait_for(client.wait_until_ready(), 5)
    elapsed = time.monotonic() - started
    try:
        assert elapsed < 1.0
        assert fd.connected.is_set()
        assert client.user is not None and client.user.id == fd.bot_user.id
        assert client.application_id == fd.application_id
        channel = client.get_channel(fd.channel_id)
        assert isinstance(channel, discord.TextChannel)
        guild = client.get_guild(fd.guild_id)
        assert guild is not None and guild.me is not None and guild.member_count == 4
        assert guild.owner_id == fd.users.owner.id
        assert channel.permissions_for(guild.me).send_messages
        assert [call.path for call in fd.rest_calls] == ["/users/@me", "/oauth2/applications/@me"]
        assert fd.rest_calls[0].headers["Authorization"] == f"Bot {fd.token}"
        assert fd.unhandled_calls == []
    finally:
        await client.close()
        await task
    assert not fd.connected.is_set()
    assert not fd.sessions[0].connected


async def test_a_wrong_token_fails_login(fd: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fd.rest_calls[-1].status == 401


async def test_point_discord_at_accepts_an_origin_and_restores_defaults(fd: FakeDiscord) -> None:
    def endpoints() -> tuple[str, str, yarl.URL]:
        gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        return discord.http.Route.BASE, discord.asset.Asset.BASE, gateway

    point_discord_at(fd.origin, fd.gateway_url)
    assert endpoints() == (fd.api_base, f"{fd.origin}/cdn", yarl.URL(fd.gateway_url))
    point_discord_at(None, None)
    real = ("https://discord.com/api/v10", "https://cdn.discordapp.com")
    assert endpoints() == (*real, yarl.URL("wss://gateway.discord.gg/"))
    fd.point_discord_py()
    assert endpoints()[0] == fd.api_base


# slash commands


async def test_an_immediate_answer_is_acknowledged_with_its_latency(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    inter = await fd.invoke("hello", {"name": "Ann"}, user=fd.users.bob)
    ack = await fd.wait_for_ack(inter, timeout=5)
    assert ack.type == 4 and ack.accepted
    assert 0 <= ack.at - inter.sent_at < 1.0
    response = await fd.wait_for_response(inter)
    assert response.content == "Hello Ann" and not response.ephemeral
    assert response.source == "response"
    assert fd.messages() == [response]
    assert response.raw["interaction_metadata"]["user"]["id"] == str(fd.users.bob.id)


async def test_defer_followup_and_a_channel_message_with_file_embed_and_button(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    inter = await fd.invoke("render", {"prompt": "a cat"}, user=fd.users.alice)
    ack = await fd.wait_for_ack(inter)
    assert ack.type == 5 and ack.data == {"flags": 64}
    result = await fd.wait_for_message(lambda m: m.source == "channel" and m.files)
    followup = await fd.wait_for_response(inter)
    # The followup asked for a public message but takes the ephemeral defer's visibility.
    assert followup.content == "queued" and followup.ephemeral
    assert fd.interaction_responses(inter) == [followup]
    assert result.files[0].name == "result.png" and result.files[0].data == PNG
    assert result.files[0].content_type == "image/png"
    assert result.embeds[0]["title"] == "Result" and result.embeds[0]["description"] == "a cat"
    assert result.custom_ids() == ["counter:add"]
    assert result.nonce == f"job-{inter.id}"[:25]
    assert result.pinged_users == {fd.users.alice.id} and not result.pinged_roles
    assert not result.pinged_everyone
    upload = next(call for call in fd.rest_calls if call.files)
    assert upload.path == f"/channels/{fd.channel_id}/messages"
    assert upload.files[0].data == PNG and "payload_json" not in upload.json
    async with aiohttp.ClientSession() as session, session.get(result.files[0].url) as served:
        assert await served.read() == PNG


async def test_autocomplete_returns_the_bots_choices(fd: FakeDiscord, bot: TinyBot) -> None:
    choices = await fd.autocomplete("speak", {"text": "hi", "avatar": "ann"}, focused="avatar")
    assert [choice["value"] for choice in choices] == ["anna", "annabel"]


async def test_an_attachment_option_is_read_over_http(fd: FakeDiscord, bot: TinyBot) -> None:
    inter = await fd.invoke("inspect", attachments={"image": ("cat.png", PNG, "image/png")})
    response = await fd.wait_for_response(inter)
    assert response.content == f"cat.png {len(PNG)} image/png {hashlib.sha256(PNG).hexdigest()}"
    # The answer came as a multipart callback carrying the bytes back.
    ack = fd.callbacks(inter)[0]
    assert ack.files[0].data == PNG and response.files[0].name == "copy.png"


async def test_a_button_click_edits_the_message(fd: FakeDiscord, bot: TinyBot) -> None:
    inter = await fd.invoke("counter")
    message = await fd.wait_for_response(inter)
    click = await fd.click(message, "counter:add", user=fd.users.bob)
    ack = await fd.wait_for_ack(click)
    assert ack.type == 7
    edited = await fd.wait_for_response(click, lambda m: m.content.startswith("count: 1"))
    assert edited.id == message.id
    assert edited.content == "count: 1 by bob" and edited.edits == 1
    with pytest.raises(ValueError, match="no component"):
        await fd.click(message, "not-there")


async def test_a_subcommand_and_an_original_response_edit(fd: FakeDiscord, bot: TinyBot) -> None:
    listed = await fd.invoke("avatar", {"search": "ann", "page": 2}, subcommand="list")
    response = await fd.wait_for_response(listed)
    assert response.content == "list 'ann' page 2" and response.ephemeral
    assert fd.messages() == [] and fd.messages(include_ephemeral=True) == [response]
    with pytest.raises(discord.NotFound):  # ephemeral messages are not reachable by channel routes
        await bot.get_partial_messageable(fd.channel_id).fetch_message(response.id)
    reset = await fd.invoke("avatar", {"confirm": True}, group="admin", subcommand="reset")
    assert (await fd.wait_for_response(reset)).content == "reset True"
    edited = await fd.invoke("progress")
    final = await fd.wait_for_response(edited, lambda m: m.content == "100%")
    assert final.edits == 1


async def test_tree_sync_is_recorded_and_types_guild_commands(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    guild = discord.Object(fd.guild_id)
    bot.tree.copy_global_to(guild=guild)
    synced = await bot.tree.sync(guild=guild)
    again = await bot.tree.sync(guild=guild)
    assert [c.id for c in synced] == [c.id for c in again]
    assert len(fd.command_syncs) == 2 and fd.command_syncs[0].guild_id == fd.guild_id
    assert "render" in fd.command_syncs[0].names
    inter = await fd.invoke("avatar", {"search": "x"}, subcommand="list")
    data = inter.payload["data"]
    assert data["guild_id"] == str(fd.guild_id)
    assert data["id"] == str(next(c.id for c in synced if c.name == "avatar"))
    await fd.wait_for_response(inter)
    reset = await fd.invoke("avatar", {"confirm": True}, group="admin", subcommand="reset")
    group_option = reset.payload["data"]["options"][0]
    assert group_option["type"] == 2 and group_option["options"][0]["type"] == 1
    assert group_option["options"][0]["options"] == [{"name": "confirm", "type": 5, "value": True}]
    assert (await fd.wait_for_response(reset)).content == "reset True"
    with pytest.raises(ValueError, match="no option"):
        await fd.invoke("hello", {"nmae": "typo"})


async def test_the_upload_limit_gives_413_and_reaches_interactions(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    updated = asyncio.create_task(bot.wait_for("guild_update"))
    await fd.set_upload_limit(50 * 1024 * 1024)
    await asyncio.wait_for(updated, 5)
    assert bot.get_guild(fd.guild_id).filesize_limit == 50 * 1024 * 1024
    fd.set_upload_limit(1024)
    channel = bot.get_partial_messageable(fd.channel_id)
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send(file=discord.File(io.BytesIO(b"x" * 2048), "big.bin"))
    assert raised.value.status == 413 and raised.value.code == 40005
    assert fd.messages() == []
    inter = await fd.invoke("limits")
    assert (await fd.wait_for_response(inter)).content == "1024"


# the gateway


async def test_a_dropped_gateway_is_resumed_without_losing_interactions(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    resumed = asyncio.create_task(bot.wait_for("resumed"))
    await fd.disconnect_all()
    await asyncio.wait_for(resumed, 5)
    assert fd.gateway.identify_count == 1 and fd.gateway.resume_count == 1
    inter = await fd.invoke("hello", {"name": "again"})
    assert (await fd.wait_for_response(inter)).content == "Hello again"


SUBPROCESS_BOT = """
import os, discord
from bot.discord_endpoints import point_discord_at

point_discord_at(os.environ["DISCORD_API_BASE_URL"], os.environ["DISCORD_GATEWAY_URL"])

class Client(discord.Client):
    async def on_ready(self):
        await self.get_channel(int(os.environ["CHANNEL_ID"])).send("hello from a subprocess")
        await self.close()

Client(intents=discord.Intents.default(), guild_ready_timeout=0.1).run(
    os.environ["DISCORD_TOKEN"], log_handler=None
)
"""


async def test_a_bot_in_a_subprocess_is_pointed_at_the_fake(fd: FakeDiscord) -> None:
    env = {
        **os.environ,
        "DISCORD_API_BASE_URL": fd.api_base,
        "DISCORD_GATEWAY_URL": fd.gateway_url,
        "DISCORD_TOKEN": fd.token,
        "CHANNEL_ID": str(fd.channel_id),
    }
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SUBPROCESS_BOT, env=env)
    try:
        message = await fd.wait_for_message(lambda m: m.content == "hello from a subprocess", 20)
        assert message.channel_id == fd.channel_id
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_clean_shutdown_leaves_no_session_task_or_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with FakeDiscord() as fake:
            fake.point_discord_py()
            client = TinyBot()
            await client.login(fake.token)
            task = asyncio.create_task(client.connect())
            await fake.wait_for_ready_client(5)
            await asyncio.wait_for(client.wait_until_ready(), 5)
            await client.close()
            await task
        del client
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert "Unclosed" not in caplog.text and "Task was destroyed" not in caplog.text
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


# command permissions


async def test_default_member_permissions_hide_a_command_unless_integrations_allow_it(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    manage_guild = 1 << 5
    command = {
        "name": "admin",
        "description": "for managers",
        "default_member_permissions": str(manage_guild),
        "options": [{"type": 7, "name": "where", "description": "a channel"}],
    }
    async with fd.client_session() as http:
        url = f"/api/v10/applications/{fd.application_id}/guilds/{fd.guild_id}/commands"
        async with http.put(url, json=[command]) as answer:
            assert answer.status == 200
    with pytest.raises(CommandHidden):
        await fd.invoke("admin", {"where": fd.channel_id}, user=fd.users.bob)

    fd.allow_command("admin", fd.users.bob.id)
    inter = await fd.invoke("admin", {"where": fd.other_channel_id}, user=fd.users.bob)
    member = inter.payload["member"]
    assert int(member["permissions"]) & manage_guild == 0
    # A channel option is resolved with the permissions of the member who invoked.
    resolved = inter.payload["data"]["resolved"]["channels"][str(fd.other_channel_id)]
    bob_there = fd.state.guild.permissions(fd.users.bob.id, fd.other_channel_id)
    assert int(resolved["permissions"]) == bob_there
    owner = await fd.invoke("admin", {"where": fd.channel_id}, user=fd.users.owner)
    assert owner.user_id == fd.users.owner.id
