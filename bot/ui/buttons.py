"""Buttons under a result. Their state lives in the custom_id, so they survive restarts."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.errors import report_error
from bot.jobs.models import Job, JobSource
from bot.launch import bot_of, confirm_started, origin_for
from bot.modlog import request_fields
from bot.screening import screen
from bot.ui.vary import VaryButton

log = logging.getLogger(__name__)


class RerollButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"mf:reroll:(?P<job_id>\d+)"
):
    """Same request with a new seed, as a new job of whoever clicks."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Re-roll",
                emoji="🎲",
                style=discord.ButtonStyle.primary,
                custom_id=f"mf:reroll:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RerollButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = bot_of(interaction)
        if not await bot.admit(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            original = bot.store.get(self.job_id)
            if original is not None:  # its server's banned words and delivery apply
                screen(interaction, request_fields(original.request), original.guild_id)
            job = await bot.jobs.reroll(await origin_for(interaction, original), self.job_id)
            await confirm_started(interaction, job)
        except Exception as exc:
            await report_error(interaction, exc, log)


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"mf:delete:(?P<job_id>\d+):(?P<user_id>\d+)",
):
    """Deletes the result message; only its requester may."""

    def __init__(self, job_id: int, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                emoji="🗑️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mf:delete:{job_id}:{user_id}",
            )
        )
        self.job_id = job_id
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DeleteButton:
        return cls(int(match["job_id"]), int(match["user_id"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.user_id:
            return True
        await interaction.response.send_message(
            "Only the person who asked for this can delete it.", ephemeral=True
        )
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        try:
            if interaction.message is not None:
                await interaction.message.delete()
        except discord.HTTPException as exc:
            await report_error(interaction, exc, log)


def delete_custom_id(job: Job) -> str:
    """The custom_id of a result's Delete button: unique to its job, so it finds the post."""
    return DeleteButton(job.id, job.user_id).custom_id


def result_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if job.source is not JobSource.VIDEOS_GET:  # a video picked there has no request to redo
        view.add_item(RerollButton(job.id))
    if not job.kind.makes_video:
        view.add_item(VaryButton(job.id))
    view.add_item(DeleteButton(job.id, job.user_id))
    return view


DYNAMIC_ITEMS = (RerollButton, VaryButton, DeleteButton)
