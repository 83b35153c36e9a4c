"""Logging set-up, with every known secret masked in every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "[secret]"
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class SecretMaskingFilter(logging.Filter):
    """Replaces each secret by a mask in a record's message and traceback text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Very short values would mask ordinary words; real tokens are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> SecretMaskingFilter:
    """Log to stderr at `level`, masking `secrets` in every handler's output."""
    root = logging.getLogger()
    root.setLevel(level)
    masking = SecretMaskingFilter(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(masking)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # discord.py's gateway chatter is noise at INFO.
    logging.getLogger("discord.gateway").setLevel(max(logging.getLevelName(level), logging.INFO))
    return masking
