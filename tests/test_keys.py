import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from helpers import tokens
from helpers.keys import demo_private_key, demo_public_key, generate_private_key, public_pem


@pytest.mark.parametrize(
    "algorithm, kind",
    [
        ("RS256", rsa.RSAPrivateKey),
        ("PS256", rsa.RSAPrivateKey),
        ("ES256", ec.EllipticCurvePrivateKey),
        ("EdDSA", ed25519.Ed25519PrivateKey),
    ],
)
def test_demo_keys_load_and_sign(algorithm, kind):
    key = demo_private_key(algorithm)
    assert isinstance(key, kind)
    token = tokens.encode({"sub": "alice"}, key, algorithm=algorithm)
    assert tokens.decode(token, demo_public_key(algorithm), algorithms=[algorithm]) == {"sub": "alice"}
    assert tokens.decode(token, public_pem(key), algorithms=[algorithm]) == {"sub": "alice"}


def test_demo_rsa_key_is_at_least_2048_bits():
    assert demo_private_key("RS256").key_size >= 2048


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_fresh_keys_differ_from_the_demo_keys(algorithm):
    assert public_pem(generate_private_key(algorithm)) != public_pem(demo_private_key(algorithm))


def test_unknown_algorithm_is_a_clear_error():
    with pytest.raises(ValueError, match="no demo key for 'HS256'"):
        demo_private_key("HS256")
