from __future__ import annotations

import logging

import pytest

from bot.log import MASK, OneLineReconnects, SecretMaskingFilter


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


def test_interaction_and_webhook_tokens_are_masked_without_being_known():
    masking = SecretMaskingFilter([])
    record = _record(
        "POST %s with %s has returned 204",
        "http://127.0.0.1:1/api/v10/interactions/123/aW50ZXJhY3Rpb24.tok-en_1/callback",
        {"token": "aW50ZXJhY3Rpb24.tok-en_1", "type": 5},
    )
    masking.filter(record)
    message = record.getMessage()
    assert "aW50ZXJhY3Rpb24" not in message
    assert f"/interactions/123/{MASK}/callback" in message
    record = _record("PATCH /api/v10/webhooks/555/wh-tok.123/messages/@original")
    masking.filter(record)
    assert record.getMessage() == f"PATCH /api/v10/webhooks/555/{MASK}/messages/@original"


def test_a_gateway_reconnect_is_one_warning_line():
    try:
        raise OSError("Connect call failed")
    except OSError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "discord.client", logging.ERROR, __file__, 1, "Attempting a reconnect in %.2fs", (2.5,),
        exc_info,
    )  # fmt: skip
    assert OneLineReconnects().filter(record)
    formatted = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in formatted
    assert formatted.startswith("WARNING Discord connection lost")
    assert "Connect call failed" in formatted and "reconnecting in 2.50s" in formatted


@pytest.mark.parametrize(
    "component",
    [
        "{'type': 4, 'custom_id': 'apikey:key', 'value': 'mf_live_key_123456'}",
        '{"value": "mf_live_key_123456", "type": 4, "custom_id": "apikey:key"}',
    ],
)
def test_a_server_key_in_a_logged_modal_submission_is_masked(component: str) -> None:
    text = f"WebSocket Event: {{'data': {{'components': [{component}]}}}}"
    masked = SecretMaskingFilter([]).mask(text)
    assert "mf_live_key_123456" not in masked
    assert "apikey:key" in masked and MASK in masked
