"""The status message shows progress as a bar and a percentage, edited at most every 5 s."""

from __future__ import annotations

import itertools
import re

from bot.discord_side.status import EDIT_INTERVAL


async def test_status_message_shows_progress_and_is_not_edited_too_often(fd, sim, bot):
    sim.config.image_seconds = (480.0, 480.0)  # 12 s of real time
    inter = await fd.invoke("imagine", {"prompt": "a slow tide"}, user=fd.users.alice)
    await fd.wait_for_ack(inter, timeout=3)
    status = await fd.wait_for_message(lambda m: m.content.startswith("**Job #1**"), timeout=5)
    assert status.pinged_nobody
    await fd.wait_for_message(lambda m: bool(m.files), timeout=30)
    await fd.wait_for_message(lambda m: m.id == status.id and "done" in m.content, timeout=5)

    edits = [
        call
        for call in fd.rest_calls
        if call.method == "PATCH" and call.path.endswith(f"/messages/{status.id}")
    ]
    contents = [call.json["content"] for call in edits]
    percentages = [int(p) for c in contents for p in re.findall(r"(\d+)%", c)]
    assert any(0 < p < 100 for p in percentages), contents
    assert "▰" in "".join(contents)
    assert "done" in contents[-1]
    # Progress edits are throttled; only the final one may come sooner.
    times = [call.at for call in edits[:-1]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= EDIT_INTERVAL - 0.05 for gap in gaps), gaps
    assert len(edits) >= 2
