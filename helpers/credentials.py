"""Opaque credentials: random strings a server hands out and keeps only the SHA-256 of.

A session ID and a refresh token are the same kind of thing: a bearer credential with no meaning
inside, 256 random bits from ``secrets``. The server stores ``sha256(credential)`` rather than the
credential, so whoever reads the store (a backup, a leaked dump, a curious admin) cannot replay a
row, yet a presented credential is found with one hash and one lookup. A fast hash is enough here,
unlike for passwords, because the input is 256 random bits, not a guessable word.

What a client presents is checked before any work is spent on it: ``hash_presented`` answers None
to anything that cannot be one of ours, and ``well_formed`` does the same check for values that are
stored as they are (a JWT's ``jti``), so garbage is answered, never raised on.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TypeGuard

__all__ = [
    "CREDENTIAL_BYTES",
    "MAX_CREDENTIAL_LENGTH",
    "MIN_CREDENTIAL_BYTES",
    "hash_credential",
    "hash_presented",
    "new_credential",
    "well_formed",
]

CREDENTIAL_BYTES = 32  # 256 random bits; OWASP asks for at least 64 bits of entropy, the course for 128
MIN_CREDENTIAL_BYTES = 16  # 128 bits: the least new_credential() makes
# The longest presented value worth looking at. Ours are 43 characters; anything over this is
# garbage, and refusing it before hashing bounds the work a client can make a lookup do.
MAX_CREDENTIAL_LENGTH = 256

_sha256 = hashlib.sha256  # bound once: hashing sits on every request's path


def new_credential(nbytes: int = CREDENTIAL_BYTES) -> str:
    """A fresh opaque credential: ``nbytes`` random bytes, URL-safe base64 (43 characters for 32 bytes)."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise TypeError(f"nbytes must be an int, got {type(nbytes).__name__}")
    if nbytes < MIN_CREDENTIAL_BYTES:
        raise ValueError(f"a credential needs at least {MIN_CREDENTIAL_BYTES} random bytes, got {nbytes}")
    return secrets.token_urlsafe(nbytes)


def hash_credential(credential: str) -> str:
    """The SHA-256 hex digest a store keeps in place of ``credential``."""
    if not isinstance(credential, str):
        raise TypeError(f"a credential is a str, got {type(credential).__name__}")
    return _sha256(credential.encode("utf-8")).hexdigest()


def well_formed(value: object, max_length: int = MAX_CREDENTIAL_LENGTH) -> TypeGuard[str]:
    """True if a client-supplied ``value`` could be one we issued: a non-empty ASCII str of at most ``max_length``."""
    # type() is str rather than isinstance(): the value is hashed, compared and used as a dict key,
    # and a str subclass can override encode(), __eq__ and __hash__. Only the built-in str is sure
    # to behave the way these checks and the stores that trust them assume.
    return type(value) is str and 0 < len(value) <= max_length and value.isascii()


def hash_presented(value: object) -> str | None:
    """The stored form of a presented credential, or None if it cannot be one (see ``well_formed``)."""
    if not well_formed(value):
        return None
    # ASCII is valid UTF-8, so this is exactly hash_credential(value).
    return _sha256(value.encode()).hexdigest()
