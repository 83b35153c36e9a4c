"""/edit: change a picture from a prompt, with more reference pictures or a mask (inpainting)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands
from PIL import Image

from bot.choices import CHOICE_LIMIT
from bot.errors import UserFacingError
from bot.jobs.job_requests import EditRequest, InpaintRequest, JobRequest
from bot.launch import bot_of, confirm_started, origin_for, picture_request
from bot.media import (
    ImageInfo,
    MediaProblem,
    check_attachment_size,
    check_image_attachment,
    check_mask,
    normalize_mask,
)
from bot.modlog import request_fields
from bot.screening import screen
from bot.styles import require_style, style_autocomplete
from bot.validation import ASPECT_CHOICES, MAX_PROMPT_LENGTH, MAX_SEED

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

MASK_LABEL = "mask"
MASK_WITH_REFERENCES = (
    "A mask works with one image only. Leave out the mask to edit with several images, "
    "or leave out image2 and image3 to repaint part of one image."
)
ALL_BLACK_MASK = (
    "The mask is all black, so nothing would change. Paint the area to replace in white "
    "(black or transparent areas are kept)."
)


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked file, ready for Miraflow's media workflow."""

    label: str
    data: bytes
    file_name: str
    content_type: str


@dataclass(frozen=True, slots=True)
class PreparedFiles:
    images: list[Upload]  # the image first, then image2 and image3 when given
    mask: Upload | None


def check_declared_sizes(
    attachments: Sequence[tuple[str, discord.Attachment]], max_bytes: int
) -> None:
    """Refuse, before downloading anything, an attachment Discord says is too large."""
    for label, attachment in attachments:
        try:
            check_attachment_size(attachment.size, max_bytes=max_bytes, label=label)
        except MediaProblem as problem:
            raise UserFacingError(str(problem)) from problem


def prepare_files(
    images: Sequence[tuple[str, bytes]], mask: bytes | None, *, max_bytes: int
) -> PreparedFiles:
    """Check every file by its bytes and turn the mask into pure black and white.

    CPU work (every image is decoded): run it in a thread. Raises MediaProblem.
    """
    uploads: list[Upload] = []
    first_info: ImageInfo | None = None
    for label, data in images:
        info = check_image_attachment(data, max_bytes=max_bytes, label=label)
        if first_info is None:
            first_info = info
        uploads.append(Upload(label, data, f"{label}.{info.extension}", info.mime_type))
    if mask is None or first_info is None:
        return PreparedFiles(uploads, None)
    mask_info = check_image_attachment(mask, max_bytes=max_bytes, label=MASK_LABEL)
    check_mask(mask_info, first_info)
    black_and_white = normalize_mask(mask)
    if not _has_white(black_and_white):
        raise MediaProblem(ALL_BLACK_MASK)
    return PreparedFiles(uploads, Upload(MASK_LABEL, black_and_white, "mask.png", "image/png"))


def _has_white(mask_png: bytes) -> bool:
    with Image.open(io.BytesIO(mask_png)) as image:
        highest = image.getextrema()[1]  # a single band: the mask is black and white
    assert isinstance(highest, int | float)
    return highest > 0


async def read_attachment(attachment: discord.Attachment, label: str) -> bytes:
    try:
        return await attachment.read()
    except discord.HTTPException as exc:
        raise UserFacingError(
            f"I couldn't download the {label} file from Discord. Please attach it again."
        ) from exc


class Edit(commands.Cog):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    @app_commands.command(name="edit")
    @app_commands.guild_only()
    @app_commands.describe(
        image="The picture to change",
        prompt="What to change, in a sentence or two",
        mask="White where the picture is repainted, black where it is kept (one image only)",
        image2="Another reference picture",
        image3="A third reference picture",
        aspect_ratio="The result's shape",
        negative_prompt="What the result should not contain",
        seed="A number that makes the result repeatable (random if left out)",
        style="One of this server's styles, added to your prompt",
    )
    @app_commands.choices(aspect_ratio=ASPECT_CHOICES)
    @app_commands.autocomplete(style=style_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: Range[str, 1, MAX_PROMPT_LENGTH],
        mask: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        aspect_ratio: Choice[str] | None = None,
        negative_prompt: Range[str, 1, MAX_PROMPT_LENGTH] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
        style: Range[str, 1, CHOICE_LIMIT] | None = None,
    ) -> None:
        """Change a picture from a prompt; add a mask to repaint only part of it."""
        picture = picture_request(
            prompt,
            negative_prompt,
            aspect_ratio.value if aspect_ratio else None,
            seed,
            require_style(interaction, style),
        )
        images = [
            (label, attachment)
            for label, attachment in (("image", image), ("image2", image2), ("image3", image3))
            if attachment is not None
        ]
        if mask is not None and len(images) > 1:
            raise UserFacingError(MASK_WITH_REFERENCES)
        max_bytes = self.bot.settings.max_attachment_bytes
        everything = [*images, *([(MASK_LABEL, mask)] if mask is not None else [])]
        check_declared_sizes(everything, max_bytes)
        screen(interaction, request_fields(picture))

        await interaction.response.defer(ephemeral=True, thinking=True)

        async def read_files() -> list[Upload]:
            image_bytes = [(label, await read_attachment(file, label)) for label, file in images]
            mask_bytes = await read_attachment(mask, MASK_LABEL) if mask is not None else None
            try:
                files = await asyncio.to_thread(
                    prepare_files, image_bytes, mask_bytes, max_bytes=max_bytes
                )
            except MediaProblem as problem:
                raise UserFacingError(str(problem)) from problem
            if files.mask is not None:
                return [files.images[0], files.mask]
            return files.images

        def with_media(media_ids: list[str]) -> JobRequest:
            if mask is not None:
                original, mask_id = media_ids
                return InpaintRequest.of(picture, original, mask_id)
            return EditRequest.of(picture, media_ids)

        # The service checks the quotas before any download or upload, so a user over
        # them costs nothing; it reads and uploads the files holding its file slot.
        job = await bot_of(interaction).jobs.start_with_files(
            await origin_for(interaction), read_files, with_media
        )
        await confirm_started(interaction, job)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Edit(bot))
