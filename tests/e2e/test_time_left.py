"""Status messages estimate the time left once the bot has seen jobs of that kind finish."""

from __future__ import annotations

import re
import statistics
import time

from bot.jobs.estimate import MIN_SAMPLES, SAMPLES
from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import JobStore
from bot.ui.progress import time_left_words
from tests.e2e.harness import running_bot

STATUS_LAG = 5.0  # seconds at most between a job's start and its first status message


def shown_left(text: str) -> str:
    """The estimate in a status text: `about 11 min left`, `a few seconds left`."""
    found = re.search(r"· ((?:about|a few) [^·\n]* left)", text)
    assert found, f"no estimate in {text!r}"
    return found[1]


def expected_left(durations: list[float]) -> set[str]:
    """What a job just started may be told, from the durations the bot has seen: the
    typical one less up to STATUS_LAG seconds spent, in the words a member reads."""
    typical = statistics.median(durations)
    return {time_left_words(max(0.0, typical - lag / 10 * STATUS_LAG)) for lag in range(11)}


def is_status_of(message, job_id: int) -> bool:
    return message.content.startswith(f"**Job #{job_id}**")


def first_status_text(fd, job_id: int) -> str:
    (post,) = [
        call
        for call in fd.rest_calls
        if call.method == "POST"
        and call.path.endswith("/messages")
        and (call.json or {}).get("content", "").startswith(f"**Job #{job_id}**")
    ]
    return post.json["content"]


async def test_the_estimate_appears_after_enough_jobs_of_the_kind(fd, sim, bot):
    sim.config.image_seconds = (40.0, 40.0)  # one real second each
    for n in range(1, MIN_SAMPLES + 1):
        inter = await fd.invoke("imagine", {"prompt": f"a tide, take {n}"}, user=fd.users.alice)
        assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
        # The status message shows "done" once the job is recorded as delivered.
        await fd.wait_for_message(lambda m, n=n: is_status_of(m, n) and "done" in m.content, 15)
        assert "left" not in first_status_text(fd, n)

    seen = bot.store.recent_durations(JobKind.IMAGE, SAMPLES)
    inter = await fd.invoke("imagine", {"prompt": "one more tide"}, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    assert shown_left(first_status_text(fd, MIN_SAMPLES + 1)) in expected_left(seen)


async def test_the_estimate_is_the_typical_duration_of_the_kind(fd, sim, db_path):
    seeded = [600.0, 660.0, 900.0]  # finished image jobs: typically 11 minutes
    with JobStore(db_path) as store:
        for n, duration in enumerate(seeded):
            job = store.create_job(
                kind=JobKind.IMAGE,
                user_id=fd.users.bob.id,
                channel_id=fd.channel_id,
                guild_id=fd.guild_id,
                request=PictureRequest(prompt=f"seeded {n}"),
                upload_limit=10 * 1024 * 1024,
            )
            submitted = time.time() - 3600
            store.mark_submitted(job.id, f"seeded-{n}", submitted, now=submitted)
            store.update(job.id, state=JobState.DELIVERED, completed_at=submitted + duration)
    sim.config.image_seconds = (4000.0, 4000.0)  # still running while it is looked at
    async with running_bot(fd, sim, db_path):
        inter = await fd.invoke("imagine", {"prompt": "a slow tide"}, user=fd.users.alice)
        assert "Started job #4" in (await fd.wait_for_response(inter, timeout=10)).content
        await fd.wait_for_message(lambda m: is_status_of(m, 4), timeout=10)
        shown = shown_left(first_status_text(fd, 4))
    assert shown in expected_left(seeded)
    assert shown == "about 11 min left"
