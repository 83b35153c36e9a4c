"""Start a job from an interaction: the path every command and the Re-roll button share.

The interaction must already be deferred ephemerally, so each answer here (a quota
refusal, a Miraflow error, the confirmation) reaches only the person who asked; the
public status message is a channel message of its own.
"""

from __future__ import annotations

from typing import Protocol, cast

import discord

from bot.discord_side.status import StatusBoard
from bot.jobs.job_requests import PictureRequest, random_seed
from bot.jobs.models import Job
from bot.jobs.service import JobService, Origin
from bot.validation import MAX_PROMPT_LENGTH, check_aspect_ratio, check_seed, clean_text

NAME_LENGTH = 60


def job_name(text: str) -> str:
    """A Miraflow job name derived from a prompt or script."""
    words = " ".join(text.split())
    return words[:NAME_LENGTH].rstrip() or "Discord request"


def picture_request(
    prompt: str, negative_prompt: str | None, aspect_ratio: str | None, seed: int | None
) -> PictureRequest:
    """The checked options every picture job shares (no I/O: run before acknowledging).
    A seed is always chosen, so the result says how to make it again."""
    text = clean_text(prompt, label="prompt", max_length=MAX_PROMPT_LENGTH)
    negative = clean_text(
        negative_prompt, label="negative prompt", max_length=MAX_PROMPT_LENGTH, required=False
    )
    chosen_seed = check_seed(seed)
    return PictureRequest(
        prompt=text,
        name=job_name(text),
        aspect_ratio=check_aspect_ratio(aspect_ratio),
        negative_prompt=negative or None,
        seed=random_seed() if chosen_seed is None else chosen_seed,
    )


def origin_of(interaction: discord.Interaction) -> Origin:
    """Who asked, where the result goes, and the largest file that place takes."""
    return Origin(
        user_id=interaction.user.id,
        channel_id=interaction.channel_id or interaction.user.id,
        guild_id=interaction.guild_id,
        upload_limit=interaction.filesize_limit,
    )


class JobStarter(Protocol):
    """What starting a job needs of the bot (`MiraflowBot` is one; naming it here would
    make an import circle through the buttons it registers)."""

    @property
    def jobs(self) -> JobService: ...
    @property
    def status_board(self) -> StatusBoard: ...
    async def admit(self, interaction: discord.Interaction) -> bool: ...


def bot_of(interaction: discord.Interaction) -> JobStarter:
    return cast(JobStarter, interaction.client)


async def confirm_started(interaction: discord.Interaction, job: Job) -> None:
    """Post the new job's public status message and tell the requester where it is."""
    status_message = await bot_of(interaction).status_board.post(job)
    if status_message is not None:
        text = f"Started job #{job.id}. Follow it here: {status_message.jump_url}"
    else:
        text = (
            f"Started job #{job.id}. I can't post in this channel, so I'll try to send "
            "you the result by DM."
        )
    await interaction.followup.send(text, ephemeral=True)


async def start_job(interaction: discord.Interaction, request: PictureRequest) -> Job:
    """Start a job that needs no upload (quotas, row, create call), then confirm it."""
    job = await bot_of(interaction).jobs.start(origin_of(interaction), request)
    await confirm_started(interaction, job)
    return job
