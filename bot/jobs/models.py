"""What a job is: its kind, its state and the row that tracks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobKind(StrEnum):
    IMAGE = "image"  # /imagine: text to image
    EDIT = "edit"  # /edit with reference images
    INPAINT = "inpaint"  # /edit with a mask
    VIDEO = "video"  # /speak: talking-avatar video

    @property
    def makes_video(self) -> bool:
        return self is JobKind.VIDEO


class JobState(StrEnum):
    SUBMITTING = "submitting"  # row written, create call not yet answered
    QUEUED = "queued"
    WORKING = "working"
    COMPLETE = "complete"  # Miraflow is done; the result is not yet posted
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the create call's outcome is unknown; never resubmitted

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_pollable(self) -> bool:
        """States the poller looks at: waiting on Miraflow, or waiting to be delivered."""
        return self in POLLABLE_STATES


TERMINAL_STATES = frozenset(
    {JobState.DELIVERED, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED, JobState.UNKNOWN}
)
ACTIVE_STATES = frozenset(set(JobState) - TERMINAL_STATES)
POLLABLE_STATES = frozenset({JobState.QUEUED, JobState.WORKING, JobState.COMPLETE})


@dataclass(slots=True)
class Job:
    id: int
    kind: JobKind
    state: JobState
    user_id: int
    channel_id: int
    guild_id: int | None = None
    miraflow_job_id: str | None = None
    status_message_id: int | None = None
    result_message_id: int | None = None
    result_channel_id: int | None = None  # the job's channel, or the DM it went to instead
    params: dict[str, Any] = field(default_factory=dict)
    progress: int | None = None
    next_poll_at: float | None = None
    attempts: int = 0  # consecutive failed polls or deliveries, for backoff
    polls: int = 0  # status calls made for this job
    upload_limit: int = 10 * 1024 * 1024
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    submitted_at: float | None = None
    completed_at: float | None = None
    delivered_at: float | None = None
    status_edited_at: float | None = None

    @property
    def nonce(self) -> str:
        """The Discord message nonce of this job's result post (≤ 25 characters)."""
        return f"mfjob{self.id}"
