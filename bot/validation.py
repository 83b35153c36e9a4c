"""Checks of command options that need no I/O: they run before the interaction is answered."""

from __future__ import annotations

from discord.app_commands import Choice

from bot.errors import UserFacingError
from bot.jobs.job_requests import MAX_SEED

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4")
ASPECT_CHOICES = [Choice(name=ratio, value=ratio) for ratio in ASPECT_RATIOS]
MAX_PROMPT_LENGTH = 1000
MAX_SCRIPT_LENGTH = 3000
MAX_NAME_LENGTH = 100


def clean_text(value: str | None, *, label: str, max_length: int, required: bool = True) -> str:
    """Collapse surrounding blanks; refuse a blank or over-long value with a clear message."""
    text = (value or "").strip()
    if not text:
        if required:
            raise UserFacingError(f"The {label} is empty. Please write a few words.")
        return ""
    if len(text) > max_length:
        raise UserFacingError(
            f"The {label} is too long ({len(text)} characters; the limit is {max_length}). "
            "Please shorten it."
        )
    return text


def check_seed(seed: int | None) -> int | None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UserFacingError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
    return seed


def check_aspect_ratio(value: str | None) -> str | None:
    if value is not None and value not in ASPECT_RATIOS:
        raise UserFacingError(f"The aspect ratio must be one of {', '.join(ASPECT_RATIOS)}.")
    return value
