"""Signed URLs on the simulator itself, like the pre-signed storage URLs of the real service."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from enum import Enum
from urllib.parse import urlencode


class SignatureCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


class UrlSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _signature(self, path: str, expires: str) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def token(self, path: str) -> str:
        """A token that never expires (upload URLs, which the API hands out just before use)."""
        return self._signature(path, "never")

    def token_is_valid(self, path: str, token: str) -> bool:
        return hmac.compare_digest(self.token(path), token)

    def sign(self, origin: str, path: str, expires_at: float) -> str:
        """``origin + path`` with ``expires`` (UNIX seconds) and ``signature`` in the query."""
        expires = str(int(expires_at))
        query = urlencode({"expires": expires, "signature": self._signature(path, expires)})
        return f"{origin}{path}?{query}"

    def check(self, path: str, query: Mapping[str, str], now: float) -> SignatureCheck:
        expires = query.get("expires", "")
        signature = query.get("signature", "")
        if not expires.isdigit() or not hmac.compare_digest(
            self._signature(path, expires), signature
        ):
            return SignatureCheck.INVALID
        if now >= int(expires):
            return SignatureCheck.EXPIRED
        return SignatureCheck.VALID
