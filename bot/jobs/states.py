"""The kinds, states and origins of a job, and the state sets every module shares."""

from __future__ import annotations

from enum import StrEnum


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
WAITING_STATES = frozenset({JobState.QUEUED, JobState.WORKING})  # waiting on Miraflow
CANCELLABLE_STATES = frozenset({JobState.QUEUED, JobState.WORKING, JobState.COMPLETE})


class JobSource(StrEnum):
    """Where a job came from."""

    COMMAND = "command"  # a slash command
    REROLL = "reroll"  # the Re-roll button under a result
    VIDEOS_GET = "videos_get"  # `/videos get`: a finished video, no create call, no credit

    @property
    def costs_credit(self) -> bool:
        return self is not JobSource.VIDEOS_GET
