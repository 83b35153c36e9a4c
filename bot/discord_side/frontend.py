"""The Discord front end of the job engine: status messages, notices and results, posted
with the bot token as channel messages (an interaction's token dies after 15 minutes)."""

from __future__ import annotations

import logging

import discord

from bot.discord_side import words
from bot.discord_side.status import StatusBoard, mention_only
from bot.jobs.frontend import FreshLink, Notice, Posted, ResultFile
from bot.jobs.models import Job
from bot.ui.buttons import result_view
from bot.ui.results import result_embed

log = logging.getLogger(__name__)

PAYLOAD_TOO_LARGE = 40005


class DiscordFrontend:
    """Implements `bot.jobs.frontend.Frontend` for Discord."""

    def __init__(self, bot: discord.Client, status: StatusBoard) -> None:
        self._bot = bot
        self.status = status

    def words(self, notice: Notice) -> str:
        return words.error_text(notice)

    async def show_status(self, job: Job, *, force: bool = False) -> None:
        await self.status.refresh(job, force=force)

    async def notify(self, job: Job, notice: Notice) -> None:
        await self.status.tell_requester(job, words.notice_text(job, notice))

    async def post_result(
        self, job: Job, result: ResultFile, fresh_link: FreshLink
    ) -> Posted | None:
        channel = self.status.channel(job)
        try:
            message = await self._send_or_link(channel, job, result, fresh_link)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info(
                "job %s: channel %s refused the result (%s), trying a DM",
                job.id,
                job.channel_id,
                exc,
            )
            try:
                dm = await self._bot.create_dm(discord.Object(job.user_id))
                message = await self._send_or_link(dm, job, result, fresh_link)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("job %s: DM refused too: %s", job.id, exc)
                return None
        return Posted(message.id, message.channel.id)

    async def _send(
        self, channel: discord.abc.Messageable, job: Job, result: ResultFile
    ) -> discord.Message:
        # A discord.File is spent by a send, even a failed one: make a new one each time.
        file = discord.File(result.path, filename=result.filename) if result.path else None
        return await channel.send(
            words.result_ready(job, result.link),
            embed=result_embed(job),
            file=file or discord.utils.MISSING,
            view=result_view(job),
            nonce=job.nonce,
            allowed_mentions=mention_only(job.user_id),
        )

    async def _send_or_link(
        self,
        channel: discord.abc.Messageable,
        job: Job,
        result: ResultFile,
        fresh_link: FreshLink,
    ) -> discord.Message:
        try:
            return await self._send(channel, job, result)
        except discord.HTTPException as exc:
            if exc.status != 413 and exc.code != PAYLOAD_TOO_LARGE:
                raise
        log.info("job %s: file refused as too large, posting a link", job.id)
        linked = ResultFile(None, result.filename, link=await fresh_link())
        return await self._send(channel, job, linked)
