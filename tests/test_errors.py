"""The one place that turns an exception into words for a Discord user."""

from __future__ import annotations

import logging

import discord
import pytest
from discord import app_commands

from bot.errors import GENERIC_FAILURE, UserFacingError, describe_error
from bot.jobs.errors import CreateRefused
from bot.miraflow.errors import (
    AuthenticationError,
    BadRequestError,
    MiraflowError,
    MiraflowTimeoutError,
    RateLimitedError,
    ServerError,
)


class FakeResponse:
    status = 403
    reason = "Forbidden"


CASES = [
    (UserFacingError("The prompt is empty."), "The prompt is empty.", logging.DEBUG),
    (
        app_commands.CommandOnCooldown(app_commands.Cooldown(1, 30.0), 12.4),
        "try again in 12 s",
        logging.DEBUG,
    ),
    (app_commands.MissingPermissions(["manage_guild"]), "Manage Guild", logging.DEBUG),
    (
        app_commands.BotMissingPermissions(["attach_files"]),
        "Ask a server admin",
        logging.INFO,
    ),
    (app_commands.NoPrivateMessage(), "server channel", logging.DEBUG),
    (app_commands.CheckFailure(), "can't use that command", logging.DEBUG),
    (
        discord.Forbidden(FakeResponse(), "Missing Permissions"),
        "missing a permission",
        logging.WARNING,
    ),
    (AuthenticationError("bad key", 401), "tell a server admin", logging.ERROR),
    (ServerError("down", 503), "try again", logging.WARNING),
    (BadRequestError("Insufficient credits", 400), "out of credits", logging.INFO),
    (RateLimitedError("slow down", 429, retry_after=20.0), "too many requests", logging.INFO),
    (MiraflowTimeoutError("late"), "took too long", logging.INFO),
    (
        CreateRefused(1, RateLimitedError("slow down", 429, retry_after=20.0)),
        "too many requests right now: please try again in a minute. Nothing was started, "
        "so nothing was charged.",
        logging.INFO,
    ),
    (
        CreateRefused(1, AuthenticationError("bad key", 401)),
        "tell a server admin. Nothing was started",
        logging.ERROR,
    ),
    (RuntimeError("a bug"), GENERIC_FAILURE, logging.ERROR),
]


@pytest.mark.parametrize(("error", "words", "level"), CASES)
def test_each_error_gets_its_words_and_its_log_level(error, words, level):
    report = describe_error(error)
    assert words in report.message
    assert report.log_level == level
    assert report.with_traceback == isinstance(error, RuntimeError)


def test_the_original_error_is_found_inside_discord_wrappers():
    command = app_commands.Command(name="x", description="x", callback=_noop)
    wrapped = app_commands.CommandInvokeError(command, UserFacingError("Fix this."))
    wrapped.__cause__ = wrapped.original
    assert describe_error(wrapped).message == "Fix this."


async def _noop(interaction: discord.Interaction) -> None:
    return None


@pytest.mark.parametrize("status", [409, 418, 422, None])
def test_an_unexpected_miraflow_status_is_words_without_its_number(status):
    message = describe_error(MiraflowError("I'm a teapot", status)).message
    assert message == (
        "Miraflow could not handle that request. Please try again later, "
        "or tell a server admin if it keeps happening."
    )
