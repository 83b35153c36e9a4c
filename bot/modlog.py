"""The moderators' log (`/settings log`): one line per started job, per refusal by a banned
word and per settings change, in the channel a server chose.

Lines are posted in the background (a refusal is logged before the interaction is even
answered), never ping anyone (no allowed mentions, user text escaped) and a failed post is
only noted in the bot's own log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aiohttp
import discord
from discord import app_commands

from bot.guild_settings import GuildSettings
from bot.jobs.models import Job
from bot.ui.inert import inert

log = logging.getLogger(__name__)

QUOTE_LENGTH = 300
CLOSE_GRACE = 5.0  # seconds given to lines still being posted when the bot stops


# Every request field a person wrote: prompt, negative prompt, script and name.
TEXT_FIELDS = ("prompt", "negative_prompt", "text", "name")


def quoted(text: str, limit: int = QUOTE_LENGTH) -> str:
    """Members' text in a log line: inert, and no link in it is followed or previewed."""
    return inert(text, limit, links=False)


def who(user: discord.abc.User) -> str:
    """A mention (shown as the name, never a ping here) and the name in plain text."""
    return f"<@{user.id}> ({quoted(user.name, 40)})"


def request_fields(request: object) -> dict[str, str]:
    """The text fields of a request record (prompt, script, name...) by name."""
    return {n: v for n in TEXT_FIELDS if isinstance(v := getattr(request, n, None), str)}


def request_text(fields: Mapping[str, object]) -> str:
    """The prompt or script of a request (or the name a recording was given)."""
    return str(fields.get("prompt") or fields.get("text") or fields.get("name") or "")


# What a button or modal (no command of its own) is called, by its custom_id's prefix.
ACTION_LABELS = {"mf:reroll": "Re-roll", "mf:vary": "Vary", "mf:edit-image": "Edit image"}


def command_label(interaction: discord.Interaction) -> str:
    command = interaction.command
    if isinstance(command, app_commands.ContextMenu):
        return command.name
    if command is not None:
        return f"/{command.qualified_name}"
    data: dict[str, object] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    return ACTION_LABELS.get(":".join(custom_id.split(":")[:2]), "Re-roll")


class ModLog:
    def __init__(self, bot: discord.Client, settings: GuildSettings) -> None:
        self._bot = bot
        self._settings = settings
        self._posting: set[asyncio.Task[None]] = set()

    def post(self, guild_id: int, line: str, *, channel_id: int | None = None) -> None:
        """Post `line` in the server's log channel (or `channel_id`), if it has one."""
        channel_id = channel_id or self._settings.log_channel(guild_id)
        if channel_id is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(guild_id, channel_id, line))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _send(self, guild_id: int, channel_id: int, line: str) -> None:
        channel = self._bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(line, allowed_mentions=discord.AllowedMentions.none())
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("guild %s: moderators' log line not posted: %s", guild_id, exc)

    async def close(self) -> None:
        if self._posting:
            await asyncio.wait(list(self._posting), timeout=CLOSE_GRACE)

    # -- the lines -------------------------------------------------------------------

    def job_started(
        self, interaction: discord.Interaction, job: Job, status: discord.Message | None
    ) -> None:
        if job.guild_id is None:
            return
        if status is None:
            where = "no status message"
        elif status.guild is None:
            where = "followed in the requester's DMs"
        else:
            where = status.jump_url
        self.post(
            job.guild_id,
            f"🎨 {who(interaction.user)} started {command_label(interaction)} "
            f"(job #{job.id}): “{quoted(request_text(request_fields(job.request)))}” · {where}",
        )

    def refused(
        self, interaction: discord.Interaction, guild_id: int, word: str, text: str
    ) -> None:
        self.post(
            guild_id,
            f"🚫 {who(interaction.user)} was refused {command_label(interaction)} for the "
            f"banned word “{quoted(word, 100)}”: “{quoted(text)}”",
        )

    def changed(
        self, interaction: discord.Interaction, what: str, *, channel_id: int | None = None
    ) -> None:
        if interaction.guild_id is None:
            return
        self.post(
            interaction.guild_id,
            f"⚙️ {who(interaction.user)} {what}",
            channel_id=channel_id,
        )
