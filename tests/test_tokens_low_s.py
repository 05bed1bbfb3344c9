"""helpers.tokens and ECDSA malleability: (r, n - s) verifies whenever (r, s) does; require_low_s refuses the
high-S twin, and our own ES256 signatures are always low-S so strict verifiers accept them."""

from __future__ import annotations

import jwt
import pytest

from helpers import keys, tokens

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
KEY = keys.demo_private_key("ES256")


def _twin(token: str) -> str:
    head, body, signature = token.split(".")
    raw = tokens.b64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    return f"{head}.{body}." + tokens.b64url_encode(raw[:32] + (N - s).to_bytes(32, "big"))


def _s(token: str) -> int:
    return int.from_bytes(tokens.b64url_decode(token.rsplit(".", 1)[1])[32:], "big")


def test_our_signatures_are_low_s_and_their_high_s_twin_still_verifies_by_default():
    for index in range(20):
        token = tokens.encode({"n": index}, KEY, "ES256")
        assert _s(token) <= N // 2
        twin = _twin(token)
        assert twin != token
        assert tokens.decode(twin, KEY.public_key(), algorithms=["ES256"]) == {"n": index}
        assert jwt.decode(twin, KEY.public_key(), algorithms=["ES256"]) == {"n": index}


def test_require_low_s_refuses_the_twin_and_accepts_the_original():
    token = tokens.encode({"sub": "a"}, KEY, "ES256")
    strict = {"require_low_s": True}
    assert tokens.decode(token, KEY.public_key(), algorithms=["ES256"], options=strict) == {"sub": "a"}
    with pytest.raises(tokens.InvalidSignatureError, match="High-S"):
        tokens.decode(_twin(token), KEY.public_key(), algorithms=["ES256"], options=strict)


def test_require_low_s_refuses_about_half_of_pyjwt_signatures():
    refused = 0
    for index in range(200):
        token = jwt.encode({"n": index}, KEY, algorithm="ES256")
        try:
            tokens.decode(token, KEY.public_key(), algorithms=["ES256"], options={"require_low_s": True})
        except tokens.InvalidSignatureError:
            refused += 1
            assert _s(token) > N // 2
    assert 50 <= refused <= 150  # binomial(200, 1/2): outside this band with probability < 1e-12


def test_require_low_s_must_be_a_bool_and_leaves_other_algorithms_alone():
    with pytest.raises(TypeError):
        tokens.decode("a.b.c", KEY.public_key(), algorithms=["ES256"], options={"require_low_s": "yes"})
    rsa_key = keys.demo_private_key("RS256")
    token = tokens.encode({"sub": "a"}, rsa_key, "RS256")
    assert tokens.decode(token, rsa_key.public_key(), algorithms=["RS256"], options={"require_low_s": True})
