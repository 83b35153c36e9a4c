"""A recording stand-in for the Discord side (the engine's tests need no Discord at all), and
a clock the tests move by hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.jobs.frontend import FreshLink, Notice, Posted, ResultFile
from bot.jobs.models import Job


@dataclass
class RecordingFrontend:
    """Implements `Frontend`: records what the engine hands out; posts land as message ids."""

    shown: list[tuple[int, str, bool]] = field(default_factory=list)  # job id, state, forced
    notices: list[tuple[int, Notice]] = field(default_factory=list)
    posted: list[tuple[int, ResultFile]] = field(default_factory=list)
    refuse_posts: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def words(self, notice: Notice) -> str:
        return f"words for {notice.outcome.value}"

    async def show_status(self, job: Job, *, force: bool = False) -> None:
        self.shown.append((job.id, job.state.value, force))
        self.changed.set()

    async def notify(self, job: Job, notice: Notice) -> None:
        self.notices.append((job.id, notice))
        self.changed.set()

    async def post_result(
        self, job: Job, result: ResultFile, fresh_link: FreshLink
    ) -> Posted | None:
        self.changed.set()
        if self.refuse_posts:
            return None
        self.posted.append((job.id, result))
        return Posted(message_id=1000 + job.id, channel_id=job.channel_id)

    async def find_posted(self, job: Job) -> Posted | None:
        for job_id, _result in self.posted:
            if job_id == job.id:
                return Posted(message_id=1000 + job.id, channel_id=job.channel_id)
        return None


class Clock:
    """A clock that stands still until a test moves `now`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
