"""Encrypts per-server Miraflow keys at rest with a key made from `SETTINGS_SECRET`.

`SETTINGS_SECRET` is either a Fernet key (44 URL-safe base64 characters, as made by
`Fernet.generate_key()`), used as it is, or any other random string of at least 32
characters, from which a Fernet key is derived with HKDF-SHA256: the same string always
gives the same key, so it may come from any secret manager. Losing or changing it makes the
stored keys unreadable (each server then sets its key again).

Nothing here logs, echoes or puts a key or the secret in an error message or a repr.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_PASSPHRASE_LENGTH = 32
FERNET_KEY_LENGTH = 44  # URL-safe base64 of 32 bytes
_HKDF_SALT = b"miraflow-discord-bot"
_HKDF_INFO = b"SETTINGS_SECRET v1"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class InvalidSecretError(ValueError):
    """The secret is neither a Fernet key nor long enough to derive one from."""


class WrongSecretError(Exception):
    """A stored value cannot be decrypted: another secret sealed it, or it is damaged."""


def _as_fernet_key(secret: str) -> bytes | None:
    if len(secret) != FERNET_KEY_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        return None
    return secret.encode("ascii") if len(raw) == 32 else None


def fernet_key(secret: str) -> bytes:
    """The Fernet key for `secret`, or InvalidSecretError saying what a good one looks like."""
    key = _as_fernet_key(secret)
    if key is not None:
        return key
    if len(secret) < MIN_PASSPHRASE_LENGTH:
        raise InvalidSecretError(
            f"must be a Fernet key or a random string of at least {MIN_PASSPHRASE_LENGTH} "
            f"characters (this one has {len(secret)}); make one with: {GENERATE_HINT}"
        )
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class SecretBox:
    """Seals and opens short secrets (per-server API keys) with one settings secret."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(fernet_key(secret))

    def __repr__(self) -> str:
        return "<SecretBox>"

    def encrypt(self, plaintext: str) -> str:
        """A printable token; each call gives a different one (random IV)."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise WrongSecretError(
                "a stored key cannot be decrypted: SETTINGS_SECRET changed since it was saved,"
                " or the value is damaged; set the key again"
            ) from None
