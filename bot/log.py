"""Logging set-up, with every known secret masked in every record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[secret]"
# Interaction and webhook tokens are not settings but arrive with every command; discord.py
# logs the URLs that carry them (`/interactions/{id}/{token}/callback`,
# `/webhooks/{application}/{token}/...`) at DEBUG, and payloads may hold a "token" field.
_TOKEN_IN_TEXT = (
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?'\"]+"),
    re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+"""),
)
# A server's own Miraflow key arrives in a modal submission, which discord.py logs at DEBUG
# with the gateway event: the text input `apikey:key` (bot/ui/apikey.py) has its value masked,
# whatever the order of the component's fields.
_KEY_INPUT = re.compile(r"""\{[^{}]*['"]apikey:key['"][^{}]*\}""")
_INPUT_VALUE = re.compile(r"""(['"]value['"]\s*:\s*['"])[^'"]*""")
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class SecretMaskingFilter(logging.Filter):
    """Replaces each secret, and every interaction or webhook token, by a mask in a
    record's message and traceback text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Very short values would mask ordinary words; real tokens are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _TOKEN_IN_TEXT:
            text = pattern.sub(rf"\g<1>{MASK}", text)
        return _KEY_INPUT.sub(lambda found: _INPUT_VALUE.sub(rf"\g<1>{MASK}", found[0]), text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


class OneLineReconnects(logging.Filter):
    """discord.py logs each gateway reconnect with a full traceback; one line says enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        message = str(record.msg)
        if record.name == "discord.client" and error and message.startswith("Attempting a"):
            reconnecting = message.replace("Attempting a reconnect", "reconnecting")
            record.msg = f"Discord connection lost ({error!r}); {reconnecting}"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> SecretMaskingFilter:
    """Log to stderr at `level`, masking `secrets` in every handler's output."""
    root = logging.getLogger()
    root.setLevel(level)
    masking = SecretMaskingFilter(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(OneLineReconnects())
    handler.addFilter(masking)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # discord.py's gateway chatter is noise at INFO.
    logging.getLogger("discord.gateway").setLevel(max(logging.getLevelName(level), logging.INFO))
    return masking
