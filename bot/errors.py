"""The one place that turns an exception into a short sentence for a Discord user (the
sentences themselves are in `bot/discord_side/words.py`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord
from discord import app_commands

from bot.discord_side.words import (
    GENERIC_FAILURE,
    STORE_UNWRITABLE,
    job_error_text,
    miraflow_error_text,
)
from bot.jobs.errors import CreateRefused, JobError
from bot.jobs.log_limit import LogLimit
from bot.jobs.store.unwritable import cannot_write
from bot.miraflow.errors import AuthenticationError, MiraflowError, ServerError

__all__ = ["GENERIC_FAILURE", "ErrorReport", "UserFacingError", "describe_error", "report_error"]


class UserFacingError(Exception):
    """A problem the user can fix; its text is shown to them as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# A store that cannot be written fails every command until it is fixed: one line a minute
# tells the owner, not a traceback per command.
STORE_ERRORS = LogLimit(60.0)


@dataclass(frozen=True, slots=True)
class ErrorReport:
    message: str
    log_level: int
    with_traceback: bool = False
    log_limit: LogLimit | None = None  # logged only when it is due


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        cause = error.__cause__ or getattr(error, "original", None)
        if cause is None or cause is error:
            break
        error = cause
    return error


def describe_error(error: BaseException) -> ErrorReport:
    """What to tell the user about `error`, and how loudly to log it."""
    original = _unwrap(error)
    match original:
        case UserFacingError():
            return ErrorReport(original.message, logging.DEBUG)
        case CreateRefused():  # as loud as Miraflow's answer (a wrong key is an error)
            level = describe_error(original.error).log_level
            return ErrorReport(job_error_text(original), level)
        case JobError():
            return ErrorReport(job_error_text(original), logging.DEBUG)
        case AuthenticationError():
            return ErrorReport(miraflow_error_text(original), logging.ERROR)
        case ServerError():
            return ErrorReport(miraflow_error_text(original), logging.WARNING)
        case MiraflowError():
            return ErrorReport(miraflow_error_text(original), logging.INFO)
        case app_commands.CommandOnCooldown():
            return ErrorReport(
                f"Slow down a little: try again in {original.retry_after:.0f} s.", logging.DEBUG
            )
        case app_commands.MissingPermissions():
            needed = ", ".join(p.replace("_", " ").title() for p in original.missing_permissions)
            return ErrorReport(f"You need the {needed} permission for that.", logging.DEBUG)
        case app_commands.BotMissingPermissions():
            needed = ", ".join(p.replace("_", " ").title() for p in original.missing_permissions)
            return ErrorReport(
                f"I need the {needed} permission here. Ask a server admin to grant it.",
                logging.INFO,
            )
        case app_commands.NoPrivateMessage():
            return ErrorReport("That command works in a server channel only.", logging.DEBUG)
        case app_commands.CheckFailure():
            return ErrorReport("You can't use that command here.", logging.DEBUG)
        case discord.Forbidden():
            return ErrorReport(
                "I'm missing a permission in this channel. Ask a server admin to check my role.",
                logging.WARNING,
            )
    if cannot_write(original):
        return ErrorReport(STORE_UNWRITABLE, logging.ERROR, log_limit=STORE_ERRORS)
    return ErrorReport(GENERIC_FAILURE, logging.ERROR, with_traceback=True)


async def tell_user(interaction: discord.Interaction, message: str) -> None:
    """Send `message` ephemerally, whether or not the interaction was answered already."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)


async def report_error(
    interaction: discord.Interaction, error: BaseException, logger: logging.Logger
) -> None:
    """Log `error` once at its level and tell the user a short, kind sentence."""
    report = describe_error(error)
    command = interaction.command.qualified_name if interaction.command else "component"
    if report.log_limit is not None:
        if report.log_limit.due():
            logger.log(
                report.log_level,
                "%s: the store cannot be written (%s); %d more such refusals since the last line",
                command,
                _first_line(_unwrap(error)),
                report.log_limit.take_skipped(),
            )
    elif report.with_traceback:
        logger.log(report.log_level, "unexpected error in %s", command, exc_info=error)
    else:
        logger.log(report.log_level, "%s: %s", command, _unwrap(error))
    try:
        await tell_user(interaction, report.message)
    except discord.HTTPException as exc:
        logger.debug("could not tell the user about an error: %s", exc)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
