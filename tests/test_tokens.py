"""helpers.tokens: round trips, PyJWT interop and byte-identity, RFC vectors, every refusal, and fuzzing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from support import gil_handoffs

from helpers import tokens
from helpers.clock import FrozenClock

KEYS_DIR = Path(__file__).resolve().parent.parent / "data" / "demo_keys"
SECRET = hashlib.sha512(b"demo only: the course's published HMAC secret").hexdigest()[:64].encode()  # 64 ASCII bytes
START = 1_700_000_000
HS = ("HS256", "HS384", "HS512")
ASYMMETRIC = {
    "RS256": "rsa_private.pem",
    "PS256": "rsa_private.pem",
    "ES256": "ec_p256_private.pem",
    "EdDSA": "ed25519_private.pem",
}
FUZZ = settings(max_examples=100, deadline=None, database=None)


class Keys(NamedTuple):
    private: Any
    public: Any
    private_pem: Any
    public_pem: Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header: bytes, payload: bytes, key: bytes = SECRET) -> str:
    """An independent HS256 signer for hand-made (often malformed) tokens."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def signed(payload: dict[str, Any] | bytes, header: dict[str, Any] | bytes | None = None) -> str:
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    as_bytes = [x if isinstance(x, bytes) else json.dumps(x).encode() for x in (header, payload)]
    return hs256(*as_bytes)


@pytest.fixture(scope="module")
def keys() -> dict[str, Keys]:
    out = {alg: Keys(SECRET, SECRET, SECRET, SECRET.decode()) for alg in HS}
    for alg, name in ASYMMETRIC.items():
        pem = (KEYS_DIR / name).read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        public = private.public_key()
        public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        out[alg] = Keys(private, public, pem.decode(), public_pem)  # PEM once as str, once as bytes
    return out


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def live_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "alice",
        "role": "user",
        "iss": "auth-course",
        "aud": "auth-course-api",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j-1",
    }


CHECKS = {"audience": "auth-course-api", "issuer": "auth-course"}


# --- Round trips and interoperability ------------------------------------------------------------


@pytest.mark.parametrize("form", ["object", "pem"])
@pytest.mark.parametrize("alg", tokens.ALGORITHMS)
def test_round_trip_and_interop_with_pyjwt(keys, alg, form):
    k = keys[alg]
    sign, verify = (k.private, k.public) if form == "object" else (k.private_pem, k.public_pem)
    claims = live_claims()
    mine = tokens.encode(claims, sign, algorithm=alg, headers={"kid": "demo"})
    assert tokens.get_unverified_header(mine) == {"alg": alg, "typ": "JWT", "kid": "demo"}
    assert tokens.decode(mine, verify, algorithms=[alg], **CHECKS) == claims
    assert tokens.decode(mine, sign, algorithms=[alg], **CHECKS) == claims  # a private key also verifies
    if alg in HS:
        assert tokens.decode(mine, bytearray(SECRET), algorithms=[alg], **CHECKS) == claims
    assert jwt.decode(mine, verify, algorithms=[alg], **CHECKS) == claims
    theirs = jwt.encode(claims, sign, algorithm=alg, headers={"kid": "demo"})
    assert tokens.decode(theirs, verify, algorithms=[alg], **CHECKS) == claims


BYTE_IDENTICAL_CASES = [
    ({"sub": "alice"}, None),
    (
        {
            "sub": "alice",
            "exp": datetime(2030, 1, 1, tzinfo=timezone.utc),
            "iat": datetime(2029, 12, 31, 23, 0),
            "nbf": datetime(2029, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=2))),
        },
        {"kid": "key-2024"},
    ),
    (
        {"name": "Zoë ☃ 🔑", "n": [1, 2.5, None, True, -0.0, 10**30], "nested": {"a": {"b": []}}},
        {"kid": "k", "cty": "example", "typ": "at+jwt", "x5t": "abc"},
    ),
    ({"z": 1, "a": 2, "m": {"y": 1, "b": 2}}, {"typ": None}),
    ({"sub": "bob"}, {"alg": "HS512", "b64": True, "zzz": [1, {"q": "r"}], "aaa": 0}),
    ({}, {}),
]


@pytest.mark.parametrize("payload, headers", BYTE_IDENTICAL_CASES)
@pytest.mark.parametrize("alg", HS)
def test_hmac_tokens_are_byte_identical_to_pyjwt(alg, payload, headers):
    assert tokens.encode(payload, SECRET, alg, headers) == jwt.encode(payload, SECRET, algorithm=alg, headers=headers)


@pytest.mark.parametrize("alg", ["RS256", "EdDSA"])
def test_deterministic_signatures_are_byte_identical_too(keys, alg):
    claims = {"sub": "alice", "exp": START}
    assert tokens.encode(claims, keys[alg].private, alg) == jwt.encode(claims, keys[alg].private, algorithm=alg)


def test_rfc7515_appendix_a1_hs256_example(clock):
    k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"  # the JWK's "k"
    token = (
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    )
    key = tokens.b64url_decode(k)
    expected = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    assert tokens.decode(token, key, ["HS256"], clock=FrozenClock(1300819000)) == expected
    assert tokens.decode(token, key, ["HS256"], options={"verify_exp": False}) == expected
    with pytest.raises(tokens.ExpiredSignatureError):
        tokens.decode(token, key, ["HS256"], clock=clock)
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(token, key[:-1] + b"!", ["HS256"], clock=FrozenClock(1300819000))


# --- Claims -------------------------------------------------------------------------------------


def test_exp_is_enforced_at_the_instant_it_passes_with_leeway(clock):
    token = tokens.encode({"sub": "a", "exp": START + 60}, SECRET)
    clock.advance(seconds=59)
    assert tokens.decode(token, SECRET, ["HS256"], clock=clock)["sub"] == "a"
    clock.advance(seconds=1)  # RFC 7519 §4.1.4: "on or after" exp
    with pytest.raises(tokens.ExpiredSignatureError, match="^Signature has expired$"):
        tokens.decode(token, SECRET, ["HS256"], clock=clock)
    clock.advance(seconds=9)
    assert tokens.decode(token, SECRET, ["HS256"], leeway=10, clock=clock)
    with pytest.raises(tokens.ExpiredSignatureError):
        tokens.decode(token, SECRET, ["HS256"], leeway=timedelta(seconds=9), clock=clock)
    assert tokens.decode(token, SECRET, ["HS256"], options={"verify_exp": False}, clock=clock)


def test_nbf_and_future_iat_are_immature(clock):
    for claim in ("nbf", "iat"):
        token = tokens.encode({claim: START + 30}, SECRET)
        with pytest.raises(tokens.ImmatureSignatureError, match=rf"\({claim}\)"):
            tokens.decode(token, SECRET, ["HS256"], clock=clock)
        assert tokens.decode(token, SECRET, ["HS256"], leeway=30, clock=clock)
        assert tokens.decode(token, SECRET, ["HS256"], options={f"verify_{claim}": False}, clock=clock)
        assert tokens.decode(token, SECRET, ["HS256"], clock=FrozenClock(START + 30))


def test_audience_rules(clock):
    one = tokens.encode({"aud": "api"}, SECRET)
    many = tokens.encode({"aud": ["web", "api"]}, SECRET)
    none = tokens.encode({"sub": "x"}, SECRET)
    assert tokens.decode(one, SECRET, ["HS256"], audience="api", clock=clock)
    assert tokens.decode(many, SECRET, ["HS256"], audience=["other", "api"], clock=clock)
    assert tokens.decode(many, SECRET, ["HS256"], audience={"web"}, clock=clock)
    for token, audience in [(one, "web"), (many, "other"), (many, []), (one, None), (many, None)]:
        with pytest.raises(tokens.InvalidAudienceError):
            tokens.decode(token, SECRET, ["HS256"], audience=audience, clock=clock)
    with pytest.raises(tokens.MissingRequiredClaimError) as info:
        tokens.decode(none, SECRET, ["HS256"], audience="api", clock=clock)
    assert info.value.claim == "aud"
    strict = {"strict_aud": True}
    assert tokens.decode(one, SECRET, ["HS256"], audience="api", options=strict, clock=clock)
    for token, audience in [(many, "api"), (one, ["api"]), (one, "web")]:
        with pytest.raises(tokens.InvalidAudienceError, match="strict"):
            tokens.decode(token, SECRET, ["HS256"], audience=audience, options=strict, clock=clock)
    assert tokens.decode(one, SECRET, ["HS256"], options={"verify_aud": False}, clock=clock)
    with pytest.raises(TypeError):
        tokens.decode(one, SECRET, ["HS256"], audience=5, clock=clock)  # type: ignore[arg-type]


def test_issuer_rules(clock):
    token = tokens.encode({"iss": "auth-course"}, SECRET)
    assert tokens.decode(token, SECRET, ["HS256"], issuer="auth-course", clock=clock)
    assert tokens.decode(token, SECRET, ["HS256"], issuer=["x", "auth-course"], clock=clock)
    assert tokens.decode(token, SECRET, ["HS256"], clock=clock)  # no issuer asked for, none checked
    for issuer in ("auth", ["a", "b"]):
        with pytest.raises(tokens.InvalidIssuerError):
            tokens.decode(token, SECRET, ["HS256"], issuer=issuer, clock=clock)
    for issuer in (b"auth-course", 5, ["auth-course", 5]):  # argument errors, whatever the token holds
        with pytest.raises(TypeError, match="Issuer param"):
            tokens.decode(token, SECRET, ["HS256"], issuer=issuer, clock=clock)
    with pytest.raises(tokens.MissingRequiredClaimError, match='"iss"'):
        tokens.decode(tokens.encode({}, SECRET), SECRET, ["HS256"], issuer="auth-course", clock=clock)


def test_required_claims(clock):
    token = tokens.encode({"sub": "a"}, SECRET)
    with pytest.raises(tokens.MissingRequiredClaimError) as info:
        tokens.decode(token, SECRET, ["HS256"], options={"require": ["sub", "exp"]}, clock=clock)
    assert info.value.claim == "exp" and str(info.value) == 'Token is missing the "exp" claim'
    assert tokens.decode(token, SECRET, ["HS256"], options={"require": ["sub"]}, clock=clock)
    with pytest.raises(TypeError):
        tokens.decode(token, SECRET, ["HS256"], options={"require": "exp"}, clock=clock)
    with pytest.raises(TypeError, match="verify_expiry"):  # a typo must not silently switch a check off
        tokens.decode(token, SECRET, ["HS256"], options={"verify_expiry": False}, clock=clock)


@pytest.mark.parametrize(
    "raw_payload, error",
    [
        (b'{"exp":"1700000600"}', tokens.DecodeError),
        (b'{"exp":true}', tokens.DecodeError),
        (b'{"exp":NaN}', tokens.DecodeError),
        (b'{"exp":Infinity}', tokens.DecodeError),
        (b'{"exp":1e999}', tokens.DecodeError),
        (b'{"exp":-1e999}', tokens.DecodeError),
        (b'{"exp":' + b"9" * 5000 + b"}", tokens.DecodeError),
        (b'{"exp":[1]}', tokens.DecodeError),
        (b'{"nbf":{}}', tokens.DecodeError),
        (b'{"iat":"x"}', tokens.InvalidIssuedAtError),
        (b'{"sub":1}', tokens.InvalidSubjectError),
        (b'{"jti":1}', tokens.InvalidJTIError),
        (b'{"aud":1}', tokens.InvalidAudienceError),
        (b'{"aud":["api",1]}', tokens.InvalidAudienceError),
        (b'{"iss":1}', tokens.InvalidIssuerError),
        (b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}", tokens.DecodeError),
        (b'{"a":1,"a":2}', tokens.DecodeError),
        (b"[1]", tokens.DecodeError),
        (b'"x"', tokens.DecodeError),
        (b"\xff\xfe{}", tokens.DecodeError),
        (b'\xef\xbb\xbf{"a":1}', tokens.DecodeError),
        (b'{"exp":1e300}', None),
        (b'{"exp":' + b"9" * 100 + b"}", None),
        (b'{"exp":1700000600.5}', None),
    ],
)
def test_claim_types_are_checked_inside_validly_signed_tokens(raw_payload, error, clock):
    token = signed(raw_payload)
    audience = "api" if b'"aud"' in raw_payload else None
    issuer = "i" if b'"iss"' in raw_payload else None
    call = lambda: tokens.decode(token, SECRET, ["HS256"], audience=audience, issuer=issuer, clock=clock)  # noqa: E731
    if error is None:
        assert call()["exp"] > START
    else:
        with pytest.raises(error):
            call()


def test_reading_a_token_without_a_key_is_explicit(clock):
    expired = tokens.encode({"sub": "a", "exp": START - 10}, SECRET)
    forged = expired.rsplit(".", 1)[0] + ".AAAA"
    unsigned = b64(b'{"alg":"none"}') + "." + b64(b'{"sub":"mallory"}') + "."
    for token in (expired, forged):
        assert tokens.decode(token, options={"verify_signature": False})["sub"] == "a"
    assert tokens.decode(unsigned, options={"verify_signature": False}) == {"sub": "mallory"}
    assert tokens.get_unverified_header(unsigned) == {"alg": "none"}
    with pytest.raises(tokens.ExpiredSignatureError):
        tokens.decode(expired, options={"verify_signature": False, "verify_exp": True}, clock=clock)
    with pytest.raises(tokens.InvalidAlgorithmError, match="algorithms"):
        tokens.decode(expired, SECRET)


# --- Signatures, algorithms and keys ------------------------------------------------------------


def test_tampered_payload_fails_the_signature(clock):
    header, payload, signature = tokens.encode({"sub": "alice", "role": "user"}, SECRET).split(".")
    evil = tokens.b64url_encode(tokens.b64url_decode(payload).replace(b'"user"', b'"admin"'))
    for token in (f"{header}.{evil}.{signature}", f"{header}.{payload}.{signature[:-2]}AA"):
        with pytest.raises(tokens.InvalidSignatureError, match="^Signature verification failed$") as info:
            tokens.decode(token, SECRET, ["HS256"], clock=clock)
        assert isinstance(info.value, tokens.DecodeError)


@pytest.mark.parametrize("none", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_always_rejected(none, clock):
    body = b64(b'{"sub":"mallory"}')
    for signature in ("", b64(b"x" * 32)):
        token = b64(json.dumps({"alg": none, "typ": "JWT"}).encode()) + "." + body + "." + signature
        for allowed in ([none], [none, "HS256"], list(tokens.ALGORITHMS) + [none]):
            with pytest.raises(tokens.InvalidAlgorithmError):
                tokens.decode(token, SECRET, algorithms=allowed, clock=clock)
    with pytest.raises(tokens.InvalidAlgorithmError):
        tokens.encode({"sub": "x"}, SECRET, algorithm=none)
    with pytest.raises(tokens.InvalidAlgorithmError):
        tokens.encode({"sub": "x"}, SECRET, headers={"alg": none})


def test_algorithm_allow_list_is_required_and_enforced(clock):
    token = tokens.encode({"sub": "a"}, SECRET, "HS512")
    for algorithms in (None, [], (), "HS512"):
        with pytest.raises(tokens.InvalidAlgorithmError):
            tokens.decode(token, SECRET, algorithms=algorithms, clock=clock)
    with pytest.raises(tokens.InvalidAlgorithmError, match="not allowed"):
        tokens.decode(token, SECRET, algorithms=["HS256"], clock=clock)
    for header, message in [
        ({"alg": "RS384"}, "not supported"),
        ({"typ": "JWT"}, "not specified"),
        ({"alg": ["HS256"]}, "not allowed"),
        ({"alg": ""}, "not allowed"),
    ]:
        with pytest.raises(tokens.InvalidAlgorithmError, match=message):
            tokens.decode(signed({"sub": "a"}, header), SECRET, algorithms=["HS256", "RS384"], clock=clock)


def test_algorithm_confusion_public_key_as_hmac_secret_is_refused(keys, clock):
    """The classic attack: sign HS256 with the server's *public* RSA key, hoping it is used as a secret."""
    rsa_keys = keys["RS256"]
    public_pem = rsa_keys.public_pem
    ssh = rsa_keys.public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    der = rsa_keys.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b'{"alg":"HS256","typ":"JWT"}'
    for server_key in (public_pem, public_pem.decode(), rsa_keys.public, ssh, der):
        material = server_key if isinstance(server_key, bytes) else public_pem
        forged = hs256(header, b'{"sub":"admin"}', key=material)
        with pytest.raises(tokens.InvalidKeyError, match="asymmetric|HMAC"):
            tokens.decode(forged, server_key, algorithms=["RS256", "HS256"], clock=clock)
    with pytest.raises(tokens.InvalidKeyError, match="should not be used as an HMAC secret"):
        tokens.encode({"sub": "x"}, public_pem, "HS256")
    with pytest.raises(tokens.InvalidKeyError, match="JWK"):
        tokens.encode({"sub": "x"}, '{"kty":"RSA","n":"...","e":"AQAB"}' + " " * 32, "HS256")


def test_the_key_decides_the_family(keys, clock):
    es = tokens.encode({"sub": "a"}, keys["ES256"].private, "ES256")
    for wrong in (keys["RS256"].public, keys["EdDSA"].public_pem, SECRET):
        with pytest.raises(tokens.InvalidKeyError):
            tokens.decode(es, wrong, algorithms=list(tokens.ALGORITHMS), clock=clock)
    with pytest.raises(tokens.InvalidKeyError, match="needs an RSA key"):
        tokens.encode({"sub": "a"}, SECRET, "RS256")
    with pytest.raises(tokens.InvalidKeyError, match="private key"):
        tokens.encode({"sub": "a"}, keys["EdDSA"].public, "EdDSA")
    for bad in (None, 42, "", b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "\ud800" * 40):
        with pytest.raises(tokens.InvalidKeyError):
            tokens.decode(es, bad, algorithms=["ES256", "HS256"], clock=clock)


@pytest.mark.parametrize("alg, needed", [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_short_hmac_keys_are_refused_both_ways(alg, needed, clock):
    short = SECRET[: needed - 1]
    with pytest.raises(tokens.InvalidKeyError, match=f"{needed - 1} bytes long.*{needed} bytes"):
        tokens.encode({"sub": "a"}, short, alg)
    token = tokens.encode({"sub": "a"}, SECRET[:needed], alg)  # exactly the minimum is fine
    assert tokens.decode(token, SECRET[:needed], [alg], clock=clock)
    with pytest.raises(tokens.InvalidKeyError, match=f"{needed} bytes"):
        tokens.decode(token, short, [alg], clock=clock)


def test_small_rsa_and_wrong_curves_are_refused(keys, clock):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p384 = ec.generate_private_key(ec.SECP384R1())
    for key, alg in ((small, "RS256"), (small, "PS256"), (p384, "ES256")):
        with pytest.raises(tokens.InvalidKeyError, match="2048|P-256"):
            tokens.encode({"sub": "a"}, key, alg)
        token = tokens.encode({"sub": "a"}, keys[alg].private, alg)
        with pytest.raises(tokens.InvalidKeyError):
            tokens.decode(token, key.public_key(), [alg], clock=clock)


def test_es256_signature_must_be_raw_r_s_not_der(keys, clock):
    k = keys["ES256"]
    token = tokens.encode({"sub": "a"}, k.private, "ES256")
    signing_input = token.rsplit(".", 1)[0]
    der = k.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert tokens.decode(f"{signing_input}.{b64(raw)}", k.public, ["ES256"], clock=clock)  # same signature, raw
    for bad in (der, raw[:63], raw + b"\0", bytes(64)):
        with pytest.raises(tokens.InvalidSignatureError):
            tokens.decode(f"{signing_input}.{b64(bad)}", k.public, ["ES256"], clock=clock)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "crit": ["exp"], "exp": 1},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": "exp"},
        {"alg": "HS256", "crit": [1]},
        {"alg": "HS256", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "b64": False},
        {"alg": "HS256", "kid": 7},
    ],
)
def test_headers_we_cannot_honour_are_refused(header, clock):
    token = signed({"sub": "a"}, header)
    with pytest.raises(tokens.DecodeError):
        tokens.decode(token, SECRET, ["HS256"], clock=clock)
    with pytest.raises(tokens.DecodeError):
        tokens.get_unverified_header(token)


def test_encode_input_rules():
    with pytest.raises(TypeError):
        tokens.encode(["not", "a", "dict"], SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tokens.encode({"iss": 1}, SECRET)
    with pytest.raises(ValueError):
        tokens.encode({"exp": float("nan")}, SECRET)  # would not be JSON
    with pytest.raises(tokens.InvalidTokenError):
        tokens.encode({}, SECRET, headers={"kid": 1})
    with pytest.raises(tokens.InvalidTokenError):
        tokens.encode({}, SECRET, headers={"b64": False})
    with pytest.raises(tokens.InvalidAlgorithmError):
        tokens.encode({}, SECRET, "HS999")
    blank_alg = tokens.encode({}, SECRET, "HS384", headers={"alg": ""})  # a blank header alg can't mislabel it
    assert tokens.get_unverified_header(blank_alg)["alg"] == "HS384"


# --- Malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        None,
        12,
        1.5,
        ["a.b.c"],
        bytearray(b"a.b.c"),
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "....",
        "é.é.é",
        "eyJ.eyJ.sig",
        "e30=.e30.AAAA",
        "e30.e30.AA==",
        "e30.e30.A",
        "e31.e30.AAAA",
        "e30.e30.!!!!",
        b"\xff.\xfe.\xfd",
        "e30\n.e30.AAAA",
        " e30.e30.AAAA",
        b64(b"[1]") + ".e30.AAAA",
        b64(b"\xff") + ".e30.AAAA",
        b64(b'{"alg":NaN}') + ".e30.AAAA",
        b64(b'{"alg":"HS256","alg":"none"}') + ".e30.AAAA",
    ],
)
def test_malformed_tokens_raise_decode_error(token, clock):
    with pytest.raises(tokens.DecodeError):
        tokens.decode(token, SECRET, ["HS256"], clock=clock)
    with pytest.raises(tokens.DecodeError):
        tokens.decode(token, options={"verify_signature": False})


def test_oversized_tokens_are_refused_before_parsing(clock):
    pad = tokens.MAX_TOKEN_LENGTH * 3 // 4 - 100
    while len(token := tokens.encode({"sub": "a", "pad": "x" * pad}, SECRET)) <= tokens.MAX_TOKEN_LENGTH:
        fitting, pad = token, pad + 1
    assert len(fitting) <= tokens.MAX_TOKEN_LENGTH < len(token)
    assert tokens.decode(fitting, SECRET, ["HS256"], clock=clock)["sub"] == "a"
    huge = ["a" * 1_000_000, "." * 1_000_000, b"e30." * 250_000, token, token.encode()]
    started = time.perf_counter()
    for oversized in huge:
        for _ in range(20):
            with pytest.raises(tokens.DecodeError, match="longer than"):
                tokens.decode(oversized, SECRET, ["HS256"], clock=clock)
    assert time.perf_counter() - started < 0.05  # 100 refusals: no splitting, no decoding


# PyJWT's exceptions for JWK objects and JWKS clients, which this module does not have.
NOT_MIRRORED = {
    "PyJWKError",
    "MissingCryptographyError",
    "PyJWKSetError",
    "PyJWKClientError",
    "PyJWKClientConnectionError",
}
# One deliberate extra edge: a token can pick the algorithm a key is tried with, so InvalidKeyError is
# also an InvalidTokenError here (README: "Where helpers.tokens differs from PyJWT").
EXTRA_EDGES = {("InvalidKeyError", "InvalidTokenError")}


def pyjwt_exception_classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(jwt.exceptions).items()
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "jwt.exceptions"
    }


def test_exception_tree_is_pyjwts():
    theirs = pyjwt_exception_classes()
    assert NOT_MIRRORED < set(theirs) and "PyJWTError" in theirs and len(theirs) >= 18
    mirrored = {name: cls for name, cls in theirs.items() if name not in NOT_MIRRORED}
    for name, cls in mirrored.items():
        ours = getattr(tokens, name)
        assert ours.__module__ == tokens.__name__ and name in tokens.__all__
        assert issubclass(ours, tokens.PyJWTError) and ours.__doc__
        for other_name, other in mirrored.items():
            edge = issubclass(cls, other) or (name, other_name) in EXTRA_EDGES
            assert issubclass(ours, getattr(tokens, other_name)) == edge, (name, other_name)
    # The same shape: each MRO, read by name, is PyJWT's (plus the one extra edge).
    shape = [c.__name__ for c in tokens.InvalidSignatureError.__mro__]
    assert (
        shape
        == [c.__name__ for c in jwt.InvalidSignatureError.__mro__]
        == [
            "InvalidSignatureError",
            "DecodeError",
            "InvalidTokenError",
            "PyJWTError",
            "Exception",
            "BaseException",
            "object",
        ]
    )
    assert issubclass(tokens.InvalidTypeError, tokens.InvalidTokenError)
    assert tokens.MAX_TOKEN_LENGTH == 16384
    assert tokens.ALGORITHMS == ("HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA")


def same_error_as_pyjwt(token, key, **kwargs):
    errors = []
    for module in (tokens, jwt):
        with pytest.raises(Exception) as info:
            module.decode(token, key, **kwargs)
        errors.append((type(info.value).__name__, str(info.value)))
    assert errors[0] == errors[1]


def test_error_messages_read_the_same_as_pyjwt(keys):
    now = int(time.time())
    hs = ["HS256"]
    same_error_as_pyjwt(tokens.encode({"exp": now - 5}, SECRET), SECRET, algorithms=hs)
    same_error_as_pyjwt(tokens.encode({"nbf": now + 500}, SECRET), SECRET, algorithms=hs)
    same_error_as_pyjwt(tokens.encode({"iat": now + 500}, SECRET), SECRET, algorithms=hs)
    same_error_as_pyjwt(tokens.encode({"aud": "web"}, SECRET), SECRET, algorithms=hs, audience="api")
    same_error_as_pyjwt(tokens.encode({"aud": "web"}, SECRET), SECRET, algorithms=hs)
    same_error_as_pyjwt(tokens.encode({"iss": "evil"}, SECRET), SECRET, algorithms=hs, issuer="good")
    same_error_as_pyjwt(tokens.encode({}, SECRET), SECRET, algorithms=hs, options={"require": ["exp"]})
    same_error_as_pyjwt(tokens.encode({}, SECRET), SECRET[::-1], algorithms=hs)
    same_error_as_pyjwt(tokens.encode({}, SECRET, "HS512"), SECRET, algorithms=hs)
    same_error_as_pyjwt(signed({"exp": "soon"}), SECRET, algorithms=hs)
    same_error_as_pyjwt(signed({"sub": 1}), SECRET, algorithms=hs)
    same_error_as_pyjwt(signed({"jti": 1}), SECRET, algorithms=hs)
    same_error_as_pyjwt("a.b", SECRET, algorithms=hs)
    forged = hs256(b'{"alg":"HS256"}', b"{}", key=keys["RS256"].public_pem)
    same_error_as_pyjwt(forged, keys["RS256"].public_pem, algorithms=["RS256", "HS256"])


# --- Property-based -----------------------------------------------------------------------------

B64URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@FUZZ
@given(st.binary(max_size=300))
def test_b64url_round_trip(data):
    text = tokens.b64url_encode(data)
    assert set(text) <= set(B64URL_CHARS) and text == b64(data)
    assert tokens.b64url_decode(text) == data == tokens.b64url_decode(text.encode())


def test_b64url_decode_refuses_non_text():
    for value in (None, 3, bytearray(b"QQ"), ["QQ"]):
        with pytest.raises(tokens.DecodeError):
            tokens.b64url_decode(value)  # type: ignore[arg-type]


@FUZZ
@given(st.one_of(st.text(max_size=40), st.text(alphabet=B64URL_CHARS + "=+/ .", max_size=40), st.binary(max_size=40)))
def test_b64url_decode_accepts_only_the_canonical_spelling(text):
    try:
        data = tokens.b64url_decode(text)
    except tokens.DecodeError:
        return
    assert tokens.b64url_encode(data) == (text if isinstance(text, str) else text.decode())


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=4), scalars, max_size=2)
claim_names = st.sampled_from(["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "x"])


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.text(alphabet=B64URL_CHARS + ".=", max_size=200),
        st.tuples(json_values, json_values, st.binary(max_size=70)).map(
            lambda t: ".".join([b64(json.dumps(t[0]).encode()), b64(json.dumps(t[1]).encode()), b64(t[2])])
        ),
    )
)
def test_decode_of_arbitrary_input_raises_only_invalid_token_errors(token):
    with pytest.raises(tokens.InvalidTokenError):
        tokens.decode(token, SECRET, ["HS256"])
    try:
        result = tokens.decode(token, options={"verify_signature": False, "verify_exp": True, "verify_aud": True})
    except tokens.InvalidTokenError:
        return
    assert isinstance(result, dict)


@FUZZ
@given(
    st.dictionaries(claim_names, json_values, max_size=6),
    st.sampled_from([None, "api", ["api", "web"]]),
    st.sampled_from([None, "i", ["i"]]),
    st.sampled_from([[], ["x"]]),
)
def test_signed_tokens_with_arbitrary_claims_never_crash(claims, audience, issuer, require):
    token = signed(claims)
    try:
        result = tokens.decode(
            token,
            SECRET,
            ["HS256"],
            audience=audience,
            issuer=issuer,
            leeway=1,
            options={"require": require},
            clock=FrozenClock(START),
        )
    except tokens.InvalidTokenError:
        return
    assert result == claims


def mutate(token: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "truncate", "swap", "replace", "insert", "delete"]))
    if kind == "swap":
        parts = token.split(b".")
        i, j = data.draw(st.permutations(range(3)))[:2]
        parts[i], parts[j] = parts[j], parts[i]
        return b".".join(parts)
    if kind == "truncate":
        return token[: data.draw(st.integers(0, len(token) - 1))]
    at = data.draw(st.integers(0, len(token) - 1))
    if kind == "flip":
        return token[:at] + bytes([token[at] ^ (1 << data.draw(st.integers(0, 7)))]) + token[at + 1 :]
    if kind == "delete":
        return token[:at] + token[at + 1 :]
    char = data.draw(st.sampled_from(B64URL_CHARS + ".=")).encode()
    return token[:at] + char + token[at + (kind == "replace") :]


def lenient_segments(token: bytes) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)) for part in token.split(b".")]


@pytest.fixture(scope="module")
def valid_tokens(keys) -> dict[str, bytes]:
    claims = {"sub": "alice", "role": "user", "exp": START + 60}
    return {alg: tokens.encode(claims, keys[alg].private, alg).encode() for alg in tokens.ALGORITHMS}


@pytest.mark.parametrize("alg", ["HS256", "ES256", "EdDSA", "RS256"])
@settings(max_examples=100, deadline=None, database=None)
@given(data=st.data())
def test_mutated_tokens_are_never_accepted(keys, valid_tokens, alg, data):
    token = valid_tokens[alg]
    mutated = mutate(token, data)
    try:
        claims = tokens.decode(mutated, keys[alg].public, [alg], clock=FrozenClock(START))
    except tokens.InvalidTokenError:
        return
    # Accepted: it must be the same token, segment for segment, down to the decoded bytes.
    assert lenient_segments(mutated) == lenient_segments(token) and claims["sub"] == "alice"


# --- Drop-in for PyJWT: decode_complete, subject, PyJWTError ------------------------------------


def test_decode_complete_returns_what_pyjwt_returns(keys, clock):
    for alg in ("HS256", "EdDSA"):
        token = tokens.encode({"sub": "alice", "exp": START + 60}, keys[alg].private, alg, headers={"kid": "k1"})
        ours = tokens.decode_complete(token, keys[alg].public, [alg], clock=clock)
        theirs = jwt.decode_complete(token, keys[alg].public, algorithms=[alg], options={"verify_exp": False})
        assert ours == theirs and set(ours) == {"header", "payload", "signature"}
        assert isinstance(ours["signature"], bytes) and ours["header"] == {"alg": alg, "typ": "JWT", "kid": "k1"}
        assert tokens.decode(token, keys[alg].public, [alg], clock=clock) == ours["payload"]
    with pytest.raises(tokens.ExpiredSignatureError):
        tokens.decode_complete(token, keys["EdDSA"].public, ["EdDSA"], clock=FrozenClock(START + 60))


def test_options_may_be_passed_in_pyjwts_position(clock):
    token = tokens.encode({"exp": START - 1}, SECRET)
    assert tokens.decode(token, SECRET, ["HS256"], {"verify_exp": False}, clock=clock) == {"exp": START - 1}
    assert jwt.decode(token, SECRET, ["HS256"], {"verify_exp": False}) == {"exp": START - 1}


def test_subject_is_checked_like_pyjwt_and_required_when_asked_for(clock):
    token = tokens.encode({"sub": "alice"}, SECRET)
    assert tokens.decode(token, SECRET, ["HS256"], subject="alice", clock=clock) == {"sub": "alice"}
    same_error_as_pyjwt(token, SECRET, algorithms=["HS256"], subject="bob")  # InvalidSubjectError: Invalid subject
    same_error_as_pyjwt(signed({"sub": 7}), SECRET, algorithms=["HS256"], subject="7")
    no_sub = tokens.encode({"role": "user"}, SECRET)
    assert jwt.decode(no_sub, SECRET, algorithms=["HS256"], subject="bob")  # PyJWT lets it through
    with pytest.raises(tokens.MissingRequiredClaimError, match='"sub"'):
        tokens.decode(no_sub, SECRET, ["HS256"], subject="bob", clock=clock)
    with pytest.raises(TypeError):
        tokens.decode(token, SECRET, ["HS256"], subject=1, clock=clock)  # type: ignore[arg-type]


def test_except_pyjwterror_written_for_pyjwt_catches_every_refusal(keys, clock):
    refused = [
        "a.b",
        tokens.encode({"exp": START - 1}, SECRET),
        tokens.encode({}, SECRET[::-1]),
        tokens.encode({}, SECRET, "HS512"),
        tokens.encode({"aud": "x"}, SECRET),
        hs256(b'{"alg":"HS256"}', b"{}", key=keys["RS256"].public_pem),
    ]
    for token in refused:
        for key in (SECRET, keys["RS256"].public_pem):
            try:
                tokens.decode(token, key, ["HS256"], clock=clock)
            except tokens.PyJWTError as err:
                assert isinstance(err, tokens.InvalidTokenError)
            else:
                raise AssertionError(f"accepted {token!r}")


# --- Explicit token types (RFC 8725 §3.11, RFC 9068) ---------------------------------------------


def test_encode_puts_typ_in_the_header_byte_identical_to_pyjwt():
    claims = {"sub": "alice", "exp": START + 60}
    for headers in ({"typ": "at+jwt"}, {"typ": "at+jwt", "kid": "k"}, {"typ": "JWT"}, {"typ": "application/at+jwt"}):
        ours = tokens.encode(claims, SECRET, "HS256", headers=headers)
        assert ours == jwt.encode(claims, SECRET, algorithm="HS256", headers=headers)
        assert tokens.get_unverified_header(ours)["typ"] == headers["typ"]


@pytest.mark.parametrize("header_typ", ["at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"])
@pytest.mark.parametrize("wanted", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_typ_matches_case_insensitively_with_optional_application_prefix(header_typ, wanted, clock):
    token = tokens.encode({"sub": "a"}, SECRET, headers={"typ": header_typ})
    assert tokens.decode(token, SECRET, ["HS256"], typ=wanted, clock=clock) == {"sub": "a"}


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256"},
        {"alg": "HS256", "typ": "JWT"},
        {"alg": "HS256", "typ": "refresh+jwt"},
        {"alg": "HS256", "typ": "application/jwt"},
        {"alg": "HS256", "typ": "at+jwt "},
        {"alg": "HS256", "typ": "xat+jwt"},
        {"alg": "HS256", "typ": "application/application/at+jwt"},
        {"alg": "HS256", "typ": ["at+jwt"]},
        {"alg": "HS256", "typ": None},
        {"alg": "HS256", "typ": 1},
        {"alg": "HS256", "typ": "<img src=x>"},
    ],
)
def test_a_token_of_another_type_is_refused_when_a_type_is_required(header, clock):
    token = signed({"sub": "a"}, header)
    assert tokens.decode(token, SECRET, ["HS256"], clock=clock) == {"sub": "a"}  # no typ asked for: not checked
    with pytest.raises(tokens.InvalidTypeError) as info:
        tokens.decode(token, SECRET, ["HS256"], typ="at+jwt", clock=clock)
    assert isinstance(info.value, tokens.InvalidTokenError)
    assert str(info.value) in ('Token is missing the "typ" header', 'Invalid token type: expected "at+jwt"')
    with pytest.raises(tokens.InvalidTypeError):
        tokens.decode(token, options={"verify_signature": False}, typ="at+jwt")


def test_the_signature_is_checked_before_the_type(clock):
    forged = tokens.encode({"sub": "a"}, SECRET[::-1], headers={"typ": "JWT"})
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, SECRET, ["HS256"], typ="at+jwt", clock=clock)


# --- Arguments are checked first (programming errors, whatever the token holds) ------------------

BAD_ARGUMENTS = [
    ("audience", 1, TypeError),
    ("audience", b"api", TypeError),
    ("audience", ["api", 1], TypeError),
    ("audience", object(), TypeError),
    ("issuer", 5, TypeError),
    ("issuer", b"auth-course", TypeError),
    ("subject", 1, TypeError),
    ("leeway", "5", TypeError),
    ("leeway", True, TypeError),
    ("leeway", None, TypeError),
    ("leeway", float("nan"), ValueError),
    ("leeway", float("inf"), ValueError),
    ("typ", 1, TypeError),
    ("typ", "", TypeError),
    ("options", ["verify_exp"], TypeError),
    ("options", {"require": "exp"}, TypeError),
    ("options", {"require": [1]}, TypeError),
    ("options", {"require": 3}, TypeError),
    ("options", {"verify_exp": "false"}, TypeError),
    ("options", {"verify_expiry": False}, TypeError),
    ("options", {"verify_signature": False, "verify_aud": None}, TypeError),
    ("algorithms", [None], TypeError),
    ("algorithms", ["HS256", b"HS256"], TypeError),
    ("algorithms", "HS256", tokens.InvalidAlgorithmError),
]


@pytest.mark.parametrize("name, value, error", BAD_ARGUMENTS, ids=lambda v: repr(v)[:30])
def test_argument_errors_are_raised_before_the_token_is_read(name, value, error, clock):
    expired = tokens.encode({"sub": "a", "aud": "api", "exp": START - 10}, SECRET)
    arguments = {"algorithms": ["HS256"], name: value}
    for token in (expired, "x", tokens.encode({"sub": "a"}, SECRET), None):
        for extra in ({}, {"options": {"verify_aud": False, "verify_exp": False}}):
            with pytest.raises(error):
                tokens.decode(token, SECRET, clock=clock, **{**extra, **arguments})


def test_a_bad_audience_is_a_type_error_first_as_in_pyjwt():
    expired = tokens.encode({"sub": "a", "aud": "api", "exp": int(time.time()) - 10}, SECRET)
    for module in (tokens, jwt):
        with pytest.raises(TypeError, match="audience must be a string, iterable or None"):
            module.decode(expired, SECRET, algorithms=["HS256"], audience=1)
    with pytest.raises(TypeError):  # PyJWT accepts here: with verify_aud off it never looks at the argument
        tokens.decode(expired, SECRET, ["HS256"], audience=1, options={"verify_aud": False, "verify_exp": False})


def test_an_infinite_leeway_cannot_switch_expiry_off():
    expired = tokens.encode({"sub": "a", "exp": int(time.time()) - 3600}, SECRET)
    assert jwt.decode(expired, SECRET, algorithms=["HS256"], leeway=float("nan"))  # PyJWT: NaN accepts anything
    with pytest.raises(ValueError):
        tokens.decode(expired, SECRET, ["HS256"], leeway=float("nan"))


def test_an_iterator_audience_is_read_once(clock):
    token = tokens.encode({"aud": ["web", "api"]}, SECRET)
    assert tokens.decode(token, SECRET, ["HS256"], audience=iter(["other", "api"]), clock=clock)
    assert tokens.decode(token, SECRET, ["HS256"], audience=(a for a in ["api"]), clock=clock)


# --- NumericDates as numbers; leeway for iat as for nbf ------------------------------------------


@pytest.mark.parametrize(
    "claim, offset, accepted",
    [
        ("exp", 0.5, True),
        ("exp", 0.0, False),
        ("exp", -0.25, False),
        ("exp", 1e-6, True),
        ("nbf", 0.5, False),
        ("nbf", 0.0, True),
        ("nbf", -0.5, True),
        ("nbf", 1e-6, False),
        ("iat", 0.5, False),
        ("iat", 0.0, True),
        ("iat", -0.5, True),
    ],
)
def test_numeric_dates_are_compared_as_numbers_not_truncated(claim, offset, accepted):
    clock = FrozenClock(START + 0.25)
    token = tokens.encode({claim: START + 0.25 + offset}, SECRET)
    if accepted:
        assert tokens.decode(token, SECRET, ["HS256"], clock=clock)
    else:
        with pytest.raises((tokens.ExpiredSignatureError, tokens.ImmatureSignatureError)):
            tokens.decode(token, SECRET, ["HS256"], clock=clock)


def test_leeway_applies_to_iat_as_to_nbf_like_pyjwt():
    """A verifier whose clock lags the issuer's by 30 s still accepts a fresh token, given leeway."""
    ahead = int(time.time()) + 30  # the issuer's clock; 30 s is far beyond any scheduling delay here
    for claim in ("iat", "nbf"):
        token = tokens.encode({"sub": "a", claim: ahead, "exp": ahead + 600}, SECRET)
        for module in (tokens, jwt):
            assert module.decode(token, SECRET, algorithms=["HS256"], leeway=120)["sub"] == "a"
            assert module.decode(token, SECRET, algorithms=["HS256"], leeway=timedelta(minutes=2))["sub"] == "a"
        same_error_as_pyjwt(token, SECRET, algorithms=["HS256"])  # ImmatureSignatureError without it


# --- Key material is never an HMAC secret, in any form, encoding or wrapping ---------------------

ENCODINGS = ["str", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


def ssh2_block(public: Any) -> str:
    """RFC 4716 text of a public key, with a folded header line."""
    blob = base64.b64encode(
        base64.b64decode(
            public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1]
        )
    ).decode()
    body = "\n".join(blob[i : i + 70] for i in range(0, len(blob), 70))
    return (
        f'---- BEGIN SSH2 PUBLIC KEY ----\nComment: "demo key, \\\npublished"\n{body}\n---- END SSH2 PUBLIC KEY ----\n'
    )


@pytest.fixture(scope="module")
def key_material(keys) -> dict[str, Any]:
    """Public key material in every format cryptography reads (str, bytes, or a JWK dict)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    material: dict[str, Any] = {}
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo only")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys["RS256"].public)
        .serial_number(1)
        .not_valid_before(datetime(2024, 1, 1))
        .not_valid_after(datetime(2034, 1, 1))
        .sign(keys["RS256"].private, hashes.SHA256())
    )
    material["cert PEM"] = cert.public_bytes(serialization.Encoding.PEM).decode()
    material["cert DER"] = cert.public_bytes(serialization.Encoding.DER)
    for alg, algorithm in (
        ("RS256", jwt.algorithms.RSAAlgorithm),
        ("ES256", jwt.algorithms.ECAlgorithm),
        ("EdDSA", jwt.algorithms.OKPAlgorithm),
    ):
        public = keys[alg].public
        spki = (serialization.PublicFormat.SubjectPublicKeyInfo,)
        material[f"{alg} PEM"] = public.public_bytes(serialization.Encoding.PEM, *spki).decode()
        material[f"{alg} DER"] = public.public_bytes(serialization.Encoding.DER, *spki)
        material[f"{alg} OpenSSH"] = (
            public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
            + " demo@course"
        )
        material[f"{alg} RFC 4716"] = ssh2_block(public)
        material[f"{alg} JWK"] = json.loads(algorithm.to_jwk(public))
    material["RS256 PKCS1 PEM"] = (
        keys["RS256"].public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    )
    material["oct JWK"] = {"kty": "oct", "k": b64(SECRET)}
    return material


def escape_names(text: str, escapes: list[bool]) -> str:
    """Spell the letters of "kty" and "keys" as \\u escapes where ``escapes`` says so (still the same JSON)."""
    for name in ("kty", "keys"):
        spelled = "".join(f"\\u{ord(c):04x}" if escapes[i % len(escapes)] else c for i, c in enumerate(name))
        text = text.replace(f'"{name}"', f'"{spelled}"')
    return text


def dress(value: Any, wrappers: list[str], escapes: list[bool], pad: str) -> str | bytes:
    """Wrap key material in JSON (arrays, key sets, objects, strings), then pad it."""
    if isinstance(value, bytes):
        value = base64.b64encode(value).decode() if wrappers else value
    for wrapper in wrappers:
        value = {
            "array": lambda v: [v],
            "keys": lambda v: {"keys": [v]},
            "object": lambda v: {"x": 1, "k": v},
            "string": json.dumps,
        }[wrapper](value)
    if isinstance(value, bytes):
        return value
    text = value if isinstance(value, str) and not wrappers else json.dumps(value)
    return pad + escape_names(text, escapes) + pad


def encoded(text: str | bytes, encoding: str) -> str | bytes:
    if isinstance(text, bytes) or encoding == "str":
        return text
    return text.encode(encoding)


def assert_never_an_hmac_secret(material: str | bytes, clock: FrozenClock) -> None:
    with pytest.raises(tokens.InvalidKeyError):
        tokens.encode({"sub": "admin"}, material, "HS256")
    raw = material.encode() if isinstance(material, str) else material
    forged = hs256(b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"admin"}', key=raw)
    with pytest.raises(tokens.InvalidKeyError):
        tokens.decode(forged, material, algorithms=["HS256", "RS256", "ES256", "EdDSA"], clock=clock)


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_key_material_in_any_form_is_never_an_hmac_secret(key_material, data):
    name = data.draw(st.sampled_from(sorted(key_material)), label="format")
    wrappers = data.draw(st.lists(st.sampled_from(["array", "keys", "object", "string"]), max_size=4), label="wrap")
    if isinstance(key_material[name], dict) and not wrappers:
        wrappers = ["object"] if data.draw(st.booleans()) else []
    escapes = data.draw(st.lists(st.booleans(), min_size=1, max_size=4), label="escapes")
    pad = data.draw(st.sampled_from(["", " ", "\n", "\r\n\t "]), label="pad")
    text = dress(key_material[name], wrappers, escapes, pad)
    material = encoded(text, data.draw(st.sampled_from(ENCODINGS), label="encoding"))
    assert_never_an_hmac_secret(material, FrozenClock(START))


ISSUE_FORMS = [
    "JWK in an array",
    "JWK in nested arrays",
    "JWKS with a UTF-8 BOM",
    "escaped key names",
    "UTF-16 JWK",
    "UTF-32 JWK",
    "RFC 4716 block",
]


@pytest.mark.parametrize("form", ISSUE_FORMS)
def test_the_forms_pyjwt_refuses_are_refused_too(key_material, form, clock):
    jwk, jwks = key_material["RS256 JWK"], {"keys": [key_material["RS256 JWK"]]}
    material = {
        "JWK in an array": json.dumps([jwk]),
        "JWK in nested arrays": json.dumps([[[jwk]], []]),
        "JWKS with a UTF-8 BOM": json.dumps(jwks).encode("utf-8-sig"),
        "escaped key names": escape_names(json.dumps(jwks), [True]),
        "UTF-16 JWK": json.dumps(jwk).encode("utf-16"),
        "UTF-32 JWK": json.dumps(jwk).encode("utf-32-be"),
        "RFC 4716 block": key_material["RS256 RFC 4716"],
    }[form]
    with pytest.raises(jwt.InvalidKeyError):  # the oracle
        jwt.encode({"sub": "admin"}, material, algorithm="HS256")
    assert_never_an_hmac_secret(material, clock)


@pytest.mark.parametrize("form", ["RS256 OpenSSH", "RS256 RFC 4716", "ES256 RFC 4716", "EdDSA RFC 4716"])
def test_ssh_public_keys_verify_their_own_algorithm(keys, key_material, form, clock):
    alg = form.split()[0]
    token = tokens.encode({"sub": "a"}, keys[alg].private, alg)
    for material in (key_material[form], "  " + key_material[form], key_material[form].encode("utf-16")):
        assert tokens.decode(token, material, [alg], clock=clock) == {"sub": "a"}


@FUZZ
@given(
    st.one_of(
        st.binary(min_size=64, max_size=128),
        st.text(min_size=64, max_size=100),
        st.binary(min_size=32, max_size=96).map(lambda b: base64.b64encode(b).decode()),
        st.binary(min_size=32, max_size=96).map(b64),
        st.binary(min_size=32, max_size=64).map(bytes.hex),
    )
)
def test_ordinary_secrets_stay_hmac_secrets(secret):
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 64:
        return
    token = tokens.encode({"sub": "a"}, secret, "HS512")
    assert token == jwt.encode({"sub": "a"}, raw, algorithm="HS512")
    assert tokens.decode(token, secret, ["HS512"], clock=FrozenClock(START)) == {"sub": "a"}


# --- What is remembered between tokens: parsed headers and prepared keys ---------------------------


@pytest.mark.parametrize("segment", [0, 1, 2])
@pytest.mark.parametrize("intruder", ["+", "/", "=", " ", "!", "\n", ".", b"\x80", b"\xff"])
def test_each_stray_character_is_named_in_its_own_segment(segment, intruder, clock):
    parts = tokens.encode({"sub": "a"}, SECRET).encode().split(b".")
    stray = intruder if isinstance(intruder, bytes) else intruder.encode()
    parts[segment] = parts[segment][:4] + stray + parts[segment][4:]
    message = (
        "Too many segments" if intruder == "." else "Invalid " + ("header", "payload", "crypto")[segment] + " padding"
    )
    with pytest.raises(tokens.DecodeError, match=f"^{message}$"):
        tokens.decode(b".".join(parts), SECRET, ["HS256"], clock=clock)


def test_a_header_is_parsed_once_and_a_refused_one_never_remembered(clock):
    tokens._cached_header.cache_clear()
    for sub in ("alice", "bob"):  # two tokens, one header segment
        assert tokens.decode(tokens.encode({"sub": sub}, SECRET), SECRET, ["HS256"], clock=clock)["sub"] == sub
    info = tokens._cached_header.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 1, 1)
    refused = signed({"sub": "a"}, {"alg": "HS256", "crit": ["exp"]})
    for _ in range(2):
        with pytest.raises(tokens.DecodeError, match="critical"):
            tokens.decode(refused, SECRET, ["HS256"], clock=clock)
    assert tokens._cached_header.cache_info().currsize == 1
    # A known header vouches for nothing else: the same header with a forged signature still fails.
    forged = tokens.encode({"sub": "carol"}, SECRET).rsplit(".", 1)[0] + "." + b64(b"\0" * 32)
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, SECRET, ["HS256"], clock=clock)


def test_callers_get_headers_of_their_own(clock):
    token = tokens.encode({"sub": "a"}, SECRET, headers={"kid": "k1", "jwk": {"kty": "oct", "use": ["sig"]}})
    for header in (tokens.get_unverified_header(token), tokens.decode_complete(token, SECRET, ["HS256"])["header"]):
        header["kid"] = "changed"
        header["jwk"]["use"].append("enc")
    expected = {"alg": "HS256", "typ": "JWT", "kid": "k1", "jwk": {"kty": "oct", "use": ["sig"]}}
    assert tokens.get_unverified_header(token) == expected
    assert tokens.decode_complete(token, SECRET, ["HS256"], clock=clock)["header"] == expected


def test_a_prepared_key_is_found_by_identity_never_by_a_reused_id(keys, clock):
    public = keys["RS256"].public
    forged = tokens.encode({"sub": "mallory"}, keys["ES256"].private, "ES256").split(".")
    forged = ".".join([b64(b'{"alg":"RS256"}'), forged[1], b64(b"\1" * 256)])
    # An entry left by another object that once had this id, and that would accept anything:
    tokens._verifiers[("RS256", id(public))] = (object(), lambda signing_input, signature: True)
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, public, ["RS256"], clock=clock)
    assert tokens._verifiers[("RS256", id(public))][0] is public


def test_a_mutable_key_is_read_afresh_and_a_refused_key_never_remembered(clock):
    key = bytearray(SECRET)
    token = tokens.encode({"sub": "a"}, bytes(key))
    assert tokens.decode(token, key, ["HS256"], clock=clock) == {"sub": "a"}
    key[0] ^= 1
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(token, key, ["HS256"], clock=clock)
    short = b"x" * 31
    for _ in range(2):
        with pytest.raises(tokens.InvalidKeyError, match="minimum length"):
            tokens.decode(token, short, ["HS256"], clock=clock)
    assert ("HS256", short) not in tokens._verifiers


def test_hmac_tokens_are_signed_and_checked_without_letting_go_of_the_gil(clock):
    # The one-shot hmac.digest lets go of the GIL on every call: the probe sees another thread run...
    assert gil_handoffs(lambda: hmac.digest(SECRET, b"x" * 300, "sha256"), calls=20_000) > 0
    # ...while tokens keeps it, so a server's busy threads never make a verification wait its turn.
    token = tokens.encode({"sub": "a"}, SECRET)
    assert gil_handoffs(lambda: tokens.encode({"sub": "a"}, SECRET)) == 0
    assert gil_handoffs(lambda: tokens.decode(token, SECRET, ["HS256"], clock=clock)) == 0


def test_options_checked_once_by_decode_options_decode_as_the_mapping_does(clock):
    token = tokens.encode({"sub": "a", "iat": 10**10}, SECRET)  # issued far in the future
    mapping = {"require": ["sub", "iat"], "verify_iat": False}
    prepared = tokens.decode_options(mapping)
    assert tokens.decode(token, SECRET, ["HS256"], prepared, clock=clock) == {"sub": "a", "iat": 10**10}
    assert tokens.decode(token, SECRET, ["HS256"], mapping, clock=clock) == {"sub": "a", "iat": 10**10}
    strict = tokens.decode_options({"require": ["exp"]})
    with pytest.raises(tokens.MissingRequiredClaimError):
        tokens.decode(token, SECRET, ["HS256"], strict, clock=clock)
    with pytest.raises(TypeError, match="must be True or False"):
        tokens.decode_options({"verify_exp": "false"})
    assert tokens.decode_options({"verify_signature": False}).verify_exp is False  # PyJWT's rule, kept


@pytest.mark.parametrize(
    "fields",
    [{"verify_exp": 0}, {"verify_exp": None}, {"verify_signature": "false"}, {"require": "exp"}, {"require": [1]}],
)
def test_decode_options_made_directly_are_checked_too(fields):
    # decode trusts a DecodeOptions without looking again, so a wrong one must never be made.
    with pytest.raises(TypeError):
        tokens.DecodeOptions(**fields)


def test_decode_options_keep_their_own_copy_of_the_required_claims(clock):
    required = ["exp"]
    prepared = tokens.DecodeOptions(require=required)
    required.clear()
    with pytest.raises(tokens.MissingRequiredClaimError):
        tokens.decode(tokens.encode({"sub": "a"}, SECRET), SECRET, ["HS256"], prepared, clock=clock)
