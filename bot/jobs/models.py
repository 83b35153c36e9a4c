"""What a job is: the row that tracks it (its kinds and states are in `states.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.jobs.job_requests import JobRequest, UnreadableRequest
from bot.jobs.states import (
    ACTIVE_STATES,
    CANCELLABLE_STATES,
    POLLABLE_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    JobKind,
    JobSource,
    JobState,
)

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE_STATES",
    "POLLABLE_STATES",
    "TERMINAL_STATES",
    "WAITING_STATES",
    "Job",
    "JobKind",
    "JobSource",
    "JobState",
]

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


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
    request: JobRequest = field(default_factory=lambda: UnreadableRequest({}))
    source: JobSource = JobSource.COMMAND
    progress: int | None = None
    next_poll_at: float | None = None
    attempts: int = 0  # consecutive failed polls or deliveries, for backoff
    polls: int = 0  # status calls made for this job
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    submitted_at: float | None = None
    completed_at: float | None = None  # when the bot found it done
    # When it probably ended at Miraflow (the bot's estimate, between the last poll that saw
    # it working and the one that saw it done): what its duration is learned from.
    ended_at: float | None = None
    delivered_at: float | None = None
    status_edited_at: float | None = None
    # Delivered by DM (`/settings delivery`): the server channel it was asked in, its
    # fallback when the DMs are closed. None for a job delivered where it was asked.
    asked_channel_id: int | None = None

    @property
    def started_at(self) -> float:
        """When Miraflow took the job (when it was created, before it was sent)."""
        return self.submitted_at or self.created_at

    @property
    def nonce(self) -> str:
        """The Discord message nonce of this job's result post (≤ 25 characters)."""
        return f"mfjob{self.id}"
