"""Waiting for Discord at start: one log line per failed attempt, backing off up to a minute."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord.http

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0
ATTEMPT_TIMEOUT = 15.0


def _why(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "its name does not resolve"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connection failed: {error.os_error.strerror or error.os_error}"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return f"{type(error).__name__}: {error}"


async def wait_for_discord(
    *,
    first_delay: float = FIRST_RETRY_DELAY,
    max_delay: float = MAX_RETRY_DELAY,
    attempt_timeout: float = ATTEMPT_TIMEOUT,
) -> None:
    """Return once Discord's REST API answers at all (`GET /gateway` needs no token).

    Until then, log one warning line per attempt (never a traceback) and wait, doubling the
    delay from `first_delay` up to `max_delay`. A 5xx answer counts as unreachable.
    """
    url = f"{discord.http.Route.BASE}/gateway"
    delay = first_delay
    attempt = 1
    timeout = aiohttp.ClientTimeout(total=attempt_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        if attempt > 1:
                            log.info("Discord is reachable again")
                        return
                    reason = f"it answered HTTP {response.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                reason = _why(error)
            log.warning(
                "Discord is unreachable (%s); attempt %d failed, next in %.0f s",
                reason,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            attempt += 1
