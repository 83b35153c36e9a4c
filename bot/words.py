"""Banned words: a pure matcher (no I/O), so requests can be checked before acknowledging.

Text and banned entries are compared as sequences of words after the same normalisation:
format characters (zero-width spaces and joiners, soft hyphens...) removed, Unicode NFKC
(full-width letters, mathematical letters, ligatures become plain ones), case folded.
An entry matches whole words only ("ass" does not match "class"); an entry of several
words (a phrase) matches those words in a row, whatever blanks or punctuation lie between.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_ENTRY_LENGTH = 100
MAX_ENTRIES = 500

_WORD = re.compile(r"\w+")


class BadEntry(ValueError):
    """An entry that cannot be banned; the message says why, for the admin."""


def normalize(text: str) -> str:
    """Format characters removed, NFKC, case folded (and NFKC again: folding can undo it)."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    folded = unicodedata.normalize("NFKC", visible).casefold()
    return unicodedata.normalize("NFKC", folded)


def words_of(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(normalize(text)))


def entry_key(entry: str) -> str:
    """What identifies an entry: its normalised words, so "Bad  Word" and "bad word" are one."""
    return " ".join(words_of(entry))


def check_entry(raw: str) -> str:
    """The entry as it will be stored and shown (blanks collapsed), or BadEntry."""
    entry = " ".join(raw.split())
    if not entry:
        raise BadEntry("The word is empty. Write the word or phrase to ban.")
    if len(entry) > MAX_ENTRY_LENGTH:
        raise BadEntry(
            f"That is too long ({len(entry)} characters; the limit is {MAX_ENTRY_LENGTH}). "
            "Ban a shorter word or phrase."
        )
    if not entry_key(entry):
        raise BadEntry("A banned word needs at least one letter or digit.")
    return entry


@dataclass(frozen=True, slots=True)
class _Entry:
    shown: str  # as the admin wrote it
    words: tuple[str, ...]


class WordList:
    """A server's banned entries, ready to match quickly (a set lookup per word of text)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._by_first: dict[str, list[_Entry]] = {}
        self._entries: list[str] = []
        for shown in entries:
            words = words_of(shown)
            if words:
                self._by_first.setdefault(words[0], []).append(_Entry(shown, words))
                self._entries.append(shown)

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    @property
    def entries(self) -> list[str]:
        return list(self._entries)

    def first_match(self, *texts: str | None) -> str | None:
        """The first banned entry found in any of `texts` (as the admin wrote it), or None."""
        if not self._by_first:
            return None
        for text in texts:
            if not text:
                continue
            words = words_of(text)
            for index, word in enumerate(words):
                for entry in self._by_first.get(word, ()):
                    if words[index : index + len(entry.words)] == entry.words:
                        return entry.shown
        return None
