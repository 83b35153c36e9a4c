"""Banned words, checked on every path that starts a job.

No I/O: commands call `screen` before acknowledging (so nothing is uploaded to Miraflow for
a refused request), and the Re-roll button screens the request it repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.errors import UserFacingError
from bot.launch import bot_of
from bot.modlog import TEXT_FIELDS, request_text
from bot.ui.inert import inert


def screen(
    interaction: discord.Interaction, params: Mapping[str, Any], guild_id: int | None = None
) -> None:
    """Refuse a request that contains one of its server's banned words (and log it)."""
    bot = bot_of(interaction)
    guild_id = interaction.guild_id if guild_id is None else guild_id
    if guild_id is None:
        return
    texts = [params.get(name) for name in TEXT_FIELDS]
    word = bot.guild_settings.banned_word(guild_id, [t for t in texts if isinstance(t, str)])
    if word is None:
        return
    bot.modlog.refused(interaction, guild_id, word, request_text(params))
    raise UserFacingError(
        f"This server doesn't allow “{inert(word, 100)}” in requests, so I didn't start "
        "this one. Please rephrase it."
    )
