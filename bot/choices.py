"""Avatar and voice options shared by /speak and /avatar: autocomplete and lookups.

Autocomplete is served from the catalogue cache (``Catalogue.suggest_*`` answers within
0.8 s whatever Miraflow does), so Discord's 3-second limit is never missed: at worst the
list is empty while the cache fills. A user may also type a name instead of picking one,
so the value a command receives is looked up again (by id, then by name) before use.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import discord
from discord.app_commands import Choice

from bot.catalogue import MAX_SUGGESTIONS, CatalogueItem
from bot.errors import UserFacingError
from bot.miraflow.models import Avatar, Voice
from bot.ui.progress import short

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

log = logging.getLogger(__name__)

CHOICE_LIMIT = 100  # Discord's limit on a choice's name and value
# A safety net over the catalogue's own 0.8 s bound, still well inside Discord's 3 s.
AUTOCOMPLETE_DEADLINE = 2.0
Suggest = Callable[[str], Awaitable[Sequence[CatalogueItem]]]


def as_choices(items: Sequence[CatalogueItem]) -> list[Choice[str]]:
    """Choices shown by name whose value is the id; a repeated name shows part of its id."""
    usable = [item for item in items if 0 < len(item.id) <= CHOICE_LIMIT][:MAX_SUGGESTIONS]
    repeated = Counter((item.name or "").casefold() for item in usable)
    choices = []
    for item in usable:
        label = (item.name or "").strip() or item.id
        if repeated[(item.name or "").casefold()] > 1:
            tail = f" · {item.id[-8:]}"
            label = short(label, CHOICE_LIMIT - len(tail)) + tail
        choices.append(Choice(name=short(label, CHOICE_LIMIT), value=item.id))
    return choices


async def _answer(suggest: Suggest, current: str, what: str) -> list[Choice[str]]:
    try:
        async with asyncio.timeout(AUTOCOMPLETE_DEADLINE):
            items = await suggest(current)
    except Exception as exc:  # an autocomplete answer must always be sent, even an empty one
        log.warning("%s autocomplete failed: %r", what, exc)
        return []
    return as_choices(items)


async def avatar_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    bot: MiraflowBot = interaction.client  # type: ignore[assignment]
    catalogue = bot.catalogue_for(interaction.guild_id)
    return await _answer(catalogue.suggest_avatars, current, "avatar")


async def voice_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    bot: MiraflowBot = interaction.client  # type: ignore[assignment]
    catalogue = bot.catalogue_for(interaction.guild_id)
    return await _answer(catalogue.suggest_voices, current, "voice")


def shown(value: str) -> str:
    """A user-typed value, safe to echo back in a message."""
    return discord.utils.escape_markdown(short(value, 80))


async def require_avatar(bot: MiraflowBot, value: str, guild_id: int | None) -> Avatar:
    """The avatar a user named (by id or name) in the server's catalogue; a kind refusal
    when there is none."""
    avatar = await bot.catalogue_for(guild_id).find_avatar(value)
    if avatar is None:
        raise UserFacingError(
            f"I don't know an avatar called “{shown(value)}”. Pick one from the list that "
            "appears as you type, or browse them with `/avatar list`."
        )
    return avatar


async def require_voice(bot: MiraflowBot, value: str, guild_id: int | None) -> Voice:
    """The voice a user named (by id or name) in the server's catalogue; a kind refusal
    when there is none."""
    voice = await bot.catalogue_for(guild_id).find_voice(value)
    if voice is None:
        raise UserFacingError(
            f"I don't know a voice called “{shown(value)}”. Pick one from the list that "
            "appears as you type, or browse them with `/avatar voices`."
        )
    return voice
