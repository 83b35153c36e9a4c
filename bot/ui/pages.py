"""Pages of embeds with Previous/Next buttons that only the person who asked can use."""

from __future__ import annotations

from collections.abc import Sequence

import discord

PAGE_TIMEOUT = 600.0


class PagedView(discord.ui.View):
    def __init__(self, owner_id: int, pages: Sequence[discord.Embed]) -> None:
        super().__init__(timeout=PAGE_TIMEOUT)
        if not pages:
            raise ValueError("a paged view needs at least one page")
        self.owner_id = owner_id
        self.pages = list(pages)
        self.index = 0
        self._sync_buttons()

    @property
    def current(self) -> discord.Embed:
        return self.pages[self.index]

    def _sync_buttons(self) -> None:
        self.previous_page.disabled = self.index == 0
        self.next_page.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "These buttons belong to whoever ran the command. Run it yourself to browse.",
            ephemeral=True,
        )
        return False

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.current, view=self)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)


def page_footer(embed: discord.Embed, index: int, total: int, extra: str = "") -> discord.Embed:
    text = f"Page {index + 1} of {total}"
    embed.set_footer(text=f"{text} · {extra}" if extra else text)
    return embed


def chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
