"""Published key sets: JWK export and import, RFC 7638 thumbprints, and a verifier that caches a JWKS.

An issuer names each signing key with a ``kid`` and publishes the public halves as a JSON Web Key Set
(RFC 7517 §5) at ``/.well-known/jwks.json``. A verifier fetches the set, caches it, and picks the key
whose ``kid`` the token's header names. How it refreshes that cache decides what a key rotation does
to it: ``KeySetCache`` implements the three policies chapter 09 drills (a fixed TTL; refetch on an
unknown ``kid``, rate-limited so a flood of made-up ``kid``s cannot make it hammer the issuer; and the
fixed TTL again, for an issuer that pre-publishes its next key).

Only public keys are exported or imported: a JWK that carries private members (``d``, ``p``, ...) is
refused, because a published set that holds one has leaked it. Algorithms are the course's
asymmetric ones (RS256, PS256, ES256 on P-256, EdDSA on Ed25519), as in ``helpers.tokens``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from . import tokens
from .clock import Clock, FrozenClock, SystemClock

__all__ = [
    "JWKS_PATH",
    "PublicKey",
    "JWKError",
    "UnknownKeyError",
    "KeySetUnavailableError",
    "algorithms_for",
    "to_jwk",
    "from_jwk",
    "thumbprint",
    "key_set",
    "read_key_set",
    "KeySetCache",
    "KeyRing",
    "create_issuer_app",
    "create_verifier_app",
    "POLICIES",
    "Fleet",
    "Verdict",
    "DrillResult",
    "rotation_steps",
    "emergency_steps",
    "apply_step",
    "run_drill",
    "refused_shares",
    "flood",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
JWKS_PATH = "/.well-known/jwks.json"  # where issuers conventionally publish their key set
# Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 §3.2: the required members of each key type, the only ones a thumbprint hashes.
_REQUIRED = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_ALGS_FOR = {"RSA": ("RS256", "PS256"), "EC": ("ES256",), "OKP": ("EdDSA",)}


class JWKError(tokens.InvalidKeyError):
    """A JWK or key set is malformed, private, of an unsupported type, or too weak."""


class UnknownKeyError(tokens.InvalidTokenError):
    """The token's ``kid`` names no key in the verifier's set (after any refetch the policy allows)."""


class KeySetUnavailableError(OSError):
    """The last fetch of the key set failed too recently to try again (``min_refetch_interval``)."""


def _b64_int(value: int, length: int | None = None) -> str:
    length = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return tokens.b64url_encode(value.to_bytes(length, "big"))


def _int_member(jwk: Mapping[str, Any], name: str, *, minimal: bool = False) -> int:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise JWKError(f'JWK member "{name}" must be a base64url string')
    try:
        raw = tokens.b64url_decode(value)
    except tokens.DecodeError:
        raise JWKError(f'JWK member "{name}" is not canonical base64url') from None
    if minimal and (not raw or raw[0] == 0):  # RFC 7518 §6.3.1: the fewest octets, so one key has one thumbprint
        raise JWKError(f'JWK member "{name}" must use the minimum number of octets')
    return int.from_bytes(raw, "big")


def algorithms_for(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    """The algorithms a JWK's key type can be used with: its ``alg`` alone if it names one (RFC 7517 §4.4)."""
    allowed = _ALGS_FOR.get(jwk.get("kty"), ())  # type: ignore[arg-type]
    alg = jwk.get("alg")
    return allowed if alg is None else tuple(name for name in allowed if name == alg)


def to_jwk(key: Any, kid: str | None = None, alg: str | None = None) -> dict[str, Any]:
    """The public JWK of ``key`` (private keys export their public half), with optional ``kid``/``alg`` and ``use: sig``."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        jwk: dict[str, Any] = {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}
    elif isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        point = public.public_numbers()  # RFC 7518 §6.2.1.2: x and y are the full 32 bytes each
        jwk = {"kty": "EC", "crv": "P-256", "x": _b64_int(point.x, 32), "y": _b64_int(point.y, 32)}
    elif isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": tokens.b64url_encode(raw)}
    else:
        raise JWKError(f"cannot export {type(public).__name__}: use an RSA, EC P-256 or Ed25519 key")
    if alg is not None:
        if alg not in _ALGS_FOR[jwk["kty"]]:
            raise JWKError(f"{alg} cannot be used with a {jwk['kty']} key")
        jwk["alg"] = alg
    if kid is not None:
        jwk["kid"] = kid
    jwk["use"] = "sig"
    return jwk


def from_jwk(jwk: Mapping[str, Any] | str) -> PublicKey:
    """The public key a JWK (a dict or its JSON text) describes; private, unknown or weak keys raise ``JWKError``."""
    if isinstance(jwk, str):
        try:
            jwk = json.loads(jwk)
        except ValueError:
            raise JWKError("JWK text is not JSON") from None
    if not isinstance(jwk, Mapping):
        raise JWKError("a JWK is a JSON object")
    private = sorted(_PRIVATE_MEMBERS & set(jwk))
    if private:
        raise JWKError(f"the JWK holds private members {private}: publish and accept public keys only")
    kty = jwk.get("kty")
    if jwk.get("use", "sig") != "sig":
        raise JWKError('the JWK is not for signatures ("use" is not "sig")')
    key_ops = jwk.get("key_ops", ["verify"])  # RFC 7517 §4.3; PyJWT writes ["verify"] for RSA public keys
    if not isinstance(key_ops, list) or "verify" not in key_ops:
        raise JWKError('the JWK is not for verifying ("key_ops" lacks "verify")')
    if "alg" in jwk and jwk["alg"] not in _ALGS_FOR.get(kty, ()):  # type: ignore[arg-type]
        raise JWKError(f"unsupported alg {jwk['alg']!r} for key type {kty!r}")
    try:
        if kty == "RSA":
            rsa_key = rsa.RSAPublicNumbers(
                _int_member(jwk, "e", minimal=True), _int_member(jwk, "n", minimal=True)
            ).public_key()
            if rsa_key.key_size < 2048:
                raise JWKError(f"the RSA key is {rsa_key.key_size} bits; RFC 7518 §3.3 requires 2048 or more")
            public: PublicKey = rsa_key
        elif kty == "EC":
            if jwk.get("crv") != "P-256":
                raise JWKError(f"unsupported curve {jwk.get('crv')!r}: ES256 needs P-256")
            for name in ("x", "y"):  # RFC 7518 §6.2.1.2: full length, leading zero bytes kept
                if len(tokens.b64url_decode(str(jwk.get(name, "")))) != 32:
                    raise JWKError(f'JWK member "{name}" must be 32 bytes for P-256')
            public = ec.EllipticCurvePublicNumbers(
                _int_member(jwk, "x"), _int_member(jwk, "y"), ec.SECP256R1()
            ).public_key()
        elif kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise JWKError(f"unsupported curve {jwk.get('crv')!r}: EdDSA here means Ed25519")
            public = ed25519.Ed25519PublicKey.from_public_bytes(tokens.b64url_decode(str(jwk.get("x", ""))))
        else:
            raise JWKError(f"unsupported key type {kty!r}: RSA, EC and OKP only")
    except (ValueError, tokens.DecodeError) as err:  # a point off the curve, a wrong length, bad base64url
        raise JWKError(f"invalid {kty} JWK: {err}") from None
    return public


def thumbprint(jwk: Mapping[str, Any] | Any) -> str:
    """RFC 7638 thumbprint: base64url SHA-256 of the required members, sorted, without whitespace."""
    if not isinstance(jwk, Mapping):
        jwk = to_jwk(jwk)
    kty = jwk.get("kty")
    if kty not in _REQUIRED:
        raise JWKError(f"unsupported key type {kty!r}: RSA, EC and OKP only")
    missing = [name for name in _REQUIRED[kty] if not isinstance(jwk.get(name), str)]
    if missing:
        raise JWKError(f"the JWK lacks required members {missing}")
    canonical = json.dumps({name: jwk[name] for name in _REQUIRED[kty]}, separators=(",", ":"), sort_keys=True)
    return tokens.b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def key_set(keys: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    """A JWKS document ``{"keys": [...]}`` from ``{kid: (alg, key)}``, public halves only."""
    return {"keys": [to_jwk(key, kid=kid, alg=alg) for kid, (alg, key) in keys.items()]}


def read_key_set(document: Mapping[str, Any] | str) -> dict[str, tuple[str, PublicKey]]:
    """``{kid: (alg, public key)}`` from a JWKS; keys without ``kid`` or ``alg``, or with a repeated ``kid``, raise."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise JWKError("the key set is not JSON") from None
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise JWKError('a JWKS is an object with a "keys" array (RFC 7517 §5)')
    found: dict[str, tuple[str, PublicKey]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
            raise JWKError('every key in the set needs a "kid": tokens pick their key by it')
        if not isinstance(entry.get("alg"), str):  # one algorithm per key: the token's header must not choose
            raise JWKError(f'key {entry["kid"]!r} has no "alg"')
        if entry["kid"] in found:
            raise JWKError(f"two keys share the kid {entry['kid']!r}")
        found[entry["kid"]] = (entry["alg"], from_jwk(entry))
    return found


@dataclass(frozen=True)
class CacheStats:
    """What a ``KeySetCache`` did: fetches made, refetches the rate limit refused, unknown ``kid``s seen."""

    fetches: int
    refetches_refused: int
    unknown_kids: int


class KeySetCache:
    """A verifier's cached copy of an issuer's JWKS, refreshed by a fixed TTL and, optionally, on an unknown ``kid``.

    ``fetch`` returns the JWKS document (an HTTPS GET in the chapter). ``refetch_on_unknown_kid`` lets a
    token naming a ``kid`` not in the cache trigger one refetch, but never sooner than
    ``min_refetch_interval`` seconds after the previous fetch, so made-up ``kid``s cost the issuer at most
    one request per interval. A failed fetch is not retried for ``min_refetch_interval`` either (requests
    meanwhile raise ``KeySetUnavailableError``), so an issuer outage is not met by a fetch per request.
    """

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        ttl: float = 600.0,
        refetch_on_unknown_kid: bool = False,
        min_refetch_interval: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if ttl <= 0 or min_refetch_interval < 0:
            raise ValueError("ttl must be positive and min_refetch_interval not negative")
        self._fetch = fetch
        self.ttl = ttl
        self.refetch_on_unknown_kid = refetch_on_unknown_kid
        self.min_refetch_interval = min_refetch_interval
        self._clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, PublicKey]] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._fetches = self._refused = self._unknown = 0

    @property
    def stats(self) -> CacheStats:
        """Counts since this cache was made."""
        with self._lock:
            return CacheStats(self._fetches, self._refused, self._unknown)

    @property
    def kids(self) -> list[str]:
        """The ``kid``s currently cached, sorted."""
        with self._lock:
            return sorted(self._keys)

    def _refresh(self, now: float) -> None:
        if self._failed_at is not None and now - self._failed_at < self.min_refetch_interval:
            raise KeySetUnavailableError("The key set could not be fetched; not retrying yet")
        try:
            keys = read_key_set(self._fetch())  # a failing fetch or a bad set leaves the old cache in place
        except Exception:
            self._failed_at = now
            raise
        self._keys, self._fetched_at, self._failed_at = keys, now, None
        self._fetches += 1

    def key_for(self, kid: object) -> tuple[str, PublicKey]:
        """``(alg, public key)`` for ``kid``, refreshing the cache as the policy allows; ``UnknownKeyError`` if none."""
        with self._lock:
            now = self._clock.now()
            if self._fetched_at is None or now - self._fetched_at >= self.ttl:
                self._refresh(now)
            if isinstance(kid, str) and kid in self._keys:
                return self._keys[kid]
            self._unknown += 1
            if self.refetch_on_unknown_kid and isinstance(kid, str):
                if now - self._fetched_at < self.min_refetch_interval:  # type: ignore[operator]
                    self._refused += 1
                else:
                    self._refresh(now)
                    if kid in self._keys:
                        return self._keys[kid]
        raise UnknownKeyError("The token's key ID is not in the key set")  # never echo the attacker's kid

    def verify(
        self, token: str, *, algorithms: Collection[str] = ("RS256", "PS256", "ES256", "EdDSA"), **claims: Any
    ) -> dict[str, Any]:
        """Verify ``token`` with the key its ``kid`` names, under that key's one algorithm; return the claims."""
        kid = tokens.get_unverified_header(token).get("kid")
        alg, key = self.key_for(kid)
        if alg not in algorithms:
            raise tokens.InvalidAlgorithmError("The specified alg value is not allowed")
        return tokens.decode(token, key, algorithms=[alg], clock=self._clock, **claims)


class KeyRing:
    """An issuer's keys by ``kid``: which are published in its JWKS, and which one signs new tokens."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, Any]] = {}
        self._published: list[str] = []
        self._signing: str | None = None
        self._lock = threading.Lock()

    def add(self, kid: str, algorithm: str, private_key: Any, *, publish: bool = True) -> None:
        """Hold a new private key under ``kid`` (one algorithm per key), published at once unless told not to."""
        to_jwk(private_key, alg=algorithm)  # refuses a key type the algorithm cannot use
        with self._lock:
            if kid in self._keys:
                raise ValueError(f"kid {kid!r} is already in use; a kid names one key forever")
            self._keys[kid] = (algorithm, private_key)
            if publish:
                self._published.append(kid)

    def publish(self, kid: str) -> None:
        """Add ``kid``'s public key to the published set."""
        with self._lock:
            if kid not in self._keys:
                raise KeyError(kid)
            if kid not in self._published:
                self._published.append(kid)

    def withdraw(self, kid: str) -> None:
        """Remove ``kid`` from the published set; it can no longer sign."""
        with self._lock:
            if kid in self._published:
                self._published.remove(kid)
            if self._signing == kid:
                self._signing = None

    def sign_with(self, kid: str) -> None:
        """Make ``kid`` the signing key (it must be published: verifiers could never check it otherwise)."""
        with self._lock:
            if kid not in self._published:
                raise ValueError(f"publish {kid!r} before signing with it")
            self._signing = kid

    @property
    def signing_kid(self) -> str | None:
        """The ``kid`` new tokens carry."""
        with self._lock:
            return self._signing

    @property
    def published(self) -> list[str]:
        """The published ``kid``s, in the order they were published."""
        with self._lock:
            return list(self._published)

    def private_key(self, kid: str) -> tuple[str, Any]:
        """``(alg, private key)`` held under ``kid`` (for the drill's leaked-key forgery)."""
        with self._lock:
            return self._keys[kid]

    def mint(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` with the signing key, its ``kid`` in the header."""
        with self._lock:
            if self._signing is None:
                raise ValueError("no signing key: call sign_with(kid) first")
            kid = self._signing
            alg, key = self._keys[kid]
        return tokens.encode(dict(claims), key, algorithm=alg, headers={"kid": kid})

    def document(self) -> dict[str, Any]:
        """The JWKS the issuer publishes now."""
        with self._lock:
            return key_set({kid: self._keys[kid] for kid in self._published})


def create_issuer_app(ring: KeyRing, *, max_age: int = 600) -> Any:
    """A Flask app that publishes ``ring``'s key set at ``JWKS_PATH`` with ``Cache-Control: max-age``."""
    from flask import Flask, jsonify

    app = Flask("jwks_issuer")

    @app.get(JWKS_PATH)
    def jwks_document() -> Any:
        response = jsonify(ring.document())
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        return response

    return app


def create_verifier_app(cache: KeySetCache, *, audience: str | None = None) -> Any:
    """A Flask resource server: ``GET /api`` answers the token's ``sub``, else a generic 401 (503: issuer unreachable)."""
    from flask import Flask, jsonify, request

    app = Flask("jwks_verifier")

    @app.get("/api")
    def api() -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise tokens.InvalidTokenError("no bearer token")
            claims = cache.verify(token.strip(), audience=audience)
        except (tokens.InvalidTokenError, JWKError):
            response = jsonify({"error": "Unauthorized"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        except OSError:  # requests' errors are OSErrors too: the issuer is unreachable or refused us
            response = jsonify({"error": "Key set unavailable"})
            response.status_code = 503
            return response
        return jsonify({"sub": claims.get("sub")})

    return app


# --- Rotation drills: an issuer and a fleet of verifiers on a frozen clock (chapter 09) -------------------------

POLICIES = ("fixed TTL", "refetch on unknown kid", "pre-publication")


@dataclass(frozen=True)
class Fleet:
    """A drill's verifiers and pace: how many, how long they cache the set, token lifetime, requests per minute."""

    verifiers: int = 3
    cache_ttl: float = 600.0  # seconds a verifier keeps the key set
    token_ttl: float = 300.0  # seconds an access token lives
    requests_per_minute: int = 2  # to each verifier
    min_refetch_interval: float = 60.0  # seconds, for the refetch-on-unknown-kid policy
    start: float = 1_700_000_000  # epoch seconds of minute 0


@dataclass(frozen=True)
class Verdict:
    """One request of a drill: when, to which verifier, whose token (``"user"`` or ``"forged"``), accepted or not."""

    minute: int
    verifier: int
    kind: str
    accepted: bool


@dataclass(frozen=True)
class DrillResult:
    """Every request's verdict, and how many times each verifier fetched the key set."""

    verdicts: tuple[Verdict, ...]
    fetches: tuple[int, ...]


def rotation_steps(policy: str, rotate_at: int, fleet: Fleet) -> dict[int, list[str]]:
    """What the issuer does at which minute of a planned rotation: publish key-2, sign with it, retire key-1."""
    retire = round(fleet.token_ttl / 60)  # after the switch, wait out the longest-lived token key-1 signed
    if policy == "pre-publication":
        switch = rotate_at + round(fleet.cache_ttl / 60)  # every verifier's copy has been refreshed by then
        return {rotate_at: ["publish"], switch: ["sign"], switch + retire: ["retire"]}
    return {rotate_at: ["publish", "sign"], rotate_at + retire: ["retire"]}


def emergency_steps(policy: str, leak_at: int) -> dict[int, list[str]]:
    """The issuer's actions when key-1 leaks at ``leak_at`` (minute -1: before the drill starts)."""
    if policy == "pre-publication":
        return {-1: ["publish"], leak_at: ["leak"]}  # key-2 has stood in the set as a published standby
    return {leak_at: ["publish", "leak"]}


def apply_step(ring: KeyRing, step: str, next_key: Any) -> None:
    """One issuer action: ``publish`` key-2, ``sign`` with it, ``retire`` key-1, or ``leak`` (withdraw key-1, sign with key-2)."""
    if step == "publish":
        ring.add("key-2", "ES256", next_key)
    elif step == "sign":
        ring.sign_with("key-2")
    elif step == "retire":
        ring.withdraw("key-1")
    elif step == "leak":
        ring.withdraw("key-1")
        ring.sign_with("key-2")
    else:
        raise ValueError(f"unknown drill step {step!r}")


def run_drill(
    policy: str,
    minutes: int,
    steps: Mapping[int, list[str]],
    fleet: Fleet,
    first_key: Any,
    next_key: Any,
    *,
    leaked_from: int | None = None,
) -> DrillResult:
    """Run an issuer (key-1 signing) and ``fleet.verifiers`` verifiers over HTTPS, minute by minute on a frozen clock.

    Before minute 0 each verifier gets one request, a third of a TTL apart (for three), so their copies of
    the set age differently. Then each verifier gets ``fleet.requests_per_minute`` requests a minute with a
    token minted that second; from minute ``leaked_from`` on, also a forgery signed with ``first_key`` as key-1.
    """
    from .cluster import start_cluster  # servers only when a drill runs
    from .server import serve

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    clock = FrozenClock(fleet.start - fleet.cache_ttl)
    ring = KeyRing()
    ring.add("key-1", "ES256", first_key)
    ring.sign_with("key-1")
    with serve(create_issuer_app(ring, max_age=round(fleet.cache_ttl))) as issuer:
        session = issuer.client()

        def fetch() -> dict[str, Any]:
            answer = session.get(issuer.url + JWKS_PATH, timeout=10)
            answer.raise_for_status()
            return answer.json()

        caches = [
            KeySetCache(
                fetch,
                ttl=fleet.cache_ttl,
                clock=clock,
                min_refetch_interval=fleet.min_refetch_interval,
                refetch_on_unknown_kid=(policy == "refetch on unknown kid"),
            )
            for _ in range(fleet.verifiers)
        ]
        with start_cluster(fleet.verifiers, lambda index: create_verifier_app(caches[index])) as cluster:
            for step in steps.get(-1, []):
                apply_step(ring, step, next_key)
            clients = [server.client() for server in cluster.servers]

            def accepted(index: int, token: str) -> bool:
                return (
                    clients[index]
                    .get(cluster.urls[index] + "/api", headers={"Authorization": f"Bearer {token}"})
                    .status_code
                    == 200
                )

            for index in range(fleet.verifiers):  # the warm-up: copies of different ages
                clock.advance(seconds=fleet.cache_ttl / fleet.verifiers if index else 0)
                accepted(index, ring.mint({"sub": "warm-up"}))
            clock.advance(seconds=fleet.start - clock.now())
            verdicts: list[Verdict] = []
            for minute in range(minutes):
                for step in steps.get(minute, []):
                    apply_step(ring, step, next_key)
                for _ in range(fleet.requests_per_minute):
                    claims = {"sub": "alice", "iat": clock.now(), "exp": clock.now() + fleet.token_ttl}
                    sent = {"user": ring.mint(claims)}
                    if leaked_from is not None and minute >= leaked_from:
                        sent["forged"] = tokens.encode(
                            {**claims, "sub": "mallory"}, first_key, "ES256", {"kid": "key-1"}
                        )
                    verdicts += [
                        Verdict(minute, index, kind, accepted(index, token))
                        for index in range(fleet.verifiers)
                        for kind, token in sent.items()
                    ]
                    clock.advance(seconds=60 / fleet.requests_per_minute)
    return DrillResult(tuple(verdicts), tuple(cache.stats.fetches for cache in caches))


def refused_shares(
    verdicts: Collection[Verdict], minutes: int, verifiers: int, kind: str = "user"
) -> dict[int, list[float]]:
    """``{verifier: [share of its kind-requests refused, minute by minute]}`` (0.0 for a minute with none)."""
    seen: dict[tuple[int, int], list[bool]] = {}
    for verdict in verdicts:
        if verdict.kind == kind:
            seen.setdefault((verdict.verifier, verdict.minute), []).append(verdict.accepted)
    return {
        index: [
            1 - sum(seen[index, minute]) / len(seen[index, minute]) if (index, minute) in seen else 0.0
            for minute in range(minutes)
        ]
        for index in range(verifiers)
    }


def flood(
    fetch: Callable[[], Mapping[str, Any]],
    requests: int,
    *,
    min_refetch_interval: float,
    ttl: float,
    rng: Any,
    forger_key: Any,
    start: float = 1_700_000_000,
) -> tuple[int, int]:
    """``(issuer fetches, 401s)`` when a verifier that refetches on unknown ``kid``s gets ``requests`` tokens with
    random ``kid``s (signed with ``forger_key``, EdDSA), one per second of a frozen clock."""
    from .server import serve

    clock, fetched = FrozenClock(start), []

    def counted_fetch() -> Mapping[str, Any]:
        fetched.append(clock.now())
        return fetch()

    cache = KeySetCache(
        counted_fetch, ttl=ttl, refetch_on_unknown_kid=True, min_refetch_interval=min_refetch_interval, clock=clock
    )
    refused = 0
    with serve(create_verifier_app(cache)) as verifier:
        client = verifier.client()
        for _ in range(requests):
            forged = tokens.encode({"sub": "mallory"}, forger_key, "EdDSA", {"kid": f"{rng.getrandbits(64):016x}"})
            refused += (
                client.get(verifier.url + "/api", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
            )
            clock.advance(seconds=1)
    return len(fetched), refused
