"""The lag of an image counted as the fixed pollers' is (`bench.scenarios.note_seen_lags`):
from its completion to the instant the status call that saw it done left; and what counts
as a job's own call (`bench.calls.own_calls`)."""

from __future__ import annotations

import pytest

from bench.calls import calls_per_job
from bench.scenarios import bot_figures, note_seen_lags

STARTED, SPEED = 1000.0, 10.0  # real seconds, simulated seconds per real second


def image(job_id: str, done: float, lag: float | None) -> dict:
    return {"kind": "image", "miraflow_id": job_id, "done": done, "lag": lag, "calls": 2}


def test_the_last_status_call_of_each_image_is_the_one_that_saw_it_done() -> None:
    records = [image("a", 5.0, 1.5), image("b", 8.0, 0.4)]
    calls = [  # real seconds
        (STARTED + 0.3, "/api/image/a"),
        (STARTED + 0.6, "/api/image/b"),
        (STARTED + 0.62, "/api/image/a"),  # 6.2 simulated: 1.2 after a ended
        (STARTED + 0.83, "/api/image/b"),  # 8.3: 0.3 after b ended
    ]
    note_seen_lags(records, calls, STARTED, SPEED)
    assert [r["seen_lag"] for r in records] == pytest.approx([1.2, 0.3])
    assert bot_figures(records, [], SPEED)["seen_lag_p95"] == pytest.approx(1.2)  # nearest rank


def test_videos_and_undelivered_jobs_have_no_seen_lag() -> None:
    video = {"kind": "video", "miraflow_id": "v", "done": 5.0, "lag": 1.0, "calls": 1}
    lost = image("a", 5.0, None)
    calls = [(STARTED + 0.6, "/api/video/v/status"), (STARTED + 0.6, "/api/image/a")]
    note_seen_lags([video, lost], calls, STARTED, SPEED)
    assert video["seen_lag"] is None and lost["seen_lag"] is None
    assert "seen_lag_p95" not in bot_figures([video], [], SPEED)


def test_a_sweep_of_the_video_list_is_no_jobs_own_call() -> None:
    videos = [
        {"kind": "video", "miraflow_id": name, "done": 5.0, "lag": 1.0} for name in ("v", "w")
    ]
    picture = image("a", 5.0, 1.0)
    calls = [
        (STARTED + 0.3, "/api/video/v/status"),
        (STARTED + 0.4, "/api/videos"),
        (STARTED + 0.5, "/api/image/a"),
        (STARTED + 0.9, "/api/videos"),  # after a's last call: not the one that saw a done
    ]
    calls_per_job([*videos, picture], calls)
    assert [r["calls"] for r in [*videos, picture]] == [2.0, 1.0, 1.0]  # sweeps shared by videos
    note_seen_lags([picture], calls, STARTED, SPEED)
    assert picture["seen_lag"] == pytest.approx(0.0)
