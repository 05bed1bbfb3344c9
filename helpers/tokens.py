"""JSON Web Tokens (JWS compact serialization), written from scratch so every rule is visible.

A token is ``base64url(header) . base64url(payload) . base64url(signature)`` (RFC 7515 §7.1); the
signature covers the ASCII bytes ``header.payload`` exactly as sent. Verifying means: check the shape,
accept ``alg`` only if *your* allow-list and *your* key permit it, check the signature, then the claims.
The API mirrors PyJWT (names, exceptions, messages), so ``import jwt`` can replace this module.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hmac
import json
import math
import re
from calendar import timegm
from collections.abc import Callable, Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .clock import Clock, SystemClock

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

__all__ = [
    "ALGORITHMS",
    "MAX_TOKEN_LENGTH",
    "encode",
    "decode",
    "decode_complete",
    "decode_options",
    "DecodeOptions",
    "get_unverified_header",
    "b64url_encode",
    "b64url_decode",
    "PyJWTError",
    "InvalidTokenError",
    "DecodeError",
    "InvalidSignatureError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidAudienceError",
    "InvalidIssuerError",
    "InvalidIssuedAtError",
    "InvalidSubjectError",
    "InvalidJTIError",
    "InvalidAlgorithmError",
    "InvalidKeyError",
    "MissingRequiredClaimError",
    "InvalidTypeError",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
# A key ready to use: an HMAC secret's bytes, or a key object of one of the accepted families.
_Material: TypeAlias = bytes | PrivateKey | PublicKey

ALGORITHMS: tuple[str, ...] = ("HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA")
MAX_TOKEN_LENGTH = 16384  # chars (str) or bytes; longer tokens are refused before any parsing


# --- Exceptions: PyJWT's tree under PyJWTError; every error decode() raises is an InvalidTokenError --


class PyJWTError(Exception):
    """Root of every exception this module raises on purpose (PyJWT's name)."""


class InvalidTokenError(PyJWTError):
    """Base class: the token cannot be trusted (or the key cannot be used on it)."""


class DecodeError(InvalidTokenError):
    """The token is malformed: segments, base64url, JSON, header fields or claim types."""


class InvalidSignatureError(DecodeError):
    """The signature does not match the header and payload."""


class ExpiredSignatureError(InvalidTokenError):
    """The ``exp`` claim is in the past (beyond the leeway)."""


class ImmatureSignatureError(InvalidTokenError):
    """The ``nbf`` or ``iat`` claim is in the future (beyond the leeway)."""


class InvalidAudienceError(InvalidTokenError):
    """The ``aud`` claim does not name this recipient."""


class InvalidIssuerError(InvalidTokenError):
    """The ``iss`` claim is not an accepted issuer."""


class InvalidIssuedAtError(InvalidTokenError):
    """The ``iat`` claim is not a number."""


class InvalidSubjectError(InvalidTokenError):
    """The ``sub`` claim is not a string."""


class InvalidJTIError(InvalidTokenError):
    """The ``jti`` claim is not a string."""


class InvalidAlgorithmError(InvalidTokenError):
    """The ``alg`` is missing, ``none``, not allow-listed, or not supported."""


class InvalidKeyError(InvalidTokenError):
    """The key is unusable: wrong family for the algorithm, too short, too small, or unparsable."""

    # PyJWT derives it from PyJWTError only. Here a token can pick the algorithm a key is tried with, so
    # ``except InvalidTokenError`` around decode() must catch it too; ``except PyJWTError`` still does.


class InvalidTypeError(InvalidTokenError):
    """The ``typ`` header is missing or is not the type the verifier asked for (RFC 8725 §3.11)."""


class MissingRequiredClaimError(InvalidTokenError):
    """A required claim is absent; ``.claim`` names it."""

    def __init__(self, claim: str) -> None:
        super().__init__(claim)
        self.claim = claim

    def __str__(self) -> str:
        return f'Token is missing the "{self.claim}" claim'


# --- Algorithms and keys ------------------------------------------------------------------------

# alg -> (key family, hash). The *key* decides the family; the token's header may only pick an
# algorithm inside it, so an RSA public key can never be used as an HMAC secret (RFC 8725 §2.1, §3.1).
_ALGS = MappingProxyType(
    {
        "HS256": ("HMAC", "sha256"),
        "HS384": ("HMAC", "sha384"),
        "HS512": ("HMAC", "sha512"),
        "RS256": ("RSA", "sha256"),
        "PS256": ("RSA", "sha256"),
        "ES256": ("EC", "sha256"),
        "EdDSA": ("OKP", ""),
    }
)
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = MappingProxyType({"sha256": 32, "sha384": 48, "sha512": 64})
_FAMILY_NAMES = MappingProxyType(
    {
        "HMAC": "an HMAC secret (str or bytes)",
        "RSA": "an RSA key",
        "EC": "an EC P-256 key",
        "OKP": "an Ed25519 key",
    }
)
# The order n of P-256's group (SEC 2 §2.4.2): ECDSA's s is taken mod n.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_PRIVATE_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
_ASYMMETRIC_AS_HMAC = (
    "The specified key is an asymmetric key or x509 certificate and should not be used as an HMAC secret."
)
_JWK_AS_HMAC = "The specified key looks like a JWK and should not be used directly as an HMAC secret."
_PEM_BEGIN = "-----BEGIN"
_SSH2_BLOCK = re.compile(r"---- BEGIN SSH2 PUBLIC KEY ----(.*?)---- END SSH2 PUBLIC KEY ----", re.DOTALL)
# An OpenSSH public key line ("ssh-rsa AAAA... comment"), anywhere: authorized_keys lines may start with options.
# Its base64 blob always starts "AAAA": a 4-byte big-endian length, well below 2**24, of the key type name.
_OPENSSH_LINE = re.compile(r"(?<![^\s\"])((?:ssh|ecdsa|sk)-[\w@.+-]+[ \t]+AAAA[A-Za-z0-9+/]+={0,2})")
_KEY_TEXT_MARKERS = re.compile(r"----[- ]BEGIN |" + _OPENSSH_LINE.pattern)
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
# Every Unicode encoding a key file or environment variable can plausibly arrive in, with its byte-order mark.
_ENCODINGS = (
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32-be", codecs.BOM_UTF32_BE),
)


def _family_of(key: object) -> tuple[str, PrivateKey | PublicKey]:
    """``(family, key)`` for a ``cryptography`` key object, refusing types, sizes and curves we don't accept."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:  # RFC 7518 §3.3: 2048 bits or larger MUST be used
            raise InvalidKeyError(
                f"The RSA key is {key.key_size} bits long, which is below the minimum size of 2048 bits. "
                "See RFC 7518 Section 3.3."
            )
        return "RSA", key
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):  # RFC 7518 §3.4: ES256 is defined on P-256 only
            raise InvalidKeyError(f"ES256 needs a P-256 key, got curve {key.curve.name}.")
        return "EC", key
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "OKP", key
    raise InvalidKeyError(f"Unsupported key type {type(key).__name__}: use str/bytes, PEM, or an RSA/EC/Ed25519 key.")


def _is_der_key(data: bytes) -> bool:
    """True if ``data`` parses as a DER key, X.509 certificate or CSR (so it must not be an HMAC secret)."""
    for load in (serialization.load_der_public_key, x509.load_der_x509_certificate, x509.load_der_x509_csr):
        try:
            load(data)
            return True
        except (ValueError, TypeError, UnsupportedAlgorithm):
            pass
    try:
        serialization.load_der_private_key(data, password=None)
        return True
    except TypeError:  # encrypted: a private key all the same
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False


def _readings(data: bytes) -> list[str]:
    """Every way ``data`` decodes as Unicode text (UTF-8, -16 or -32, either byte order, with or without BOM)."""
    texts = []
    for encoding, bom in _ENCODINGS:
        try:
            text = data[len(bom) :] if data.startswith(bom) else data
            texts.append(text.decode(encoding).lstrip("\ufeff"))
        except UnicodeDecodeError:
            pass
    return texts


def _ssh2_public_key(block: str) -> PublicKeyTypes:
    """Read an RFC 4716 public key block (headers, then the base64 of the SSH wire-format key)."""
    body, continued = [], False
    for line in block.strip().splitlines():
        line = line.strip()
        if continued or ":" in line:  # a header line, or the continuation of one (RFC 4716 §3.3)
            continued = line.endswith("\\")
        elif line:
            body.append(line)
    blob = base64.b64decode("".join(body), validate=True)
    name = blob[4 : 4 + int.from_bytes(blob[:4], "big")]
    return serialization.load_ssh_public_key(name + b" " + base64.b64encode(blob))


def _parse_key_text(text: str) -> PrivateKeyTypes | PublicKeyTypes | None:
    """The key object in PEM, OpenSSH or RFC 4716 text; None if ``text`` has none of their markers."""
    try:
        if _PEM_BEGIN in text:
            data = text.encode("utf-8")
            if "PRIVATE KEY-----" in text:
                return serialization.load_pem_private_key(data, password=None)
            return serialization.load_pem_public_key(data)
        ssh2 = _SSH2_BLOCK.search(text)
        if ssh2 is not None:
            return _ssh2_public_key(ssh2.group(1))
        openssh = _OPENSSH_LINE.search(text)
        if openssh is not None:
            return serialization.load_ssh_public_key(openssh.group(1).encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as err:
        raise InvalidKeyError(f"Could not parse the PEM/SSH key: {err}") from None
    return None


def _refuse_json_key(value: Any) -> None:
    """Raise if a parsed JSON value holds a JWK anywhere (JWKS, arrays, objects) or key text in a string."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "kty" in item:  # the parser has already turned "\u006bty" into "kty"
                raise InvalidKeyError(_JWK_AS_HMAC)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and len(item) >= 40:
            # Key text in a JSON string. Each level of JSON string escaping at least doubles the backslashes,
            # so the recursion is only logarithmically deep.
            _refuse_key_material(item.encode("utf-8", "surrogatepass"))


def _refuse_key_material(data: bytes) -> None:
    """Raise ``InvalidKeyError`` if ``data`` holds key material in any form; attackers hold public keys too."""
    if _is_der_key(data):
        raise InvalidKeyError(_ASYMMETRIC_AS_HMAC)
    for text in _readings(data):
        if _KEY_TEXT_MARKERS.search(text):
            raise InvalidKeyError(_ASYMMETRIC_AS_HMAC)
        text = text.strip()
        if text[:1] in ("{", "[", '"'):
            try:
                parsed = json.loads(text)
            except RecursionError:  # too deep to look inside, and no plausible secret
                raise InvalidKeyError(_JWK_AS_HMAC) from None
            except ValueError:
                pass
            else:
                _refuse_json_key(parsed)
        compact = "".join(text.split())
        if _BASE64_TEXT.fullmatch(compact):  # a PEM body without its armour, or a JWK "x5c" certificate
            unpadded = compact.rstrip("=").encode("ascii").translate(_URL_TO_STD)
            try:
                der = binascii.a2b_base64(unpadded + _PADDING[len(unpadded) % 4])
            except binascii.Error:
                continue
            if _is_der_key(der):
                raise InvalidKeyError(_ASYMMETRIC_AS_HMAC)


@lru_cache(maxsize=32)
def _load_text_key(key: str | bytes) -> tuple[str, _Material]:
    """Parse a str/bytes key once: PEM or SSH text becomes a key object, anything else an HMAC secret."""
    try:
        data = key.encode("utf-8") if isinstance(key, str) else key
    except UnicodeEncodeError:
        raise InvalidKeyError("The key is not valid UTF-8 text.") from None
    for text in _readings(data):
        parsed = _parse_key_text(text)
        if parsed is not None:
            return _family_of(parsed)
    if not data:
        raise InvalidKeyError("HMAC key must not be empty.")
    # Algorithm confusion (RFC 8725 §2.1): key material, public or not, is never an HMAC secret, whatever
    # format, encoding or JSON wrapping it arrives in.
    _refuse_key_material(data)
    return "HMAC", data


def _prepare_key(key: object) -> tuple[str, _Material]:
    """Return ``(family, material)`` for any accepted key form; text keys are parsed once and cached."""
    if isinstance(key, (str, bytes)):
        return _load_text_key(key)
    if isinstance(key, (bytearray, memoryview)):
        return _load_text_key(bytes(key))
    if key is None:
        raise InvalidKeyError("A key is required to sign or verify a token.")
    return _family_of(key)


def _key_for(alg: str, key: object) -> tuple[str, _Material]:
    """Check that ``key`` belongs to ``alg``'s family (and is long enough); return ``(hash, material)``."""
    family, digest = _ALGS[alg]
    key_family, material = _prepare_key(key)
    if key_family != family:
        if family == "HMAC":
            raise InvalidKeyError(_ASYMMETRIC_AS_HMAC)
        raise InvalidKeyError(f"{alg} needs {_FAMILY_NAMES[family]}, but the key is {_FAMILY_NAMES[key_family]}.")
    if isinstance(material, bytes) and len(material) < _HMAC_MIN_BYTES[digest]:  # bytes: the HMAC family's material
        raise InvalidKeyError(
            f"The HMAC key is {len(material)} bytes long, which is below the minimum length of "
            f"{_HMAC_MIN_BYTES[digest]} bytes for {alg}. See RFC 7518 Section 3.2."
        )
    return digest, material


# Padding and hash objects are immutable settings: made once, not per token.
_SHA256 = hashes.SHA256()
_PKCS1V15 = padding.PKCS1v15()
# RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output (what PyJWT uses).
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def _sign(alg: str, digest: str, key: _Material, signing_input: bytes) -> bytes:
    """Compute the JWS signature bytes for ``signing_input``; ``key`` comes from ``_key_for(alg, ...)``."""
    # _key_for has matched the key's family to alg's, so the key's type alone says how to sign.
    if isinstance(key, bytes):
        return hmac.new(key, signing_input, digest).digest()  # not hmac.digest: see _verify_hmac
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, _PSS if alg == "PS256" else _PKCS1V15, _SHA256)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # cryptography returns DER; RFC 7518 §3.4 wants the fixed-size R || S, 32 bytes each.
        r, s = decode_dss_signature(key.sign(signing_input, _ECDSA_SHA256))
        s = min(s, _P256_ORDER - s)  # always the low-S twin, so verifiers with require_low_s accept our tokens
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)  # EdDSA (RFC 8037 §3.1)
    raise InvalidKeyError(f"Signing with {alg} needs a private key; a public key can only verify.")


def _der_integer(big_endian: bytes) -> bytes:
    """A DER INTEGER holding the unsigned number ``big_endian``: minimal length, a zero byte if the top bit is set."""
    value = big_endian.lstrip(b"\0") or b"\0"
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + len(value).to_bytes(1, "big") + value


def _ecdsa_der(signature: bytes) -> bytes:
    """JWS's 64-byte R || S as the DER SEQUENCE cryptography verifies (encode_dss_signature's output)."""
    body = _der_integer(signature[:32]) + _der_integer(signature[32:])
    return b"\x30" + len(body).to_bytes(1, "big") + body  # at most 70 bytes: DER's short length form


# The checks of one signature, one per key family. Each is bound to its key (and scheme) once, by _new_verifier.


def _verify_hmac(digest: str, secret: bytes, signing_input: bytes, signature: bytes) -> bool:
    """True if ``signature`` is the HMAC of ``signing_input`` under ``secret``."""
    # hmac.new, not the one-shot hmac.digest: that one lets go of the GIL on every call, and in a server
    # whose other threads are busy each verify then waits to get it back; hmac.new keeps it for inputs
    # under 2 KiB, and is no slower. Constant-time comparison, so the time taken leaks nothing about the MAC.
    return hmac.compare_digest(hmac.new(secret, signing_input, digest).digest(), signature)


def _verify_rsa(
    scheme: padding.AsymmetricPadding, key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes
) -> bool:
    """True if ``signature`` is valid for ``signing_input`` under ``key`` with ``scheme`` (RS256 or PS256)."""
    try:
        key.verify(signature, signing_input, scheme, _SHA256)
    except InvalidSignature:
        return False
    return True


def _verify_es256(key: ec.EllipticCurvePublicKey, signing_input: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid ES256 R || S for ``signing_input`` under ``key``."""
    if len(signature) != 64:  # RFC 7518 §3.4: exactly R || S; a DER signature is not valid JWS
        return False
    try:
        key.verify(_ecdsa_der(signature), signing_input, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def _verify_eddsa(key: ed25519.Ed25519PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid EdDSA signature of ``signing_input`` under ``key`` (RFC 8037 §3.1)."""
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


# What verifying needs from a key (parsing key text, the family and length checks, the public half of a private
# key) depends on the algorithm and the key alone, and a service checks every token with the same few keys: so
# it is worked out once per (algorithm, key) and kept as a ready check. Text keys are remembered by value; key
# objects by identity (they are unhashable), the entry holding the key so its id() cannot be reused while it
# lives. An unusable key raises before anything is stored, so a refusal is never remembered. When full, the
# table starts over; plain dict operations, safe between threads. Keys used once (each DPoP proof brings its
# own) can make it start over often: the cost is preparing the service's keys again, never a wrong answer.
_VERIFIER_ENTRIES = 64
_verifiers: dict[tuple[str, object], tuple[object, Callable[[bytes, bytes], bool]]] = {}


def _new_verifier(alg: str, key: object) -> Callable[[bytes, bytes], bool]:
    """``check(signing_input, signature) -> bool`` for ``alg`` with ``key``, the key checked and prepared now."""
    digest, material = _key_for(alg, key)
    if isinstance(material, _PRIVATE_TYPES):  # a private key may verify too, through its public half
        material = material.public_key()
    # _key_for has matched the key's family to alg's, so the key's type alone picks the check.
    if isinstance(material, bytes):
        return partial(_verify_hmac, digest, material)
    if isinstance(material, rsa.RSAPublicKey):
        return partial(_verify_rsa, _PSS if alg == "PS256" else _PKCS1V15, material)
    if isinstance(material, ec.EllipticCurvePublicKey):
        return partial(_verify_es256, material)
    return partial(_verify_eddsa, material)


def _verifier(alg: str, key: object) -> Callable[[bytes, bytes], bool]:
    """The ready check for ``alg`` with ``key``: made at its first use, then remembered."""
    if isinstance(key, (bytearray, memoryview)):  # mutable: read afresh every time
        return _new_verifier(alg, key)
    by_value = type(key) is str or type(key) is bytes
    slot = (alg, key if by_value else id(key))
    entry = _verifiers.get(slot)
    if entry is None or not (by_value or entry[0] is key):
        if len(_verifiers) >= _VERIFIER_ENTRIES:
            _verifiers.clear()
        entry = _verifiers[slot] = (key, _new_verifier(alg, key))
    return entry[1]


# --- base64url and JSON, strictly ---------------------------------------------------------------

_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
# A final group of 2 (3) characters carries 4 (2) unused low bits. Canonical encoders set them to
# zero (RFC 4648 §3.5); accepting others would give one signature many spellings.
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(_B64URL_ALPHABET[::16]),
    frozenset(_B64URL_ALPHABET[::4]),
)


def _b64decode(segment: bytes) -> bytes | None:
    """Decode canonical unpadded base64url, or return None if ``segment`` is anything else."""
    if segment.translate(None, _B64URL_ALPHABET):  # leftover bytes = characters outside the alphabet
        return None
    return _b64decode_standard(segment.translate(_URL_TO_STD))


def _b64decode_standard(segment: bytes) -> bytes | None:
    """``_b64decode`` for a segment already checked and turned into the standard alphabet (``+/`` for ``-_``)."""
    rem = len(segment) % 4
    # The canonical last characters are letters and digits only, the same in both alphabets.
    if rem == 1 or (rem and segment[-1] not in _CANONICAL_LAST[rem]):
        return None
    return binascii.a2b_base64(segment + _PADDING[rem])


def _token_table() -> bytes:
    """A ``bytes.translate`` table: base64url to the standard alphabet, dots kept, every other byte to ``!``."""
    table = bytearray(b"!" * 256)
    for char in _B64URL_ALPHABET + b".":
        table[char] = char
    table[ord("-")], table[ord("_")] = ord("+"), ord("/")
    return bytes(table)


_TOKEN_TO_STANDARD = _token_table()


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text (RFC 7515 §2)."""
    return _b64encode(bytes(data)).decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    """Decode unpadded base64url strictly: no ``=``, no characters outside ``A-Za-z0-9-_``, canonical tail."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise DecodeError("Invalid base64url: non-ASCII character") from None
    elif not isinstance(data, bytes):
        raise DecodeError(f"Invalid base64url: expected str or bytes, got {type(data).__name__}")
    decoded = _b64decode(data)
    if decoded is None:
        raise DecodeError("Invalid base64url: only A-Z a-z 0-9 - _, no '=' padding, canonical last char (RFC 7515 §2)")
    return decoded


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259 §6)")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §4 / RFC 7519 §4: names must be unique; rejecting duplicates avoids two parsers
    # reading one token two ways (e.g. {"alg":"HS256","alg":"none"}).
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_JSON = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_reject_constant)


# raw_decode parses without decode's whitespace handling, the larger part of its cost on a small payload.
# Its answer is used only when it reads the whole text (tokens carry compact JSON); text with surrounding
# whitespace, and every error, goes through decode, so what is accepted and every message stay the json module's.


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object (RFC 7515 §5.2 steps 3-4, RFC 7519 §7.2 step 10)."""
    try:
        text = data.decode("utf-8")
        try:
            obj, end = _JSON.raw_decode(text)
        except ValueError:  # not a value at offset 0, or malformed: decode() says which
            end = -1
        if end != len(text):
            obj = _JSON.decode(text)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DecodeError(f"Invalid {name} string: {err}") from None
    if not isinstance(obj, dict):
        raise DecodeError(f"Invalid {name} string: must be a json object")
    return obj


# --- Parsing a token ----------------------------------------------------------------------------


def _segment(segment: bytes, name: str) -> bytes:
    decoded = _b64decode(segment)
    if decoded is None:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


def _token_bytes(token: object) -> bytes:
    """The token as ASCII bytes, refusing other types and over-long tokens before any other work."""
    if isinstance(token, str):
        if len(token) > MAX_TOKEN_LENGTH:  # before any work, so a huge token costs nothing
            raise DecodeError(f"Token is longer than {MAX_TOKEN_LENGTH} characters")
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise DecodeError("Invalid token: it must contain only base64url characters and dots") from None
    if isinstance(token, bytes):
        if len(token) > MAX_TOKEN_LENGTH:
            raise DecodeError(f"Token is longer than {MAX_TOKEN_LENGTH} bytes")
        return token
    raise DecodeError(f"Invalid token type. Token must be a {bytes}")


def _parse_header(segment: bytes) -> tuple[dict[str, Any], bytes]:
    """Decode and check a header segment (standard alphabet); return the header and its JSON (to copy from)."""
    data = _b64decode_standard(segment)
    if data is None:
        raise DecodeError("Invalid header padding")
    header = _json_object(data, "header")
    _check_header(header)
    return header, data


# Every token one issuer signs with one key carries the same header segment, byte for byte, and what parsing
# and checking it gives depends on those bytes alone: so it is done once per segment. A header that fails raises,
# and lru_cache remembers only returns, never a failure. Bounded: 256 entries of segments up to 512 bytes (a
# DPoP header with its embedded JWK is about 250); longer ones are parsed every time. The cached header dict is
# shared, so this module only reads it; get_unverified_header and decode_complete hand out fresh copies.
_CACHED_HEADER_MAX_LENGTH = 512
_cached_header = lru_cache(maxsize=256)(_parse_header)


def _load(token: object) -> tuple[tuple[dict[str, Any], bytes], bytes, bytes, bytes]:
    """Split and decode ``token`` into ``((header, header JSON), signing_input, payload_bytes, signature)``."""
    raw = _token_bytes(token)
    # One pass over the token turns base64url into the alphabet binascii reads and marks any other byte "!".
    standard = raw.translate(_TOKEN_TO_STANDARD)
    signed, dot, signature_seg = standard.rpartition(b".")
    header_seg, first_dot, payload_seg = signed.partition(b".")
    if b"!" in standard or not dot or not first_dot or b"." in payload_seg:
        _refuse_malformed(raw)  # not three base64url segments: say what is wrong first, segment by segment
    if len(header_seg) <= _CACHED_HEADER_MAX_LENGTH:
        header = _cached_header(header_seg)
    else:
        header = _parse_header(header_seg)
    payload = _b64decode_standard(payload_seg)
    if payload is None:
        raise DecodeError("Invalid payload padding")
    signature = _b64decode_standard(signature_seg)
    if signature is None:
        raise DecodeError("Invalid crypto padding")
    return header, raw[: len(signed)], payload, signature  # the signature covers the bytes as sent


def _refuse_malformed(raw: bytes) -> NoReturn:
    """Raise the DecodeError for a token that is not three base64url segments, naming the first thing wrong."""
    dots = raw.count(b".")
    if dots != 2:  # RFC 7515 §7.1; five segments would be JWE, which this module does not do
        raise DecodeError("Not enough segments" if dots < 2 else "Too many segments")
    header_seg, payload_seg, signature_seg = raw.split(b".")
    _check_header(_json_object(_segment(header_seg, "header"), "header"))
    _segment(payload_seg, "payload")
    _segment(signature_seg, "crypto")
    raise DecodeError("Invalid token: it must contain only base64url characters and dots")  # not reached


def _check_header(header: dict[str, Any]) -> None:
    """Refuse header fields we cannot honour."""
    if "kid" in header and not isinstance(header["kid"], str):
        raise DecodeError("Key ID header parameter must be a string")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient MUST reject a token whose "crit" lists an extension it
        # does not understand. This module understands none.
        crit = header["crit"]
        if not isinstance(crit, list) or not crit:
            raise DecodeError("Invalid 'crit' header: must be a non-empty list")
        if not all(isinstance(ext, str) for ext in crit):
            raise DecodeError("Invalid 'crit' header: values must be strings")
        raise DecodeError(f"Unsupported critical extension: {crit[0]}")
    if "b64" in header and header["b64"] is not True:
        raise DecodeError("Unsupported header: 'b64' (RFC 7797 unencoded payload) is not supported")


def get_unverified_header(token: str | bytes) -> dict[str, Any]:
    """Return the token's header WITHOUT verifying anything; never trust it for security decisions."""
    return _json_object(_load(token)[0][1], "header")  # the caller's own copy: the parsed one is shared


# --- Arguments, options and claims --------------------------------------------------------------


@dataclass(frozen=True)
class DecodeOptions:
    """``decode``'s options, checked when made (usually by ``decode_options``), then passed to every decode.

    ``decode`` trusts an instance without looking again, so every field is checked here: a flag that
    is not True or False, or a ``require`` that is not claim names, is refused, and ``require`` is
    kept as a tuple of its own. Made directly, every check defaults to on; ``decode_options`` follows
    PyJWT, where turning ``verify_signature`` off turns the claim checks off too.
    """

    verify_signature: bool = True
    verify_exp: bool = True
    verify_nbf: bool = True
    verify_iat: bool = True
    verify_aud: bool = True
    verify_iss: bool = True
    verify_sub: bool = True
    verify_jti: bool = True
    require: tuple[str, ...] = ()
    strict_aud: bool = False
    require_low_s: bool = False  # ES256: refuse s > n/2, the malleable twin of a valid signature

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            # type() is bool: the string "false" (or 0, or None) would otherwise switch a check on or off silently.
            if name != "require" and type(value) is not bool:
                raise TypeError(f'options["{name}"] must be True or False, not {type(value).__name__}')
        require = self.require
        if isinstance(require, (str, bytes)) or not isinstance(require, Iterable):
            raise TypeError('options["require"] must be a list of claim names, e.g. ["exp", "sub"]')
        require = tuple(require)  # a copy: the caller's list may change later, these checks may not
        if not all(isinstance(claim, str) for claim in require):
            raise TypeError('options["require"] must contain only claim names (strings)')
        object.__setattr__(self, "require", require)  # frozen: this is how a dataclass sets its own field


_DEFAULT_OPTIONS = DecodeOptions()
_CHECKS = ("verify_exp", "verify_nbf", "verify_iat", "verify_aud", "verify_iss", "verify_sub", "verify_jti")
# PyJWT also has enforce_minimum_key_length; it is accepted and ignored because minimums are always enforced.
_FLAGS = frozenset(_CHECKS) | {"verify_signature", "strict_aud", "enforce_minimum_key_length", "require_low_s"}
_OPTION_NAMES = _FLAGS | {"require"}
_SYSTEM_CLOCK = SystemClock()  # stateless: reads time.time() on each call


def decode_options(options: Mapping[str, Any]) -> DecodeOptions:
    """PyJWT's ``options`` mapping, checked once (without signature checking, claim checks default to off too)."""
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping of option names to values, not {type(options).__name__}")
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise TypeError(f"Unknown decode option(s): {sorted(unknown)}; known: {sorted(_OPTION_NAMES)}")
    ignored = options.get("enforce_minimum_key_length", True)
    if type(ignored) is not bool:  # the other flags are checked by DecodeOptions itself
        raise TypeError(f'options["enforce_minimum_key_length"] must be True or False, not {type(ignored).__name__}')
    verify = options.get("verify_signature", True)
    checks = {name: options.get(name, verify) for name in _CHECKS}
    return DecodeOptions(
        verify,
        require=options.get("require", ()),
        strict_aud=options.get("strict_aud", False),
        require_low_s=options.get("require_low_s", False),
        **checks,
    )


def _leeway_seconds(leeway: object) -> float:
    """Leeway as seconds: a finite number or a timedelta (NaN or infinity would switch every time check off)."""
    if isinstance(leeway, timedelta):
        seconds = leeway.total_seconds()
    elif type(leeway) is int or type(leeway) is float:  # not bool, not str: PyJWT would fail later, or never
        seconds = leeway
    else:
        raise TypeError(f"leeway must be a number of seconds or a timedelta, not {type(leeway).__name__}")
    if not math.isfinite(seconds):
        raise ValueError("leeway must be finite")
    return seconds


def _accepted_audience(audience: object) -> str | tuple[str, ...] | None:
    """The audience argument as None, one string, or a tuple of strings."""
    if audience is None or isinstance(audience, str):
        return audience
    if isinstance(audience, (bytes, bytearray)) or not isinstance(audience, Iterable):
        raise TypeError("audience must be a string, iterable or None")
    accepted = tuple(audience)  # once, so a generator is not used up by the first comparison
    if not all(isinstance(aud, str) for aud in accepted):
        raise TypeError("audience must contain only strings")
    return accepted


def _accepted_issuer(issuer: object) -> str | Container[str] | None:
    """The issuer argument, checked: None, one string, or a container of strings."""
    if issuer is None or isinstance(issuer, str):
        return issuer
    if (
        isinstance(issuer, (bytes, bytearray))
        or not isinstance(issuer, Container)
        or (isinstance(issuer, Iterable) and not all(isinstance(iss, str) for iss in issuer))
    ):
        raise TypeError('Issuer param must be "str" or "Container[str]"')
    return issuer


def _media_type(value: str) -> str:
    """RFC 7515 §4.1.9: compared case-insensitively, and "application/" may be left out."""
    value = value.lower()
    return value[12:] if value.startswith("application/") else value


def _check_typ(header: dict[str, Any], expected: str) -> None:
    """RFC 8725 §3.11, RFC 9068 §4: a token of one kind must not pass for another."""
    found = header.get("typ")
    if found is None:
        raise InvalidTypeError('Token is missing the "typ" header')
    if not isinstance(found, str) or _media_type(found) != expected:
        raise InvalidTypeError(f'Invalid token type: expected "{expected}"')  # never echo the token's value


def _numeric_date(value: Any, error: type[InvalidTokenError], message: str) -> int | float:
    """A NumericDate is a JSON number (RFC 7519 §2), compared as it is, fraction included. No bools, strings, inf."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    raise error(message)


def _validate_aud(payload: dict[str, Any], audience: str | tuple[str, ...] | None, strict: bool) -> None:
    # RFC 7519 §4.1.3: a recipient that does not identify itself with a value in "aud" MUST reject.
    claim = payload.get("aud")
    if type(claim) is str and claim and type(audience) is str and not strict:  # the usual case: one name each side
        if claim != audience:
            raise InvalidAudienceError("Audience doesn't match")
        return
    if audience is None:
        if claim:
            raise InvalidAudienceError("Invalid audience")
        return
    if not claim:
        raise MissingRequiredClaimError("aud")
    if strict:
        if not isinstance(audience, str):
            raise InvalidAudienceError("Invalid audience (strict)")
        if not isinstance(claim, str):
            raise InvalidAudienceError("Invalid claim format in token (strict)")
        if audience != claim:
            raise InvalidAudienceError("Audience doesn't match (strict)")
        return
    claims = [claim] if isinstance(claim, str) else claim
    if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
        raise InvalidAudienceError("Invalid claim format in token")
    accepted = (audience,) if isinstance(audience, str) else audience
    if all(aud not in claims for aud in accepted):
        raise InvalidAudienceError("Audience doesn't match")


def _validate_iss(payload: dict[str, Any], issuer: str | Container[str]) -> None:
    if "iss" not in payload:
        raise MissingRequiredClaimError("iss")
    iss = payload["iss"]
    if not isinstance(iss, str):
        raise InvalidIssuerError("Payload Issuer (iss) must be a string")
    if not (iss == issuer if isinstance(issuer, str) else iss in issuer):
        raise InvalidIssuerError("Invalid issuer")


def _validate_sub(payload: dict[str, Any], subject: str | None) -> None:
    if "sub" not in payload:
        if subject is not None:  # PyJWT lets a token without "sub" through; asking for one means requiring it
            raise MissingRequiredClaimError("sub")
        return
    if not isinstance(payload["sub"], str):
        raise InvalidSubjectError("Subject must be a string")
    if subject is not None and payload["sub"] != subject:
        raise InvalidSubjectError("Invalid subject")


def _validate_claims(
    payload: dict[str, Any],
    opts: DecodeOptions,
    now: float,
    leeway: float,
    audience: str | tuple[str, ...] | None,
    issuer: str | Container[str] | None,
    subject: str | None,
) -> None:
    """Check registered claims (RFC 7519 §4.1) in PyJWT's order and with PyJWT's messages."""
    for claim in opts.require:
        if payload.get(claim) is None:
            raise MissingRequiredClaimError(claim)
    # An int NumericDate is final (the usual case, no call); anything else gets _numeric_date's full check.
    if opts.verify_iat and "iat" in payload:
        iat = payload["iat"]
        if type(iat) is not int:
            iat = _numeric_date(iat, InvalidIssuedAtError, "Issued At claim (iat) must be an integer.")
        if iat > now + leeway:  # the same leeway as nbf: a verifier whose clock lags still accepts fresh tokens
            raise ImmatureSignatureError("The token is not yet valid (iat)")
    if opts.verify_nbf and "nbf" in payload:
        nbf = payload["nbf"]
        if type(nbf) is not int:
            nbf = _numeric_date(nbf, DecodeError, "Not Before claim (nbf) must be an integer.")
        if nbf > now + leeway:
            raise ImmatureSignatureError("The token is not yet valid (nbf)")
    if opts.verify_exp and "exp" in payload:
        exp = payload["exp"]
        if type(exp) is not int:
            exp = _numeric_date(exp, DecodeError, "Expiration Time claim (exp) must be an integer.")
        if exp <= now - leeway:  # RFC 7519 §4.1.4: "on or after" exp the token MUST NOT be accepted
            raise ExpiredSignatureError("Signature has expired")
    # iss and sub: the usual case (an exact issuer match; a string sub, or none, when none is asked for) is accepted
    # here; anything else gets the full check, which raises with its message.
    if opts.verify_iss and issuer is not None and not (type(issuer) is str and payload.get("iss") == issuer):
        _validate_iss(payload, issuer)
    if opts.verify_aud:
        _validate_aud(payload, audience, opts.strict_aud)
    if opts.verify_sub and not (subject is None and type(payload.get("sub", "")) is str):
        _validate_sub(payload, subject)
    if opts.verify_jti and "jti" in payload and not isinstance(payload["jti"], str):
        raise InvalidJTIError("JWT ID must be a string")


# --- The public API -----------------------------------------------------------------------------


def encode(
    payload: dict[str, Any],
    key: str | bytes | PrivateKey,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    """Sign ``payload`` and return a compact JWS; for HS* byte-identical to ``jwt.encode``."""
    if not isinstance(payload, dict):
        raise TypeError("Expecting a dict object, as JWT only supports JSON objects as payloads.")
    payload = payload.copy()
    for claim in ("exp", "iat", "nbf"):
        if isinstance(payload.get(claim), datetime):
            payload[claim] = timegm(payload[claim].utctimetuple())
    if "iss" in payload and not isinstance(payload["iss"], str):
        raise TypeError("Issuer (iss) must be a string.")
    alg = headers["alg"] if headers and headers.get("alg") else algorithm  # PyJWT: headers win
    header: dict[str, Any] = {"typ": "JWT", "alg": alg}
    if headers:
        if "kid" in headers and not isinstance(headers["kid"], str):
            raise InvalidTokenError("Key ID header parameter must be a string")
        if headers.get("b64") is False:
            raise InvalidTokenError("Unsupported header: 'b64' false (RFC 7797 unencoded payload) is not supported")
        header.update(headers)
        header["alg"] = alg  # the header must name the algorithm that actually signs
        header.pop("b64", None)  # b64 true is the default, so PyJWT drops it
    if not header["typ"]:
        del header["typ"]
    if not isinstance(alg, str) or alg.lower() == "none":
        # RFC 7518 §3.6, RFC 8725 §3.2: an unsigned token is a forgery anyone can make.
        raise InvalidAlgorithmError('Refusing to create an unsigned token: alg "none" is not supported')
    if alg not in _ALGS:
        raise InvalidAlgorithmError("Algorithm not supported")
    digest, material = _key_for(alg, key)
    # Same bytes as PyJWT: sorted header keys, compact separators, ASCII-escaped payload.
    segments = (
        _b64encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
        + b"."
        + _b64encode(json.dumps(payload, separators=(",", ":"), allow_nan=False).encode())
    )
    return (segments + b"." + _b64encode(_sign(alg, digest, material, segments))).decode("ascii")


def _decode(
    token: object,
    key: object,
    algorithms: Collection[str] | None,
    options: Mapping[str, Any] | DecodeOptions | None,
    audience: object,
    issuer: object,
    subject: object,
    leeway: object,
    typ: object,
    clock: Clock | None,
) -> tuple[bytes, dict[str, Any], bytes]:
    """Check the arguments, then the token; return ``(header JSON, payload, signature)``."""
    # Argument errors are programming errors: raised first and always, whatever the token holds.
    # A service passes the same options to every decode: made once by decode_options, they are not re-checked.
    if options is None:
        opts = _DEFAULT_OPTIONS
    elif isinstance(options, DecodeOptions):
        opts = options
    else:
        opts = decode_options(options)
    if opts.verify_signature and (not algorithms or isinstance(algorithms, (str, bytes))):
        # RFC 8725 §3.1: the verifier, not the token, decides which algorithms are acceptable.
        raise InvalidAlgorithmError(
            'It is required that you pass in a value for the "algorithms" argument when calling decode(), '
            'as a list such as ["HS256"].'
        )
    allowed = algorithms or ()  # when signatures are checked, algorithms itself (non-empty, as checked above)
    for name in allowed:
        if not isinstance(name, str):
            raise TypeError("algorithms must contain only algorithm names (strings)")
    if audience is not None and not isinstance(audience, str):  # None and one string, the usual cases, are final
        audience = _accepted_audience(audience)
    if issuer is not None and not isinstance(issuer, str):
        issuer = _accepted_issuer(issuer)
    if subject is not None and not isinstance(subject, str):
        raise TypeError("subject must be a string or None")
    if typ is not None:
        if not isinstance(typ, str) or not typ:
            raise TypeError('typ must be a media type such as "at+jwt", or None')
        typ = _media_type(typ)
    if type(leeway) is not int:  # an int (not a bool), like the default 0, needs no further check
        leeway = _leeway_seconds(leeway)

    (header, header_json), signing_input, payload_bytes, signature = _load(token)
    if opts.verify_signature:
        # The caller's key alone is used: header fields (jwk, jku, x5u, kid) never pick one (RFC 8725 §3.10).
        alg = header.get("alg")
        if alg is None:
            raise InvalidAlgorithmError("Algorithm not specified")
        if not isinstance(alg, str) or alg.lower() == "none":  # never, even if allow-listed (RFC 8725 §3.2)
            raise InvalidAlgorithmError("The specified alg value is not allowed")
        if alg not in allowed:
            raise InvalidAlgorithmError("The specified alg value is not allowed")
        if alg not in _ALGS:
            raise InvalidAlgorithmError("Algorithm not supported")
        if not _verifier(alg, key)(signing_input, signature):
            raise InvalidSignatureError("Signature verification failed")
        if opts.require_low_s and alg == "ES256" and int.from_bytes(signature[32:], "big") > _P256_ORDER // 2:
            # (r, n - s) verifies whenever (r, s) does; low-S gives each signature one spelling only.
            raise InvalidSignatureError("High-S ECDSA signature refused (require_low_s)")
    if typ is not None:
        _check_typ(header, typ)
    # Only now, with the signature checked, is the payload parsed (RFC 7519 §7.2).
    payload = _json_object(payload_bytes, "payload")
    now = (clock if clock is not None else _SYSTEM_CLOCK).now()
    _validate_claims(payload, opts, now, leeway, audience, issuer, subject)
    return header_json, payload, signature


def decode_complete(
    token: str | bytes,
    key: str | bytes | PrivateKey | PublicKey | None = None,
    algorithms: Collection[str] | None = None,
    options: Mapping[str, Any] | DecodeOptions | None = None,
    *,
    audience: str | Iterable[str] | None = None,
    issuer: str | Container[str] | None = None,
    subject: str | None = None,
    leeway: float | timedelta = 0,
    typ: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Like ``decode``, but return ``{"header", "payload", "signature"}`` (the signature as bytes)."""
    header_json, payload, signature = _decode(
        token, key, algorithms, options, audience, issuer, subject, leeway, typ, clock
    )
    # The header parsed during the checks is shared with later tokens that carry it; the caller gets its own.
    return {"header": _json_object(header_json, "header"), "payload": payload, "signature": signature}


def decode(
    token: str | bytes,
    key: str | bytes | PrivateKey | PublicKey | None = None,
    algorithms: Collection[str] | None = None,
    options: Mapping[str, Any] | DecodeOptions | None = None,
    *,
    audience: str | Iterable[str] | None = None,
    issuer: str | Container[str] | None = None,
    subject: str | None = None,
    leeway: float | timedelta = 0,
    typ: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Verify ``token`` with ``key`` under an explicit ``algorithms`` allow-list, check claims, return them.

    ``typ="at+jwt"`` also requires that header type (RFC 9068), so no other kind of token passes for it.
    ``options`` is PyJWT's mapping, or what ``decode_options`` made of one, for a caller that decodes on
    every request with the same options.
    """
    return _decode(token, key, algorithms, options, audience, issuer, subject, leeway, typ, clock)[1]
