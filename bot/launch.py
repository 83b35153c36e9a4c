"""Start a job from an interaction: the path every command and the Re-roll button share.

The interaction must already be deferred ephemerally, so each answer here (a quota
refusal, a Miraflow error, the confirmation) reaches only the person who asked; the
public status message is a channel message of its own.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import discord

from bot.guild_settings import DELIVERY_DM
from bot.jobs.dm_delivery import asked_in, back_to_channel, choose_channel
from bot.jobs.models import Job, JobKind
from bot.screening import screen
from bot.validation import (
    MAX_PROMPT_LENGTH,
    MAX_SEED,
    check_aspect_ratio,
    check_seed,
    clean_text,
)

if TYPE_CHECKING:
    from bot.client import MiraflowBot

NAME_LENGTH = 60


def random_seed() -> int:
    return random.randint(0, MAX_SEED)


def job_name(text: str) -> str:
    """A Miraflow job name derived from a prompt or script."""
    words = " ".join(text.split())
    return words[:NAME_LENGTH].rstrip() or "Discord request"


def picture_params(
    prompt: str, negative_prompt: str | None, aspect_ratio: str | None, seed: int | None
) -> dict[str, Any]:
    """The checked options every picture job shares (no I/O: run before acknowledging).
    A seed is always chosen, so the result says how to make it again."""
    text = clean_text(prompt, label="prompt", max_length=MAX_PROMPT_LENGTH)
    negative = clean_text(
        negative_prompt, label="negative prompt", max_length=MAX_PROMPT_LENGTH, required=False
    )
    chosen_seed = check_seed(seed)
    return {
        "prompt": text,
        "name": job_name(text),
        "aspect_ratio": check_aspect_ratio(aspect_ratio),
        "negative_prompt": negative or None,
        "seed": random_seed() if chosen_seed is None else chosen_seed,
    }


async def start_job(
    interaction: discord.Interaction,
    kind: JobKind,
    params: dict[str, Any],
    *,
    origin: Job | None = None,
) -> Job:
    """Check banned words and quotas, submit, post the status message and confirm to the
    requester. `origin` is the job a Re-roll repeats: its server's settings apply."""
    bot: MiraflowBot = interaction.client  # type: ignore[assignment]
    guild_id = origin.guild_id if origin is not None else interaction.guild_id
    screen(interaction, params, guild_id)
    bot.jobs.check_quota(interaction.user.id, guild_id)
    asked_channel_id = interaction.channel_id or interaction.user.id
    if origin is not None and interaction.guild_id is None:  # a Re-roll pressed in a DM
        asked_channel_id = asked_in(origin) or origin.channel_id
    by_dm = guild_id is not None and (
        interaction.guild_id is None or bot.guild_settings.delivery(guild_id) == DELIVERY_DM
    )
    channel_id = await choose_channel(bot, interaction.user, asked_channel_id, params, by_dm=by_dm)
    job = await bot.jobs.submit(
        kind,
        params,
        user_id=interaction.user.id,
        channel_id=channel_id,
        guild_id=guild_id,
        upload_limit=interaction.filesize_limit,
    )
    status_message = await bot.status_board.post(job)
    dms_closed = status_message is None and asked_in(job) is not None
    if dms_closed:
        job = back_to_channel(bot.store, job)
        status_message = await bot.status_board.post(job)
    bot.modlog.job_started(interaction, job, status_message)
    if status_message is not None and status_message.guild is None:
        text = f"Started job #{job.id}. I'll send the result to your DMs: {status_message.jump_url}"
    elif status_message is not None and dms_closed:
        text = (
            f"Started job #{job.id}. I can't send you DMs, so the result will be posted in "
            f"the channel: {status_message.jump_url}"
        )
    elif status_message is not None:
        text = f"Started job #{job.id}. Follow it here: {status_message.jump_url}"
    else:
        text = (
            f"Started job #{job.id}. I can't post in this channel, so I'll try to send "
            "you the result by DM."
        )
    await interaction.followup.send(text, ephemeral=True)
    return job
