"""DELIBERATELY VULNERABLE: a JWT verifier that lets the token choose how it is checked, and an app using it.

``naive_decode`` makes every classic mistake at once, each one found in real libraries and apps:

- it reads ``alg`` from the header and obeys it, so ``"none"`` (in any casing) means "no signature";
- with ``HS*`` it uses whatever key the server holds as the HMAC secret, so an RS256 server's *public*
  key (which anyone can download) becomes a secret the attacker knows: algorithm confusion;
- it takes the verification key from the token itself when asked: an embedded ``jwk``, a ``jku`` URL
  it fetches, or a ``kid`` it joins to a directory path without checking (path traversal);
- ``verify_signature=False`` (a common shortcut "just to read the claims") skips the signature outright.

Its HMAC has no minimum key length, so a short dictionary word can be the secret. ``create_naive_token_app``
serves it behind ``/login``, ``/me`` and ``/admin``. Chapter 06 breaks it; ``helpers.tokens`` and PyJWT refuse
every one of these tokens. Never copy this into a real app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask, Response, abort, request

from helpers.clock import Clock, SystemClock
from helpers.users import UserDirectory
from helpers.web_common import authenticate, json_answer  # what every course app shares; the flaws are elsewhere

__all__ = ["NaiveTokenError", "naive_encode", "naive_decode", "rsa_key_from_jwk", "create_naive_token_app"]

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
Fetch = Callable[[str], Any]  # a URL -> its parsed JSON (a JWKS document)


class NaiveTokenError(Exception):
    """The naive verifier refused a token (it refuses far too little)."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # lenient: any padding, any tail bits
    except (ValueError, TypeError) as exc:
        raise NaiveTokenError(f"bad base64: {exc}") from None


def _key_bytes(key: Any) -> bytes:
    """THE CONFUSION: any key becomes HMAC bytes; a public key object becomes its PEM text."""
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def naive_encode(
    claims: dict[str, Any], key: Any, algorithm: str = "HS256", headers: dict[str, Any] | None = None
) -> str:
    """Sign ``claims`` like the naive server does: HS256/384/512 with any key length, RS256, or unsigned for ``none``."""
    header = {"alg": algorithm, "typ": "JWT", **(headers or {})}
    signing_input = f"{_b64e(json.dumps(header, separators=(',', ':')).encode())}.{_b64e(json.dumps(claims, separators=(',', ':')).encode())}"
    if algorithm.lower() == "none":
        return signing_input + "."
    if algorithm in _HASHES:
        signature = hmac.new(_key_bytes(key), signing_input.encode(), _HASHES[algorithm]).digest()
    elif algorithm == "RS256":
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        raise NaiveTokenError(f"unsupported alg {algorithm}")
    return f"{signing_input}.{_b64e(signature)}"


def rsa_key_from_jwk(jwk: Any) -> rsa.RSAPublicKey:
    """Build an RSA public key from a JWK dict ``{"kty": "RSA", "n": ..., "e": ...}``."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        raise NaiveTokenError("only RSA JWKs are understood")
    n, e = (int.from_bytes(_b64d(str(jwk.get(name, ""))), "big") for name in ("n", "e"))
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise NaiveTokenError(f"bad JWK: {exc}") from None


def _pick_key(header: dict[str, Any], key: Any, fetch: Fetch | None, keys_dir: Path | None) -> Any:
    """THE INJECTION: the token says where its key is, and the naive server believes it."""
    if "jwk" in header:  # "here is the key to check me with"
        return rsa_key_from_jwk(header["jwk"])
    if "jku" in header and fetch is not None:  # "fetch my key from this URL"
        keys = fetch(str(header["jku"])).get("keys", [])
        if not keys:
            raise NaiveTokenError("empty JWKS")
        return rsa_key_from_jwk(keys[0])
    if "kid" in header and keys_dir is not None:  # "my key is the file called kid" - joined unchecked
        try:
            return (keys_dir / str(header["kid"])).read_bytes()
        except OSError as exc:
            raise NaiveTokenError(f"no key file: {exc.strerror}") from None
    return key


def naive_decode(
    token: str,
    key: Any,
    *,
    fetch: Fetch | None = None,
    keys_dir: Path | None = None,
    verify_signature: bool = True,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Return the claims of ``token``, checked the way the token's own header asks (THE FLAW), plus ``exp``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise NaiveTokenError("not three segments")
    try:
        header, claims = (json.loads(_b64d(part)) for part in parts[:2])
    except ValueError as exc:
        raise NaiveTokenError(f"bad JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise NaiveTokenError("header and payload must be objects")
    alg = str(header.get("alg", ""))
    if verify_signature and alg.lower() != "none":  # "none", "None", "NONE"...: the header says no signature
        signing_input, signature = f"{parts[0]}.{parts[1]}".encode(), _b64d(parts[2])
        chosen = _pick_key(header, key, fetch, keys_dir)
        if alg in _HASHES:
            good = hmac.compare_digest(hmac.new(_key_bytes(chosen), signing_input, _HASHES[alg]).digest(), signature)
        elif alg == "RS256":
            public = chosen.public_key() if isinstance(chosen, rsa.RSAPrivateKey) else chosen
            try:
                public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
                good = True
            except (InvalidSignature, AttributeError, TypeError):
                good = False
        else:
            raise NaiveTokenError(f"unsupported alg {alg}")
        if not good:
            raise NaiveTokenError("bad signature")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp <= (clock or SystemClock()).now():
        raise NaiveTokenError("expired")
    return claims


def create_naive_token_app(
    users: UserDirectory,
    key: Any,
    *,
    algorithm: str = "HS256",
    clock: Clock | None = None,
    ttl: int = 900,
    fetch: Fetch | None = None,
    keys_dir: Path | None = None,
    kid: str | None = None,
    verify_signature: bool = True,
) -> Flask:
    """A bearer-token app verified by ``naive_decode``: ``POST /login``, ``GET /me``, ``GET /admin``, ``GET /public-key.pem``.

    ``key`` signs (an HMAC secret, or an RSA private key for RS256). With ``keys_dir`` and ``kid`` the app
    signs with the file ``keys_dir/kid`` and names it in the header, as key-rotation setups do.
    """
    clock = clock or SystemClock()
    app = Flask("helpers.vulnerable.jwt")

    def signing_key() -> Any:
        return (keys_dir / kid).read_bytes() if keys_dir is not None and kid else key

    def caller() -> dict[str, Any]:
        """The claims of the request's bearer token, as ``naive_decode`` reads them; else aborts with a 401."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            abort(json_answer(401, error="Not authenticated", reason="no bearer token"))
        try:
            return naive_decode(
                token.strip(), key, fetch=fetch, keys_dir=keys_dir, verify_signature=verify_signature, clock=clock
            )
        except (NaiveTokenError, ValueError, TypeError, AttributeError) as exc:
            abort(json_answer(401, error="Invalid token", reason=str(exc) or type(exc).__name__))

    @app.post("/login")
    def login() -> Response:
        user = authenticate(users)
        now = int(clock.now())
        claims = {"sub": user.username, "role": user.role, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
        token = naive_encode(claims, signing_key(), algorithm, {"kid": kid} if kid else None)
        return json_answer(200, access_token=token, token_type="Bearer")

    @app.get("/me")
    def me() -> Response:
        claims = caller()
        return json_answer(200, user=claims.get("sub"), role=claims.get("role"))

    @app.get("/admin")
    def admin() -> Response:
        claims = caller()
        if claims.get("role") != "admin":
            return json_answer(403, error="Forbidden", reason="admins only")
        return json_answer(200, area="admin", user=claims.get("sub"))

    @app.get("/public-key.pem")
    def public_key() -> Response:  # publishing the public key is normal; the verifier's misuse of it is the flaw
        if algorithm != "RS256":
            return json_answer(404, error="Not Found", reason="this app signs with a shared secret")
        return Response(_key_bytes(key), mimetype="application/x-pem-file")

    return app
