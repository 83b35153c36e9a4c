"""/jobs list and /jobs cancel: what the caller's jobs are doing, and stopping one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.catalogue import MAX_SUGGESTIONS as MAX_CHOICES
from bot.choices import CHOICE_LIMIT as CHOICE_NAME_LENGTH
from bot.errors import UserFacingError
from bot.jobs.models import CANCELLABLE_STATES, Job, JobState
from bot.ui.progress import (
    KIND_LABELS,
    STATE_LABELS,
    job_subject,
    progress_bar,
    short,
    shown_progress,
)
from bot.ui.results import EMBED_COLOUR

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

RECENT_JOBS = 10
ERROR_LENGTH = 180
SUBJECT_LENGTH = 60
SHOWS_REASON = frozenset({JobState.FAILED, JobState.EXPIRED, JobState.UNKNOWN})


def result_link(job: Job) -> str | None:
    """Where the job's result was posted, as a Discord message link."""
    if job.result_message_id is None:
        return None
    channel = job.result_channel_id or job.channel_id
    in_dm = channel != job.channel_id or job.guild_id is None
    where = "@me" if in_dm else job.guild_id
    return f"https://discord.com/channels/{where}/{channel}/{job.result_message_id}"


def job_entry(job: Job) -> str:
    """A few lines about one job for /jobs list: what, state, age, progress or outcome."""
    header = (
        f"**#{job.id}** · {KIND_LABELS[job.kind]} · {STATE_LABELS[job.state]}"
        f" · asked <t:{int(job.created_at)}:R>"
    )
    lines = [header]
    if not job.state.is_terminal:
        lines.append(f"`{progress_bar(shown_progress(job))}`")
    subject = short(job_subject(job), SUBJECT_LENGTH)
    if subject:
        lines.append(f"> {subject}")
    link = result_link(job)
    if job.state is JobState.DELIVERED and link:
        lines.append(f"[See the result]({link})")
    elif job.state in SHOWS_REASON and job.error:
        lines.append(f"⚠️ {short(job.error, ERROR_LENGTH)}")
    return "\n".join(lines)


def jobs_embed(jobs: list[Job], title: str) -> discord.Embed:
    embed = discord.Embed(
        title=title, description="\n\n".join(map(job_entry, jobs)), colour=EMBED_COLOUR
    )
    embed.set_footer(text="Stop a pending job with /jobs cancel.")
    return embed


def choice_name(job: Job) -> str:
    """`#12 · image · working 40% · a lighthouse…`, at most 100 characters."""
    state = STATE_LABELS[job.state]
    percent = shown_progress(job)
    if job.state is JobState.WORKING and percent is not None:
        state += f" {percent}%"
    head = f"#{job.id} · {KIND_LABELS[job.kind]} · {state}"
    subject = job_subject(job)
    if not subject:
        return short(head, CHOICE_NAME_LENGTH)
    room = CHOICE_NAME_LENGTH - len(head) - len(" · ")
    if room < 10:
        return short(head, CHOICE_NAME_LENGTH)
    return f"{head} · {short(subject, room)}"


def matches(job: Job, current: str) -> bool:
    needle = current.strip().lstrip("#").casefold()
    return not needle or needle in choice_name(job).casefold()


def may_see_others(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


@app_commands.guild_only()
class Jobs(commands.GroupCog, group_name="jobs", group_description="Your Miraflow jobs"):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    @app_commands.command(name="list")
    @app_commands.describe(user="Whose jobs to show (Manage Server only; yours if left out)")
    async def list_jobs(
        self, interaction: discord.Interaction, user: discord.User | None = None
    ) -> None:
        """Show your last 10 jobs: state, progress, age and result."""
        target = user or interaction.user
        if target.id != interaction.user.id and not may_see_others(interaction):
            raise UserFacingError(
                "Only members with the Manage Server permission can see someone else's jobs. "
                "Run `/jobs list` without a user to see yours."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = self.bot.store.recent_jobs(target.id, RECENT_JOBS)
        yours = target.id == interaction.user.id
        if not jobs:
            text = (
                "You have no jobs yet. Start one with `/imagine`."
                if yours
                else f"{target.mention} has no jobs yet."
            )
            await interaction.followup.send(text, ephemeral=True)
            return
        title = "Your last jobs" if yours else f"Last jobs of {target.display_name}"
        await interaction.followup.send(embed=jobs_embed(jobs, title), ephemeral=True)

    @app_commands.command(name="cancel")
    @app_commands.describe(job="The pending job to stop (pick one of yours from the list)")
    async def cancel(self, interaction: discord.Interaction, job: Range[int, 1]) -> None:
        """Stop one of your pending jobs; nothing will be posted for it."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        before = self.bot.store.get(job)
        cancelled = self.bot.jobs.cancel(job, interaction.user.id)
        await self.bot.frontend.show_status(cancelled, force=True)
        text = (
            f"Stopped job #{cancelled.id} ({KIND_LABELS[cancelled.kind]}): nothing will be "
            "posted for it. Miraflow can't stop work it has started, so its credit is spent."
        )
        if before is not None and before.state is JobState.COMPLETE:
            text += (
                "\nMiraflow had already finished it and I may have been posting it: if it "
                "still appears, remove it with its Delete button."
            )
        await interaction.followup.send(text, ephemeral=True)

    @cancel.autocomplete("job")
    async def pending_job_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice[int]]:
        pending = self.bot.store.pending_jobs_of(interaction.user.id)
        return [
            Choice(name=choice_name(job), value=job.id)
            for job in pending
            if job.state in CANCELLABLE_STATES and matches(job, current)
        ][:MAX_CHOICES]


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Jobs(bot))
