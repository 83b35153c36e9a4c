"""The picture of a message (attached, or embedded by Discord), read and checked for an edit.

Only pictures Discord itself serves are fetched: its CDN and media proxy (or, when the bot
is pointed at another Discord API, that host). An embed's URL can be anything a member
typed, and fetching it would let them make the bot call any address (SSRF).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.errors import UserFacingError
from bot.media import MediaProblem, check_attachment_size, check_image_attachment

LABEL = "picture"
DISCORD_MEDIA_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=30)
CHUNK = 64 * 1024
NO_PICTURE = (
    "That message has no picture I can use. Pick a message with an attached or "
    "embedded picture, or use `/edit` with a file."
)
NOT_ON_DISCORD = (
    "That picture is hosted outside Discord, so I can't fetch it. Save it and attach it "
    "to `/edit` instead."
)
UNREADABLE = "I couldn't download that picture from Discord. Please try again."


class PictureUnreadable(UserFacingError):
    """Discord did not hand over the picture (deleted, or a network failure)."""

    def __init__(self) -> None:
        super().__init__(UNREADABLE)


@dataclass(frozen=True, slots=True)
class FoundPicture:
    """The first picture of a message: an attachment, or the URL of an embed's picture."""

    attachment: discord.Attachment | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PictureUpload:
    """A checked picture, ready for Miraflow's media workflow."""

    data: bytes
    file_name: str
    content_type: str


def _is_picture(attachment: discord.Attachment) -> bool:
    content_type = (attachment.content_type or "").split(";")[0].strip()
    return content_type.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES)


def first_picture(message: discord.Message) -> FoundPicture | None:
    """The message's first attached picture, else its first embedded one; None if neither."""
    for attachment in message.attachments:
        if _is_picture(attachment):
            return FoundPicture(attachment=attachment)
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            url = media.proxy_url or media.url
            if url:
                return FoundPicture(url=url)
    return None


def served_by_discord(url: str, api_base: str | None) -> bool:
    """Whether `url` is on one of Discord's media hosts (or the configured Discord's)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    if parts.scheme == "https" and parts.hostname in DISCORD_MEDIA_HOSTS:
        return True
    return api_base is not None and parts.netloc == urlsplit(api_base).netloc


def check_found(found: FoundPicture, *, max_bytes: int, api_base: str | None) -> None:
    """The checks that need no download: the declared size, where an embed is hosted."""
    if found.attachment is not None:
        try:
            check_attachment_size(found.attachment.size, max_bytes=max_bytes, label=LABEL)
        except MediaProblem as problem:
            raise UserFacingError(str(problem)) from problem
    elif found.url is None or not served_by_discord(found.url, api_base):
        raise UserFacingError(NOT_ON_DISCORD)


async def _download(url: str, max_bytes: int) -> bytes:
    """At most `max_bytes` + 1 bytes of `url`, following no redirect (it could leave Discord)."""
    async with (
        aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        if response.status != 200:
            raise PictureUnreadable
        data = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            data += chunk
            if len(data) > max_bytes:  # enough to say it is too large
                break
        return bytes(data)


async def read_found(found: FoundPicture, *, max_bytes: int, api_base: str | None) -> bytes:
    check_found(found, max_bytes=max_bytes, api_base=api_base)
    try:
        if found.attachment is not None:
            return await found.attachment.read()
        assert found.url is not None
        return await _download(found.url, max_bytes)
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        raise PictureUnreadable from exc


def checked_upload(data: bytes, max_bytes: int) -> PictureUpload:
    """Check a picture by its bytes (CPU work: run it in a thread)."""
    info = check_image_attachment(data, max_bytes=max_bytes, label=LABEL)
    return PictureUpload(data, f"{LABEL}.{info.extension}", info.mime_type)


def upload_reader(
    read: Callable[[], Awaitable[bytes]], max_bytes: int
) -> Callable[[], Awaitable[list[PictureUpload]]]:
    """The `read_files` of a one-picture edit: download, then check by the bytes."""

    async def read_files() -> list[PictureUpload]:
        data = await read()
        try:
            return [await asyncio.to_thread(checked_upload, data, max_bytes)]
        except MediaProblem as problem:
            raise UserFacingError(str(problem)) from problem

    return read_files
