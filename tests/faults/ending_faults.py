"""Fault checks of jobs that end without a clear answer or without a place to go: a create
whose connection dropped after it was sent, a job Miraflow never finishes, a result no
channel and no DM takes. The real bot (in this process), the fake Discord, the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.jobs.models import JobState
from tests.e2e.harness import ARIA, AVA, running_bot, wait_until
from tests.fakediscord import FakeDiscord
from tests.faults.engine_faults import (
    CREATE_IMAGE,
    STATUS_CALLS,
    discord_and_miraflow,
    imagine,
    results,
    status_message,
)

MAY_HAVE_STARTED = "can't tell whether it started"


# --- a create whose connection dropped after it was sent ----------------------------------


async def image_create_connection_dropped_after_the_job_was_made(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.create_drops_connection = True
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            answer = await imagine(fd, "a paid picture")
            assert answer.ephemeral and MAY_HAVE_STARTED in answer.content, answer.content
            assert "won't resend" in answer.content
            assert bot.store.get(1).state is JobState.UNKNOWN
            assert len(sim.created_jobs()) == 1, "Miraflow made it"
            sim.config.create_drops_connection = False
            # The next request goes through and is delivered; the unclear one is not resent.
            assert "Started job #2" in (await imagine(fd, "the next one", fd.users.bob)).content
            await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
            assert bot.store.get(1).state is JobState.UNKNOWN
        assert sim.count(*CREATE_IMAGE) == 2, "one call each, the unclear one never resent"


async def video_create_connection_dropped_after_the_video_was_made(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.create_drops_connection = True
        sim.config.video_seconds = (40.0, 40.0)  # 1 s of real time
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            options = {"text": "Hello there.", "avatar": AVA, "voice": ARIA}
            inter = await fd.invoke("speak", options, user=fd.users.alice)
            answer = await fd.wait_for_response(inter, timeout=5)
            assert answer.ephemeral and MAY_HAVE_STARTED in answer.content, answer.content
            assert bot.store.get(1).state is JobState.UNKNOWN
            # Miraflow made it all the same: found by its unique name in GET /api/videos.
            posted = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
            assert posted.pinged_users == {fd.users.alice.id}
            await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
            (made,) = sim.jobs.values()
            assert bot.store.get(1).miraflow_job_id == made.id
            assert sim.count("GET", "/api/videos") >= 1
        assert sim.count("POST", "/api/video/create") == 1
        assert len(results(fd)) == 1


# --- a job Miraflow never finishes --------------------------------------------------------


async def job_never_finished_expires(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.image_seconds = (40000.0, 40000.0)  # never, within the test
        db = tmp_path / "jobs.sqlite3"
        async with running_bot(fd, sim, db, IMAGE_JOB_TIMEOUT_SECONDS="60") as bot:
            assert "Started job #1" in (await imagine(fd, "a very slow picture")).content
            notice = await fd.wait_for_message(
                lambda m: "(job #1) timed out" in m.content, timeout=15
            )
            assert notice.pinged_users == {fd.users.alice.id}
            assert bot.store.get(1).state is JobState.EXPIRED
            await wait_until(lambda: "timed out" in status_message(fd, 1).content, timeout=5)
            assert "Miraflow took too long" in bot.store.get(1).error
            polls = sim.count(*STATUS_CALLS)
            assert polls >= 1, "it was followed until it expired"
            # 2 s: 80 simulated seconds, several poll intervals of a job still followed.
            await asyncio.sleep(2.0)
            assert sim.count(*STATUS_CALLS) == polls, "no status call once it expired"
            assert bot.store.get(1).state is JobState.EXPIRED
        assert results(fd) == []


# --- a result no channel and no DM takes --------------------------------------------------


def _posts(fd: FakeDiscord) -> list[str]:
    """Every message the bot tried to post (refused ones included), by channel path."""
    return [
        call.path
        for call in fd.rest_calls
        if call.method == "POST" and call.path.startswith("/channels/")
        and call.path.endswith("/messages")
    ]  # fmt: skip


async def result_posted_nowhere(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.image_seconds = (4000.0, 4000.0)
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            assert "Started job #1" in (await imagine(fd, "nowhere to go")).content
            await wait_until(lambda: bot.store.get(1).status_message_id is not None)
            await fd.forbid_channel(fd.channel_id)
            fd.block_dms(fd.users.alice.id)
            before = len(_posts(fd))
            sim.complete_now(bot.store.get(1).miraflow_job_id)
            await wait_until(lambda: bot.store.get(1).state is JobState.FAILED, timeout=15)
            assert "nor sent by DM" in bot.store.get(1).error
            await wait_until(lambda: "failed" in status_message(fd, 1).content, timeout=5)
            tried = len(_posts(fd)) - before
            # The bot gives up: over 2 s (80 simulated seconds) it tries nothing more.
            await asyncio.sleep(2.0)
            assert len(_posts(fd)) - before == tried
            # The result in the channel, then by DM, then the notice in each: a handful.
            assert 2 <= tried <= 6, _posts(fd)[before:]
            assert sim.count("GET", "/files/") == 1, "fetched once"

            inter = await fd.invoke(
                "jobs", {}, subcommand="list", user=fd.users.alice, channel_id=fd.other_channel_id
            )
            listing = await fd.wait_for_response(inter, timeout=5)
            text = listing.content + str(listing.embeds)
            assert "failed" in text and "nor sent by DM" in text, text
        assert [m for m in fd.all_messages() if m.files] == [], "nothing posted"
