"""Every failure reaches the user as a short ephemeral sentence; bugs are logged once."""

from __future__ import annotations

import logging

import pytest

from bot.errors import GENERIC_FAILURE
from tests.e2e.harness import running_bot


async def ask(fd, prompt="a fox in the snow"):
    inter = await fd.invoke("imagine", {"prompt": prompt}, user=fd.users.alice)
    return await fd.wait_for_response(inter, timeout=10)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"status": 400, "body": {"message": "Insufficient credits"}}, "out of credits"),
        ({"status": 401}, "tell a server admin"),
        ({"status": 429, "retry_after": 30}, "too many requests"),
        # Miraflow may have made it behind a failing gateway: unknown, never resent.
        ({"status": 503}, "won't resend"),
    ],
)
async def test_miraflow_errors_are_told_in_plain_words(fd, sim, bot, fault, words):
    sim.fail_next(1, path_prefix="/api/image/generate", **fault)
    answer = await ask(fd)
    assert answer.ephemeral
    assert words in answer.content
    assert "Traceback" not in answer.content and sim.api_key not in answer.content
    # The bot goes on serving.
    assert "Started job" in (await ask(fd, "try again")).content


async def test_an_unexpected_error_gets_a_generic_message_and_one_logged_traceback(
    fd, sim, db_path, caplog
):
    async with running_bot(fd, sim, db_path) as bot:

        def broken(user_id):
            raise RuntimeError("disk on fire")

        bot.jobs.check_quota = broken
        with caplog.at_level(logging.ERROR, logger="bot"):
            answer = await ask(fd)
        assert answer.ephemeral and answer.content == GENERIC_FAILURE
        assert "disk on fire" not in answer.content
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and errors[0].exc_info is not None
        assert sim.count("POST", "/api/image") == 0
