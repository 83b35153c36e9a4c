"""/settings apikey end to end: a server's own Miraflow key, checked, sealed, never shown,
and used for that server's jobs (the simulator keeps its key's jobs apart: another key gets 404)."""

from __future__ import annotations

import logging

from bot.guild_keys import META_PREFIX
from bot.jobs.models import JobState
from bot.log import SecretMaskingFilter
from bot.ui.apikey import NO_SECRET, SAVED, UNCHECKED, WRONG_KEY
from bot.ui.forms import EXPIRED
from cogs.settings import RESET_DONE, RESET_KEEPS_KEY
from tests.e2e.harness import ARIA, AVA, running_bot, wait_until

SECRET = "a-settings-secret-of-at-least-32-characters"
SERVER_KEY = "mf_server_own_key_0123456789"


async def settings(fd, subcommand: str, **options):
    return await fd.invoke("settings", options, subcommand=subcommand, user=fd.users.owner)


async def submit_key(fd, key: str) -> str:
    inter = await settings(fd, "apikey")
    await fd.wait_for_modal(inter)
    submit = await fd.submit_modal(inter, {"apikey:key": key})
    answer = await fd.wait_for_response(submit, timeout=10)
    assert answer.ephemeral
    return answer.content


async def shown(fd) -> str:
    answer = await fd.wait_for_response(await settings(fd, "show"), timeout=5)
    return answer.embeds[0]["description"]


def everything_posted(fd) -> str:
    return "\n".join(f"{m.content} {m.embeds}" for m in fd.all_messages())


async def test_without_a_settings_secret_no_key_can_be_set(fd, sim, db_path):
    async with running_bot(fd, sim, db_path):
        answer = await fd.wait_for_response(await settings(fd, "apikey"), timeout=5)
    assert answer.ephemeral and answer.content == NO_SECRET


async def test_reset_keeps_the_servers_own_key_and_says_so(fd, sim, db_path):
    sim.config.other_api_keys = (SERVER_KEY,)
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        assert await submit_key(fd, SERVER_KEY) == SAVED
        reset = await fd.wait_for_response(await settings(fd, "reset"), timeout=5)
        assert reset.ephemeral and reset.content == f"{RESET_DONE} {RESET_KEEPS_KEY}"
        assert bot.guild_keys.has_own_key(fd.guild_id)
        assert "this server's own (set here)" in await shown(fd)


async def test_a_key_form_submitted_after_a_restart_is_told_it_expired(fd, sim, db_path):
    sim.config.other_api_keys = (SERVER_KEY,)
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET):
        modal = await fd.wait_for_modal(await settings(fd, "apikey"))
    assert modal.custom_id == f"mf:apikey:{fd.guild_id}:{fd.users.owner.id}"
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        submit = await fd.submit_modal(modal, {"apikey:key": SERVER_KEY})
        answer = await fd.wait_for_response(submit, timeout=10)
        assert answer.ephemeral and answer.content == EXPIRED
        assert not bot.guild_keys.has_own_key(fd.guild_id)


async def test_a_wrong_key_is_refused_and_nothing_is_saved(fd, sim, db_path):
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        assert await submit_key(fd, "mf_not_a_key_of_anyone") == WRONG_KEY
        assert not bot.guild_keys.has_own_key(fd.guild_id)
        assert "the bot's (default)" in await shown(fd)


async def test_a_key_that_cannot_be_checked_is_not_saved(fd, sim, db_path):
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        sim.config.other_api_keys = (SERVER_KEY,)
        sim.config.error_rate = 1.0  # Miraflow answers 5xx to everything
        assert await submit_key(fd, SERVER_KEY) == UNCHECKED
        assert not bot.guild_keys.has_own_key(fd.guild_id)


async def test_the_servers_jobs_use_its_own_key_until_it_is_removed(fd, sim, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    sim.config.other_api_keys = (SERVER_KEY,)
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        assert await submit_key(fd, SERVER_KEY) == SAVED
        assert "this server's own (set here)" in await shown(fd)
        sealed = bot.store.get_meta(f"{META_PREFIX}{fd.guild_id}")
        assert sealed is not None and SERVER_KEY not in sealed

        listed = await fd.invoke("avatar", {}, subcommand="list", user=fd.users.alice)
        await fd.wait_for_response(listed, timeout=10)
        catalogue = [r for r in sim.requests if r.path == "/api/avatars"]
        assert catalogue[-1].headers.get("x-api-key") == SERVER_KEY, "its own catalogue"

        before = len(sim.requests)
        inter = await fd.invoke("imagine", {"prompt": "own key"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
        used = {
            r.headers.get("x-api-key") for r in sim.requests[before:] if r.path.startswith("/api/")
        }
        assert used == {SERVER_KEY}, "create, status calls and download links: all on its key"

        removed = await fd.wait_for_response(
            await settings(fd, "apikey", action="remove"), timeout=5
        )
        assert "bot's Miraflow key again" in removed.content
        before = len(sim.requests)
        inter = await fd.invoke("imagine", {"prompt": "bot key"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        await wait_until(
            lambda: len([m for m in fd.messages(fd.channel_id) if m.files]) == 2, timeout=15
        )
        used = {
            r.headers.get("x-api-key") for r in sim.requests[before:] if r.path.startswith("/api/")
        }
        assert used == {sim.api_key}
    assert SERVER_KEY not in everything_posted(fd)
    assert SERVER_KEY in caplog.text  # discord.py's DEBUG dump of the modal submission...
    assert SERVER_KEY not in SecretMaskingFilter([]).mask(caplog.text)  # ...masked when logged


async def test_an_unclear_video_is_looked_for_with_the_servers_own_key(fd, sim, db_path):
    """The create answered 504 though the video was made on the server's account: it is found
    in that account's `GET /api/videos` (the bot's key would never see it) and delivered."""
    sim.config.other_api_keys = (SERVER_KEY,)
    sim.config.video_seconds = (40.0, 40.0)  # 1 s of real time
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        assert await submit_key(fd, SERVER_KEY) == SAVED
        sim.config.create_answer_status = 504
        options = {"text": "Hello there.", "avatar": AVA, "voice": ARIA}
        inter = await fd.invoke("speak", options, user=fd.users.alice)
        answer = await fd.wait_for_response(inter, timeout=5)
        assert answer.ephemeral and "won't resend" in answer.content
        assert bot.store.get(1).state is JobState.UNKNOWN
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
        await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
        (made,) = sim.created_jobs("video")
        assert made.account == SERVER_KEY and bot.store.get(1).miraflow_job_id == made.id
    lists = [r for r in sim.requests if r.path == "/api/videos"]
    assert lists and {r.headers.get("x-api-key") for r in lists} == {SERVER_KEY}
    assert sim.count("POST", "/api/video/create") == 1
