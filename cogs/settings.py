"""/settings: a server's own limits, banned words, moderators' log, delivery and styles.

Manage Server is needed: Discord hides the group from other members by default, and the
bot checks it again itself (a server may have granted the commands to others).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.errors import UserFacingError
from bot.guild_keys import KeyInUse
from bot.guild_settings import (
    ACTIVE_RANGE,
    DAILY_RANGE,
    DELIVERY_DM,
    MAX_STYLE_NAME,
    MAX_STYLE_TEXT,
    SERVER_DAILY_RANGE,
    Setting,
)
from bot.ui.apikey import NO_SECRET, ApiKeyModal, key_in_use
from bot.ui.inert import inert
from bot.ui.results import EMBED_COLOUR
from bot.words import MAX_ENTRIES, MAX_ENTRY_LENGTH

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

NOT_ALLOWED = (
    "Only members with the Manage Server permission can change the bot's settings here. "
    "Ask a server admin."
)
RESET_DONE = (
    "Every setting of this server is back to the defaults: limits, banned words, "
    "the moderators' log (off), delivery (in the channel) and styles (none)."
)
RESET_KEEPS_KEY = "Your own Miraflow key stays; remove it with `/settings apikey action:remove`."
FIELD_LIMIT = 1024  # Discord's limit on an embed field's value
LOG_PERMISSIONS = (("view_channel", "View Channel"), ("send_messages", "Send Messages"))
APIKEY_CHOICES = [
    Choice(name="set this server's own key (opens a form)", value="set"),
    Choice(name="remove it: back to the bot's key", value="remove"),
]
DELIVERY_CHOICES = [
    Choice(name="in the channel where it was asked (default)", value="channel"),
    Choice(name="by DM to the requester", value="dm"),
]


def source(setting: Setting) -> str:
    return "set here" if setting.from_server else "default"


def listing(items: list[str], empty: str) -> str:
    """Items joined on lines, cut to fit one embed field with a count of what was left out."""
    if not items:
        return empty
    lines: list[str] = []
    used = 0
    for index, item in enumerate(items):
        more = f"… and {len(items) - index} more"
        if used + len(item) + 1 > FIELD_LIMIT - len(more) - 1:
            lines.append(more)
            break
        lines.append(item)
        used += len(item) + 1
    return "\n".join(lines)


def missing_log_permissions(channel: discord.abc.GuildChannel, me: discord.Member) -> list[str]:
    allowed = channel.permissions_for(me)
    return [label for name, label in LOG_PERMISSIONS if not getattr(allowed, name)]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(
    commands.GroupCog,
    group_name="settings",
    group_description="This server's settings for the bot (Manage Server)",
):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    @staticmethod
    def _guild_id(interaction: discord.Interaction) -> int:
        """The server's id, once the member is known to have Manage Server there.

        Checked in each command rather than in a cog check: an error raised in a check
        would never reach the error handler that answers the member.
        """
        permissions = interaction.permissions
        if interaction.guild_id is None or not (
            permissions.manage_guild or permissions.administrator
        ):
            raise UserFacingError(NOT_ALLOWED)
        return interaction.guild_id

    async def _done(self, interaction: discord.Interaction, text: str, change: str) -> None:
        """Confirm a change to the admin and write it to the moderators' log."""
        self.bot.modlog.changed(interaction, change)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Every setting of this server, and whether it is set here or the default."""
        guild_id = self._guild_id(interaction)
        settings = self.bot.guild_settings
        limits = settings.limits(guild_id)
        cap = limits["server_daily"]
        log_channel = settings.log_channel(guild_id)
        delivery = settings.delivery_setting(guild_id)
        lines = [
            f"**Active jobs per member:** {limits['active'].value} ({source(limits['active'])})",
            f"**Jobs per member per day:** {limits['daily'].value} ({source(limits['daily'])})",
            f"**Jobs per day, whole server:** {cap.value or 'no cap'} ({source(cap)})",
            "**Moderators' log:** "
            + (f"<#{log_channel}> (set here)" if log_channel else "off (default)"),
            "**Results delivered:** "
            + (
                f"by DM to the requester ({source(delivery)})"
                if delivery.value == DELIVERY_DM
                else f"in the channel ({source(delivery)})"
            ),
            "**Miraflow key:** "
            + (
                "this server's own (set here)"
                if self.bot.guild_keys.has_own_key(guild_id)
                else "the bot's (default)"
            ),
        ]
        embed = discord.Embed(
            title="Settings of this server", description="\n".join(lines), colour=EMBED_COLOUR
        )
        words = settings.words(guild_id)
        embed.add_field(
            name=f"Banned words ({len(words)})",
            value=listing([inert(word, MAX_ENTRY_LENGTH) for word in words], "none"),
            inline=False,
        )
        styles = settings.styles(guild_id)
        embed.add_field(
            name=f"Styles ({len(styles)})",
            value=listing(
                [
                    f"**{style.name}**: {inert(style.text, 80) or 'no text'}"
                    + (f" · not: {inert(style.negative, 60)}" if style.negative else "")
                    for style in styles
                ],
                "none",
            ),
            inline=False,
        )
        embed.set_footer(text="Change a setting with /settings …; /settings reset for defaults.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="limits")
    @app_commands.describe(
        active="Jobs a member may have running at once",
        daily="Jobs a member may start in 24 hours",
        server_daily="Jobs the whole server may start in 24 hours (0: no cap)",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        active: Range[int, ACTIVE_RANGE[0], ACTIVE_RANGE[1]] | None = None,
        daily: Range[int, DAILY_RANGE[0], DAILY_RANGE[1]] | None = None,
        server_daily: Range[int, SERVER_DAILY_RANGE[0], SERVER_DAILY_RANGE[1]] | None = None,
    ) -> None:
        """Per-member job limits on this server, and a daily cap for the whole server."""
        change = self.bot.guild_settings.set_limits(
            self._guild_id(interaction), active=active, daily=daily, server_daily=server_daily
        )
        await self._done(
            interaction, f"Limits of this server: {change}.", f"set the limits: {change}"
        )

    @app_commands.command(name="words")
    @app_commands.describe(
        add="A word or phrase to refuse in prompts, scripts and names",
        remove="A word or phrase to allow again",
    )
    async def words(
        self,
        interaction: discord.Interaction,
        add: Range[str, 1, MAX_ENTRY_LENGTH] | None = None,
        remove: Range[str, 1, MAX_ENTRY_LENGTH] | None = None,
    ) -> None:
        """Ban a word or phrase in requests on this server, or allow it again."""
        guild_id = self._guild_id(interaction)
        settings = self.bot.guild_settings
        if (add is None) == (remove is None):
            raise UserFacingError("Give either `add` or `remove` (one word or phrase at a time).")
        if add is not None:
            word = settings.add_word(guild_id, add)
            count = len(settings.words(guild_id))
            await self._done(
                interaction,
                f"Requests containing “{inert(word, MAX_ENTRY_LENGTH)}” are now refused "
                f"({count} of {MAX_ENTRIES} banned).",
                f"banned the word “{inert(word, MAX_ENTRY_LENGTH)}”",
            )
            return
        assert remove is not None
        word = settings.remove_word(guild_id, remove)
        await self._done(
            interaction,
            f"“{inert(word, MAX_ENTRY_LENGTH)}” is allowed again.",
            f"allowed the word “{inert(word, MAX_ENTRY_LENGTH)}” again",
        )

    @app_commands.command(name="log")
    @app_commands.describe(channel="Where to post the moderators' log (leave out to turn it off)")
    async def log(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """A moderators' log of started jobs, refusals and settings changes."""
        guild_id = self._guild_id(interaction)
        settings = self.bot.guild_settings
        if channel is None:
            previous = settings.log_channel(guild_id)
            settings.set_log_channel(guild_id, None)
            if previous is not None:  # said in the old log, the last line it gets
                self.bot.modlog.changed(
                    interaction, "turned the moderators' log off", channel_id=previous
                )
            await interaction.response.send_message("The moderators' log is off.", ephemeral=True)
            return
        guild = interaction.guild
        assert guild is not None
        missing = missing_log_permissions(channel, guild.me)
        if missing:
            raise UserFacingError(
                f"I can't post in {channel.mention}: I'm missing the "
                f"{' and '.join(missing)} permission there. Grant it to my role, or pick "
                "another channel."
            )
        settings.set_log_channel(guild_id, channel.id)
        await self._done(
            interaction,
            f"The moderators' log is now posted in {channel.mention}.",
            f"sent the moderators' log to {channel.mention}",
        )

    @app_commands.command(name="delivery")
    @app_commands.describe(mode="Where results and status messages go")
    @app_commands.choices(mode=DELIVERY_CHOICES)
    async def delivery(self, interaction: discord.Interaction, mode: Choice[str]) -> None:
        """Post results in the channel (default), or send them by DM to the requester."""
        self.bot.guild_settings.set_delivery(self._guild_id(interaction), mode.value)
        if mode.value == DELIVERY_DM:
            text = (
                "New jobs' status messages and results now go to their requester's DMs "
                "(in the channel when someone's DMs are closed)."
            )
        else:
            text = "New jobs' status messages and results are now posted in the channel."
        await self._done(interaction, text, f"set the delivery to “{mode.value}”")

    @app_commands.command(name="apikey")
    @app_commands.describe(action="Set this server's own Miraflow key, or remove it")
    @app_commands.choices(action=APIKEY_CHOICES)
    async def apikey(
        self, interaction: discord.Interaction, action: Choice[str] | None = None
    ) -> None:
        """Use this server's own Miraflow key for its jobs (the key is never shown)."""
        guild_id = self._guild_id(interaction)
        keys = self.bot.guild_keys
        if action is not None and action.value == "remove":
            try:
                removed = keys.remove(guild_id)
            except KeyInUse as exc:
                raise UserFacingError(key_in_use(exc.jobs)) from exc
            if removed:
                await self._done(
                    interaction,
                    "Removed. This server's new jobs use the bot's Miraflow key again.",
                    "removed this server's own Miraflow key",
                )
            else:
                await interaction.response.send_message(
                    "This server has no key of its own: it already uses the bot's.",
                    ephemeral=True,
                )
            return
        if not keys.can_store:
            raise UserFacingError(NO_SECRET)
        if jobs := keys.jobs_on_key(guild_id):  # checked again when the key is saved
            raise UserFacingError(key_in_use(jobs))
        await interaction.response.send_modal(ApiKeyModal(self.bot, guild_id, interaction.user.id))

    @app_commands.command(name="style")
    @app_commands.describe(
        name="One short word naming the style",
        text="Words added to the prompt",
        negative="Words added to the negative prompt",
        remove="Delete this style",
    )
    async def style(
        self,
        interaction: discord.Interaction,
        name: Range[str, 1, MAX_STYLE_NAME],
        text: Range[str, 1, MAX_STYLE_TEXT] | None = None,
        negative: Range[str, 1, MAX_STYLE_TEXT] | None = None,
        remove: bool | None = None,
    ) -> None:
        """Add, replace or remove a named style for this server."""
        guild_id = self._guild_id(interaction)
        settings = self.bot.guild_settings
        if remove:
            if text is not None or negative is not None:
                raise UserFacingError("To remove a style, give only its `name` and `remove`.")
            removed = settings.remove_style(guild_id, name)
            await self._done(
                interaction, f"Removed the style **{removed}**.", f"removed the style “{removed}”"
            )
            return
        replacing = settings.style(guild_id, name) is not None
        style = settings.put_style(guild_id, name, text, negative)
        verb = "replaced" if replacing else "added"
        await self._done(
            interaction,
            f"{verb.capitalize()} the style **{style.name}**.",
            f"{verb} the style “{style.name}”",
        )

    @app_commands.command(name="reset")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Put every setting of this server back to the defaults."""
        guild_id = self._guild_id(interaction)
        previous_log = self.bot.guild_settings.log_channel(guild_id)
        self.bot.guild_settings.reset(guild_id)
        if previous_log is not None:
            self.bot.modlog.changed(
                interaction, "reset every setting to the defaults", channel_id=previous_log
            )
        reply = RESET_DONE
        if self.bot.guild_keys.has_own_key(guild_id):
            # Removing a key while its jobs run would strand them: an admin removes it alone.
            reply += f" {RESET_KEEPS_KEY}"
        await interaction.response.send_message(reply, ephemeral=True)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Settings(bot))
