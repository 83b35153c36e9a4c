"""Jobs by state, as /metrics reads them (both backends)."""

from __future__ import annotations

from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import Store


def test_count_by_state_counts_each_state_present(store: Store) -> None:
    assert store.count_by_state() == {}
    new = {"kind": JobKind.IMAGE, "user_id": 1, "channel_id": 2, "guild_id": 3}
    picture = PictureRequest(prompt="a lighthouse")
    ids = [store.create_job(**new, request=picture, upload_limit=1024).id for _ in range(4)]
    store.mark_submitted(ids[0], "mf-1", next_poll_at=0.0)
    store.mark_submitted(ids[1], "mf-2", next_poll_at=0.0)
    store.set_state(ids[2], JobState.FAILED, error="test")
    assert store.count_by_state() == {"submitting": 1, "queued": 2, "failed": 1}
