"""/videos list and /videos get: the Miraflow account's finished videos.

The account is shared by the whole server, so both commands need Manage Server by default
(server admins can grant them to other roles in the server's integration settings).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.choices import CHOICE_LIMIT as CHOICE_LENGTH
from bot.errors import UserFacingError
from bot.jobs.job_requests import FoundVideo
from bot.launch import origin_of
from bot.miraflow import MiraflowError, NotFoundError
from bot.miraflow.models import Video
from bot.ui.pages import MAX_EMBEDS_PER_MESSAGE, PagedView, chunks, page_footer
from bot.ui.progress import short
from bot.ui.results import EMBED_COLOUR

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

log = logging.getLogger(__name__)

AVATAR_NAMES_WITHIN = 2.0  # /videos list shows avatar ids instead of waiting longer
NOT_FOUND = (
    "I can't find that video. Pick one from the list as you type, or see `/videos list`. "
    "A video only appears once Miraflow has finished it."
)


def video_title(video: Video) -> str:
    return short(video.name or "Untitled video", 100)


def video_embed(video: Video, avatar_names: dict[str, str]) -> discord.Embed:
    embed = discord.Embed(title=video_title(video), colour=EMBED_COLOUR)
    embed.add_field(name="ID", value=f"`{video.id}`", inline=True)
    when = video.created
    created = discord.utils.format_dt(when, "f") if when else (video.created_at or "unknown")
    embed.add_field(name="Created", value=created, inline=True)
    if video.source_avatar_id:
        name = avatar_names.get(video.source_avatar_id)
        avatar = (
            f"{short(name, 60)} (`{video.source_avatar_id}`)" if name else video.source_avatar_id
        )
        embed.add_field(name="Avatar", value=avatar, inline=True)
    return embed


def video_pages(videos: Sequence[Video], avatar_names: dict[str, str]) -> list[list[discord.Embed]]:
    groups = chunks(list(videos), MAX_EMBEDS_PER_MESSAGE)
    pages = [[video_embed(video, avatar_names) for video in group] for group in groups]
    for index, page in enumerate(pages):
        page_footer(page, index, len(pages), f"{len(videos)} videos · post one with /videos get")
    return pages


def choice_name(video: Video) -> str:
    when = video.created
    suffix = f" · {when:%Y-%m-%d}" if when else ""
    return short(video.name or video.id, CHOICE_LENGTH - len(suffix)) + suffix


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Videos(
    commands.GroupCog,
    group_name="videos",
    group_description="The Miraflow account's finished videos",
):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    @app_commands.command(name="list")
    async def list_videos(self, interaction: discord.Interaction) -> None:
        """Browse the account's finished videos, newest first."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        videos = await self.bot.catalogue_for(interaction.guild_id).videos(fresh=True)
        if not videos:
            await interaction.followup.send(
                "There are no finished videos on this Miraflow account yet. "
                "Make one with `/speak`.",
                ephemeral=True,
            )
            return
        pages = video_pages(videos, await self._avatar_names(interaction.guild_id))
        if len(pages) == 1:
            await interaction.followup.send(embeds=pages[0], ephemeral=True)
            return
        await PagedView(interaction.user.id, pages).send(interaction)

    @app_commands.command(name="get")
    @app_commands.describe(video="The video to post: start typing its name, or paste its id")
    async def get_video(
        self, interaction: discord.Interaction, video: Range[str, 1, CHOICE_LENGTH]
    ) -> None:
        """Post one of the account's videos in this channel (a link if it is too large)."""
        wanted = video.strip()
        if not wanted:
            raise UserFacingError("Tell me which video: start typing its name, or paste its id.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self._find(wanted, interaction.guild_id)
        name = found.name or found.id
        avatar_name = None
        if found.source_avatar_id:
            # Shown in the result's embed.
            names = await self._avatar_names(interaction.guild_id)
            avatar_name = names.get(found.source_avatar_id)
        request = FoundVideo(
            video_id=found.id,
            name=name,
            avatar_id=found.source_avatar_id or None,
            avatar_name=avatar_name or None,
        )
        job = self.bot.jobs.adopt_finished(origin_of(interaction), found.id, request)
        await interaction.followup.send(
            f"Posting **{discord.utils.escape_markdown(short(name, 100))}** in this channel "
            f"in a moment (job #{job.id}).",
            ephemeral=True,
        )

    @get_video.autocomplete("video")
    async def video_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice[str]]:
        videos = await self.bot.catalogue_for(interaction.guild_id).suggest_videos(current)
        return [
            Choice(name=choice_name(v), value=v.id) for v in videos if len(v.id) <= CHOICE_LENGTH
        ]

    async def _find(self, wanted: str, guild_id: int | None) -> Video:
        """The video with this id, or else the newest one with exactly this name, on the
        server's account."""
        try:
            found = await self.bot.client_for(guild_id).get_video(wanted)
        except NotFoundError:
            pass
        else:
            found.id = found.id or wanted  # an answer that does not repeat the id
            return found
        folded = wanted.casefold()
        videos = await self.bot.catalogue_for(guild_id).videos(fresh=True)
        named = [v for v in videos if (v.name or "").casefold() == folded]
        if not named:
            raise UserFacingError(NOT_FOUND)
        return named[0]

    async def _avatar_names(self, guild_id: int | None) -> dict[str, str]:
        """Avatar names by id, if the catalogue answers quickly; else none (ids are shown)."""
        catalogue = self.bot.catalogue_for(guild_id)
        try:
            avatars = await asyncio.wait_for(catalogue.avatars(), AVATAR_NAMES_WITHIN)
        except (MiraflowError, TimeoutError) as exc:
            log.info("avatar names unavailable for /videos: %r", exc)
            return {}
        return {avatar.id: avatar.name for avatar in avatars}


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Videos(bot))
