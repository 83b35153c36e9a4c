"""Which picture URLs the bot will fetch: Discord's own hosts only (no SSRF)."""

from __future__ import annotations

import pytest

from bot.pictures import served_by_discord

FAKE_API = "http://127.0.0.1:8123/api/v10"


@pytest.mark.parametrize(
    ("url", "api_base", "fetched"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/cat.png", None, True),
        ("https://media.discordapp.net/external/abc/https/example.com/cat.png", None, True),
        ("http://cdn.discordapp.com/attachments/1/2/cat.png", None, False),
        ("https://cdn.discordapp.com.example.com/cat.png", None, False),
        ("https://cdn.discordapp.com@example.com/cat.png", None, False),
        ("https://example.com/cat.png", None, False),
        ("http://169.254.169.254/latest/meta-data", None, False),
        ("file:///etc/passwd", None, False),
        ("http://127.0.0.1:8123/attachments/1/2/cat.png", FAKE_API, True),
        ("http://127.0.0.1:9/secret.png", FAKE_API, False),
        ("http://127.0.0.1:8123/cat.png", None, False),
    ],
)
def test_only_pictures_discord_serves_are_fetched(url, api_base, fetched):
    assert served_by_discord(url, api_base) is fetched
