"""Password hashing: round trips, salts, the stored format, malformed input and rehash decisions."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import passwords
from helpers.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    hash_password,
    needs_rehash,
    unmatchable_hash,
    verify_password,
)

# Cheap enough for hundreds of hashes per second; only the default-cost test pays the real price.
CHEAP = ScryptParams(n=2**4, r=1, p=1)

# OWASP Password Storage Cheat Sheet: equivalent scrypt settings (N, r, p).
OWASP_SCRYPT = {(2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5), (2**13, 8, 10)}


def test_default_cost_round_trip():
    # The one test that pays the real cost (two scrypt runs of ~0.3 s); the rest use CHEAP.
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("scrypt$n=16384,r=8,p=5$")
    assert verify_password("correct horse battery staple", stored)
    assert not needs_rehash(stored)


def test_default_params_are_owasp_equivalent():
    assert (DEFAULT_PARAMS.n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p) in OWASP_SCRYPT
    assert DEFAULT_PARAMS.memory_bytes == 16 * 1024 * 1024


def test_stored_format_is_self_describing():
    algorithm, params, salt, digest = hash_password("pw", params=CHEAP).split("$")
    assert (algorithm, params) == ("scrypt", "n=16,r=1,p=1")
    assert len(base64.b64decode(salt, validate=True)) == 16
    assert len(base64.b64decode(digest, validate=True)) == 32


def test_verify_reads_the_cost_from_the_stored_string():
    # No params passed to verify: they travel inside the hash, so raising the default later
    # does not break hashes made today.
    custom = ScryptParams(n=2**6, r=2, p=3)
    assert verify_password("pw", hash_password("pw", params=custom))


def test_costs_above_openssls_default_memory_limit_work():
    # n=2**15, r=8 needs 32 MiB, above what hashlib.scrypt allows unless maxmem is raised.
    stored = hash_password("pw", params=ScryptParams(n=2**15, r=8, p=1))
    assert stored.startswith("scrypt$n=32768,r=8,p=1$")


def test_wrong_password_fails():
    stored = hash_password("wonderland", params=CHEAP)
    for attempt in ("Wonderland", "wonderland ", "", "wonderlan", "wonderland\x00"):
        assert not verify_password(attempt, stored), attempt


def test_every_hash_gets_a_fresh_salt():
    hashes = [hash_password("same password", params=CHEAP) for _ in range(50)]
    salts = {h.split("$")[2] for h in hashes}
    assert len(salts) == len(hashes)
    assert all(verify_password("same password", h) for h in hashes)


def test_unicode_is_normalised():
    composed, decomposed = "caf\u00e9", "cafe\u0301"  # the same word, two code-point spellings
    assert verify_password(decomposed, hash_password(composed, params=CHEAP))


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=80))
def test_any_password_round_trips(password):
    stored = hash_password(password, params=CHEAP)
    assert verify_password(password, stored)
    assert not verify_password(password + "x", stored)


def test_empty_password_is_refused():
    with pytest.raises(ValueError, match="empty"):
        hash_password("", params=CHEAP)


def test_nul_characters_cannot_alias_a_password():
    # HMAC zero-pads short keys, so raw scrypt treats "pw" and "pw\x00" as the same password.
    stored = hash_password("pw", params=CHEAP)
    assert not verify_password("pw\x00", stored)
    assert not verify_password("pw\x00\x00", stored)
    with pytest.raises(ValueError, match="NUL"):
        hash_password("pw\x00", params=CHEAP)


@pytest.mark.parametrize(
    "call",
    [
        lambda: hash_password(b"bytes"),  # type: ignore[arg-type]
        lambda: verify_password(b"bytes", "scrypt$n=16,r=1,p=1$AAAA$AAAA"),  # type: ignore[arg-type]
        lambda: verify_password("pw", None),  # type: ignore[arg-type]
        lambda: verify_password(None, "scrypt$..."),  # type: ignore[arg-type]
        lambda: needs_rehash(42),  # type: ignore[arg-type]
    ],
)
def test_non_str_arguments_are_programming_errors(call):
    with pytest.raises(TypeError, match="expects"):
        call()


def test_bytes_password_error_says_what_to_do():
    with pytest.raises(TypeError, match="decode it first"):
        verify_password(b"pw", "x")  # type: ignore[arg-type]


def _good() -> str:
    return hash_password("pw", params=CHEAP)


def _swap(index: int, value: str) -> str:
    parts = _good().split("$")
    parts[index] = value
    return "$".join(parts)


MALFORMED = {
    "empty": "",
    "just the name": "scrypt",
    "other algorithm": "bcrypt$n=16,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "too few fields": "scrypt$n=16,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==",
    "too many fields": _good() + "$extra",
    "salt not base64": _swap(2, "not*base64!"),
    "hash not base64": _swap(3, "%%%%"),
    "salt too short": _swap(2, base64.b64encode(b"1234").decode()),
    "hash truncated": _swap(3, base64.b64encode(b"12345678").decode()),
    "n not a power of two": _swap(1, "n=15,r=1,p=1"),
    "n absurd": _swap(1, "n=1073741824,r=8,p=1"),
    "p absurd": _swap(1, "n=16384,r=8,p=9999999"),
    "zero r": _swap(1, "n=16,r=0,p=1"),
    "negative p": _swap(1, "n=16,r=1,p=-1"),
    "missing p": _swap(1, "n=16,r=1"),
    "duplicate n": _swap(1, "n=16,n=16,r=1"),
    "unknown param": _swap(1, "n=16,r=1,p=1,q=2"),
    "unicode digit": _swap(1, "n=16,r=\u00b2,p=1"),
    "huge number": _swap(1, "n=" + "9" * 5000 + ",r=1,p=1"),
    "non-ascii": _good() + "\u00e9",
    "very long": "scrypt$" + "A" * 100_000,
    "whitespace": " " + _good(),
}


@pytest.mark.parametrize("stored", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_stored_strings_verify_false(stored):
    assert verify_password("pw", stored) is False
    assert needs_rehash(stored) is True


def test_tampered_hash_fails():
    algorithm, params, salt, digest = _good().split("$")
    flipped = bytearray(base64.b64decode(digest))
    flipped[0] ^= 1
    assert not verify_password("pw", "$".join([algorithm, params, salt, base64.b64encode(flipped).decode()]))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_verify_never_raises_on_arbitrary_stored_text(stored):
    assert verify_password("pw", stored) in (True, False)


def test_needs_rehash_compares_against_the_default():
    assert needs_rehash(_good())  # cheap is weaker
    assert not needs_rehash(_good(), params=CHEAP)
    # A different but not weaker OWASP setting (more memory, more work) needs no rehash.
    assert not needs_rehash(_swap(1, "n=131072,r=8,p=1"))
    # Less work or less memory than the default does.
    assert needs_rehash(_swap(1, "n=16384,r=8,p=1"))
    assert needs_rehash(_swap(1, "n=2048,r=8,p=80"))


@pytest.mark.parametrize(
    ("n", "r", "p", "error"),
    [
        (15, 8, 1, ValueError),
        (1, 8, 1, ValueError),
        (16, 0, 1, ValueError),
        (16, 1, 0, ValueError),
        (2**30, 8, 1, ValueError),
        (16.0, 1, 1, TypeError),
        (True, 1, 1, TypeError),
    ],
)
def test_scrypt_params_are_validated(n, r, p, error):
    with pytest.raises(error):
        ScryptParams(n=n, r=r, p=p)


def test_an_unmatchable_hash_is_checked_at_full_cost_and_never_matches(monkeypatch):
    stored = unmatchable_hash(CHEAP)
    assert stored.startswith("scrypt$n=16,r=1,p=1$") and stored != unmatchable_hash(CHEAP)  # a fresh one each time
    runs: list[ScryptParams] = []
    real_scrypt = passwords._scrypt

    def counting_scrypt(password, salt, params, dklen):
        runs.append(params)
        return real_scrypt(password, salt, params, dklen)

    monkeypatch.setattr(passwords, "_scrypt", counting_scrypt)
    for guess in ("x", "dummy password for unknown users", "wonderland"):
        assert verify_password(guess, stored) is False
    assert runs == [CHEAP] * 3  # one full scrypt per check, with the stored parameters
    with pytest.raises(TypeError):
        unmatchable_hash("n=16")  # type: ignore[arg-type]
