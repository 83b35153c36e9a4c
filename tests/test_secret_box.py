"""Per-server keys at rest: sealed with SETTINGS_SECRET, never readable without it."""

from __future__ import annotations

import base64
import logging

import pytest
from cryptography.fernet import Fernet

from bot.secret_box import InvalidSecretError, SecretBox, WrongSecretError, fernet_key

KEY = "mf_live_0123456789abcdefSERVERKEY"
PASSPHRASE = "a long random settings secret, 40 chars"


@pytest.mark.parametrize("secret", [Fernet.generate_key().decode(), PASSPHRASE])
def test_round_trip(secret):
    box = SecretBox(secret)
    sealed = box.encrypt(KEY)
    assert box.decrypt(sealed) == KEY
    # A new box from the same secret opens it: the derived key is deterministic.
    assert SecretBox(secret).decrypt(sealed) == KEY


def test_the_ciphertext_does_not_contain_the_key():
    sealed = SecretBox(PASSPHRASE).encrypt(KEY)
    assert KEY not in sealed
    assert KEY.encode() not in base64.urlsafe_b64decode(sealed)
    assert SecretBox(PASSPHRASE).encrypt(KEY) != sealed, "each seal has its own IV"


@pytest.mark.parametrize(
    "damage",
    [
        lambda sealed: SecretBox(PASSPHRASE + "!").decrypt(sealed),
        lambda sealed: SecretBox(Fernet.generate_key().decode()).decrypt(sealed),
        lambda sealed: SecretBox(PASSPHRASE).decrypt(sealed[:-8] + "AAAAAAA="),
        lambda sealed: SecretBox(PASSPHRASE).decrypt("not a token at all"),
        lambda sealed: SecretBox(PASSPHRASE).decrypt("ключ"),
    ],
)
def test_a_wrong_secret_or_damaged_value_fails_cleanly(damage):
    sealed = SecretBox(PASSPHRASE).encrypt(KEY)
    with pytest.raises(WrongSecretError) as raised:
        damage(sealed)
    assert "SETTINGS_SECRET" in str(raised.value)
    assert raised.value.__cause__ is None
    assert KEY not in str(raised.value)


def test_a_fernet_key_is_used_as_is_and_a_passphrase_is_derived():
    fernet = Fernet.generate_key()
    assert fernet_key(fernet.decode()) == fernet
    derived = fernet_key(PASSPHRASE)
    assert len(base64.urlsafe_b64decode(derived)) == 32
    assert derived == fernet_key(PASSPHRASE)
    assert derived != fernet_key(PASSPHRASE[:-1] + "?")


@pytest.mark.parametrize("secret", ["", "x" * 31, "short"])
def test_a_short_secret_is_refused_without_echoing_it(secret):
    with pytest.raises(InvalidSecretError) as raised:
        SecretBox(secret)
    assert "at least 32" in str(raised.value)
    if secret:
        assert secret not in str(raised.value)


def test_nothing_is_logged_or_shown(caplog):
    caplog.set_level(logging.DEBUG)
    box = SecretBox(PASSPHRASE)
    box.decrypt(box.encrypt(KEY))
    assert caplog.records == []
    assert PASSPHRASE not in repr(box)
