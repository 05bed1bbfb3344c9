"""DPoP (RFC 9449): access tokens bound to a key the client holds, proved on every request.

The client keeps a private key (EC P-256 here). With each request it sends a *proof*: a JWT of type
``dpop+jwt`` whose header carries the public key (``jwk``) and whose claims name the request
(``htm`` method, ``htu`` URL), a fresh ``iat`` and ``jti``, and, next to an access token, ``ath``
(the token's SHA-256). The access token carries ``cnf.jkt``, the RFC 7638 thumbprint of that key.
A copied access token is useless without the key; a copied proof is useless for another request,
after its ``iat`` window, or a second time (the verifier remembers ``jti``s).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import jwks, tokens
from .clock import Clock, SystemClock

__all__ = [
    "PROOF_TYPE",
    "DPoPError",
    "access_token_hash",
    "canonical_htu",
    "make_proof",
    "bind",
    "ProofVerifier",
    "authorization_headers",
]

PROOF_TYPE = "dpop+jwt"
_PROOF_ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")  # RFC 9449 §4.2: asymmetric only, never "none" or HS*


class DPoPError(tokens.InvalidTokenError):
    """A DPoP proof, or the binding of the access token to its key, is invalid."""


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url SHA-256 of the access token's ASCII text (RFC 9449 §4.2)."""
    return tokens.b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


_DEFAULT_PORTS = {"https": 443, "http": 80}


def canonical_htu(url: str) -> str:
    """The URL a proof names: scheme and host lower-cased, default port dropped, no query, no fragment.

    RFC 9449 §4.3 step 9 compares ``htu`` without query and fragment, after RFC 3986 §6.2.2 and §6.2.3
    normalization; a URL that cannot be parsed raises ``DPoPError``.
    """
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except (ValueError, AttributeError):
        raise DPoPError("The proof's URL cannot be parsed") from None
    if not scheme or not host:
        raise DPoPError("The proof's URL needs a scheme and a host")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def make_proof(
    private_key: Any,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    algorithm: str = "ES256",
    clock: Clock | None = None,
    jti: str | None = None,
) -> str:
    """A DPoP proof JWT for one request, signed with ``private_key`` (its public JWK in the header)."""
    now = (clock if clock is not None else SystemClock()).now()
    claims: dict[str, Any] = {
        "htm": method.upper(),
        "htu": canonical_htu(url),
        "iat": int(now),
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    jwk = jwks.to_jwk(private_key)
    del jwk["use"]  # the header names the key alone
    header = {"typ": PROOF_TYPE, "jwk": jwk}
    return tokens.encode(claims, private_key, algorithm=algorithm, headers=header)


def authorization_headers(access_token: str, proof: str | None = None, scheme: str = "DPoP") -> dict[str, str]:
    """Headers presenting ``access_token`` under ``scheme`` (``DPoP`` or ``Bearer``), with the proof if one is given."""
    return {"Authorization": f"{scheme} {access_token}", **({"DPoP": proof} if proof else {})}


def bind(claims: Mapping[str, Any], private_key_or_jwk: Any) -> dict[str, Any]:
    """``claims`` plus ``cnf: {jkt: thumbprint}``: an access token that only that key's holder can use."""
    bound = dict(claims)
    bound["cnf"] = {"jkt": jwks.thumbprint(private_key_or_jwk)}
    return bound


@dataclass(frozen=True)
class Proof:
    """A verified proof: the key's thumbprint and the proof's claims."""

    jkt: str
    claims: dict[str, Any]


class ProofVerifier:
    """Checks DPoP proofs (RFC 9449 §4.3): type, key, signature, method, URL, ``iat`` window, one use per ``jti``.

    ``max_age`` is how old a proof may be (and how far ahead, for clock skew, ``leeway``); a ``jti`` is
    remembered until its proof could no longer pass the ``iat`` check, so the cache stays bounded by the
    request rate times that window, and ``max_jtis`` caps it outright (past it, proofs are refused, not
    remembered less).
    """

    def __init__(
        self, *, max_age: float = 60.0, leeway: float = 5.0, max_jtis: int = 100_000, clock: Clock | None = None
    ) -> None:
        self.max_age, self.leeway, self.max_jtis = max_age, leeway, max_jtis
        self._clock = clock if clock is not None else SystemClock()
        self._seen: dict[str, float] = {}  # jti -> time after which it can be forgotten
        self._lock = threading.Lock()

    @property
    def remembered(self) -> int:
        """How many ``jti``s the replay cache holds now."""
        with self._lock:
            return len(self._seen)

    def verify(self, proof: str, method: str, url: str, access_token: str | None = None) -> Proof:
        """Verify ``proof`` for this request (and ``access_token``, if given); return its key's thumbprint."""
        if not isinstance(proof, str) or not proof or "," in proof:
            raise DPoPError("Exactly one DPoP proof is required")
        header = tokens.get_unverified_header(proof)
        if not isinstance(header.get("typ"), str) or header["typ"].lower() != PROOF_TYPE:
            raise DPoPError('The proof\'s "typ" must be "dpop+jwt"')
        jwk = header.get("jwk")
        if not isinstance(jwk, Mapping):
            raise DPoPError('The proof has no "jwk" header')
        key = jwks.from_jwk(jwk)  # a private JWK is refused here
        # The key decides which algorithms can be meant; the header only picks among those (RFC 8725 §3.1).
        if header.get("alg") not in set(_PROOF_ALGORITHMS) & set(jwks.algorithms_for(jwk)):
            raise DPoPError("The proof's algorithm is not allowed for its key")
        now = self._clock.now()
        claims = tokens.decode(
            proof,
            key,
            algorithms=[header["alg"]],
            typ=PROOF_TYPE,
            options={"require": ["iat", "jti", "htm", "htu"]},
            leeway=self.leeway,
            clock=self._clock,
        )
        if not isinstance(claims["htm"], str) or claims["htm"] != method.upper():
            raise DPoPError("The proof is for another HTTP method")
        if not isinstance(claims["htu"], str) or canonical_htu(claims["htu"]) != canonical_htu(url):
            raise DPoPError("The proof is for another URL")
        iat = claims["iat"]  # tokens.decode has checked it is a number, and not in the future
        if iat < now - self.max_age:
            raise DPoPError("The proof is too old")
        if access_token is not None:
            if claims.get("ath") != access_token_hash(access_token):
                raise DPoPError("The proof is not for this access token")
        jkt = jwks.thumbprint(jwk)
        self._remember(claims["jti"], iat, now)
        return Proof(jkt, claims)

    def _remember(self, jti: object, iat: float, now: float) -> None:
        if not isinstance(jti, str) or not 16 <= len(jti) <= 256:
            raise DPoPError("The proof's jti must be a string of 16 to 256 characters")
        with self._lock:
            if len(self._seen) >= self.max_jtis:
                self._seen = {seen: until for seen, until in self._seen.items() if until > now}
            if jti in self._seen and self._seen[jti] > now:
                raise DPoPError("The proof was already used")
            if len(self._seen) >= self.max_jtis:
                raise DPoPError("Too many recent proofs")
            self._seen[jti] = iat + self.max_age + self.leeway

    def verify_bound(self, proof: str, method: str, url: str, access_token: str, claims: Mapping[str, Any]) -> Proof:
        """Verify the proof and that the (already verified) access token's ``cnf.jkt`` names the proof's key."""
        result = self.verify(proof, method, url, access_token)
        cnf = claims.get("cnf")
        if not isinstance(cnf, Mapping) or cnf.get("jkt") != result.jkt:
            raise DPoPError("The access token is not bound to the proof's key")
        return result


def create_resource_app(
    public_key: Any,
    algorithm: str,
    verifier: ProofVerifier,
    *,
    require_dpop: bool = True,
    clock: Clock | None = None,
    explain_errors: bool = False,
) -> Any:
    """A Flask resource server whose ``GET /api`` takes ``Authorization: DPoP <token>`` plus a ``DPoP`` proof.

    With ``require_dpop=False`` it also takes a plain ``Bearer`` token (not bound to any key): the baseline
    the chapter times DPoP against. Every refusal is a 401 with a challenge naming the scheme. Its body
    says why (``error_description``) only with ``explain_errors=True``, for teaching: by default an
    attacker learns nothing about which check failed.
    """
    from flask import Flask, jsonify, request

    app = Flask("dpop_resource")

    def refuse(reason: Exception) -> Any:
        response = jsonify({"error": "Unauthorized", **({"error_description": str(reason)} if explain_errors else {})})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = f'DPoP algs="{" ".join(_PROOF_ALGORITHMS)}"' + (
            "" if require_dpop else ", Bearer"
        )
        return response

    @app.get("/api")
    def api() -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        try:
            claims = tokens.decode(token, public_key, algorithms=[algorithm], clock=clock)
            if scheme.lower() == "dpop":
                proofs = request.headers.getlist("DPoP")
                if len(proofs) != 1:
                    raise DPoPError("Exactly one DPoP proof is required")
                verifier.verify_bound(proofs[0], request.method, request.base_url, token, claims)
            elif require_dpop or scheme.lower() != "bearer" or "cnf" in claims:
                # A bound token sent as a bearer token is refused: the binding is the point (RFC 9449 §7.1).
                raise DPoPError("A DPoP-bound token needs the DPoP scheme and a proof")
        except (tokens.InvalidTokenError, ValueError) as refused:
            return refuse(refused)
        return jsonify({"sub": claims.get("sub")})

    return app
