"""/imagine: a picture from a text prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.choices import CHOICE_LIMIT
from bot.launch import picture_request, start_job
from bot.modlog import request_fields
from bot.screening import screen
from bot.styles import require_style, style_autocomplete
from bot.validation import ASPECT_CHOICES, MAX_PROMPT_LENGTH, MAX_SEED

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot


class Imagine(commands.Cog):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to draw, in a sentence or two",
        aspect_ratio="The picture's shape (default 1:1)",
        negative_prompt="What the picture should not contain",
        seed="A number that makes the result repeatable (random if left out)",
        style="One of this server's styles, added to your prompt",
    )
    @app_commands.choices(aspect_ratio=ASPECT_CHOICES)
    @app_commands.autocomplete(style=style_autocomplete)
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: Range[str, 1, MAX_PROMPT_LENGTH],
        aspect_ratio: Choice[str] | None = None,
        negative_prompt: Range[str, 1, MAX_PROMPT_LENGTH] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
        style: Range[str, 1, CHOICE_LIMIT] | None = None,
    ) -> None:
        """Make a picture from a text prompt."""
        request = picture_request(
            prompt,
            negative_prompt,
            aspect_ratio.value if aspect_ratio else None,
            seed,
            require_style(interaction, style),
        )
        screen(interaction, request_fields(request))
        await interaction.response.defer(ephemeral=True, thinking=True)
        await start_job(interaction, request)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Imagine(bot))
