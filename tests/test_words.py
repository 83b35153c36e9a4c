"""The banned-word matcher: what is refused, and just as important, what is not."""

from __future__ import annotations

import pytest

from bot.words import MAX_ENTRY_LENGTH, BadEntry, WordList, check_entry, entry_key

BANNED = ["dragon", "Red Door", "ass", "naïve", "café au lait"]
ZWSP, ZWJ, WORD_JOINER, BOM, SOFT_HYPHEN = "\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"

CASES = [
    # (text, the entry refused, or None when the text is allowed; why)
    ("a dragon", "dragon", "plain"),
    ("A DRAGON", "dragon", "case"),
    ("dRaGoN!", "dragon", "case, punctuation around"),
    ("«dragon»", "dragon", "quotes around"),
    (f"dr{ZWSP}agon", "dragon", "zero-width space inside"),
    (f"d{ZWJ}ra{WORD_JOINER}gon", "dragon", "zero-width joiner and word joiner"),
    (f"{BOM}dragon", "dragon", "byte-order mark"),
    (f"dra{SOFT_HYPHEN}gon", "dragon", "soft hyphen"),
    ("\uff44\uff52\uff41\uff47\uff4f\uff4e", "dragon", "full-width letters (NFKC)"),
    ("\U0001d41d\U0001d42b\U0001d41a\U0001d420\U0001d428\U0001d427", "dragon", "math bold (NFKC)"),
    ("\u24d3\u24e1\u24d0\u24d6\u24de\u24dd", "dragon", "circled letters (NFKC)"),
    ("paint the red door", "Red Door", "phrase"),
    ("paint the RED   door", "Red Door", "phrase, several blanks"),
    ("the red-door inn", "Red Door", "phrase, hyphenated"),
    (f"red{ZWSP} door", "Red Door", "phrase, zero-width space"),
    ("nai\u0308ve", "naïve", "combining diaeresis composed by NFKC"),
    ("NAÏVE", "naïve", "accented capital"),
    ("a cafe\u0301 au lait", "café au lait", "phrase with a decomposed accent"),
    ("kick ass", "ass", "a whole word"),
    # Not refused:
    ("a dragonfly", None, "whole words only: longer word"),
    ("dragons", None, "whole words only: plural is another word"),
    ("snapdragon", None, "whole words only: inside a word"),
    ("a classic class", None, "whole words only: the Scunthorpe problem"),
    ("a red, wooden door", None, "phrase words not in a row"),
    ("the door is red", None, "phrase words in another order"),
    ("a reddoor", None, "phrase words run together"),
    ("naive", None, "the accent makes another word"),
    ("dr\u0430gon", None, "Cyrillic a is not a Latin a (no NFKC mapping)"),
    ("drag on", None, "a space splits the word"),
    ("", None, "empty text"),
]


@pytest.mark.parametrize(
    ("text", "expected", "why"), CASES, ids=[f"{n}-{c[2]}" for n, c in enumerate(CASES)]
)
def test_banned_words_table(text: str, expected: str | None, why: str) -> None:
    assert WordList(BANNED).first_match(text) == expected, why


def test_the_table_shows_both_refused_and_allowed_cases() -> None:
    refused = [case for case in CASES if case[1] is not None]
    allowed = [case for case in CASES if case[1] is None]
    assert len(refused) >= 15 and len(allowed) >= 10


def test_every_text_is_searched_and_the_first_entry_found_is_named() -> None:
    words = WordList(BANNED)
    assert words.first_match(None, "a quiet lake", "a red door") == "Red Door"
    assert words.first_match("a dragon behind a red door") == "dragon"
    assert words.first_match() is None
    assert WordList().first_match("dragon") is None


def test_an_empty_list_is_false_and_counts_its_entries() -> None:
    assert not WordList()
    assert len(WordList(BANNED)) == len(BANNED)
    assert WordList(BANNED).entries == BANNED


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  Red   Door ", "Red Door"), ("dragon", "dragon"), ("x" * MAX_ENTRY_LENGTH, "x" * 100)],
)
def test_an_entry_is_stored_with_its_blanks_collapsed(raw: str, stored: str) -> None:
    assert check_entry(raw) == stored


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_ENTRY_LENGTH + 1), "too long"),
        ("!!! ...", "letter or digit"),
        (ZWSP, "letter or digit"),
    ],
)
def test_a_bad_entry_is_refused_with_a_reason(raw: str, words: str) -> None:
    with pytest.raises(BadEntry, match=words):
        check_entry(raw)


def test_entries_that_mean_the_same_share_a_key() -> None:
    assert entry_key("Red  Door") == entry_key("red door") == entry_key(f"RED{ZWSP} door!")
    assert entry_key("red door") != entry_key("red doors")
