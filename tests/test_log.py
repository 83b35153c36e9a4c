from __future__ import annotations

import logging

from bot.log import MASK, SecretMaskingFilter


def _record(msg, *args, exc_info=None):
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_secrets_are_masked_in_messages_and_arguments():
    masking = SecretMaskingFilter(["tok-123456", "key-abcdef"])
    record = _record("token %s and key %s", "tok-123456", "key-abcdef")
    assert masking.filter(record)
    assert record.getMessage() == f"token {MASK} and key {MASK}"


def test_secrets_are_masked_in_tracebacks():
    masking = SecretMaskingFilter(["key-abcdef"])
    try:
        raise RuntimeError("failed with key-abcdef")
    except RuntimeError:
        import sys

        record = _record("boom", exc_info=sys.exc_info())
    masking.filter(record)
    formatted = logging.Formatter().format(record)
    assert "key-abcdef" not in formatted
    assert MASK in formatted


def test_short_or_empty_values_are_not_masked():
    masking = SecretMaskingFilter(["", "ab"])
    record = _record("ab is fine")
    masking.filter(record)
    assert record.getMessage() == "ab is fine"
