"""The embed that goes with a finished picture or video."""

from __future__ import annotations

import discord

from bot.jobs.job_requests import (
    AudioVideoRequest,
    EditRequest,
    FoundVideo,
    InpaintRequest,
    PictureRequest,
    TextVideoRequest,
    subject,
)
from bot.jobs.models import Job
from bot.ui.inert import inert
from bot.ui.progress import KIND_LABELS

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)


def result_embed(job: Job) -> discord.Embed:
    request = job.request
    title = "Your video is ready" if job.kind.makes_video else f"Your {KIND_LABELS[job.kind]}"
    words = (
        subject(request)
        if isinstance(request, PictureRequest | EditRequest | InpaintRequest | TextVideoRequest)
        else ""
    )
    embed = discord.Embed(title=title, description=inert(words, 1000) or None, colour=EMBED_COLOUR)
    if isinstance(request, PictureRequest | EditRequest | InpaintRequest):
        if request.negative_prompt:
            embed.add_field(name="Negative prompt", value=inert(request.negative_prompt, 1000))
        if request.seed is not None:
            embed.add_field(name="Seed", value=str(request.seed))
        if request.aspect_ratio:
            embed.add_field(name="Aspect ratio", value=request.aspect_ratio)
        if request.style:
            embed.add_field(name="Style", value=request.style)
    if (
        isinstance(request, TextVideoRequest | AudioVideoRequest | FoundVideo)
        and request.avatar_name
    ):
        embed.add_field(name="Avatar", value=inert(request.avatar_name, 200))
    if isinstance(request, TextVideoRequest) and request.voice_name:
        embed.add_field(name="Voice", value=inert(request.voice_name, 200))
    embed.set_footer(text=f"Job #{job.id} · Miraflow {job.miraflow_job_id}")
    return embed
