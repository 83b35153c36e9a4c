"""The Vary button under a picture: an edit of that very picture, same prompt, new seed.

Its state (the job) lives in the custom_id, so it survives restarts like Re-roll and Delete.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.errors import UserFacingError, report_error
from bot.jobs.errors import NothingToRepeat
from bot.jobs.job_requests import (
    EditRequest,
    InpaintRequest,
    PictureRequest,
    random_seed,
)
from bot.launch import bot_of, start_edit_job
from bot.modlog import request_fields
from bot.pictures import PictureUnreadable, first_picture, read_found, upload_reader
from bot.screening import screen

log = logging.getLogger(__name__)

PICTURE_GONE = (
    "The picture of this result is gone from Discord, so there is nothing to vary. "
    "Run `/imagine` or `/edit` again instead."
)

TOO_LARGE_TO_VARY = (
    "This result was too large to post in Discord (it came as a link), so it cannot be "
    "varied. Run `/imagine` or `/edit` again instead."
)


def varied(request: PictureRequest | EditRequest | InpaintRequest) -> PictureRequest:
    """The picture options of `request` with a new seed (the prompts already hold its style)."""
    return PictureRequest(
        prompt=request.prompt,
        name=request.name,
        aspect_ratio=request.aspect_ratio,
        negative_prompt=request.negative_prompt,
        seed=random_seed(),
        style=request.style,
    )


async def current_message(interaction: discord.Interaction) -> discord.Message:
    """The clicked message as Discord has it now (it may have been deleted meanwhile)."""
    message = interaction.message
    if message is None:
        raise UserFacingError(PICTURE_GONE)
    try:
        return await message.channel.fetch_message(message.id)
    except discord.NotFound as exc:
        raise UserFacingError(PICTURE_GONE) from exc


class VaryButton(discord.ui.DynamicItem[discord.ui.Button], template=r"mf:vary:(?P<job_id>\d+)"):
    """A new edit job of whoever clicks, with the result picture as its reference."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Vary",
                emoji="🔀",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mf:vary:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VaryButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = bot_of(interaction)
        if not await bot.admit(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            original = bot.store.get(self.job_id)
            if original is None or not isinstance(
                original.request, PictureRequest | EditRequest | InpaintRequest
            ):
                raise NothingToRepeat(self.job_id)
            # Its server's banned words and delivery apply, as for a Re-roll.
            screen(interaction, request_fields(original.request), original.guild_id)
            message = await current_message(interaction)
            if not message.attachments:  # a result always carries its file, unless too large
                raise UserFacingError(TOO_LARGE_TO_VARY)
            found = first_picture(message)
            if found is None:
                raise UserFacingError(PICTURE_GONE)
            max_bytes = bot.settings.max_attachment_bytes
            api_base = bot.settings.discord_api_base_url

            async def read() -> bytes:
                try:
                    return await read_found(found, max_bytes=max_bytes, api_base=api_base)
                except PictureUnreadable as exc:
                    raise UserFacingError(PICTURE_GONE) from exc

            await start_edit_job(
                interaction,
                varied(original.request),
                upload_reader(read, max_bytes),
                original,
            )
        except Exception as exc:
            await report_error(interaction, exc, log)
