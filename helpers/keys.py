"""Signing keys for the asymmetric JWT algorithms: the published demo keys, or fresh ones.

The demo keys in ``data/demo_keys/`` are public on purpose (DEMO ONLY) so that notebook outputs are
reproducible; ``generate_private_key`` makes a fresh key for anything that should be private.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from . import DATA_DIR

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
DEMO_KEYS_DIR = DATA_DIR / "demo_keys"
_DEMO_KEY_FILES = {
    "RS256": "rsa_private.pem",
    "PS256": "rsa_private.pem",
    "ES256": "ec_p256_private.pem",
    "EdDSA": "ed25519_private.pem",
}


def _key_file(algorithm: str) -> Path:
    try:
        return DEMO_KEYS_DIR / _DEMO_KEY_FILES[algorithm]
    except KeyError:
        raise ValueError(
            f"no demo key for {algorithm!r}; asymmetric algorithms are {sorted(_DEMO_KEY_FILES)}"
        ) from None


def demo_private_key(algorithm: str) -> PrivateKey:
    """The published DEMO ONLY private key for ``algorithm`` (RS256/PS256 share the RSA key)."""
    key = serialization.load_pem_private_key(_key_file(algorithm).read_bytes(), password=None)
    return key  # type: ignore[return-value]


def demo_public_key(algorithm: str) -> Any:
    """The public half of the demo key: all a verifier needs."""
    return demo_private_key(algorithm).public_key()


def generate_private_key(algorithm: str) -> PrivateKey:
    """A fresh private key for ``algorithm``: RSA 2048 (RS256/PS256), P-256 (ES256) or Ed25519 (EdDSA)."""
    _key_file(algorithm)  # same validation and message as for the demo keys
    if algorithm in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: Any) -> str:
    """The PEM text of a key's public half (what a server may publish for verifiers)."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
