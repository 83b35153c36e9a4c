"""Status messages estimate the time left once the bot has seen jobs of that kind finish."""

from __future__ import annotations

from bot.jobs.estimate import MIN_SAMPLES


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

    inter = await fd.invoke("imagine", {"prompt": "one more tide"}, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    assert "left" in first_status_text(fd, MIN_SAMPLES + 1)
