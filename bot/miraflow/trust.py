"""Which URLs handed out by Miraflow the bot may contact.

A result's `downloadUrl`, an upload URL or a redirect comes from the server's answer, so a
misbehaving or compromised server could point the bot at its own network (`http://10.0.0.5/`)
or its disk (`file:`). Only `https` URLs and URLs on the API's own origin (scheme, host and
port of MIRAFLOW_BASE_URL) are contacted; anything else raises UntrustedUrlError unsent.
"""

from __future__ import annotations

from yarl import URL

from bot.miraflow.errors import UntrustedUrlError


def is_trusted(url: URL, api_origin: URL) -> bool:
    """True for an absolute https URL with a host, or one on `api_origin`."""
    if not url.is_absolute() or not url.host:
        return False
    if url.scheme == "https":
        return True
    return url.origin() == api_origin


def check_trusted(url: URL, api_origin: URL) -> None:
    """Raise UntrustedUrlError unless `url` may be contacted; the error names only its
    scheme and host, never a query (a signature)."""
    if not is_trusted(url, api_origin):
        where = f"{url.scheme or 'no scheme'}://{url.host or ''}"
        raise UntrustedUrlError(f"refused to contact an untrusted URL ({where})")
