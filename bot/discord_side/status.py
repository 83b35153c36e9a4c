"""A job's public status message and the notices sent to its requester.

Everything here is posted with the bot token as plain channel messages: an
interaction's token dies after 15 minutes, long before many jobs end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp
import discord

from bot.discord_side.dm_delivery import fallback, messageable
from bot.jobs.estimate import Estimates
from bot.jobs.models import Job, JobState
from bot.jobs.store import Store
from bot.ui.progress import status_line

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # Discord-friendly: a status message changes at most this often
# Editing a message older than an hour is rate-limited hard (error 30046).
MAX_EDIT_AGE = 55 * 60


def mention_only(user_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(user_id)], replied_user=False
    )


class StatusBoard:
    def __init__(
        self,
        bot: discord.Client,
        store: Store,
        clock: Callable[[], float] = time.time,
        estimates: Estimates | None = None,
    ) -> None:
        self._bot = bot
        self._store = store
        self._clock = clock
        self._estimates = estimates

    def _line(self, job: Job) -> str:
        return status_line(job, self._estimates.left(job) if self._estimates else None)

    def channel(self, job: Job) -> discord.PartialMessageable:
        return messageable(self._bot, job)

    async def post(self, job: Job) -> discord.Message | None:
        """Post the status message of a new job; None when the channel refuses it."""
        try:
            message = await self.channel(job).send(
                self._line(job), allowed_mentions=discord.AllowedMentions.none()
            )
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %s: cannot post its status message: %s", job.id, exc)
            return None
        self._store.update(job.id, status_message_id=message.id, status_edited_at=self._clock())
        return message

    def _editable(self, job: Job, message_id: int, force: bool) -> bool:
        now = self._clock()
        created = discord.utils.snowflake_time(message_id).timestamp()
        if now - created > MAX_EDIT_AGE:
            return False
        return force or job.status_edited_at is None or now - job.status_edited_at >= EDIT_INTERVAL

    async def refresh(self, job: Job, *, force: bool = False) -> None:
        """Show the job's current state; throttled unless `force` (for final states)."""
        if self._estimates is not None and job.state is JobState.DELIVERED:
            self._estimates.saw_finished(job.kind)
        message_id = job.status_message_id
        if message_id is None or not self._editable(job, message_id, force):
            return
        self._store.update(job.id, status_edited_at=self._clock())
        try:
            await (
                self.channel(job)
                .get_partial_message(message_id)
                .edit(content=self._line(job), allowed_mentions=discord.AllowedMentions.none())
            )
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.debug("job %s: status message not edited: %s", job.id, exc)

    async def tell_requester(self, job: Job, text: str) -> bool:
        """Post `text` to the requester, in the job's channel or else by DM."""
        content = f"<@{job.user_id}> {text}"
        try:
            await self.channel(job).send(content, allowed_mentions=mention_only(job.user_id))
            return True
        except (discord.NotFound, discord.Forbidden):
            pass
        except discord.HTTPException as exc:
            log.info("job %s: notice not posted in its channel: %s", job.id, exc)
        try:
            elsewhere = fallback(self._bot, job)
            if elsewhere is not None:  # delivered by DM: the channel it was asked in
                await elsewhere.send(content, allowed_mentions=mention_only(job.user_id))
                return True
            dm = await self._bot.create_dm(discord.Object(job.user_id))
            await dm.send(text)
            return True
        except discord.HTTPException as exc:
            log.info("job %s: notice not sent elsewhere either: %s", job.id, exc)
            return False
