"""A server's jobs belong to the account of the key they were made with: the key is not
changed under them, and a key that can no longer be read keeps them waiting rather than
moving them to the bot's account (where Miraflow does not know them)."""

from __future__ import annotations

import logging

from bot.jobs.models import ACTIVE_STATES, JobState
from bot.ui.apikey import SAVED, key_in_use
from tests.e2e.harness import running_bot, wait_until
from tests.e2e.test_apikey import SECRET, SERVER_KEY, settings, submit_key

OTHER_SECRET = "another-settings-secret-of-32-characters-or-more"
RUNNING = key_in_use(1)


async def imagine(fd, prompt: str) -> str:
    inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
    return (await fd.wait_for_response(inter, timeout=5)).content


async def answer_to(fd, subcommand: str, **options) -> str:
    inter = await settings(fd, subcommand, **options)
    return (await fd.wait_for_response(inter, timeout=5)).content


def results(fd) -> list:
    return [m for m in fd.messages(fd.channel_id) if m.files]


async def test_the_key_is_not_changed_while_its_jobs_run(fd, sim, db_path):
    sim.config.other_api_keys = (SERVER_KEY,)
    sim.config.image_seconds = (4000.0, 4000.0)  # until completed by hand
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        # A key opened in its modal before a job started on the bot's key: not saved.
        inter = await settings(fd, "apikey")
        await fd.wait_for_modal(inter)
        assert "Started job #1" in await imagine(fd, "on the bot's key")
        submit = await fd.submit_modal(inter, {"apikey:key": SERVER_KEY})
        assert (await fd.wait_for_response(submit, timeout=10)).content == RUNNING
        assert not bot.guild_keys.has_own_key(fd.guild_id)
        assert await answer_to(fd, "apikey") == RUNNING, "refused before the modal too"
        sim.complete_now(bot.store.get(1).miraflow_job_id)
        await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED, timeout=10)

        assert await submit_key(fd, SERVER_KEY) == SAVED
        assert "Started job #2" in await imagine(fd, "on the server's key")
        assert await answer_to(fd, "apikey", action="remove") == RUNNING
        assert await answer_to(fd, "apikey") == RUNNING
        assert bot.guild_keys.has_own_key(fd.guild_id)
        sim.complete_now(bot.store.get(2).miraflow_job_id)
        await wait_until(lambda: bot.store.get(2).state is JobState.DELIVERED, timeout=10)
        assert "bot's Miraflow key again" in await answer_to(fd, "apikey", action="remove")
    assert len(results(fd)) == 2
    polled = [r for r in sim.requests if r.path.startswith("/api/image/c")]
    assert polled and all(r.status == 200 for r in polled), "never asked on the wrong account"


async def test_an_unreadable_key_keeps_the_servers_jobs_waiting(fd, sim, db_path, caplog):
    sim.config.other_api_keys = (SERVER_KEY,)
    sim.config.image_seconds = (4000.0, 4000.0)
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        assert await submit_key(fd, SERVER_KEY) == SAVED
        assert "Started job #1" in await imagine(fd, "paid on the server's key")
        miraflow_id = bot.store.get(1).miraflow_job_id
    sim.complete_now(miraflow_id)

    caplog.set_level(logging.INFO)
    polls_before = sim.count("GET", f"/api/image/{miraflow_id}")
    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=OTHER_SECRET) as bot:
        refused = await imagine(fd, "a new one")
        assert "can't be read" in refused and "tell a server admin" in refused
        await wait_until(lambda: bot.store.get(1).attempts >= 2, timeout=10)
        assert bot.store.get(1).state in ACTIVE_STATES, "waiting, neither lost nor failed"
        assert sim.count("GET", f"/api/image/{miraflow_id}") == polls_before, "no other key"
        assert await answer_to(fd, "apikey", action="remove") == RUNNING
    told = [r for r in caplog.records if r.name == "bot.guild_keys"]
    assert len(told) == 1 and "never on the bot's key" in told[0].getMessage()
    assert SERVER_KEY not in caplog.text

    async with running_bot(fd, sim, db_path, SETTINGS_SECRET=SECRET) as bot:
        await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED, timeout=15)
    assert len(results(fd)) == 1
    assert sim.count("POST", "/api/image/generate") == 1
