"""Identifiers shaped like Miraflow's: cuid strings (25 lowercase alphanumerics, 'c' first)."""

from __future__ import annotations

import random
import string

CUID_LENGTH = 25
_ALPHABET = string.ascii_lowercase + string.digits


def new_cuid(rng: random.Random) -> str:
    """A fresh cuid-like id drawn from ``rng`` (seeded rng, reproducible ids)."""
    return "c" + "".join(rng.choice(_ALPHABET) for _ in range(CUID_LENGTH - 1))


def looks_like_cuid(value: str) -> bool:
    return (
        len(value) == CUID_LENGTH
        and value.startswith("c")
        and all(char in _ALPHABET for char in value)
    )
