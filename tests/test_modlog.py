"""The moderators' log quotes members' text inert: escaped, cut to its length once escaped,
and with no link Discord would follow or preview."""

from __future__ import annotations

from bot.modlog import QUOTE_LENGTH, quoted


def test_a_quote_is_cut_after_escaping():
    line = quoted("*_~" * 400)
    assert len(line) <= QUOTE_LENGTH
    assert line.endswith("…")
    assert "\\*" in line  # escaped, not rendered


def test_a_quote_breaks_links():
    line = quoted("a cat at https://example.com/cat.png")
    assert "https://" not in line
    assert "example.com" in line
