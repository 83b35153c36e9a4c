"""The fake Discord's REST behaviour: messages, nonces, pings, limits, errors, tokens."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.mentions import compute_pings
from tests.fakediscord.tinybot import PNG, TinyBot

# channel messages


async def test_enforce_nonce_returns_the_message_already_created(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    channel = bot.get_partial_messageable(fd.channel_id)
    first = await channel.send("result", nonce="job-42")
    second = await channel.send("result", nonce="job-42")
    other_channel = await bot.get_partial_messageable(fd.other_channel_id).send(
        "result", nonce="job-42"
    )
    assert first.id == second.id != other_channel.id
    assert [m.id for m in fd.messages()] == [first.id]
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send("x", nonce="n" * 26)
    assert raised.value.code == 50035


async def test_edit_fetch_and_delete_a_message(fd: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(fd.channel_id)
    sent = await channel.send("v1", file=discord.File(io.BytesIO(PNG), "a.png"))
    await sent.edit(
        content="v2", attachments=[*sent.attachments, discord.File(io.BytesIO(b"t"), "b.txt")]
    )
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "v2" and [a.filename for a in fetched.attachments] == [
        "a.png",
        "b.txt",
    ]
    assert fd.messages()[0].edits == 1
    await fetched.delete()
    assert fd.messages() == []
    with pytest.raises(discord.NotFound) as raised:
        await channel.fetch_message(sent.id)
    assert raised.value.code == 10008


async def test_channel_errors_raise_not_found_and_forbidden(fd: FakeDiscord, bot: TinyBot) -> None:
    deleted = asyncio.create_task(bot.wait_for("guild_channel_delete"))
    await fd.delete_channel(fd.other_channel_id)
    await asyncio.wait_for(deleted, 5)
    assert bot.get_channel(fd.other_channel_id) is None
    with pytest.raises(discord.NotFound) as missing:
        await bot.get_partial_messageable(fd.other_channel_id).send("x")
    assert missing.value.code == 10003
    updated = asyncio.create_task(bot.wait_for("guild_channel_update"))
    await fd.forbid_channel(fd.channel_id)
    await asyncio.wait_for(updated, 5)
    channel = bot.get_channel(fd.channel_id)
    assert not channel.permissions_for(channel.guild.me).send_messages
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50013
    await fd.forbid_channel(fd.channel_id, missing_access=True)
    with pytest.raises(discord.Forbidden) as no_access:
        await bot.fetch_channel(fd.channel_id)
    assert no_access.value.code == 50001


async def test_direct_messages_and_blocked_dms(fd: FakeDiscord, bot: TinyBot) -> None:
    alice = await bot.fetch_user(fd.users.alice.id)
    await alice.send("your video is ready")
    assert [m.content for m in fd.dm_messages(fd.users.alice.id)] == ["your video is ready"]
    fd.block_dms(fd.users.bob.id)
    bob = await bot.fetch_user(fd.users.bob.id)
    with pytest.raises(discord.Forbidden) as raised:
        await bob.send("hello")
    assert raised.value.code == 50007
    assert fd.dm_messages(fd.users.bob.id) == []
    from_dm = await fd.invoke(
        "hello", {"name": "dm"}, channel_id=fd.dm_channel_id(fd.users.alice.id)
    )
    answer = await fd.wait_for_response(from_dm)
    assert answer.guild_id is None and answer in fd.dm_messages(fd.users.alice.id)


async def test_allowed_mentions_decide_who_is_pinged(fd: FakeDiscord, bot: TinyBot) -> None:
    alice = fd.users.alice
    content = f"@everyone <@&{fd.roles.artists}> {alice.mention}"
    channel = bot.get_partial_messageable(fd.channel_id)
    await channel.send(content, allowed_mentions=discord.AllowedMentions.none())
    await channel.send(
        content, allowed_mentions=discord.AllowedMentions(users=[discord.Object(alice.id)])
    )
    nobody, only_alice = fd.messages()
    assert nobody.pinged_nobody
    assert only_alice.pinged_users == {alice.id} and not only_alice.pinged_roles
    assert not only_alice.pinged_everyone
    assert only_alice.raw["mentions"][0]["id"] == str(alice.id)
    async with fd.client_session() as session:
        await session.post(f"channels/{fd.channel_id}/messages", json={"content": content})
    everything = fd.messages()[-1]
    assert everything.pinged_everyone and everything.pinged_roles == {fd.roles.artists}


@pytest.mark.parametrize(
    ("allowed", "users", "roles", "everyone"),
    [
        (None, {1, 2}, {9}, True),
        ({"parse": []}, set(), set(), False),
        ({"parse": ["users"]}, {1, 2}, set(), False),
        ({"parse": ["everyone"], "roles": ["9"]}, set(), {9}, True),
        ({"parse": [], "users": ["2", "3"]}, {2}, set(), False),
    ],
)
def test_ping_rules(allowed: dict | None, users: set[int], roles: set[int], everyone: bool) -> None:
    pings = compute_pings("@here <@1> <@!2> <@&9>", allowed)
    assert (pings.users, pings.roles, pings.everyone) == (users, roles, everyone)


async def test_discord_limits_are_enforced(fd: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_partial_messageable(fd.channel_id)
    with pytest.raises(discord.HTTPException, match="In content") as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    async with (
        fd.client_session() as session,
        session.post(f"channels/{fd.channel_id}/messages", json={}) as empty,
    ):
        assert empty.status == 400


# interaction timing and tokens


async def test_a_late_ack_gets_unknown_interaction(fd: FakeDiscord, bot: TinyBot) -> None:
    fd.ack_deadline = 0.0
    inter = await fd.invoke("hello", {"name": "late"})
    ack = await fd.wait_for_ack(inter)
    assert ack.error_code == 10062 and not ack.accepted
    assert fd.interaction_responses(inter) == []


async def test_answering_twice_and_dead_tokens(fd: FakeDiscord, bot: TinyBot) -> None:
    inter = await fd.invoke("hello", {"name": "once"})
    await fd.wait_for_response(inter)
    callback = f"interactions/{inter.id}/{inter.token}/callback"
    original = f"webhooks/{fd.application_id}/{inter.token}/messages/@original"
    async with fd.client_session(auth=False) as session:
        async with session.post(callback, json={"type": 4, "data": {"content": "again"}}) as twice:
            assert twice.status == 400 and (await twice.json())["code"] == 40060
        async with session.patch(original, json={"content": "edited"}) as edit:
            assert edit.status == 200 and (await edit.json())["content"] == "edited"
        fd.expire_interaction(inter)
        async with session.patch(original, json={"content": "too late"}) as dead:
            assert dead.status == 401 and (await dead.json())["code"] == 50027
    assert fd.interaction_responses(inter)[0].content == "edited"
    assert [c.error_code for c in fd.callbacks(inter)] == [None, 40060]


# the REST surface


async def test_rest_answers_json_and_records_unknown_routes(fd: FakeDiscord) -> None:
    async with fd.client_session(auth=False) as anonymous, anonymous.get("users/@me") as denied:
        assert denied.status == 401
    async with fd.client_session() as session:
        async with session.get("gateway/bot") as gateway:
            assert gateway.headers["Content-Type"] == "application/json"
            assert (await gateway.json())["url"] == fd.gateway_url
        async with session.get("channels/1/pins") as unknown:
            assert unknown.status == 404
            assert await unknown.json() == {"message": "404: Not Found", "code": 0}
    assert [(c.method, c.path) for c in fd.unhandled_calls] == [("GET", "/channels/1/pins")]
