"""/jobs list and /jobs cancel end to end: the real bot, the fake Discord, the simulator."""

from __future__ import annotations

import re
import time

from bot.jobs.models import Job, JobState
from tests.e2e.harness import wait_until

LONG_IMAGE = (400.0, 400.0)  # simulated seconds: 10 s real at the e2e speed
BAR = re.compile(r"`[▰▱]{12} (\d+)%`")


def job_of(bot, job_id: int) -> Job:
    job = bot.store.get(job_id)
    assert job is not None
    return job


async def imagine(fd, user, prompt: str) -> None:
    inter = await fd.invoke("imagine", {"prompt": prompt}, user=user)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert "Started job" in answer.content, answer.content


async def delivered_image(fd, bot, user, prompt: str) -> Job:
    """A job of `user`, run to its end with the simulator's default (short) duration."""
    await imagine(fd, user, prompt)
    job = bot.store.recent_jobs(user.id, 1)[0]
    await wait_until(lambda: job_of(bot, job.id).state is JobState.DELIVERED, timeout=15)
    return job_of(bot, job.id)


async def working_image(fd, sim, bot, user, prompt: str) -> Job:
    """A job of `user` that stays working for several seconds."""
    sim.config.image_seconds = LONG_IMAGE
    await imagine(fd, user, prompt)
    job = bot.store.recent_jobs(user.id, 1)[0]
    await wait_until(lambda: (job_of(bot, job.id).progress or 0) > 0, timeout=10)
    return job_of(bot, job.id)


async def jobs_list(fd, caller, **options):
    inter = await fd.invoke("jobs", options, subcommand="list", user=caller)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.accepted
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    return answer


async def jobs_cancel(fd, user, job_id: int):
    inter = await fd.invoke("jobs", {"job": job_id}, subcommand="cancel", user=user)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    return answer


def description(message) -> str:
    assert message.embeds, message.content
    return message.embeds[0]["description"]


async def test_list_shows_a_working_jobs_progress(fd, sim, bot):
    alice = fd.users.alice
    job = await working_image(fd, sim, bot, alice, "a lighthouse at dusk")

    answer = await jobs_list(fd, alice)

    text = description(answer)
    assert f"**#{job.id}** · image · working" in text
    bar = BAR.search(text)
    assert bar is not None, text
    assert int(bar.group(1)) >= job.progress > 0  # progress only grows
    assert f"<t:{int(job.created_at)}:R>" in text
    assert "> a lighthouse at dusk" in text
    assert answer.embeds[0]["title"] == "Your last jobs"


async def test_list_with_no_jobs_says_so_and_suggests_imagine(fd, bot):
    answer = await jobs_list(fd, fd.users.bob)
    assert "no jobs yet" in answer.content
    assert "/imagine" in answer.content
    assert not answer.embeds


async def test_list_gives_the_reason_a_job_failed(fd, sim, bot):
    alice = fd.users.alice
    sim.config.credits = 0  # the create call is answered 400 "insufficient credits"
    inter = await fd.invoke("imagine", {"prompt": "a castle"}, user=alice)
    await fd.wait_for_response(inter, timeout=5)
    failed = bot.store.recent_jobs(alice.id, 1)[0]
    assert failed.state is JobState.FAILED and failed.error

    text = description(await jobs_list(fd, alice))

    assert f"**#{failed.id}** · image · failed" in text
    assert "⚠️" in text and failed.error[:40] in text
    assert not BAR.search(text)


async def test_a_plain_member_may_not_list_someone_elses_jobs(fd, bot):
    alice, bob = fd.users.alice, fd.users.bob
    await delivered_image(fd, bot, alice, "alice's secret garden")

    inter = await fd.invoke("jobs", {"user": alice}, subcommand="list", user=bob)
    ack = await fd.wait_for_ack(inter, timeout=3)

    assert ack.type == 4  # answered at once, before any work
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    assert "Manage Server" in answer.content
    assert "secret garden" not in answer.content and not answer.embeds


async def test_a_member_may_name_themselves(fd, bot):
    alice = fd.users.alice
    job = await delivered_image(fd, bot, alice, "a red kite")
    text = description(await jobs_list(fd, alice, user=alice))
    assert f"**#{job.id}**" in text


async def test_the_owner_can_list_alices_jobs_with_links_to_results(fd, bot):
    alice = fd.users.alice
    job = await delivered_image(fd, bot, alice, "a quiet harbour")

    answer = await jobs_list(fd, fd.users.owner, user=alice)

    text = description(answer)
    assert "Alice" in answer.embeds[0]["title"]
    assert f"**#{job.id}** · image · done" in text
    link = f"https://discord.com/channels/{fd.guild_id}/{fd.channel_id}/{job.result_message_id}"
    assert link in text
    result = [m for m in fd.messages() if m.id == job.result_message_id]
    assert result and result[0].files


async def test_cancel_stops_delivery_of_a_working_job(fd, sim, bot):
    alice = fd.users.alice
    cancelled = await working_image(fd, sim, bot, alice, "a tower in the fog")
    status_path = f"/api/image/{cancelled.miraflow_job_id}"

    answer = await jobs_cancel(fd, alice, cancelled.id)

    assert f"Stopped job #{cancelled.id}" in answer.content
    assert job_of(bot, cancelled.id).state is JobState.CANCELLED
    status = await fd.wait_for_message(
        lambda m: m.id == cancelled.status_message_id and "cancelled" in m.content, timeout=5
    )
    assert status.edits >= 1
    polls_at_cancel = sim.count("GET", status_path)

    # A second job of alice's, finished at the same moment, shows the poller at work.
    control = await working_image(fd, sim, bot, alice, "a control picture")
    cancelled_due = job_of(bot, cancelled.id).next_poll_at or 0.0
    await wait_until(lambda: time.time() > cancelled_due, timeout=10)
    sim.complete_now(cancelled.miraflow_job_id)
    sim.complete_now(control.miraflow_job_id)
    # The cancelled job was due before the control job: had it still been tracked, the
    # poller would have handled it by the time the control job is posted.
    await wait_until(lambda: job_of(bot, control.id).state is JobState.DELIVERED, timeout=10)

    results = [m for m in fd.messages() if m.files]
    assert [m.id for m in results] == [job_of(bot, control.id).result_message_id]
    assert all(m.nonce != f"mfjob{cancelled.id}" for m in fd.all_messages())
    # At most a poll already in flight when it was cancelled; then it is no longer tracked.
    assert sim.count("GET", status_path) <= polls_at_cancel + 1
    final = job_of(bot, cancelled.id)
    assert final.state is JobState.CANCELLED and final.result_message_id is None
    # Miraflow still works on it: it counts toward Alice's limit until its expected end.
    busy_until = final.next_poll_at
    assert busy_until is not None and busy_until > final.updated_at
    assert bot.store.active_count(alice.id, now=busy_until - 0.01) == 1
    assert bot.store.active_count(alice.id, now=busy_until) == 0


async def test_cancel_while_the_result_downloads_posts_nothing(fd, sim, bot):
    alice = fd.users.alice
    sim.hang("/files/images/")  # the picture's download is held: the delivery is under way
    await imagine(fd, alice, "a picture on its way")
    await wait_until(lambda: sim.held_requests >= 1, timeout=10)
    job = bot.store.recent_jobs(alice.id, 1)[0]
    assert job.state is JobState.COMPLETE

    answer = await jobs_cancel(fd, alice, job.id)
    assert f"Stopped job #{job.id}" in answer.content
    assert "Delete button" in answer.content  # honest about the race while it exists
    sim.unhang()
    await wait_until(lambda: bot.poller.in_flight == 0, timeout=10)

    assert not [m for m in fd.messages() if m.files]
    assert job_of(bot, job.id).state is JobState.CANCELLED


async def test_cancel_refuses_someone_elses_job_and_a_delivered_one(fd, sim, bot):
    alice, bob = fd.users.alice, fd.users.bob
    delivered = await delivered_image(fd, bot, alice, "a finished picture")
    working = await working_image(fd, sim, bot, alice, "a picture in progress")

    by_bob = await jobs_cancel(fd, bob, working.id)
    assert "can't find that job among yours" in by_bob.content
    assert job_of(bot, working.id).state is JobState.WORKING

    too_late = await jobs_cancel(fd, alice, delivered.id)
    assert "already delivered" in too_late.content
    assert job_of(bot, delivered.id).state is JobState.DELIVERED

    unknown = await jobs_cancel(fd, alice, 9999)
    assert "can't find that job" in unknown.content


async def test_cancel_autocomplete_lists_only_the_callers_pending_jobs(fd, sim, bot):
    alice, bob = fd.users.alice, fd.users.bob
    await delivered_image(fd, bot, alice, "already done")
    long_prompt = "a very long prompt about a lighthouse " * 10
    mine = await working_image(fd, sim, bot, alice, long_prompt)
    await working_image(fd, sim, bot, bob, "bob's picture")

    choices = await fd.autocomplete("jobs", {}, focused="job", subcommand="cancel", user=alice)

    assert [choice["value"] for choice in choices] == [mine.id]
    name = choices[0]["name"]
    assert name.startswith(f"#{mine.id} · image · working ")
    assert "%" in name and "a very long prompt" in name
    assert len(name) <= 100 and name.endswith("…")

    assert (
        await fd.autocomplete(
            "jobs", {"job": "lighthouse"}, focused="job", subcommand="cancel", user=alice
        )
        == choices
    )
    assert not await fd.autocomplete(
        "jobs", {"job": "bob"}, focused="job", subcommand="cancel", user=alice
    )
    bobs = await fd.autocomplete("jobs", {}, focused="job", subcommand="cancel", user=bob)
    assert [choice["value"] for choice in bobs] != [mine.id] and len(bobs) == 1
