"""The Discord front end of the job engine: status messages, notices and results, posted
with the bot token as channel messages (an interaction's token dies after 15 minutes)."""

from __future__ import annotations

import logging

import discord

from bot.discord_side import words
from bot.discord_side.dm_delivery import fallback
from bot.discord_side.status import StatusBoard, mention_only
from bot.jobs.frontend import FreshLink, Notice, Posted, ResultFile
from bot.jobs.models import Job
from bot.ui.buttons import delete_custom_id, result_view
from bot.ui.results import result_embed

log = logging.getLogger(__name__)

PAYLOAD_TOO_LARGE = 40005
# How many recent messages are searched for a result post a crash may have left unrecorded.
HISTORY_LOOKBACK = 100


def _custom_ids(message: discord.Message) -> set[str]:
    return {
        child.custom_id
        for row in message.components
        if isinstance(row, discord.ActionRow)
        for child in row.children
        if isinstance(child, discord.Button) and child.custom_id
    }


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
                "job %s: channel %s refused the result (%s), trying elsewhere",
                job.id,
                job.channel_id,
                exc,
            )
            try:
                # Delivered by DM: the channel it was asked in; else the requester's DMs.
                elsewhere: discord.abc.Messageable | None = fallback(self._bot, job)
                if elsewhere is None:
                    elsewhere = await self._bot.create_dm(discord.Object(job.user_id))
                message = await self._send_or_link(elsewhere, job, result, fresh_link)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("job %s: refused there too: %s", job.id, exc)
                return None
        return Posted(message.id, message.channel.id)

    async def find_posted(self, job: Job) -> Posted | None:
        # Discord forgets a nonce after minutes, and history does not carry it: the post is
        # known by its Delete button, whose custom_id names the job.
        marker = delete_custom_id(job)
        places: list[discord.abc.Messageable] = [self.status.channel(job)]
        elsewhere = fallback(self._bot, job)
        if elsewhere is not None:
            places.append(elsewhere)
        for place in places:
            try:
                async for message in place.history(limit=HISTORY_LOOKBACK):
                    if self._bot.user is not None and message.author.id != self._bot.user.id:
                        continue
                    if marker in _custom_ids(message):
                        return Posted(message.id, message.channel.id)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("job %s: cannot read channel history there: %s", job.id, exc)
        return None

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
