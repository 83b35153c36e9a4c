"""Stored requests of every format version load; a newer one is kept unread."""

from __future__ import annotations

import json

from bot.jobs.job_requests import (
    EditRequest,
    PictureRequest,
    UnreadableRequest,
    dump_request,
    load_request,
)
from bot.jobs.states import JobKind


def test_a_version_1_row_loads_without_a_style() -> None:
    text = json.dumps(
        {"v": 1, "type": "edit", "prompt": "blue", "media_ids": ["m1"], "name": "n", "seed": 3}
    )

    assert load_request(JobKind.EDIT, text) == EditRequest("blue", ("m1",), "n", seed=3)


def test_a_style_survives_the_round_trip() -> None:
    request = PictureRequest("a cat, ink wash", "a cat", seed=5, style="ink")

    assert load_request(JobKind.IMAGE, dump_request(request)) == request


def test_a_newer_format_is_kept_unread() -> None:
    text = json.dumps({"v": 99, "type": "picture", "prompt": "x"})

    assert isinstance(load_request(JobKind.IMAGE, text), UnreadableRequest)
