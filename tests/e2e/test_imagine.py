"""/imagine end to end: the real bot, the fake Discord, the Miraflow simulator."""

from __future__ import annotations

from bot.jobs.models import JobState

CREATE = ("POST", "/api/image/generate")


def result_messages(fd, channel_id=None):
    return [m for m in fd.messages(channel_id or fd.channel_id) if m.files or "ready" in m.content]


async def test_imagine_is_acknowledged_at_once_and_posted_exactly_once(fd, sim, bot):
    alice = fd.users.alice
    inter = await fd.invoke("imagine", {"prompt": "a lighthouse at dusk", "seed": 42}, user=alice)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.at - inter.sent_at < 3.0

    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    assert result.files[0].data.startswith(b"\x89PNG")
    assert result.pinged_users == {alice.id}
    assert not result.pinged_roles and not result.pinged_everyone
    embed = result.embeds[0]
    assert "a lighthouse at dusk" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Seed"] == "42"
    assert {"mf:reroll:1", f"mf:delete:1:{alice.id}"} <= set(result.custom_ids())

    confirmation = await fd.wait_for_response(inter, timeout=5)
    assert confirmation.ephemeral and "Started job #1" in confirmation.content
    assert sim.count(*CREATE) == 1
    job = bot.store.get(1)
    assert job.state is JobState.DELIVERED and job.result_message_id == result.id
    assert len(result_messages(fd)) == 1


async def test_mentions_in_a_prompt_ping_nobody(fd, sim, bot):
    prompt = f"@everyone @here <@&{fd.roles.artists}> <@{fd.users.bob.id}> a parade"
    inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
    await fd.wait_for_ack(inter, timeout=3)
    await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    for message in fd.all_messages():
        assert not message.pinged_everyone
        assert not message.pinged_roles
        assert message.pinged_users <= {fd.users.alice.id}
