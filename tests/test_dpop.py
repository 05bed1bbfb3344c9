"""helpers.dpop: proofs verified per RFC 9449 §4.3, tokens bound to a key thumbprint, and a resource server
attacked over HTTPS with a stolen token, replayed, stale, retargeted and malformed proofs."""

from __future__ import annotations

import json

import jwt
import pytest

from helpers import dpop, jwks, keys, tokens
from helpers.clock import FrozenClock
from helpers.server import serve

START = 1_700_000_000.0
URL = "https://api.example/api"


@pytest.fixture
def clock():
    return FrozenClock(START)


@pytest.fixture
def client_key():
    return keys.generate_private_key("ES256")


def test_a_fresh_proof_verifies_once_and_names_the_key(clock, client_key):
    verifier = dpop.ProofVerifier(clock=clock)
    proof = dpop.make_proof(client_key, "get", URL + "?q=1#f", access_token="tok", clock=clock)
    header = tokens.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and "d" not in header["jwk"]
    result = verifier.verify(proof, "GET", URL, access_token="tok")
    assert result.jkt == jwks.thumbprint(client_key) and result.claims["htu"] == URL
    with pytest.raises(dpop.DPoPError, match="already used"):
        verifier.verify(proof, "GET", URL, access_token="tok")


def test_pyjwt_reads_our_proof_with_the_key_in_its_header(clock, client_key):
    proof = dpop.make_proof(client_key, "POST", URL, clock=clock)
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"], options={"verify_iat": False})
    assert claims["htm"] == "POST" and len(claims["jti"]) >= 16


@pytest.mark.parametrize(
    "change, message",
    [
        ({"method": "POST"}, "method"),
        ({"url": "https://evil.example/api"}, "URL"),
        ({"access_token": "other"}, "access token"),
    ],
)
def test_a_proof_for_another_request_or_token_is_refused(clock, client_key, change, message):
    verifier = dpop.ProofVerifier(clock=clock)
    proof = dpop.make_proof(client_key, "GET", URL, access_token="tok", clock=clock)
    request = {"method": "GET", "url": URL, "access_token": "tok", **change}
    with pytest.raises(dpop.DPoPError, match=message):
        verifier.verify(proof, **request)


def test_the_iat_window_bounds_both_age_and_the_replay_cache(clock, client_key):
    verifier = dpop.ProofVerifier(max_age=60, leeway=5, clock=clock)
    old = dpop.make_proof(client_key, "GET", URL, clock=clock)
    clock.advance(seconds=61)
    with pytest.raises(dpop.DPoPError, match="too old"):
        verifier.verify(old, "GET", URL)
    future = dpop.make_proof(client_key, "GET", URL, clock=FrozenClock(clock.now() + 30))
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify(future, "GET", URL)
    for _ in range(10):
        verifier.verify(dpop.make_proof(client_key, "GET", URL, clock=clock), "GET", URL)
    assert verifier.remembered == 10
    clock.advance(seconds=66)
    verifier.verify(dpop.make_proof(client_key, "GET", URL, clock=clock), "GET", URL)


def test_the_replay_cache_is_capped_and_refuses_rather_than_forgets(clock, client_key):
    verifier = dpop.ProofVerifier(max_jtis=3, clock=clock)
    for _ in range(3):
        verifier.verify(dpop.make_proof(client_key, "GET", URL, clock=clock), "GET", URL)
    with pytest.raises(dpop.DPoPError, match="Too many"):
        verifier.verify(dpop.make_proof(client_key, "GET", URL, clock=clock), "GET", URL)
    clock.advance(seconds=70)  # the first three can no longer pass the iat check: forgotten to make room
    verifier.verify(dpop.make_proof(client_key, "GET", URL, clock=clock), "GET", URL)
    assert verifier.remembered == 1


@pytest.mark.parametrize("forge", ["typ", "hs256", "private_jwk", "no_jwk", "short_jti", "two"])
def test_malformed_proofs_are_refused(clock, client_key, forge):
    verifier = dpop.ProofVerifier(clock=clock)
    claims = {"htm": "GET", "htu": URL, "iat": int(START), "jti": "j" * 20}
    public = jwks.to_jwk(client_key)
    header = {"typ": "dpop+jwt", "jwk": public}
    if forge == "typ":
        proof = tokens.encode(claims, client_key, "ES256", {**header, "typ": "JWT"})
    elif forge == "hs256":
        proof = tokens.encode(claims, "s" * 32, "HS256", header)
    elif forge == "private_jwk":
        import json

        private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(client_key))
        proof = tokens.encode(claims, client_key, "ES256", {**header, "jwk": private})
    elif forge == "no_jwk":
        proof = tokens.encode(claims, client_key, "ES256", {"typ": "dpop+jwt"})
    elif forge == "short_jti":
        proof = tokens.encode({**claims, "jti": "x"}, client_key, "ES256", header)
    else:
        good = tokens.encode(claims, client_key, "ES256", header)
        proof = good + "," + good
    with pytest.raises(tokens.InvalidTokenError):
        verifier.verify(proof, "GET", URL)


def test_a_proof_signed_by_another_key_than_its_header_names_is_refused(clock, client_key):
    other = keys.generate_private_key("ES256")
    claims = {"htm": "GET", "htu": URL, "iat": int(START), "jti": "j" * 20}
    proof = tokens.encode(claims, other, "ES256", {"typ": "dpop+jwt", "jwk": jwks.to_jwk(client_key)})
    with pytest.raises(tokens.InvalidSignatureError):
        dpop.ProofVerifier(clock=clock).verify(proof, "GET", URL)


@pytest.fixture
def resource(clock):
    issuer_key = keys.demo_private_key("ES256")
    verifier = dpop.ProofVerifier(clock=clock)
    with serve(dpop.create_resource_app(issuer_key.public_key(), "ES256", verifier, clock=clock)) as srv:
        yield srv, issuer_key


def _bound_token(issuer_key, client_key):
    return tokens.encode(dpop.bind({"sub": "alice", "exp": START + 300}, client_key), issuer_key, "ES256")


def test_resource_over_https_accepts_the_holder_and_refuses_thief_replay_and_bearer(resource, clock, client_key):
    srv, issuer_key = resource
    url = srv.url + "/api"
    session = srv.client()
    token = _bound_token(issuer_key, client_key)

    def call(token, proof, scheme="DPoP"):
        headers = {"Authorization": f"{scheme} {token}"}
        if proof is not None:
            headers["DPoP"] = proof
        return session.get(url, headers=headers)

    proof = dpop.make_proof(client_key, "GET", url, access_token=token, clock=clock)
    assert call(token, proof).json() == {"sub": "alice"}
    answers = {
        "replayed proof": call(token, proof),
        "thief's own key": call(
            token, dpop.make_proof(keys.generate_private_key("ES256"), "GET", url, access_token=token, clock=clock)
        ),
        "bound token as bearer": call(token, None, "Bearer"),
        "no proof": call(token, None),
        "proof for POST": call(token, dpop.make_proof(client_key, "POST", url, access_token=token, clock=clock)),
        "garbage proof": call(token, "a.b.c"),
        "non-ascii proof": session.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": "é".encode()}),
        "two proofs": call(
            token,
            dpop.make_proof(client_key, "GET", url, access_token=token, clock=clock)
            + ", "
            + dpop.make_proof(client_key, "GET", url, access_token=token, clock=clock),
        ),
    }
    for name, answer in answers.items():
        assert answer.status_code == 401, name
        assert answer.headers["WWW-Authenticate"].startswith("DPoP"), name
    clock.advance(seconds=61)
    stale = dpop.make_proof(client_key, "GET", url, access_token=token, clock=FrozenClock(START))
    assert call(token, stale).status_code == 401


def test_bearer_baseline_takes_unbound_tokens_only(clock, client_key):
    issuer_key = keys.demo_private_key("ES256")
    app = dpop.create_resource_app(
        issuer_key.public_key(), "ES256", dpop.ProofVerifier(clock=clock), require_dpop=False, clock=clock
    )
    with serve(app) as srv:
        plain = tokens.encode({"sub": "bob", "exp": START + 300}, issuer_key, "ES256")
        session = srv.client()
        assert session.get(srv.url + "/api", headers={"Authorization": f"Bearer {plain}"}).json() == {"sub": "bob"}
        bound = _bound_token(issuer_key, client_key)
        assert session.get(srv.url + "/api", headers={"Authorization": f"Bearer {bound}"}).status_code == 401


@pytest.mark.parametrize(
    "named, spoken",
    [
        ("https://API.Example:443/api", "https://api.example/api?x=1#top"),
        ("https://api.example/api", "HTTPS://api.example:443/api"),
    ],
)
def test_htu_is_compared_normalized_without_query_or_fragment(clock, client_key, named, spoken):
    proof = dpop.make_proof(client_key, "GET", named, clock=clock)
    assert dpop.ProofVerifier(clock=clock).verify(proof, "GET", spoken).claims["htu"] == "https://api.example/api"


@pytest.mark.parametrize(
    "other",
    [
        "https://api.example:8443/api",
        "http://api.example/api",
        "https://api.example/api/",
        "https://api.example.evil/api",
    ],
)
def test_htu_for_another_port_scheme_path_or_host_is_refused(clock, client_key, other):
    proof = dpop.make_proof(client_key, "GET", other, clock=clock)
    with pytest.raises(dpop.DPoPError, match="another URL"):
        dpop.ProofVerifier(clock=clock).verify(proof, "GET", URL)


def test_an_unparsable_htu_is_a_dpop_error_not_a_crash(clock, client_key):
    claims = {"htm": "GET", "htu": "https://[::1/api", "iat": int(START), "jti": "j" * 20}
    proof = tokens.encode(claims, client_key, "ES256", {"typ": "dpop+jwt", "jwk": jwks.to_jwk(client_key)})
    with pytest.raises(dpop.DPoPError):
        dpop.ProofVerifier(clock=clock).verify(proof, "GET", URL)


def test_a_proof_without_ath_is_refused_next_to_an_access_token(clock, client_key):
    proof = dpop.make_proof(client_key, "GET", URL, clock=clock)  # no access_token: no ath
    with pytest.raises(dpop.DPoPError, match="access token"):
        dpop.ProofVerifier(clock=clock).verify(proof, "GET", URL, access_token="tok")


@pytest.mark.parametrize("algorithm, header_alg", [("EdDSA", "ES256"), ("ES256", "EdDSA"), ("RS256", "PS256")])
def test_the_algorithm_must_be_one_the_proof_key_can_use(clock, algorithm, header_alg):
    """The header's alg is checked against the key's type (and its alg member), never trusted alone."""
    client = keys.generate_private_key(algorithm)
    claims = {"htm": "GET", "htu": URL, "iat": int(START), "jti": "j" * 20}
    jwk = jwks.to_jwk(client, alg=algorithm)
    signed = tokens.encode(claims, client, algorithm, {"typ": "dpop+jwt", "jwk": jwk})
    head, body, signature = signed.split(".")
    header = json.loads(tokens.b64url_decode(head))
    forged_head = tokens.b64url_encode(json.dumps({**header, "alg": header_alg}).encode())
    with pytest.raises(dpop.DPoPError, match="not allowed for its key"):
        dpop.ProofVerifier(clock=clock).verify(f"{forged_head}.{body}.{signature}", "GET", URL)


@pytest.mark.parametrize("alg", ["none", "HS256", None, 7])
def test_a_proof_naming_no_or_a_symmetric_algorithm_is_refused(clock, client_key, alg):
    claims = {"htm": "GET", "htu": URL, "iat": int(START), "jti": "j" * 20}
    header = {"alg": alg, "typ": "dpop+jwt", "jwk": jwks.to_jwk(client_key)}
    head = tokens.b64url_encode(json.dumps(header).encode())
    body = tokens.b64url_encode(json.dumps(claims).encode())
    with pytest.raises(tokens.InvalidTokenError):
        dpop.ProofVerifier(clock=clock).verify(f"{head}.{body}.", "GET", URL)


def test_a_lowercase_or_media_type_typ_is_accepted_and_at_jwt_is_not(clock, client_key):
    claims = {"htm": "GET", "htu": URL, "iat": int(START)}
    verifier = dpop.ProofVerifier(clock=clock)
    for typ, accepted in (("DPoP+JWT", True), ("at+jwt", False), ("jwt", False)):
        proof = tokens.encode(
            {**claims, "jti": f"{typ:>20}"}, client_key, "ES256", {"typ": typ, "jwk": jwks.to_jwk(client_key)}
        )
        if accepted:
            verifier.verify(proof, "GET", URL)
        else:
            with pytest.raises(tokens.InvalidTokenError):
                verifier.verify(proof, "GET", URL)


def test_authorization_headers_carry_the_scheme_and_the_proof_only_when_given():
    assert dpop.authorization_headers("t", "p") == {"Authorization": "DPoP t", "DPoP": "p"}
    assert dpop.authorization_headers("t", None, scheme="Bearer") == {"Authorization": "Bearer t"}


@pytest.mark.parametrize("explain", [False, True])
def test_a_refusal_says_why_only_when_asked(clock, client_key, explain):
    issuer_key = keys.demo_private_key("ES256")
    app = dpop.create_resource_app(
        issuer_key.public_key(), "ES256", dpop.ProofVerifier(clock=clock), clock=clock, explain_errors=explain
    )
    with serve(app) as srv:
        token = _bound_token(issuer_key, client_key)
        answer = srv.client().get(srv.url + "/api", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    expected = {"error": "Unauthorized"}
    if explain:
        expected["error_description"] = "A DPoP-bound token needs the DPoP scheme and a proof"
    assert answer.json() == expected
