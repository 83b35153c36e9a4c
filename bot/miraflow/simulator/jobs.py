"""Simulated jobs: a schedule fixed at creation, a state computed from the clock on demand."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import SimulatorConfig
from .ids import new_cuid
from .progress import PROGRESS_POINTS, plan

JobKind = Literal["image", "edit", "inpaint", "video"]
Outcome = Literal["complete", "failed", "error"]
IMAGE_KINDS: frozenset[str] = frozenset({"image", "edit", "inpaint"})

STARTED = "inference_started"
WORKING = "inference_working"
COMPLETE = "inference_complete"
FAILED = "inference_failed"
ERROR = "inference_error"
TERMINAL_STATUS: dict[Outcome, str] = {"complete": COMPLETE, "failed": FAILED, "error": ERROR}

MAX_QUEUE_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class SimStatus:
    status: str
    # Whole percent; None while queued.
    progress: int | None

    @property
    def is_terminal(self) -> bool:
        return self.status in (COMPLETE, FAILED, ERROR)

    @property
    def is_complete(self) -> bool:
        return self.status == COMPLETE

    def body(self, failure_reason: str | None = None) -> dict[str, Any]:
        """The status body of ``GET /api/video/{id}/status`` (and of an unfinished image);
        a failed job's carries ``failure_reason`` as its message, if given."""
        answer: dict[str, Any] = {"result": "success", "status": self.status}
        if self.progress is not None:
            answer["progress"] = f"{self.progress}%"
        if failure_reason is not None and self.status in (FAILED, ERROR):
            answer["message"] = failure_reason
        return answer


@dataclass
class SimJob:
    """One job. Times ``created_at`` and ``complete_at`` are wall-clock ``time.time()`` values;
    ``complete_at`` is when the job reaches its terminal state (whatever the outcome), so a
    benchmark can measure how long after it the result was delivered."""

    id: str
    kind: JobKind
    params: dict[str, Any]
    created_at: float
    # Simulated seconds from creation to the terminal state.
    duration: float
    complete_at: float
    outcome: Outcome
    queue_fraction: float
    # Whole percent at PROGRESS_POINTS points of the duration; None: no progress shown.
    progress_points: list[int | None] = field(repr=False)
    # The media id of an image job's result (images only).
    result_media_id: str | None = None
    # The rendered picture of an image job, made at its first download.
    picture: bytes | None = field(default=None, repr=False)
    # The account (API key) that made it: no other key sees it.
    account: str = ""

    @property
    def name(self) -> str:
        return str(self.params.get("name", ""))

    def fraction_at(self, now: float) -> float:
        span = self.complete_at - self.created_at
        if span <= 0:
            return 1.0
        return (now - self.created_at) / span

    def status_at(self, now: float) -> SimStatus:
        fraction = self.fraction_at(now)
        if fraction >= 1.0:
            status = TERMINAL_STATUS[self.outcome]
            return SimStatus(status, 100 if self.outcome == "complete" else None)
        if fraction < self.queue_fraction:
            return SimStatus(STARTED, None)
        index = min(int(fraction * PROGRESS_POINTS), PROGRESS_POINTS - 1)
        return SimStatus(WORKING, self.progress_points[index])

    def finish_now(self, now: float, outcome: Outcome = "complete") -> None:
        self.outcome = outcome
        self.complete_at = min(self.complete_at, now)


def new_job(
    rng: random.Random,
    kind: JobKind,
    params: dict[str, Any],
    config: SimulatorConfig,
    now: float,
    account: str = "",
) -> SimJob:
    """A job of ``account`` created at wall-clock ``now``, its duration and outcome drawn
    from ``rng``."""
    configured = config.video_seconds if kind == "video" else config.image_seconds
    duration, draw_points = plan(config.progress_model, kind == "video", configured, rng)
    outcome: Outcome = "complete"
    if rng.random() < config.failure_rate:
        outcome = rng.choice(("failed", "error"))
    queue_fraction = min(max(config.queue_fraction, 0.0), MAX_QUEUE_FRACTION)
    speed = config.speed if config.speed > 0 else 1.0
    return SimJob(
        id=new_cuid(rng),
        kind=kind,
        params=params,
        created_at=now,
        duration=duration,
        complete_at=now + duration / speed,
        outcome=outcome,
        queue_fraction=queue_fraction,
        progress_points=draw_points(queue_fraction, rng),
        result_media_id=new_cuid(rng) if kind in IMAGE_KINDS else None,
        account=account,
    )
