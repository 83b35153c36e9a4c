"""Restarts and crashes: no job lost, none paid for twice, no result posted twice."""

from __future__ import annotations

from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import JobStore
from tests.e2e.harness import BotProcess, bot_environment, running_bot, wait_until

CREATE = ("POST", "/api/image/generate")


def results(fd):
    return [m for m in fd.messages(fd.channel_id) if m.files]


async def test_sigkill_with_ten_jobs_pending_then_restart(fd, sim, db_path, tmp_path):
    sim.config.image_seconds = (120.0, 160.0)  # 3-4 s of real time at the test speed
    env = bot_environment(fd, sim, db_path, MAX_ACTIVE_JOBS_PER_USER="20", LOG_LEVEL="INFO")
    process = BotProcess(env, tmp_path / "bot.log")
    process.start()
    try:
        await fd.wait_for_ready_client(timeout=20)
        for n in range(10):
            inter = await fd.invoke("imagine", {"prompt": f"ship number {n}"}, user=fd.users.alice)
            await fd.wait_for_ack(inter, timeout=3)
        await sim.wait_for_requests(*CREATE, count=10, timeout=10)
        with JobStore(db_path) as store:
            await wait_until(lambda: store.pending_count() == 10, timeout=10)
        process.kill()
        assert results(fd) == []

        process.start()
        await wait_until(lambda: len(results(fd)) >= 10, timeout=30)
        await process.terminate()
    finally:
        if process.is_running():
            process.kill()

    posted = results(fd)
    assert len(posted) == 10, process.log_text()
    assert sorted(m.embeds[0]["description"] for m in posted) == sorted(
        f"ship number {n}" for n in range(10)
    )
    assert len({m.nonce for m in posted}) == 10
    assert sim.count(*CREATE) == 10
    with JobStore(db_path) as store:
        states = {job.state for job in store.recent_jobs(fd.users.alice.id, limit=50)}
    assert states == {JobState.DELIVERED}


async def test_a_job_interrupted_during_its_create_call_is_never_resent(fd, sim, db_path):
    with JobStore(db_path) as store:
        job = store.create_job(
            kind=JobKind.IMAGE,
            user_id=fd.users.alice.id,
            channel_id=fd.channel_id,
            guild_id=fd.guild_id,
            request=PictureRequest(prompt="a crash", name="a crash", seed=1),
            upload_limit=10 * 1024 * 1024,
        )
    async with running_bot(fd, sim, db_path) as bot:
        notice = await fd.wait_for_message(
            lambda m: f"job #{job.id}" in m.content and "won't resend" in m.content, timeout=10
        )
        assert notice.pinged_users == {fd.users.alice.id}
        assert bot.store.get(job.id).state is JobState.UNKNOWN
    assert sim.count(*CREATE) == 0


async def test_a_crash_between_posting_and_recording_does_not_post_twice(fd, sim, db_path):
    async with running_bot(fd, sim, db_path) as bot:
        inter = await fd.invoke("imagine", {"prompt": "only once"}, user=fd.users.alice)
        await fd.wait_for_ack(inter, timeout=3)
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
        await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
        # As if the bot died after Discord made the message but before the row said so.
        bot.store.update(1, state=JobState.COMPLETE, next_poll_at=0.0, result_message_id=None)

    async with running_bot(fd, sim, db_path) as bot:
        await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED, timeout=10)
        assert len(results(fd)) == 1
        assert bot.store.get(1).result_message_id == results(fd)[0].id
    assert sim.count(*CREATE) == 1


async def test_reroll_and_delete_still_work_after_a_restart(fd, sim, db_path):
    alice, bob = fd.users.alice, fd.users.bob
    async with running_bot(fd, sim, db_path):
        inter = await fd.invoke("imagine", {"prompt": "a red kite", "seed": 5}, user=alice)
        await fd.wait_for_ack(inter, timeout=3)
        first = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)

    async with running_bot(fd, sim, db_path) as bot:
        click = await fd.click(first, "mf:reroll:1", user=bob)
        await fd.wait_for_ack(click, timeout=3)
        second = await fd.wait_for_message(lambda m: bool(m.files) and m.id != first.id, timeout=15)
        assert second.pinged_users == {bob.id}
        assert "a red kite" in second.embeds[0]["description"]
        rerolled = bot.store.get(2)
        assert rerolled.user_id == bob.id and rerolled.request.seed != 5

        refused = await fd.click(first, f"mf:delete:1:{alice.id}", user=bob)
        answer = await fd.wait_for_response(refused, timeout=5)
        assert answer.ephemeral and "Only the person who asked" in answer.content
        assert any(m.id == first.id for m in fd.messages(fd.channel_id))

        deleting = await fd.click(first, f"mf:delete:1:{alice.id}", user=alice)
        await fd.wait_for_ack(deleting, timeout=3)
        await wait_until(lambda: all(m.id != first.id for m in fd.messages(fd.channel_id)))
    assert sim.count(*CREATE) == 2
