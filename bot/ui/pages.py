"""Pages of embeds with Previous/Next buttons that only the person who asked can use.

A page is a list of up to 10 embeds (Discord's limit per message), so each item of a
catalogue can have its own embed and thumbnail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import discord

PAGE_TIMEOUT = 600.0
MAX_EMBEDS_PER_MESSAGE = 10


class PagedView(discord.ui.View):
    def __init__(self, owner_id: int, pages: Sequence[Sequence[discord.Embed]]) -> None:
        super().__init__(timeout=PAGE_TIMEOUT)
        if not pages or any(not 0 < len(p) <= MAX_EMBEDS_PER_MESSAGE for p in pages):
            raise ValueError("a paged view needs pages of 1 to 10 embeds")
        self.owner_id = owner_id
        self.pages = [list(page) for page in pages]
        self.index = 0
        self._message: discord.WebhookMessage | None = None
        self._sync_buttons()

    async def send(self, interaction: discord.Interaction) -> None:
        """Show the first page as the (deferred, ephemeral) answer to `interaction`."""
        self._message = await interaction.followup.send(
            embeds=self.current, view=self, ephemeral=True, wait=True
        )

    async def on_timeout(self) -> None:
        # Greyed out rather than left to fail with "This interaction failed" when clicked.
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self._message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self._message.edit(view=self)

    @property
    def current(self) -> list[discord.Embed]:
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
        await interaction.response.edit_message(embeds=self.current, view=self)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)


def page_footer(page: Sequence[discord.Embed], index: int, total: int, extra: str = "") -> None:
    """Write `Page 2 of 5` (and `extra`) under the last embed of a page."""
    text = f"Page {index + 1} of {total}"
    page[-1].set_footer(text=f"{text} · {extra}" if extra else text)


def chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
