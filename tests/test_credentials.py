"""helpers.credentials: the one way session IDs and refresh tokens are made, hashed and checked."""

from __future__ import annotations

import hashlib
import string

import pytest

from helpers import denylist, refresh, sessions
from helpers.credentials import (
    CREDENTIAL_BYTES,
    MAX_CREDENTIAL_LENGTH,
    MIN_CREDENTIAL_BYTES,
    hash_credential,
    hash_presented,
    new_credential,
    well_formed,
)

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


class _Str(str):
    """A str subclass that lies about its encoding: what an exact-type check keeps out."""

    def encode(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        return b"chosen by the caller"


GARBAGE = [
    None,
    7,
    1.5,
    b"bytes",
    ["list"],
    {"dict": 1},
    "",
    "x" * (MAX_CREDENTIAL_LENGTH + 1),
    "é",
    "\ud800",
    "🍪",
    _Str("abc"),
]


def test_a_new_credential_is_256_random_bits_of_url_safe_text():
    made = {new_credential() for _ in range(200)}
    assert len(made) == 200  # no repeats
    assert CREDENTIAL_BYTES * 8 == 256
    for credential in made:
        assert len(credential) == 43 and set(credential) <= URL_SAFE


def test_a_credential_may_be_longer_but_never_under_128_bits():
    assert MIN_CREDENTIAL_BYTES * 8 == 128
    assert len(new_credential(MIN_CREDENTIAL_BYTES)) == 22
    assert len(new_credential(64)) == 86
    with pytest.raises(ValueError, match="at least 16 random bytes"):
        new_credential(MIN_CREDENTIAL_BYTES - 1)
    for bad in (True, 32.0, "32"):
        with pytest.raises(TypeError):
            new_credential(bad)  # type: ignore[arg-type]


def test_the_stored_form_is_plain_sha256_hex():
    assert hash_credential("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_credential("é") == hashlib.sha256("é".encode()).hexdigest()  # any str hashes; only bytes are refused
    with pytest.raises(TypeError, match="a credential is a str, got bytes"):
        hash_credential(b"abc")  # type: ignore[arg-type]


def test_a_presented_credential_hashes_like_the_issued_one():
    credential = new_credential()
    assert hash_presented(credential) == hash_credential(credential)
    assert hash_presented("x" * MAX_CREDENTIAL_LENGTH) == hash_credential("x" * MAX_CREDENTIAL_LENGTH)


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_garbage_is_answered_with_none_never_raised_on(garbage):
    assert hash_presented(garbage) is None
    assert not well_formed(garbage)


def test_well_formed_takes_a_shorter_cap():
    assert well_formed("a" * 32, max_length=32)
    assert not well_formed("a" * 33, max_length=32)
    assert well_formed("a" * 33)


def test_the_stores_public_names_are_the_shared_ones():
    assert sessions.new_session_id is refresh.new_refresh_token is new_credential
    assert sessions.hash_session_id is refresh.hash_refresh_token is hash_credential
    assert sessions.MAX_SESSION_ID_LENGTH == refresh.MAX_REFRESH_TOKEN_LENGTH == denylist.MAX_JTI_LENGTH
    assert denylist.MAX_JTI_LENGTH == MAX_CREDENTIAL_LENGTH
