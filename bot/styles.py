"""A server's styles on /imagine and /edit: the autocomplete and the lookup of a chosen one."""

from __future__ import annotations

from typing import Protocol, cast

import discord
from discord.app_commands import Choice

from bot.choices import CHOICE_LIMIT, shown
from bot.errors import UserFacingError
from bot.guild_settings import GuildSettings
from bot.jobs.store.guild_settings import StoredStyle
from bot.ui.progress import short

MAX_STYLE_CHOICES = 25  # Discord shows at most this many choices


class HasGuildSettings(Protocol):
    @property
    def guild_settings(self) -> GuildSettings: ...


def _settings(interaction: discord.Interaction) -> GuildSettings:
    return cast(HasGuildSettings, interaction.client).guild_settings


async def style_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """This server's styles whose name or text holds what the member typed."""
    if interaction.guild_id is None:
        return []
    typed = current.strip().casefold()
    choices = []
    for style in _settings(interaction).styles(interaction.guild_id):
        if typed and typed not in style.name and typed not in style.text.casefold():
            continue
        label = f"{style.name} · {style.text}" if style.text else style.name
        choices.append(Choice(name=short(label, CHOICE_LIMIT), value=style.name))
    return choices[:MAX_STYLE_CHOICES]


def require_style(interaction: discord.Interaction, name: str | None) -> StoredStyle | None:
    """The style a member chose (None when they chose none); a kind refusal when this
    server has no style of that name."""
    if name is None or not name.strip():
        return None
    style = None
    if interaction.guild_id is not None:
        style = _settings(interaction).style(interaction.guild_id, name)
    if style is None:
        raise UserFacingError(
            f"This server has no style called “{shown(name)}”. Pick one from the list that "
            "appears as you type, or leave `style` out."
        )
    return style
