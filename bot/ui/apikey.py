"""`/settings apikey`: the modal in which an admin pastes the server's own Miraflow key.

The key is checked with one `GET /api/avatars` before anything is saved, then stored
encrypted (`bot/guild_keys.py`). It is never shown again, logged or echoed: the modal's
answers and the moderators' log say only that a key was set.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.errors import report_error
from bot.guild_keys import KeyInUse
from bot.miraflow.key_check import KeyVerdict, check_key

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
NO_SECRET = (
    "This bot can't store server keys yet: its owner must set SETTINGS_SECRET first. "
    "Until then this server's jobs use the bot's own key."
)
WRONG_KEY = (
    "Miraflow didn't accept that key, so nothing was saved. Copy it again from your "
    "Miraflow dashboard and run /settings apikey once more."
)
UNCHECKED = (
    "I couldn't reach Miraflow to check the key, so nothing was saved. "
    "Try /settings apikey again in a few minutes."
)
SAVED = (
    "Saved. This server's jobs, avatars, voices and videos now come from its own Miraflow "
    "key (stored encrypted, never shown again). `/settings apikey action:remove` goes back "
    "to the bot's key."
)


def key_in_use(jobs: int) -> str:
    """Why the key cannot change now: its jobs would be asked for on another account."""
    running = "1 job is" if jobs == 1 else f"{jobs} jobs are"
    return f"{running} still running on this key; try again when they are done."


class ApiKeyModal(discord.ui.Modal, title="This server's Miraflow key"):
    key: discord.ui.TextInput[ApiKeyModal] = discord.ui.TextInput(
        label="Miraflow API key",
        custom_id="apikey:key",
        placeholder="Paste the key from your Miraflow dashboard",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
    )

    def __init__(self, bot: MiraflowBot, guild_id: int, user_id: int) -> None:
        # A submit that no live modal awaits (a restart, the time-out) is told the form
        # expired (`bot/ui/forms.py`): the key's check needs the admin to open it again.
        super().__init__(custom_id=f"mf:apikey:{guild_id}:{user_id}")
        self.bot = bot
        self.guild_id = guild_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = self.bot.settings
        result = await check_key(
            self.key.value.strip(),
            base_url=settings.miraflow_base_url,
            timeout=settings.miraflow_timeout,
        )
        if result.verdict is KeyVerdict.WRONG_KEY:
            await interaction.followup.send(WRONG_KEY, ephemeral=True)
            return
        if not result.ok:
            log.info("server %s: a key could not be checked: %s", self.guild_id, result.detail)
            await interaction.followup.send(UNCHECKED, ephemeral=True)
            return
        try:
            self.bot.guild_keys.save(self.guild_id, self.key.value.strip())
        except KeyInUse as exc:  # a job started while the key was checked
            await interaction.followup.send(key_in_use(exc.jobs), ephemeral=True)
            return
        self.bot.modlog.changed(interaction, "set this server's own Miraflow key")
        log.info("server %s set its own Miraflow key", self.guild_id)
        await interaction.followup.send(SAVED, ephemeral=True)

    async def on_error(  # type: ignore[override]  # discord.py's Modal drops the item
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await report_error(interaction, error, log)
