"""The embed that goes with a finished picture or video."""

from __future__ import annotations

import discord

from bot.jobs.models import Job
from bot.ui.progress import KIND_LABELS, short

EMBED_COLOUR = discord.Colour.from_rgb(124, 92, 255)


def result_embed(job: Job, miraflow_job_id: str | None = None) -> discord.Embed:
    params = job.params
    title = "Your video is ready" if job.kind.makes_video else f"Your {KIND_LABELS[job.kind]}"
    subject = params.get("prompt") or params.get("text") or ""
    embed = discord.Embed(
        title=title, description=short(str(subject), 1000) or None, colour=EMBED_COLOUR
    )
    if params.get("negative_prompt"):
        embed.add_field(name="Negative prompt", value=short(params["negative_prompt"], 1000))
    if params.get("seed") is not None:
        embed.add_field(name="Seed", value=str(params["seed"]))
    if params.get("aspect_ratio"):
        embed.add_field(name="Aspect ratio", value=params["aspect_ratio"])
    if params.get("avatar_name"):
        embed.add_field(name="Avatar", value=short(params["avatar_name"], 200))
    if params.get("voice_name"):
        embed.add_field(name="Voice", value=short(params["voice_name"], 200))
    embed.set_footer(text=f"Job #{job.id} · Miraflow {miraflow_job_id or job.miraflow_job_id}")
    return embed
