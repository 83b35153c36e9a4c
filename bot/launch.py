"""Start a job from an interaction: the path every command and the Re-roll button share.

The interaction must already be deferred ephemerally, so each answer here (a quota
refusal, a Miraflow error, the confirmation) reaches only the person who asked; the
public status message is a channel message of its own.
"""

from __future__ import annotations

from typing import Protocol, cast

import discord

from bot.discord_side.dm_delivery import back_to_channel, choose_channel
from bot.discord_side.status import StatusBoard
from bot.guild_settings import DELIVERY_DM, GuildSettings
from bot.jobs.job_requests import EditRequest, JobRequest, PictureRequest, random_seed
from bot.jobs.models import Job
from bot.jobs.service import JobService, Origin, ReadFiles
from bot.jobs.store import Store
from bot.jobs.store.guild_settings import StoredStyle
from bot.modlog import ModLog
from bot.settings import Settings
from bot.validation import MAX_PROMPT_LENGTH, check_aspect_ratio, check_seed, clean_text

NAME_LENGTH = 60


def job_name(text: str) -> str:
    """A Miraflow job name derived from a prompt or script."""
    words = " ".join(text.split())
    return words[:NAME_LENGTH].rstrip() or "Discord request"


def picture_request(
    prompt: str,
    negative_prompt: str | None,
    aspect_ratio: str | None,
    seed: int | None,
    style: StoredStyle | None = None,
) -> PictureRequest:
    """The checked options every picture job shares (no I/O: run before acknowledging).
    A seed is always chosen, so the result says how to make it again. A style's text is
    added to the prompt and its negative to the negative prompt."""
    text = clean_text(prompt, label="prompt", max_length=MAX_PROMPT_LENGTH)
    negative = clean_text(
        negative_prompt, label="negative prompt", max_length=MAX_PROMPT_LENGTH, required=False
    )
    chosen_seed = check_seed(seed)
    return PictureRequest(
        prompt=_joined(text, style.text if style else ""),
        name=job_name(text),
        aspect_ratio=check_aspect_ratio(aspect_ratio),
        negative_prompt=_joined(negative, style.negative if style else "") or None,
        seed=random_seed() if chosen_seed is None else chosen_seed,
        style=style.name if style else None,
    )


def _joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


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
    def store(self) -> Store: ...
    @property
    def status_board(self) -> StatusBoard: ...
    @property
    def guild_settings(self) -> GuildSettings: ...
    @property
    def modlog(self) -> ModLog: ...
    @property
    def settings(self) -> Settings: ...
    async def admit(self, interaction: discord.Interaction) -> bool: ...


def bot_of(interaction: discord.Interaction) -> JobStarter:
    return cast(JobStarter, interaction.client)


async def origin_for(interaction: discord.Interaction, original: Job | None = None) -> Origin:
    """`origin_of`, with the server's delivery setting applied: a job of a server set to
    deliver by DM goes to the requester's DMs. `original` is the job a Re-roll repeats:
    its server's settings apply, even when the button is pressed in a DM."""
    bot = bot_of(interaction)
    origin = origin_of(interaction)
    guild_id = original.guild_id if original is not None else interaction.guild_id
    asked_channel_id = origin.channel_id
    if original is not None and interaction.guild_id is None:  # a Re-roll pressed in a DM
        asked_channel_id = original.asked_channel_id or original.channel_id
    by_dm = guild_id is not None and (
        interaction.guild_id is None or bot.guild_settings.delivery(guild_id) == DELIVERY_DM
    )
    channel_id, asked_in = await choose_channel(
        interaction.client, interaction.user, asked_channel_id, by_dm=by_dm
    )
    return Origin(
        user_id=origin.user_id,
        channel_id=channel_id,
        guild_id=guild_id,
        upload_limit=origin.upload_limit,
        asked_channel_id=asked_in,
    )


async def confirm_started(interaction: discord.Interaction, job: Job) -> None:
    """Post the new job's public status message (in the requester's DMs when the server
    delivers by DM, or in the channel when the DMs are closed), log it for the server's
    moderators, and tell the requester where it is."""
    bot = bot_of(interaction)
    status_message = await bot.status_board.post(job)
    dms_closed = status_message is None and job.asked_channel_id is not None
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


async def start_job(interaction: discord.Interaction, request: PictureRequest) -> Job:
    """Start a job that needs no upload (quotas, row, create call), then confirm it."""
    job = await bot_of(interaction).jobs.start(await origin_for(interaction), request)
    await confirm_started(interaction, job)
    return job


async def start_edit_job(
    interaction: discord.Interaction,
    picture: PictureRequest,
    read_files: ReadFiles,
    original: Job | None = None,
) -> Job:
    """Start an edit of the one picture `read_files` reads and checks (the quotas come
    first, so a member over them costs no download), then confirm it. `original` is the
    job a Vary varies."""

    def with_media(media_ids: list[str]) -> JobRequest:
        return EditRequest.of(picture, media_ids)

    bot = bot_of(interaction)
    origin = await origin_for(interaction, original)
    job = await bot.jobs.start_with_files(origin, read_files, with_media)
    await confirm_started(interaction, job)
    return job
