"""/settings end to end: the real bot, the fake Discord, the simulator, and a restart."""

from __future__ import annotations

import discord
import pytest

from bot.jobs.models import JobState
from bot.jobs.store import JobStore
from bot.jobs.store.guild_settings import StoredGuild
from bot.words import MAX_ENTRIES
from cogs.settings import RESET_DONE
from tests.e2e.harness import running_bot, wait_until
from tests.fakediscord import CommandHidden

CREATE = ("POST", "/api/image/generate")


async def settings(fd, subcommand: str, user=None, **options):
    """Run `/settings <subcommand>` as the owner (or `user`); its ephemeral answer."""
    inter = await fd.invoke("settings", options, subcommand=subcommand, user=user or fd.users.owner)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.accepted
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral, answer.content
    return answer


def shown(answer) -> str:
    """An embed's description and fields as one text."""
    embed = answer.embeds[0]
    fields = "\n".join(f"{f['name']}: {f['value']}" for f in embed.get("fields", []))
    return f"{embed['description']}\n{fields}"


async def imagine(fd, user, prompt: str, **options):
    inter = await fd.invoke("imagine", {"prompt": prompt, **options}, user=user)
    return await fd.wait_for_response(inter, timeout=10)


async def log_line(fd, words: str):
    return await fd.wait_for_message(
        lambda m: m.channel_id == fd.other_channel_id and words in m.content, timeout=5
    )


async def test_show_tells_each_value_and_where_it_comes_from(fd, bot):
    before = await settings(fd, "show")
    text = shown(before)
    assert "Active jobs per member:** 3 (default)" in text
    assert "Jobs per member per day:** 25 (default)" in text
    assert "whole server:** no cap (default)" in text
    assert "log:** off (default)" in text
    assert "in the channel (default)" in text
    assert "Banned words (0): none" in text and "Styles (0): none" in text

    await settings(fd, "limits", active=2, server_daily=40)
    text = shown(await settings(fd, "show"))
    assert "Active jobs per member:** 2 (set here)" in text
    assert "Jobs per member per day:** 25 (default)" in text
    assert "whole server:** 40 (set here)" in text


async def test_limits_apply_at_once_and_survive_a_restart(fd, sim, db_path):
    sim.config.image_seconds = (400.0, 400.0)  # still working when the next ones come
    alice, bob = fd.users.alice, fd.users.bob
    async with running_bot(fd, sim, db_path) as bot:
        answer = await settings(fd, "limits", active=1, daily=5, server_daily=2)
        assert "active 1, daily 5, server daily 2" in answer.content
        assert "Started job" in (await imagine(fd, alice, "one lighthouse")).content
        refused = await imagine(fd, alice, "two lighthouses")
        assert refused.ephemeral and "the limit is 1" in refused.content
        assert sim.count(*CREATE) == 1

    async with running_bot(fd, sim, db_path) as bot:
        text = shown(await settings(fd, "show"))
        assert "Active jobs per member:** 1 (set here)" in text
        assert "whole server:** 2 (set here)" in text
        assert "limit is 1" in (await imagine(fd, alice, "three lighthouses")).content
        assert "Started job" in (await imagine(fd, bob, "a harbour")).content
        # Two jobs on the server today: the server-wide cap refuses a third, whoever asks.
        await settings(fd, "limits", active=5)
        capped = await imagine(fd, bob, "a second harbour")
        assert "This server has reached its limit of 2 jobs a day" in capped.content
        assert sim.count(*CREATE) == 2
        assert len(bot.store.recent_jobs(bob.id)) == 1

        await settings(fd, "limits", server_daily=0)  # 0: no cap
        assert "Started job" in (await imagine(fd, bob, "a third harbour")).content


async def test_banned_words_refuse_every_kind_of_request_and_nothing_is_sent(fd, sim, bot):
    alice = fd.users.alice
    await settings(fd, "log", channel=fd.other_channel_id)
    answer = await settings(fd, "words", add="  Dragon  ")
    assert "“Dragon” are now refused (1 of 500" in answer.content
    await settings(fd, "words", add="red door")

    refused = await imagine(fd, alice, "a sleepy DRAGON by the sea")
    assert refused.ephemeral and "“Dragon”" in refused.content
    hidden = await fd.invoke("imagine", {"prompt": "dr\u200bagon"}, user=alice)
    ack = await fd.wait_for_ack(hidden, timeout=3)
    # Refused before acknowledging: the refusal itself is the answer (no "thinking" defer).
    assert ack.type == 4 and ack.data["flags"] == 64 and "“Dragon”" in ack.data["content"]
    fullwidth = "\uff24\uff32\uff21\uff27\uff2f\uff2e"  # DRAGON in full-width letters
    negative = await imagine(fd, alice, "a castle", negative_prompt=f"no {fullwidth}")
    assert "“Dragon”" in negative.content

    edit = await fd.invoke(
        "edit",
        {"prompt": "paint a red  door"},
        user=alice,
        attachments={"image": ("p.png", PNG, "image/png")},
    )
    assert "“red door”" in (await fd.wait_for_response(edit, timeout=5)).content
    speak = await fd.invoke("speak", {"text": "hello", "name": "my dragon video"}, user=alice)
    assert "“Dragon”" in (await fd.wait_for_response(speak, timeout=5)).content

    assert sim.count("POST", "/api/image") == 0
    assert sim.count("POST", "/api/media") == 0
    assert sim.count("POST", "/api/video/create") == 0
    assert bot.store.recent_jobs(alice.id) == []
    line = await log_line(fd, "was refused /speak")
    assert "banned word “Dragon”" in line.content and line.pinged_nobody

    # Whole words only: these are not refused.
    assert "Started job" in (await imagine(fd, alice, "dragonfly over a red doormat")).content
    await settings(fd, "words", remove="DRAGON")
    assert "Started job" in (await imagine(fd, alice, "a dragon")).content


async def test_a_reroll_of_a_request_banned_since_is_refused(fd, sim, bot):
    alice = fd.users.alice
    assert "Started job" in (await imagine(fd, alice, "a kraken")).content
    result = await fd.wait_for_message(lambda m: m.files, timeout=15)
    await settings(fd, "words", add="kraken")

    click = await fd.click(result, next(i for i in result.custom_ids() if "reroll" in i))
    answer = await fd.wait_for_response(click, timeout=5)
    assert answer.ephemeral and "“kraken”" in answer.content
    assert sim.count(*CREATE) == 1
    assert len(bot.store.recent_jobs(alice.id)) == 1


async def test_the_log_records_jobs_refusals_and_changes_and_pings_nobody(fd, sim, bot):
    alice = fd.users.alice
    answer = await settings(fd, "log", channel=fd.other_channel_id)
    assert f"<#{fd.other_channel_id}>" in answer.content
    change = await log_line(fd, "sent the moderators' log to")
    assert change.content.startswith(f"⚙️ <@{fd.users.owner.id}> (owner)")

    prompt = "@everyone look at <@&123> and **me** [here](https://evil.example)"
    started = await imagine(fd, alice, prompt)
    status = await fd.wait_for_message(
        lambda m: m.channel_id == fd.channel_id and "Job #" in m.content, timeout=5
    )
    line = await log_line(fd, "started /imagine")
    assert line.content.startswith(f"🎨 <@{alice.id}> (alice) started /imagine (job #")
    assert f"/{fd.channel_id}/{status.id}" in line.content
    assert "\\*\\*me\\*\\*" in line.content and "@\u200beveryone" in line.content
    assert line.pinged_nobody and line.allowed_mentions == {"parse": []}
    assert "Started job" in started.content

    await settings(fd, "words", add="moon")
    await imagine(fd, alice, "the moon")
    refusal = await log_line(fd, "was refused /imagine")
    assert "“moon”" in refusal.content and refusal.pinged_nobody

    await settings(fd, "log")
    off = await log_line(fd, "turned the moderators' log off")
    assert off.pinged_nobody
    before = len(fd.messages(fd.other_channel_id))
    await imagine(fd, alice, "a quiet day")
    await wait_until(lambda: sim.count(*CREATE) == 2, timeout=5)
    assert len(fd.messages(fd.other_channel_id)) == before


async def test_a_log_channel_the_bot_cannot_post_in_is_refused(fd, bot):
    await fd.forbid_channel(fd.other_channel_id)
    answer = await settings(fd, "log", channel=fd.other_channel_id)
    assert "missing the Send Messages permission" in answer.content
    assert bot.guild_settings.log_channel(fd.guild_id) is None

    await fd.forbid_channel(fd.other_channel_id, missing_access=True)
    answer = await settings(fd, "log", channel=fd.other_channel_id)
    assert "View Channel and Send Messages" in answer.content
    assert bot.guild_settings.stored(fd.guild_id) == StoredGuild(fd.guild_id)


async def test_a_full_word_list_refuses_one_more_and_keeps_what_it_has(fd, sim, db_path):
    with JobStore(db_path) as store:
        words = store.guild_settings
        for n in range(MAX_ENTRIES):
            words.add_word(fd.guild_id, f"word{n}", f"word{n}", limit=MAX_ENTRIES)
    async with running_bot(fd, sim, db_path) as bot:
        answer = await settings(fd, "words", add="one more")
        assert f"The list is full ({MAX_ENTRIES} words" in answer.content
        assert len(bot.guild_settings.words(fd.guild_id)) == MAX_ENTRIES
        assert "word499" in (await imagine(fd, fd.users.alice, "WORD499")).content
        text = shown(await settings(fd, "show"))
        assert f"Banned words ({MAX_ENTRIES})" in text and "more" in text
        assert len(text) < 6000  # within one embed


async def test_delivery_by_dm_sends_status_and_result_to_the_requester(fd, sim, bot):
    alice = fd.users.alice
    answer = await settings(fd, "delivery", mode="dm")
    assert "DMs" in answer.content

    confirmation = await imagine(fd, alice, "a paper boat")
    assert "I'll send the result to your DMs" in confirmation.content
    assert "/channels/@me/" in confirmation.content
    result = await fd.wait_for_message(
        lambda m: m.files and m.channel_id == fd.dm_channel_id(alice.id), timeout=15
    )
    status = next(m for m in fd.dm_messages(alice.id) if "Job #" in m.content)
    await fd.wait_for_message(lambda m: m.id == status.id and "done" in m.content, timeout=5)
    assert [m for m in fd.messages(fd.channel_id) if not m.ephemeral] == []
    job = bot.store.recent_jobs(alice.id, 1)[0]
    assert job.state is JobState.DELIVERED and job.result_message_id == result.id

    listing = await fd.wait_for_response(
        await fd.invoke("jobs", {}, subcommand="list", user=alice), timeout=5
    )
    assert f"/channels/@me/{result.channel_id}/{result.id}" in listing.embeds[0]["description"]

    # A Re-roll pressed in the DM stays in the DMs, under the server's settings.
    click = await fd.click(result, next(i for i in result.custom_ids() if "reroll" in i))
    assert "your DMs" in (await fd.wait_for_response(click, timeout=5)).content
    rerolled = bot.store.recent_jobs(alice.id, 1)[0]
    assert rerolled.guild_id == fd.guild_id
    assert rerolled.channel_id == fd.dm_channel_id(alice.id)


async def test_delivery_by_dm_falls_back_to_the_channel_when_dms_are_closed(fd, sim, bot):
    bob = fd.users.bob
    await settings(fd, "delivery", mode="dm")
    fd.block_dms(bob.id)
    confirmation = await imagine(fd, bob, "a lantern")
    assert "I can't send you DMs" in confirmation.content
    result = await fd.wait_for_message(
        lambda m: m.files and m.channel_id == fd.channel_id, timeout=15
    )
    assert result.pinged_users == {bob.id}

    await settings(fd, "delivery", mode="channel")
    await imagine(fd, bob, "a second lantern")
    job = bot.store.recent_jobs(bob.id, 1)[0]
    assert job.channel_id == fd.channel_id


async def test_a_dm_job_whose_dms_close_later_ends_in_the_channel_it_was_asked_in(fd, sim, bot):
    alice, bob = fd.users.alice, fd.users.bob
    sim.config.image_seconds = (400.0, 400.0)  # working for a while
    await settings(fd, "delivery", mode="dm")
    await imagine(fd, alice, "a slow comet")
    await imagine(fd, bob, "a failing comet")
    fd.block_dms(alice.id)
    fd.block_dms(bob.id)
    first, second = bot.store.recent_jobs(alice.id, 1)[0], bot.store.recent_jobs(bob.id, 1)[0]
    assert first.channel_id == fd.dm_channel_id(alice.id)

    sim.complete_now(first.miraflow_job_id)
    result = await fd.wait_for_message(lambda m: m.files, timeout=15)
    assert result.channel_id == fd.channel_id and result.pinged_users == {alice.id}
    sim.fail_now(second.miraflow_job_id)
    notice = await fd.wait_for_message(
        lambda m: m.channel_id == fd.channel_id and m.pinged_users == {bob.id}, timeout=15
    )
    assert f"job #{second.id}" in notice.content.lower()


async def test_styles_are_added_replaced_listed_and_removed(fd, bot):
    added = await settings(fd, "style", name="Watercolor", text="soft watercolor, paper grain")
    assert "Added the style **watercolor**" in added.content
    replaced = await settings(fd, "style", name="watercolor", text="wet paint", negative="ink")
    assert "Replaced" in replaced.content
    await settings(fd, "style", name="neon-noir", negative="daylight")

    text = shown(await settings(fd, "show"))
    assert "Styles (2)" in text
    assert "**neon-noir**: no text · not: daylight" in text
    assert "**watercolor**: wet paint · not: ink" in text
    style = bot.guild_settings.style(fd.guild_id, "WaterColor")
    assert style is not None and (style.text, style.negative) == ("wet paint", "ink")

    removed = await settings(fd, "style", name="watercolor", remove=True)
    assert "Removed the style **watercolor**" in removed.content
    assert bot.guild_settings.style(fd.guild_id, "watercolor") is None
    missing = await settings(fd, "style", name="watercolor", remove=True)
    assert "There is no style named `watercolor`" in missing.content


async def test_reset_puts_the_server_back_to_the_defaults(fd, sim, db_path):
    async with running_bot(fd, sim, db_path) as bot:
        await settings(fd, "log", channel=fd.other_channel_id)
        await settings(fd, "limits", active=1)
        await settings(fd, "words", add="moon")
        await settings(fd, "delivery", mode="dm")
        await settings(fd, "style", name="ink", text="ink drawing")
        answer = await settings(fd, "reset")
        assert answer.content == RESET_DONE  # no key of its own: nothing about one
        await log_line(fd, "reset every setting")
        assert bot.guild_settings.stored(fd.guild_id) == StoredGuild(fd.guild_id)
    async with running_bot(fd, sim, db_path) as bot:
        assert bot.guild_settings.stored(fd.guild_id) == StoredGuild(fd.guild_id)
        assert "Started job" in (await imagine(fd, fd.users.alice, "the moon")).content


async def test_members_without_manage_server_cannot_see_or_run_settings(fd, bot):
    synced = {c["name"]: c for sync in fd.command_syncs for c in sync.payload}
    needed = discord.Permissions(int(synced["settings"]["default_member_permissions"]))
    assert needed == discord.Permissions(manage_guild=True)
    assert synced["settings"]["contexts"] == [0]  # guild only
    with pytest.raises(CommandHidden):
        await fd.invoke("settings", {"active": 1}, subcommand="limits", user=fd.users.bob)

    # An admin granted bob the command in Integrations: the bot still asks for Manage Server.
    fd.allow_command("settings", fd.users.bob.id)
    for subcommand, options in (("limits", {"active": 1}), ("reset", {}), ("show", {})):
        answer = await settings(fd, subcommand, user=fd.users.bob, **options)
        assert "Only members with the Manage Server permission" in answer.content
    assert bot.guild_settings.stored(fd.guild_id) == StoredGuild(fd.guild_id)


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


KEY_SECRET = "a-settings-secret-of-at-least-32-characters"
SERVER_KEY = "mf_server_own_key_0123456789"


async def set_own_key(fd) -> None:
    modal = await fd.wait_for_modal(
        await fd.invoke("settings", {}, subcommand="apikey", user=fd.users.owner)
    )
    submit = await fd.submit_modal(modal, {"apikey:key": SERVER_KEY})
    assert "Saved" in (await fd.wait_for_response(submit, timeout=10)).content


async def set_then_remove_own_key(fd) -> None:
    await set_own_key(fd)
    await settings(fd, "apikey", action="remove")


# Each settings change, and the line it leaves in the moderators' log.
LOGGED_CHANGES = [
    (lambda fd: settings(fd, "limits", active=2, daily=9), "set the limits: active 2, daily 9"),
    (lambda fd: settings(fd, "words", add="Comet"), "banned the word “Comet”"),
    (lambda fd: settings(fd, "delivery", mode="dm"), "set the delivery to “dm”"),
    (lambda fd: settings(fd, "style", name="ink", text="ink wash"), "the style “ink”"),
    (set_own_key, "set this server's own Miraflow key"),
    (set_then_remove_own_key, "removed this server's own Miraflow key"),
]


@pytest.mark.parametrize(
    ("change", "logged"), LOGGED_CHANGES, ids=[line for _, line in LOGGED_CHANGES]
)
async def test_every_settings_change_is_logged_without_a_ping(fd, sim, db_path, change, logged):
    sim.config.other_api_keys = (SERVER_KEY,)
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=KEY_SECRET):
        await settings(fd, "log", channel=fd.other_channel_id)
        await change(fd)
        line = await log_line(fd, logged)
        assert line.content.startswith(f"⚙️ <@{fd.users.owner.id}> (")
        assert line.pinged_nobody
        assert SERVER_KEY not in line.content
