"""The Vary button: an edit of the result picture, same prompt, new seed, after a restart too."""

from __future__ import annotations

from bot.jobs.job_requests import EditRequest
from bot.ui.vary import TOO_LARGE_TO_VARY
from tests.e2e.harness import running_bot

EDIT = ("POST", "/api/image/edit")


async def picture_result(fd, prompt: str, **options):
    inter = await fd.invoke("imagine", {"prompt": prompt, **options}, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    return await fd.wait_for_message(lambda m: bool(m.files), timeout=15)


async def test_vary_edits_the_result_picture_after_a_restart(fd, sim, db_path):
    bob = fd.users.bob
    async with running_bot(fd, sim, db_path) as bot:
        bot.guild_settings.put_style(fd.guild_id, "ink", "ink wash", "colour")
        first = await picture_result(fd, "a red kite", seed=5, style="ink")
        assert "mf:vary:1" in first.custom_ids()
        assert len("mf:vary:1") <= 100

    async with running_bot(fd, sim, db_path) as bot:
        click = await fd.click(first, "mf:vary:1", user=bob)
        confirmation = await fd.wait_for_response(click, timeout=10)
        assert confirmation.ephemeral and "Started job #2" in confirmation.content
        second = await fd.wait_for_message(lambda m: bool(m.files) and m.id != first.id, 15)
        assert second.pinged_users == {bob.id}
        assert "a red kite" in second.embeds[0]["description"]

        varied = bot.store.get(2)
        assert varied.user_id == bob.id
        assert isinstance(varied.request, EditRequest)
        assert varied.request.prompt == "a red kite, ink wash"
        assert varied.request.negative_prompt == "colour"
        assert varied.request.style == "ink" and varied.request.seed != 5
        (media_id,) = varied.request.media_ids
        assert sim.media[media_id].data == first.files[0].data  # the result is the reference
        assert sim.count(*EDIT) == 1


async def test_vary_on_a_deleted_result_says_the_picture_is_gone(fd, sim, bot):
    first = await picture_result(fd, "a blue kite")
    await fd.state.delete_message(fd.state.messages[first.id])

    click = await fd.click(first, "mf:vary:1", user=fd.users.bob)
    answer = await fd.wait_for_response(click, timeout=10)
    assert answer.ephemeral and "gone" in answer.content
    assert sim.count(*EDIT) == 0 and sim.count("POST", "/api/media") == 0


async def test_vary_when_the_attachment_is_missing_says_the_picture_is_gone(fd, sim, bot):
    first = await picture_result(fd, "a green kite")
    for blob_id in [k for k, v in fd.state.blobs.items() if v.data == first.files[0].data]:
        del fd.state.blobs[blob_id]

    click = await fd.click(first, "mf:vary:1", user=fd.users.bob)
    answer = await fd.wait_for_response(click, timeout=10)
    assert answer.ephemeral and "gone" in answer.content
    assert sim.count(*EDIT) == 0 and sim.count("POST", "/api/media") == 0


async def test_vary_on_a_result_posted_as_a_link_says_it_was_too_large(fd, sim, bot):
    fd.set_upload_limit(1024 * 1024)
    sim.config.image_size_bytes = 2 * 1024 * 1024
    inter = await fd.invoke("imagine", {"prompt": "a huge kite"}, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    linked = await fd.wait_for_message(lambda m: "too large to upload" in m.content, timeout=15)
    assert not linked.files and "mf:vary:1" in linked.custom_ids()

    click = await fd.click(linked, "mf:vary:1", user=fd.users.bob)
    answer = await fd.wait_for_response(click, timeout=10)
    assert answer.ephemeral and answer.content == TOO_LARGE_TO_VARY
    assert sim.count(*EDIT) == 0 and sim.count("POST", "/api/media") == 0


async def test_vary_is_refused_for_a_banned_word_before_anything_is_sent(fd, sim, bot):
    first = await picture_result(fd, "a comet over the bay")
    bot.guild_settings.set_log_channel(fd.guild_id, fd.other_channel_id)
    bot.guild_settings.add_word(fd.guild_id, "comet")

    click = await fd.click(first, "mf:vary:1", user=fd.users.bob)
    answer = await fd.wait_for_response(click, timeout=10)
    assert answer.ephemeral and "doesn't allow “comet”" in answer.content
    logged = await fd.wait_for_message(
        lambda m: m.channel_id == fd.other_channel_id and "was refused Vary" in m.content, 5
    )
    assert logged.pinged_nobody
    assert sim.count(*EDIT) == 0 and sim.count("POST", "/api/media") == 0
    assert bot.store.get(2) is None


async def test_vary_is_refused_over_the_daily_limit(fd, sim, bot):
    first = await picture_result(fd, "a violet kite")
    bot.guild_settings.set_limits(fd.guild_id, daily=1)  # alice has had her one job today

    click = await fd.click(first, "mf:vary:1", user=fd.users.alice)
    answer = await fd.wait_for_response(click, timeout=10)
    assert answer.ephemeral and "today's limit of 1 jobs" in answer.content
    assert sim.count(*EDIT) == 0 and sim.count("POST", "/api/media") == 0
    assert bot.store.get(2) is None
