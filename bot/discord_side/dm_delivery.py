"""`/settings delivery mode:dm`: a job's status message and result go to its requester's DMs.

Such a job's channel is the requester's DM channel; the server channel it was asked in is
kept as its `asked_channel_id`. That channel is the fallback when the DMs are closed, as the
DMs are the fallback of a job delivered in its channel.
"""

from __future__ import annotations

import logging

import discord

from bot.jobs.models import Job
from bot.jobs.store import Store

log = logging.getLogger(__name__)


def messageable(bot: discord.Client, job: Job) -> discord.PartialMessageable:
    """The job's own channel. A DM belongs to no server (links to its messages use @me)."""
    guild_id = None if job.asked_channel_id else job.guild_id
    return bot.get_partial_messageable(job.channel_id, guild_id=guild_id)


def fallback(bot: discord.Client, job: Job) -> discord.PartialMessageable | None:
    """Where a DM-delivered job goes when the DMs refuse it: the channel it was asked in."""
    if job.asked_channel_id is None:
        return None
    return bot.get_partial_messageable(job.asked_channel_id, guild_id=job.guild_id)


async def choose_channel(
    bot: discord.Client, user: discord.abc.User, asked_channel_id: int, *, by_dm: bool
) -> tuple[int, int | None]:
    """The channel of a new job and, when it is a DM, the channel it was asked in."""
    if not by_dm:
        return asked_channel_id, None
    try:
        dm = await bot.create_dm(discord.Object(user.id))
    except discord.HTTPException as exc:
        log.info("no DM channel with user %s (%s); delivering in the channel", user.id, exc)
        return asked_channel_id, None
    return dm.id, asked_channel_id


def back_to_channel(store: Store, job: Job) -> Job:
    """Deliver a job in the channel it was asked in after all (the DMs are closed)."""
    assert job.asked_channel_id is not None
    moved = store.update(job.id, channel_id=job.asked_channel_id, asked_channel_id=None)
    assert moved is not None
    return moved
