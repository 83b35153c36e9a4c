"""Is this a working Miraflow API key? One `GET /api/avatars` tells (it costs nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import aiohttp

from bot.miraflow.client import MiraflowClient
from bot.miraflow.errors import AuthenticationError, MiraflowError


class KeyVerdict(Enum):
    VALID = "valid"
    WRONG_KEY = "wrong key"  # Miraflow answered 401: the key itself is bad
    UNAVAILABLE = "unavailable"  # no verdict: Miraflow could not be asked


@dataclass(frozen=True, slots=True)
class KeyCheck:
    verdict: KeyVerdict
    detail: str  # a short sentence; never contains the key

    @property
    def ok(self) -> bool:
        return self.verdict is KeyVerdict.VALID


async def check_key(
    api_key: str,
    *,
    base_url: str,
    timeout: float,
    session: aiohttp.ClientSession | None = None,
) -> KeyCheck:
    """Ask Miraflow for the key's avatars; a 401 means the key is wrong."""
    if not api_key.strip():
        return KeyCheck(KeyVerdict.WRONG_KEY, "the key is empty")
    async with MiraflowClient(
        api_key, base_url, session, timeout, max_retries=1, backoff_base=0.2, backoff_cap=1.0
    ) as client:
        try:
            avatars = await client.list_avatars()
        except AuthenticationError:
            return KeyCheck(KeyVerdict.WRONG_KEY, "Miraflow does not accept this key")
        except MiraflowError as exc:
            status = f" (HTTP {exc.status})" if exc.status is not None else ""
            return KeyCheck(
                KeyVerdict.UNAVAILABLE, f"Miraflow could not be asked{status}: {type(exc).__name__}"
            )
    return KeyCheck(KeyVerdict.VALID, f"Miraflow accepts it ({len(avatars)} avatars)")
