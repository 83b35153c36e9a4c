"""Paged views time out with their buttons greyed out, not left to fail when clicked."""

from __future__ import annotations

import discord

from bot.ui.pages import PagedView


class RecordingMessage:
    def __init__(self) -> None:
        self.views: list[discord.ui.View] = []

    async def edit(self, *, view: discord.ui.View) -> None:
        self.views.append(view)


async def test_buttons_are_disabled_when_the_view_times_out():
    pages = [[discord.Embed(title="one")], [discord.Embed(title="two")]]
    view = PagedView(owner_id=1, pages=pages)
    assert not view.next_page.disabled
    message = RecordingMessage()
    view._message = message  # what send() keeps of the answer it posted
    await view.on_timeout()
    assert view.previous_page.disabled and view.next_page.disabled
    assert message.views == [view]


def test_a_page_holds_one_to_ten_embeds():
    import pytest

    with pytest.raises(ValueError):
        PagedView(owner_id=1, pages=[])
    with pytest.raises(ValueError):
        PagedView(owner_id=1, pages=[[discord.Embed()] * 11])
