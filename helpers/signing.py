"""Signed client-side state: an HMAC tag on a cookie value, and Flask's built-in signed session.

``sign("alice", key)`` returns ``"alice.<tag>"``, where the tag is HMAC-SHA256 of the value under
``key`` in unpadded URL-safe base64. ``unsign`` gives the value back only if the tag is right, so a
client who edits the value (or the tag) is caught. Signing is not encryption: the value before the
dot stays readable by anyone holding the cookie. It also carries no expiry and cannot be revoked;
those gaps are what server-side sessions (chapter 02) and JWTs (chapter 03) answer in two ways.

``create_flask_session_app`` is the same idea as Flask ships it: ``flask.session`` with the default
``SecureCookieSessionInterface`` (itsdangerous, HMAC-SHA1, a timestamp), left at Flask's defaults so
a notebook can take its cookie apart.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from flask import Flask, session

from .users import UserDirectory
from .web_common import authenticate, json_answer

__all__ = ["MAX_SIGNED_LENGTH", "MIN_KEY_BYTES", "create_flask_session_app", "sign", "unsign"]

MIN_KEY_BYTES = 32  # a key as long as the SHA-256 output; shorter HMAC keys are guessable sooner
MAX_SIGNED_LENGTH = 4096  # bytes: browsers keep about this much per cookie; longer input is refused
TAG_LENGTH = 43  # characters: 32 bytes of HMAC-SHA256 in unpadded URL-safe base64
# RFC 6265 cookie-octet: printable ASCII except space, '"', ',', ';' and '\'.
_COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('",;\\')


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"the signing key must be bytes, got {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the signing key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")


def _tag(value: str, key: bytes) -> str:
    # hmac.new keeps the GIL for a short value; the one-shot hmac.digest lets it go and waits to get it back.
    digest = hmac.new(bytes(key), value.encode("ascii"), "sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(value: str, key: bytes) -> str:
    """Return ``value.<tag>``: the value, a dot, and its HMAC-SHA256 tag under ``key`` (URL-safe base64)."""
    _check_key(key)
    if not isinstance(value, str):
        raise TypeError(f"the value to sign must be a str, got {type(value).__name__}")
    bad = sorted(set(value) - _COOKIE_OCTETS)
    if bad:
        raise ValueError(f"a cookie value may not contain {bad!r} (RFC 6265 cookie-octets only)")
    if len(value) + 1 + TAG_LENGTH > MAX_SIGNED_LENGTH:
        raise ValueError(f"the signed value would exceed {MAX_SIGNED_LENGTH} characters")
    return f"{value}.{_tag(value, key)}"


def unsign(signed: str, key: bytes) -> str | None:
    """The value inside ``signed`` if its tag is right for ``key``; None if anything is off (never raises on input)."""
    _check_key(key)
    if not isinstance(signed, str) or len(signed) > MAX_SIGNED_LENGTH or not signed.isascii():
        return None
    value, dot, tag = signed.rpartition(".")
    if not dot:
        return None
    # Compare the tag as text against the one canonical encoding. Decoding it first would accept
    # variants: the last base64 character carries two spare bits a decoder ignores.
    if not hmac.compare_digest(tag.encode("ascii"), _tag(value, key).encode("ascii")):
        return None
    return value


def create_flask_session_app(users: UserDirectory, secret_key: bytes) -> Flask:
    """A login app that remembers the user in Flask's default session: a signed, readable client-side cookie."""
    _check_key(secret_key)
    app = Flask("helpers.signing")
    app.secret_key = bytes(secret_key)  # every session cookie is signed with this; leak it and anyone can forge them

    @app.post("/login")
    def login() -> Any:
        user = authenticate(users)
        session.clear()
        session["user"], session["role"] = user.username, user.role  # all of it travels to the client
        return json_answer(200, user=user.username, role=user.role)

    @app.get("/me")
    def me() -> Any:
        # Flask has already checked the signature: a tampered cookie arrives here as an empty session.
        if "user" not in session:
            return json_answer(401, error="Not authenticated", reason="no valid session cookie")
        return json_answer(200, user=session["user"], role=session["role"])

    @app.post("/logout")
    def logout() -> Any:
        # Tells the client to drop its cookie. A copy kept elsewhere stays valid: nothing on the server changed.
        session.clear()
        return json_answer(200, logged_out=True)

    return app
