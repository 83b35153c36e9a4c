"""Text from members or from Miraflow made inert for a public message: it reads as typed,
but no markdown, masked link, heading or mention in it is rendered."""

from __future__ import annotations

import discord

# Breaks a URL's scheme so Discord does not turn it into a link; it still reads the same.
_UNLINKED = ":\u200b//"


def _escaped(text: str, *, links: bool) -> str:
    text = discord.utils.escape_markdown(discord.utils.escape_mentions(text))
    return text if links else text.replace("://", _UNLINKED)


def inert(text: str, limit: int, *, links: bool = True) -> str:
    """`text` on one line, escaped, and at most `limit` characters once escaped (cut with
    `…`). `links=False` also keeps URLs from becoming links (for text from Miraflow)."""
    text = " ".join(text.split())
    keep = limit
    while True:
        cut = text if len(text) <= keep else text[: max(keep - 1, 0)] + "…"
        shown = _escaped(cut, links=links)
        if len(shown) <= limit:
            return shown
        # Escaping may double the text: shrink in proportion, by one character at least.
        keep = min(keep - 1, keep * limit // len(shown))
