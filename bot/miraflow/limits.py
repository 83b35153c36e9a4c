"""Bounded reads of an answer: a JSON body under a size cap, a download under deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from bot.miraflow.errors import AnswerTooLargeError, DownloadTimeoutError


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or AnswerTooLargeError as soon as it is known to exceed `limit` bytes:
    from its Content-Length before reading, else by counting as it streams."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise AnswerTooLargeError(f"Miraflow's answer is too large ({declared} bytes)")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise AnswerTooLargeError(f"Miraflow's answer is over {limit} bytes")
    return bytes(body)


async def chunks_until_stalled(
    content: aiohttp.StreamReader, chunk_size: int, stall: float
) -> AsyncIterator[bytes]:
    """The chunks of a body, or DownloadTimeoutError once `stall` seconds pass without one."""
    chunks = content.iter_chunked(chunk_size).__aiter__()
    while True:
        try:
            async with asyncio.timeout(stall):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:  # ours, or aiohttp's own read timeout (a subclass)
            raise DownloadTimeoutError(f"the download stalled: no data for {stall:g} s") from None
        yield chunk
