"""When Miraflow or Discord misbehave, or users ask too much."""

from __future__ import annotations

from bot.jobs.models import JobState
from tests.e2e.harness import running_bot, wait_until

CREATE = ("POST", "/api/image/generate")


async def imagine(fd, prompt="a quiet harbour", user=None, **options):
    inter = await fd.invoke("imagine", {"prompt": prompt, **options}, user=user or fd.users.alice)
    await fd.wait_for_ack(inter, timeout=3)
    return inter


async def test_a_create_call_that_times_out_is_not_sent_again(fd, sim, db_path):
    sim.hang("/api/image/generate")
    async with running_bot(fd, sim, db_path, MIRAFLOW_TIMEOUT_SECONDS="0.5") as bot:
        inter = await imagine(fd)
        answer = await fd.wait_for_response(inter, timeout=10)
        assert answer.ephemeral
        assert "won't resend" in answer.content
        assert bot.store.get(1).state is JobState.UNKNOWN
        sim.unhang()
        # Anything that would resend it (the poller, a retry) has had its chance by now.
        await imagine(fd, "the next one works", user=fd.users.bob)
        await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    assert sim.count(*CREATE) == 2
    assert not [m for m in fd.messages(fd.channel_id) if "quiet harbour" in str(m.embeds)]


async def test_every_job_is_delivered_after_a_miraflow_outage(fd, sim, bot):
    sim.config.image_seconds = (40.0, 60.0)
    for n, user in enumerate(fd.users):
        await imagine(fd, f"storm {n}", user=user)
    await sim.wait_for_requests(*CREATE, count=3)
    sim.outage(503)
    await sim.wait_for_requests("GET", "/api/image/", count=3)
    polls_before = sim.count("GET", "/api/image/")
    await wait_until(lambda: sim.count("GET", "/api/image/") >= polls_before + 3, timeout=10)
    assert not [m for m in fd.messages(fd.channel_id) if m.files]
    sim.outage(None)
    await wait_until(
        lambda: len([m for m in fd.messages(fd.channel_id) if m.files]) == 3, timeout=20
    )
    assert sim.count(*CREATE) == 3


async def test_a_result_over_the_upload_limit_is_posted_as_a_link(fd, sim, bot):
    fd.set_upload_limit(1024 * 1024)
    sim.config.image_size_bytes = 2 * 1024 * 1024
    await imagine(fd, "a very detailed map")
    posted = await fd.wait_for_message(lambda m: "ready" in m.content, timeout=15)
    assert not posted.files
    assert "too large to upload" in posted.content
    assert sim.base_url in posted.content
    assert posted.pinged_users == {fd.users.alice.id}


async def test_a_failed_miraflow_job_is_told_to_its_requester(fd, sim, bot):
    sim.config.failure_rate = 1.0
    await imagine(fd, "an impossible thing")
    notice = await fd.wait_for_message(lambda m: "could not make" in m.content, timeout=15)
    assert notice.pinged_users == {fd.users.alice.id}
    await wait_until(lambda: bot.store.get(1).state is JobState.FAILED)
    assert not [m for m in fd.messages(fd.channel_id) if m.files]


async def test_quotas_refuse_a_fourth_running_job(fd, sim, bot):
    sim.config.image_seconds = (400.0, 400.0)
    for n in range(3):
        inter = await imagine(fd, f"slow {n}")
        await fd.wait_for_response(inter, timeout=5)
    refused = await imagine(fd, "one too many")
    answer = await fd.wait_for_response(refused, timeout=5)
    assert answer.ephemeral and "limit is 3" in answer.content
    assert sim.count(*CREATE) == 3
    # Someone else is not affected.
    other = await imagine(fd, "bob's turn", user=fd.users.bob)
    assert "Started job" in (await fd.wait_for_response(other, timeout=5)).content


async def test_the_daily_quota(fd, sim, db_path):
    async with running_bot(fd, sim, db_path, MAX_JOBS_PER_USER_PER_DAY="2") as bot:
        for n in range(2):
            await fd.wait_for_response(await imagine(fd, f"daily {n}"), timeout=5)
        answer = await fd.wait_for_response(await imagine(fd, "third today"), timeout=5)
        assert "today's limit of 2" in answer.content
        assert len(bot.store.recent_jobs(fd.users.alice.id)) == 2


async def test_bad_options_are_refused_before_anything_is_stored(fd, sim, bot):
    for prompt in ("   ", "x" * 1001):
        inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
        answer = await fd.wait_for_response(inter, timeout=5)
        assert answer.ephemeral
        assert "prompt" in answer.content
    assert bot.store.recent_jobs(fd.users.alice.id) == []
    assert sim.count(*CREATE) == 0


async def test_a_deleted_channel_sends_the_result_by_dm(fd, sim, bot):
    sim.config.image_seconds = (40.0, 60.0)
    await imagine(fd, "a message in a bottle")
    await sim.wait_for_requests(*CREATE)
    fd.delete_channel(fd.channel_id)
    dm = await fd.wait_for_message(
        lambda m: bool(m.files) and m.channel_id == fd.dm_channel_id(fd.users.alice.id), timeout=15
    )
    assert "a message in a bottle" in dm.embeds[0]["description"]
    await wait_until(lambda: bot.store.get(1).state is JobState.DELIVERED)
    job = bot.store.get(1)
    assert (job.result_channel_id, job.result_message_id) == (dm.channel_id, dm.id)
    # /jobs list links to where the result really is.
    inter = await fd.invoke(
        "jobs", {}, subcommand="list", user=fd.users.alice, channel_id=fd.other_channel_id
    )
    listing = await fd.wait_for_response(inter, timeout=5)
    text = listing.content + str(listing.embeds)
    assert f"https://discord.com/channels/@me/{dm.channel_id}/{dm.id}" in text


async def test_no_channel_and_no_dm_is_recorded_on_the_job(fd, sim, bot):
    sim.config.image_seconds = (40.0, 60.0)
    await imagine(fd, "nowhere to go")
    await sim.wait_for_requests(*CREATE)
    fd.forbid_channel(fd.channel_id)
    fd.block_dms(fd.users.alice.id)
    await wait_until(lambda: bot.store.get(1).state is JobState.FAILED, timeout=15)
    assert "nor sent by DM" in bot.store.get(1).error


async def test_a_job_past_its_timeout_expires(fd, sim, db_path):
    sim.config.image_seconds = (4000.0, 4000.0)
    async with running_bot(fd, sim, db_path, IMAGE_JOB_TIMEOUT_SECONDS="60") as bot:
        await imagine(fd, "a very slow picture")
        notice = await fd.wait_for_message(lambda m: "(job #1) timed out" in m.content, timeout=15)
        assert notice.pinged_users == {fd.users.alice.id}
        assert bot.store.get(1).state is JobState.EXPIRED
