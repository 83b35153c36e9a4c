"""`/settings delivery mode:dm`: a job's status message and result go to its requester's DMs.

Such a job's channel is the requester's DM channel; the server channel it was asked in is
kept in its params. That channel is the fallback when the DMs are closed, as the DMs are
the fallback of a job delivered in its channel.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.jobs.models import Job
from bot.jobs.store import JobStore

log = logging.getLogger(__name__)

ASKED_IN = "asked_in_channel"


def asked_in(job: Job) -> int | None:
    """The server channel a DM-delivered job was asked in; None for any other job."""
    value = job.params.get(ASKED_IN)
    return int(value) if value else None


def messageable(bot: discord.Client, job: Job) -> discord.PartialMessageable:
    """The job's own channel. A DM belongs to no server (links to its messages use @me)."""
    guild_id = None if asked_in(job) else job.guild_id
    return bot.get_partial_messageable(job.channel_id, guild_id=guild_id)


def fallback(bot: discord.Client, job: Job) -> discord.PartialMessageable | None:
    """Where a DM-delivered job goes when the DMs refuse it: the channel it was asked in."""
    channel_id = asked_in(job)
    if channel_id is None:
        return None
    return bot.get_partial_messageable(channel_id, guild_id=job.guild_id)


async def choose_channel(
    bot: discord.Client,
    user: discord.abc.User,
    asked_channel_id: int,
    params: dict[str, Any],
    *,
    by_dm: bool,
) -> int:
    """The channel of a new job; for delivery by DM, marks `params` and opens the DM."""
    # A Re-roll repeats its original's params: where it was asked is decided anew.
    asked = params.pop(ASKED_IN, None) or asked_channel_id
    if not by_dm:
        return int(asked)
    try:
        dm = await bot.create_dm(discord.Object(user.id))
    except discord.HTTPException as exc:
        log.info("no DM channel with user %s (%s); delivering in the channel", user.id, exc)
        return int(asked)
    params[ASKED_IN] = int(asked)
    return dm.id


def back_to_channel(store: JobStore, job: Job) -> Job:
    """Deliver a job in the channel it was asked in after all (the DMs are closed)."""
    params = dict(job.params)
    channel_id = params.pop(ASKED_IN)
    store.update(job.id, channel_id=int(channel_id), params=params)
    moved = store.get(job.id)
    assert moved is not None
    return moved
