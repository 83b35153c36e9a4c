"""Where discord.py finds Discord: the real service, or a fake one for end-to-end tests.

discord.py keeps its endpoints in three class attributes: the REST base (`Route.BASE`, read
by every request, webhooks and interaction callbacks included), the gateway to IDENTIFY on
(`DiscordWebSocket.DEFAULT_GATEWAY`; after READY it follows the `resume_gateway_url` the
gateway gives, and goes back to the default after an invalid session) and the CDN for
avatars and icons (`Asset.BASE`). `/gateway/bot` is only asked by sharded clients, and
attachment URLs are whatever the message payload says, so nothing else points at discord.com.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import discord.asset
import discord.gateway
import discord.http
import yarl

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DISCORD_CDN = "https://cdn.discordapp.com"
API_PATH = "/api/v10"


def _api_base(url: str) -> str:
    """Accept "http://host:port" or "http://host:port/api/v10" and return the latter."""
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith(API_PATH) else trimmed + API_PATH


def point_discord_at(api_base: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST calls to `api_base` and its gateway to `gateway_url`.

    None restores Discord's own endpoint. With a custom API base, the CDN is taken to be
    `<api origin>/cdn`, so nothing is fetched from Discord either.
    """
    if api_base is None:
        discord.http.Route.BASE = DISCORD_API_BASE
        discord.asset.Asset.BASE = DISCORD_CDN
    else:
        base = _api_base(api_base)
        parts = urlsplit(base)
        discord.http.Route.BASE = base
        discord.asset.Asset.BASE = f"{parts.scheme}://{parts.netloc}/cdn"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)
