"""The hardened app with a private key: it signs with the key, verifies with the public half only,
under one algorithm, for one audience; each forgery is sent from outside over HTTPS."""

from __future__ import annotations

import pytest

from helpers import attacks, tokens
from helpers.keys import demo_private_key, generate_private_key, public_pem
from helpers.web import auth_config, bearer, create_app, issue_access_token, verifying_key

ALICE = {"username": "alice", "password": "wonderland"}


@pytest.fixture(params=["RS256", "ES256"])
def signed(request, served):
    """A hardened JWT app signing with the demo key of one asymmetric algorithm, and alice's login there."""
    algorithm = request.param
    srv = served("jwt", signing_key=demo_private_key(algorithm), algorithm=algorithm, explain_errors=True)
    answer = srv.client().post(srv.url + "/login", json=ALICE)
    assert answer.status_code == 200
    return srv, algorithm, answer.json()["access_token"]


def _data(srv, token):
    answer = srv.client().get(srv.url + "/api/data", headers=bearer(token))
    return answer.status_code, answer.json().get("reason")


def test_tokens_are_signed_with_the_private_key_and_verify_with_the_public_half_only(signed, clock):
    srv, algorithm, token = signed
    assert attacks.segments(token)[0] == {"alg": algorithm, "typ": "at+jwt"}
    assert _data(srv, token) == (200, None)
    public = demo_private_key(algorithm).public_key()
    claims = tokens.decode(token, public, algorithms=[algorithm], audience="auth-course-api", clock=clock)
    assert claims["sub"] == "alice"
    assert not hasattr(verifying_key(auth_config(srv.app)), "private_bytes"), "the verifier holds no private key"


def test_hs256_keyed_with_the_published_public_key_is_refused(signed):
    srv, algorithm, token = signed
    pem = public_pem(demo_private_key(algorithm)).encode()
    forged = attacks.confusion_token({**attacks.unverified_claims(token), "role": "admin"}, pem)
    assert _data(srv, forged) == (401, "The specified alg value is not allowed")


def test_a_key_carried_or_pointed_at_by_the_token_is_never_used(served):
    srv = served("jwt", signing_key=demo_private_key("RS256"), algorithm="RS256", explain_errors=True)
    claims = attacks.unverified_claims(srv.client().post(srv.url + "/login", json=ALICE).json()["access_token"])
    attacker = generate_private_key("RS256")
    for forged in (
        attacks.jwk_injection_token({**claims, "role": "admin"}, attacker),
        attacks.jku_injection_token({**claims, "role": "admin"}, attacker, "https://evil.example/jwks"),
    ):
        assert _data(srv, forged) == (401, "Signature verification failed")


def test_a_token_for_another_audience_is_refused_both_ways(served):
    key = demo_private_key("ES256")
    first = served("jwt", signing_key=key, algorithm="ES256", explain_errors=True)
    partner = served("jwt", signing_key=key, algorithm="ES256", audience="partner-api", explain_errors=True)
    mine = first.client().post(first.url + "/login", json=ALICE).json()["access_token"]
    theirs = issue_access_token(auth_config(partner.app), "alice", "user")
    assert attacks.unverified_claims(theirs)["aud"] == "partner-api"
    assert _data(first, mine)[0] == _data(partner, theirs)[0] == 200
    assert _data(partner, mine) == _data(first, theirs) == (401, "Invalid audience")


def test_a_key_of_the_wrong_kind_is_refused_when_the_app_is_built():
    key = demo_private_key("RS256")
    with pytest.raises(tokens.InvalidKeyError):
        create_app("jwt", signing_key=key, algorithm="HS256")  # an RSA key is never an HMAC secret
    with pytest.raises(tokens.InvalidKeyError):
        create_app("jwt", signing_key=key, algorithm="ES256")  # one algorithm per key, and it must fit the key
    with pytest.raises(tokens.InvalidKeyError):
        create_app("jwt", signing_key=key.public_key(), algorithm="RS256")  # a public key cannot sign
    with pytest.raises(ValueError, match="not both"):
        create_app("jwt", secret=b"x" * 32, signing_key=key, algorithm="RS256")
