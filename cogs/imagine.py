"""/imagine: a picture from a text prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.jobs.models import JobKind
from bot.launch import job_name, random_seed, start_job
from bot.validation import (
    ASPECT_RATIOS,
    MAX_PROMPT_LENGTH,
    MAX_SEED,
    check_aspect_ratio,
    check_seed,
    clean_text,
)

if TYPE_CHECKING:
    from bot.client import MiraflowBot

ASPECT_CHOICES = [Choice(name=ratio, value=ratio) for ratio in ASPECT_RATIOS]


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
    )
    @app_commands.choices(aspect_ratio=ASPECT_CHOICES)
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: Range[str, 1, MAX_PROMPT_LENGTH],
        aspect_ratio: Choice[str] | None = None,
        negative_prompt: Range[str, 1, MAX_PROMPT_LENGTH] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        """Make a picture from a text prompt."""
        text = clean_text(prompt, label="prompt", max_length=MAX_PROMPT_LENGTH)
        negative = clean_text(
            negative_prompt, label="negative prompt", max_length=MAX_PROMPT_LENGTH, required=False
        )
        ratio = check_aspect_ratio(aspect_ratio.value if aspect_ratio else None)
        chosen_seed = check_seed(seed)
        await interaction.response.defer(ephemeral=True, thinking=True)
        params = {
            "prompt": text,
            "name": job_name(text),
            "aspect_ratio": ratio,
            "negative_prompt": negative or None,
            "seed": random_seed() if chosen_seed is None else chosen_seed,
        }
        await start_job(interaction, JobKind.IMAGE, params)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Imagine(bot))
