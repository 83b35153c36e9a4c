"""Fault checks of the job engine: the real bot (in this process) against the fake Discord
and the simulator, with the store, Miraflow or Discord broken on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import bot.errors as bot_errors
from bot.discord_side.words import STORE_UNWRITABLE
from bot.jobs.log_limit import LogLimit
from bot.jobs.models import JobState
from bot.jobs.schedule import BLANK_VIDEO_SPACING
from bot.jobs.store import JobStore
from bot.miraflow.simulator import MiraflowSimulator, SimulatorConfig, run_simulator
from tests.e2e.harness import ARIA, AVA, SPEED, running_bot, wait_until
from tests.fakediscord import FakeDiscord, FakeMessage
from tests.faults.servers import counting_server

CREATE_IMAGE = ("POST", "/api/image/generate")
STATUS_CALLS = ("GET", "/api/image/")


@contextlib.asynccontextmanager
async def discord_and_miraflow() -> AsyncIterator[tuple[FakeDiscord, MiraflowSimulator]]:
    async with FakeDiscord() as fd, run_simulator(SimulatorConfig(speed=SPEED, seed=8)) as sim:
        yield fd, sim


class LogLines(logging.Handler):
    """The records of one logger at ERROR and above, while the block runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []
        self.tracebacks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.tracebacks += record.exc_info is not None


@contextlib.contextmanager
def error_lines(name: str) -> Iterator[LogLines]:
    handler = LogLines()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def imagine(fd: FakeDiscord, prompt: str, user=None) -> FakeMessage:
    """Run /imagine and return its (ephemeral) answer."""
    inter = await fd.invoke("imagine", {"prompt": prompt}, user=user or fd.users.alice)
    return await fd.wait_for_response(inter, timeout=5)


def results(fd: FakeDiscord) -> list[FakeMessage]:
    return [m for m in fd.messages(fd.channel_id) if m.files]


def status_message(fd: FakeDiscord, job_id: int) -> FakeMessage:
    head = f"**Job #{job_id}**"
    (message,) = [m for m in fd.messages(fd.channel_id) if m.content.startswith(head)]
    return message


# --- a store that cannot be written -------------------------------------------------------


async def store_turns_read_only_as_results_are_posted(tmp_path: Path) -> None:
    """The disk goes read-only just as the first result reaches Discord; Discord forgets
    nonces at once. Measured before the fix: 1065 status calls, 1065 downloads and 1066
    posts in 8 s, and duplicates once the nonce was forgotten."""
    async with discord_and_miraflow() as (fd, sim):
        fd.nonce_window = 0.0
        sim.config.image_seconds = (4000.0, 4000.0)
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            for n in range(3):
                assert "Started job" in (await imagine(fd, f"a lantern {n}")).content
            db = bot.store._db  # SQLite's own switch: every write now fails

            def first_result_read_only(message: FakeMessage) -> bool:
                if message.files:
                    db.execute("PRAGMA query_only = ON")
                    return True
                return False

            with error_lines("bot.jobs") as errors:
                sim.complete_now(bot.store.get(1).miraflow_job_id)
                await fd.wait_for_message(first_result_read_only, timeout=10)
                for job_id in (2, 3):  # finished while nothing can be recorded
                    sim.complete_now(bot.store.get(job_id).miraflow_job_id)
                await wait_until(lambda: errors.lines, timeout=10)
                calls, posts = sim.count(*STATUS_CALLS), len(results(fd))
                # What the engine does while the store refuses every write, over 2 s
                # (200 simulated seconds: a spinning poller made ~270 calls in that time).
                await asyncio.sleep(2.0)
                assert sim.count(*STATUS_CALLS) - calls <= 3, "each job waits, not spins"
                assert len(results(fd)) == posts == 1, "no post while nothing can be recorded"
                assert len(errors.lines) == 1, errors.lines

                db.execute("PRAGMA query_only = OFF")
                await wait_until(lambda: len(results(fd)) >= 3, timeout=20)
                await wait_until(
                    lambda: (
                        {j.state for j in bot.store.recent_jobs(fd.users.alice.id)}
                        == {JobState.DELIVERED}
                    ),
                    timeout=10,
                )
            assert len(results(fd)) == 3, "every result once, the first one included"
            recorded = {j.result_message_id for j in bot.store.recent_jobs(fd.users.alice.id)}
            assert recorded == {m.id for m in results(fd)}


@contextlib.contextmanager
def fresh_store_error_limit() -> Iterator[None]:
    """The once-a-minute line, as in a process that has not logged it yet."""
    before = bot_errors.STORE_ERRORS
    bot_errors.STORE_ERRORS = LogLimit(60.0)
    try:
        yield
    finally:
        bot_errors.STORE_ERRORS = before


async def store_unwritable_while_members_start_jobs(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            bot.store._db.execute("PRAGMA query_only = ON")  # SQLite's own switch
            with error_lines("") as errors, fresh_store_error_limit():  # every logger
                answers = [await imagine(fd, f"a lantern {n}") for n in range(5)]
            bot.store._db.execute("PRAGMA query_only = OFF")
            assert all(answer.ephemeral for answer in answers)
            assert {answer.content for answer in answers} == {STORE_UNWRITABLE}
            (line,) = errors.lines  # one a minute at most: the owner is told once
            assert "the store cannot be written (attempt to write a readonly database)" in line
            assert not errors.tracebacks
            assert "Started job" in (await imagine(fd, "once it can be written")).content
        assert sim.count(*CREATE_IMAGE) == 1


# --- every terminal failure reaches a person ----------------------------------------------


async def _job_that_ends_badly(fd: FakeDiscord, sim: MiraflowSimulator, bot) -> FakeMessage:
    """Start a job, let Miraflow finish it, and return the notice its requester gets."""
    sim.config.image_seconds = (4000.0, 4000.0)
    assert "Started job #1" in (await imagine(fd, "a bad ending")).content
    await wait_until(lambda: bot.store.get(1).status_message_id is not None)
    sim.complete_now(bot.store.get(1).miraflow_job_id)
    notice = await fd.wait_for_message(lambda m: "about job #1" in m.content, timeout=15)
    assert notice.pinged_users == {fd.users.alice.id}
    await wait_until(lambda: "failed" in status_message(fd, 1).content, timeout=5)
    assert bot.store.get(1).state is JobState.FAILED
    assert results(fd) == []
    return notice


async def complete_without_a_download_url(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.result_url = "missing"
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            notice = await _job_that_ends_badly(fd, sim, bot)
            assert "please ask again" in notice.content
            assert sim.count("GET", "/files/") == 0


async def result_url_refused_as_untrusted(tmp_path: Path) -> None:
    async with counting_server() as internal, discord_and_miraflow() as (fd, sim):
        sim.config.result_url = "foreign"
        sim.config.foreign_base_url = internal.base_url
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            notice = await _job_that_ends_badly(fd, sim, bot)
            assert "link I don't trust" in notice.content
        assert internal.requests == 0


async def download_stalls_every_time(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.download_mode = "stall"
        db = tmp_path / "jobs.sqlite3"
        async with running_bot(fd, sim, db, DOWNLOAD_STALL_SECONDS="0.2") as bot:
            notice = await _job_that_ends_badly(fd, sim, bot)
            assert "please ask again" in notice.content
        seen = [r.path for r in sim.requests if r.path.startswith(("/files/", "/api/image/"))]
        downloads = [n for n, path in enumerate(seen) if path.startswith("/files/")]
        assert len(downloads) == 3, "tried three times, then given up"
        # Each time with a URL fresh from Miraflow: the call before each download asks for it.
        assert all(seen[n - 1].startswith("/api/image/") for n in downloads), seen


async def a_long_failure_reason_with_the_key_and_markdown(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.failure_rate = 1.0
        sim.config.failure_reason = (
            f"@everyone # Leak [click here](http://evil.example/x) **{sim.api_key}** "
            + "very long reason " * 300
        )
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            assert "Started job #1" in (await imagine(fd, "an impossible thing")).content
            notice = await fd.wait_for_message(lambda m: "could not make" in m.content, timeout=15)
            await wait_until(lambda: "failed" in status_message(fd, 1).content, timeout=5)
            status = status_message(fd, 1)
            assert bot.store.get(1).state is JobState.FAILED
    for shown in (notice.content, status.content):
        assert len(shown) <= 2000
        assert sim.api_key not in shown
        assert "http://" not in shown and "\\[click here]" in shown, shown
        assert "**" not in shown.replace("**Job #1**", "")
        assert "@everyone" not in shown
    assert notice.pinged_users == {fd.users.alice.id} and not notice.pinged_everyone


# --- user text shown in public is inert ---------------------------------------------------


async def prompt_with_markdown_links_and_mentions(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        bob = fd.users.bob
        prompt = f"# **Free** [claim](https://evil.example) @everyone <@{bob.id}>"
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3"):
            assert "Started job #1" in (await imagine(fd, prompt)).content
            result = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
            await wait_until(lambda: "done" in status_message(fd, 1).content, timeout=5)
            status = status_message(fd, 1)
    description = result.embeds[0]["description"]
    for shown in (status.content, description):
        assert "\\# \\*\\*Free\\*\\*" in shown and "\\[claim]" in shown
        assert "@everyone" not in shown and f"<@{bob.id}>" not in shown
    assert status.pinged_nobody
    assert result.pinged_users == {fd.users.alice.id} and not result.pinged_everyone


# --- an unclear create --------------------------------------------------------------------


async def create_answered_502_after_the_job_was_made(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.create_answer_status = 502
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            answer = await imagine(fd, "a paid picture")
            assert answer.ephemeral and "won't resend" in answer.content
            assert bot.store.get(1).state is JobState.UNKNOWN
            sim.config.create_answer_status = None
            # The next request goes through, and the unclear one was never sent again.
            assert "Started job #2" in (await imagine(fd, "the next one", fd.users.bob)).content
            await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
        assert sim.count(*CREATE_IMAGE) == 2


async def video_create_answered_504_after_the_video_was_made(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.config.create_answer_status = 504
        sim.config.video_seconds = (40.0, 40.0)  # 1 s of real time
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            options = {"text": "Hello there.", "avatar": AVA, "voice": ARIA}
            inter = await fd.invoke("speak", options, user=fd.users.alice)
            answer = await fd.wait_for_response(inter, timeout=5)
            assert answer.ephemeral and "won't resend" in answer.content
            assert bot.store.get(1).state is JobState.UNKNOWN
            # Miraflow made it all the same: found by its name in GET /api/videos.
            posted = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
            assert posted.pinged_users == {fd.users.alice.id}
            await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
            (made,) = sim.jobs.values()
            assert bot.store.get(1).miraflow_job_id == made.id
        assert sim.count("POST", "/api/video/create") == 1


async def create_answered_429(tmp_path: Path) -> None:
    async with discord_and_miraflow() as (fd, sim):
        sim.fail_next(1, status=429, path_prefix="/api/image/generate", retry_after=999999)
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            answer = await imagine(fd, "too soon")
            assert answer.ephemeral and "try again" in answer.content
            assert "Nothing was started, so nothing was charged." in answer.content
            assert "999" not in answer.content
            assert bot.store.get(1).state is JobState.FAILED
            assert "Nothing was started" in bot.store.get(1).error
        assert sim.count(*CREATE_IMAGE) == 1


# --- no duplicate after a late restart ----------------------------------------------------


async def restart_after_discord_forgot_the_nonce(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    async with discord_and_miraflow() as (fd, sim):
        fd.nonce_window = 0.0  # the restart comes after Discord's nonce memory
        async with running_bot(fd, sim, db) as bot:
            assert "Started job #1" in (await imagine(fd, "only once")).content
            await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
            await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
        with JobStore(db) as store:
            # As if the bot died after Discord made the message, before the row said so.
            store.update(1, state=JobState.COMPLETE, next_poll_at=0.0, result_message_id=None)
        async with running_bot(fd, sim, db) as bot:
            await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED, timeout=10)
            assert bot.store.get(1).result_message_id == results(fd)[0].id
        assert len(results(fd)) == 1
        assert sim.count("GET", "/files/") == 1, "not even fetched again"


# --- cancelling does not stretch the limits -----------------------------------------------


async def cancel_to_start_more_than_the_limit(tmp_path: Path) -> None:
    """12 jobs of one member once ran at once under a limit of 3, by cancelling each."""
    async with discord_and_miraflow() as (fd, sim):
        sim.config.image_seconds = (200.0, 200.0)  # 5 s of real time
        db = tmp_path / "jobs.sqlite3"
        async with running_bot(fd, sim, db, MAX_ACTIVE_JOBS_PER_USER="1") as bot:
            assert "Started job #1" in (await imagine(fd, "the first")).content
            await wait_until(lambda: (bot.store.get(1).progress or 0) > 0, timeout=10)
            cancel = await fd.invoke("jobs", {"job": 1}, subcommand="cancel", user=fd.users.alice)
            assert "Stopped job #1" in (await fd.wait_for_response(cancel, timeout=5)).content

            refused = await imagine(fd, "a second at once")
            assert refused.ephemeral and "limit is 1" in refused.content
            assert sim.count(*CREATE_IMAGE) == 1
            # It counts until Miraflow would have finished it, no longer.
            busy_until = bot.store.get(1).next_poll_at
            ends = sim.jobs[bot.store.get(1).miraflow_job_id].complete_at
            assert abs(busy_until - ends) < 2.5, (busy_until, ends)
            await wait_until(lambda: time.time() > busy_until, timeout=10)
            assert "Started job #2" in (await imagine(fd, "a second, later")).content


# --- stuck downloads ----------------------------------------------------------------------


async def eight_downloads_stuck(tmp_path: Path) -> None:
    """Before, a stuck download held a poll slot: 8 of them stopped every other job."""
    async with discord_and_miraflow() as (fd, sim):
        sim.config.image_seconds = (4000.0, 4000.0)
        db = tmp_path / "jobs.sqlite3"
        async with running_bot(fd, sim, db, MAX_ACTIVE_JOBS_PER_USER="20") as bot:
            for n in range(8):
                assert f"Started job #{n + 1}" in (await imagine(fd, f"stuck {n}")).content
                miraflow_id = bot.store.get(n + 1).miraflow_job_id
                sim.hang(f"/files/images/{miraflow_id}")
                sim.complete_now(miraflow_id)
            await wait_until(lambda: sim.held_requests == 8, timeout=15)

            sim.config.image_seconds = (8.0, 12.0)
            for n in range(2):
                answer = await imagine(fd, f"free {n}", fd.users.bob)
                assert "Started job" in answer.content
            await wait_until(lambda: len(results(fd)) == 2, timeout=15)
            assert sim.held_requests == 8, "the stuck ones are still stuck"

            sim.unhang()
            await wait_until(lambda: len(results(fd)) == 10, timeout=20)


# --- a progress bar that never moves -------------------------------------------------------


async def video_bar_blank_until_done(tmp_path: Path) -> None:
    """Before, the first value of a lone video was awaited at a spacing of its age (polls
    20, 40, 80, 160, 320 s in): one whose bar stays blank was found up to its age late."""
    async with discord_and_miraflow() as (fd, sim):
        sim.config.progress_model = "video-blank"
        sim.config.video_seconds = (400.0, 400.0)  # 10 s of real time
        async with running_bot(fd, sim, tmp_path / "jobs.sqlite3") as bot:
            options = {"text": "Nothing to show.", "avatar": AVA, "voice": ARIA}
            inter = await fd.invoke("speak", options, user=fd.users.alice)
            assert "Started job #1" in (await fd.wait_for_response(inter, timeout=5)).content
            started = time.time()
            await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
            status = f"/api/video/{bot.store.get(1).miraflow_job_id}/status"
        polls = [(seen.time - started) * SPEED for seen in sim.requests if seen.path == status]
        gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
        assert polls and max(gaps) <= 1.25 * BLANK_VIDEO_SPACING
