"""What the job engine hands out, and the small interface a front end (Discord) implements.

The engine decides *what* happens to a job (it failed, it is ready, it timed out); the front
end decides how a person sees it, and owns every sentence. Nothing here knows Discord.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from bot.jobs.models import Job


class Outcome(StrEnum):
    """Why a job ended without a result, or why its requester is told something."""

    EXPIRED = "expired"  # Miraflow took longer than the timeout
    MIRAFLOW_FAILED = "miraflow_failed"  # Miraflow reported a failure (with its reason)
    LOST_BY_MIRAFLOW = "lost_by_miraflow"  # Miraflow no longer knows the job
    DELIVERY_FAILED = "delivery_failed"  # the result could not be fetched or posted
    POSTED_NOWHERE = "posted_nowhere"  # neither the channel nor a DM took the result
    OUTCOME_UNKNOWN = "outcome_unknown"  # the create call may or may not have reached Miraflow
    INTERRUPTED = "interrupted"  # the bot stopped during the create call
    CANCELLED = "cancelled"  # stopped by its requester
    REFUSED = "refused"  # Miraflow turned the create call down (see `Notice.error`)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell a job's requester, with Miraflow's own reason when there is one."""

    outcome: Outcome
    reason: str | None = None
    error: Exception | None = None


@dataclass(slots=True)
class ResultFile:
    """A fetched result: a local file to upload, or a link when it is too large."""

    path: Path | None
    filename: str
    link: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a result was posted: its message, in the job's channel or a DM."""

    message_id: int
    channel_id: int


FreshLink = Callable[[], Awaitable[str]]


class Frontend(Protocol):
    """How the engine reaches people. Every method swallows its own delivery problems
    except `post_result`, whose transient failures the engine retries."""

    def words(self, notice: Notice) -> str:
        """The sentence stored as a failed job's error, shown with its status."""
        ...

    async def show_status(self, job: Job, *, force: bool = False) -> None:
        """Show the job's current state (throttled unless `force`, for final states)."""
        ...

    async def notify(self, job: Job, notice: Notice) -> None:
        """Tell the requester about their job, where they will see it."""
        ...

    async def post_result(
        self, job: Job, result: ResultFile, fresh_link: FreshLink
    ) -> Posted | None:
        """Post a finished job's result once; None when no place takes it. `fresh_link`
        gives a download link when the file is refused as too large."""
        ...

    async def find_posted(self, job: Job) -> Posted | None:
        """The job's result post if it already exists (looked for among recent messages
        where it would be), else None. Asked before posting a result a crash or a failed
        attempt may already have posted."""
        ...


async def tell(frontend: Frontend, job: Job, notice: Notice) -> None:
    """Show a job's final state, then tell its requester why."""
    await frontend.show_status(job, force=True)
    await frontend.notify(job, notice)
