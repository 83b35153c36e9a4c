"""/avatar list, /avatar voices and /avatar default: browse the catalogue, remember favourites.

Browsing is personal, so the pages are ephemeral; their Previous/Next buttons still work for
the person who asked (PagedView refuses anyone else).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.choices import (
    CHOICE_LIMIT,
    avatar_autocomplete,
    require_avatar,
    require_voice,
    shown,
    voice_autocomplete,
)
from bot.errors import UserFacingError
from bot.miraflow.models import Avatar, Voice
from bot.ui.pages import MAX_EMBEDS_PER_MESSAGE, PagedView, chunks, page_footer
from bot.ui.progress import short
from bot.ui.results import EMBED_COLOUR

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

ITEMS_PER_PAGE = MAX_EMBEDS_PER_MESSAGE
# Kept short so ten embeds stay well under Discord's 6000 characters per message.
MAX_TITLE = 80
MAX_FIELD_LABEL = 20
MAX_FIELD_VALUE = 50
MAX_DETAIL_FIELDS = 5
MAX_THUMBNAIL_URL = 2048
ID_KEY = re.compile(r"(^id|Id|_id|ID)$")  # other ids (an owner's, a voice's) say nothing
NEED_ONE_DEFAULT = (
    "Tell me what to remember: pick an `avatar`, a `voice`, or both. "
    "`/speak` uses them whenever you leave those options out."
)


def field_label(key: str) -> str:
    """`gender` -> `Gender`, `isStock` -> `Stock`, `voice_style` -> `Voice style`."""
    key = re.sub(r"^is(?=[A-Z_])_?", "", key)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").split()
    return short(" ".join(words).capitalize(), MAX_FIELD_LABEL) or "Detail"


def field_value(value: Any) -> str | None:
    """A short text for a scalar detail; None for what is not worth a field (URLs, lists)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text.startswith(("http://", "https://")):
        return None
    return short(text, MAX_FIELD_VALUE)


def detail_fields(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    fields = []
    for key, raw in extra.items():
        value = field_value(raw)
        if value is None or key.lower().endswith("url") or ID_KEY.search(key):
            continue
        fields.append((field_label(key), value))
        if len(fields) == MAX_DETAIL_FIELDS:
            break
    return fields


def item_embed(item: Avatar | Voice) -> discord.Embed:
    embed = discord.Embed(title=short(item.name, MAX_TITLE) or item.id, colour=EMBED_COLOUR)
    embed.add_field(name="ID", value=f"`{item.id}`", inline=False)
    for label, value in detail_fields(item.extra):
        embed.add_field(name=label, value=value)
    preview = item.preview_url or ""
    if preview.startswith(("http://", "https://")) and len(preview) <= MAX_THUMBNAIL_URL:
        embed.set_thumbnail(url=preview)
    return embed


def matching(items: Sequence[Avatar | Voice], search: str | None) -> list[Avatar | Voice]:
    needle = (search or "").strip().casefold()
    return [item for item in items if needle in item.name.casefold()]


def catalogue_pages(items: Sequence[Avatar | Voice], what: str) -> list[list[discord.Embed]]:
    """Pages of up to ten embeds, one per item; each page's last embed says where it is."""
    pages = [[item_embed(item) for item in chunk] for chunk in chunks(items, ITEMS_PER_PAGE)]
    count = f"{len(items)} {what}" if len(items) != 1 else f"1 {what.removesuffix('s')}"
    for index, page in enumerate(pages):
        page_footer(page, index, len(pages), count)
    return pages


def nothing_found(what: str, search: str | None) -> str:
    if search and search.strip():
        return (
            f"No {what} have a name containing “{shown(search.strip())}”. Try a shorter "
            f"search, or leave `search` out to see them all."
        )
    return f"Your Miraflow account has no {what} yet."


@app_commands.guild_only()
class Avatars(
    commands.GroupCog,
    group_name="avatar",
    group_description="Browse avatars and voices, and set your defaults for /speak",
):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.catalogue.warm()

    @app_commands.command(name="list")
    @app_commands.describe(search="Show only avatars whose name contains this")
    async def list_avatars(
        self, interaction: discord.Interaction, search: Range[str, 1, CHOICE_LIMIT] | None = None
    ) -> None:
        """Browse the avatars that can speak in /speak."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        items = await self.bot.catalogue_for(interaction.guild_id).avatars()
        await self._browse(interaction, matching(items, search), "avatars", search)

    @app_commands.command(name="voices")
    @app_commands.describe(search="Show only voices whose name contains this")
    async def list_voices(
        self, interaction: discord.Interaction, search: Range[str, 1, CHOICE_LIMIT] | None = None
    ) -> None:
        """Browse the voices that can read a /speak script."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        items = await self.bot.catalogue_for(interaction.guild_id).voices()
        await self._browse(interaction, matching(items, search), "voices", search)

    @app_commands.command(name="default")
    @app_commands.describe(
        avatar="The avatar /speak uses when you choose none",
        voice="The voice /speak uses when you choose none",
    )
    @app_commands.autocomplete(avatar=avatar_autocomplete, voice=voice_autocomplete)
    async def set_default(
        self,
        interaction: discord.Interaction,
        avatar: Range[str, 1, CHOICE_LIMIT] | None = None,
        voice: Range[str, 1, CHOICE_LIMIT] | None = None,
    ) -> None:
        """Remember your avatar and voice for /speak."""
        avatar = (avatar or "").strip() or None
        voice = (voice or "").strip() or None
        if avatar is None and voice is None:
            raise UserFacingError(NEED_ONE_DEFAULT)
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id
        chosen_avatar = await require_avatar(self.bot, avatar, guild_id) if avatar else None
        chosen_voice = await require_voice(self.bot, voice, guild_id) if voice else None
        saved = self.bot.store.set_user_defaults(
            interaction.user.id,
            avatar_id=chosen_avatar.id if chosen_avatar else None,
            avatar_name=chosen_avatar.name if chosen_avatar else None,
            voice_id=chosen_voice.id if chosen_voice else None,
            voice_name=chosen_voice.name if chosen_voice else None,
        )
        avatar_text = f"avatar **{shown(saved.avatar_name)}**" if saved.avatar_name else None
        voice_text = f"voice **{shown(saved.voice_name)}**" if saved.voice_name else None
        both = " and ".join(text for text in (avatar_text, voice_text) if text)
        message = f"Saved. `/speak` now uses {both} whenever you don't choose one."
        if saved.voice_id is None:
            message += " Add a default voice too with `/avatar default voice:`."
        elif saved.avatar_id is None:
            message += " Add a default avatar too with `/avatar default avatar:`."
        await interaction.followup.send(message, ephemeral=True)

    async def _browse(
        self,
        interaction: discord.Interaction,
        items: list[Avatar | Voice],
        what: str,
        search: str | None,
    ) -> None:
        if not items:
            await interaction.followup.send(nothing_found(what, search), ephemeral=True)
            return
        pages = catalogue_pages(items, what)
        if len(pages) == 1:
            await interaction.followup.send(embeds=pages[0], ephemeral=True)
            return
        await PagedView(interaction.user.id, pages).send(interaction)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Avatars(bot))
