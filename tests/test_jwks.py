"""helpers.jwks: JWK export/import and RFC 7638 thumbprints interoperating with PyJWT both ways, the issuer's
key ring, and the caching verifier's three policies, attacked over HTTPS with unknown and random kids."""

from __future__ import annotations

import json
import random
import ssl

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from helpers import jwks, keys, tokens
from helpers.clock import FrozenClock
from helpers.server import serve
from helpers.web import bearer

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
# RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
    "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91"
    "CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
START = 1_700_000_000.0


def test_rfc7638_example_thumbprint_is_reproduced_exactly():
    assert jwks.thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    # Only the required members count: kid, alg, use and member order change nothing.
    reordered = {"e": "AQAB", "n": RFC7638_KEY["n"], "kty": "RSA", "use": "sig"}
    assert jwks.thumbprint(reordered) == jwks.thumbprint(RFC7638_KEY)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_our_jwk_is_read_by_pyjwk_and_verifies_our_token(alg):
    private = keys.demo_private_key(alg)
    jwk = jwks.to_jwk(private, kid="k1", alg=alg)
    assert "d" not in jwk and jwk["use"] == "sig"
    token = tokens.encode({"sub": "alice"}, private, algorithm=alg, headers={"kid": "k1"})
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[alg]) == {"sub": "alice"}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_jwks_are_read_by_us_with_the_same_thumbprint(alg):
    private = keys.demo_private_key(alg)
    theirs = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private.public_key()))
    token = jwt.encode({"sub": "alice"}, private, algorithm=alg)
    assert tokens.decode(token, jwks.from_jwk(theirs), algorithms=[alg]) == {"sub": "alice"}
    assert jwks.thumbprint(theirs) == jwks.thumbprint(jwks.to_jwk(private))
    via_pyjwk = jwt.PyJWK(theirs, algorithm=alg)
    assert jwks.thumbprint(jwks.to_jwk(via_pyjwk.key)) == jwks.thumbprint(theirs)


def test_pyjwkclient_reads_our_published_set_over_https():
    ring = jwks.KeyRing()
    for kid, alg in (("rsa-1", "RS256"), ("ec-1", "ES256"), ("ed-1", "EdDSA")):
        ring.add(kid, alg, keys.demo_private_key(alg))
    ring.sign_with("ec-1")
    with serve(jwks.create_issuer_app(ring)) as issuer:
        context = ssl.create_default_context(cafile=str(issuer.ca_file))
        client = jwt.PyJWKClient(issuer.url + jwks.JWKS_PATH, cache_jwk_set=False, ssl_context=context)
        token = ring.mint({"sub": "alice"})
        signing = client.get_signing_key_from_jwt(token)
        assert jwt.decode(token, signing.key, algorithms=["ES256"]) == {"sub": "alice"}
        assert sorted(key.key_id for key in client.get_signing_keys()) == ["ec-1", "ed-1", "rsa-1"]
        ours = jwks.read_key_set(issuer.client().get(issuer.url + jwks.JWKS_PATH).json())
        assert sorted(ours) == ["ec-1", "ed-1", "rsa-1"] and ours["rsa-1"][0] == "RS256"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, "private"),
        (
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()))), "kid": "x"},
            "private",
        ),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "curve"),
        (jwks.to_jwk(rsa.generate_private_key(65537, 1024)), "2048"),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "32 bytes"),
        ({"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43}, "invalid"),
        ({"kty": "RSA", "n": 5, "e": "AQAB"}, "base64url"),
        ({"kty": "XYZ"}, "unsupported"),
        ({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}, "signatures"),
        ({"kty": "EC", "alg": "HS256", "crv": "P-256"}, "alg"),
        ({"kty": "RSA", "key_ops": ["encrypt"], "n": "AQAB", "e": "AQAB"}, "verifying"),
        ([], "object"),
        (
            {
                **jwks.to_jwk(keys.demo_private_key("RS256")),  # n zero-padded: a second spelling, a second thumbprint
                "n": tokens.b64url_encode(
                    b"\0" + tokens.b64url_decode(jwks.to_jwk(keys.demo_private_key("RS256"))["n"])
                ),
            },
            "minimum number of octets",
        ),
    ],
)
def test_bad_or_private_jwks_are_refused(bad, message):
    with pytest.raises(jwks.JWKError, match=message):
        jwks.from_jwk(bad)


def test_a_key_set_needs_kid_and_alg_on_every_key_and_unique_kids():
    jwk = jwks.to_jwk(keys.demo_private_key("ES256"), kid="a", alg="ES256")
    for document, message in (
        ({"keys": [{**jwk, "kid": ""}]}, "kid"),
        ({"keys": [{k: v for k, v in jwk.items() if k != "alg"}]}, "alg"),
        ({"keys": [jwk, jwk]}, "share"),
        ({"key": []}, "keys"),
        ("[", "JSON"),
    ):
        with pytest.raises(jwks.JWKError, match=message):
            jwks.read_key_set(document)


def test_key_ring_publishes_before_signing_and_never_reuses_a_kid():
    ring = jwks.KeyRing()
    ring.add("k1", "ES256", keys.demo_private_key("ES256"), publish=False)
    with pytest.raises(ValueError, match="publish"):
        ring.sign_with("k1")
    with pytest.raises(ValueError, match="already"):
        ring.add("k1", "ES256", keys.demo_private_key("ES256"))
    with pytest.raises(jwks.JWKError):
        ring.add("k2", "RS256", keys.demo_private_key("ES256"))
    ring.publish("k1")
    ring.sign_with("k1")
    assert tokens.get_unverified_header(ring.mint({"sub": "a"}))["kid"] == "k1"
    ring.withdraw("k1")
    assert ring.document() == {"keys": []} and ring.signing_kid is None


class _Issuer:
    """A key ring and an in-process fetch that counts how often the verifier asked."""

    def __init__(self) -> None:
        self.ring = jwks.KeyRing()
        self.ring.add("k1", "ES256", keys.demo_private_key("ES256"))
        self.ring.sign_with("k1")
        self.fetches = 0

    def fetch(self):
        self.fetches += 1
        return self.ring.document()

    def rotate(self) -> None:
        self.ring.add("k2", "ES256", keys.generate_private_key("ES256"))
        self.ring.sign_with("k2")


def test_fixed_ttl_refuses_a_new_kid_until_the_cache_expires():
    clock, issuer = FrozenClock(START), _Issuer()
    cache = jwks.KeySetCache(issuer.fetch, ttl=600, clock=clock)
    assert cache.verify(issuer.ring.mint({"sub": "a"}))["sub"] == "a"
    issuer.rotate()
    with pytest.raises(jwks.UnknownKeyError):
        cache.verify(issuer.ring.mint({"sub": "a"}))
    clock.advance(seconds=599)
    with pytest.raises(jwks.UnknownKeyError):
        cache.verify(issuer.ring.mint({"sub": "a"}))
    clock.advance(seconds=1)
    assert cache.verify(issuer.ring.mint({"sub": "a"}))["sub"] == "a" and issuer.fetches == 2


def test_refetch_on_unknown_kid_accepts_the_new_key_at_once_but_is_rate_limited():
    clock, issuer = FrozenClock(START), _Issuer()
    cache = jwks.KeySetCache(issuer.fetch, ttl=600, refetch_on_unknown_kid=True, min_refetch_interval=60, clock=clock)
    cache.verify(issuer.ring.mint({"sub": "a"}))
    clock.advance(seconds=60)
    issuer.rotate()
    assert cache.verify(issuer.ring.mint({"sub": "a"}))["sub"] == "a" and issuer.fetches == 2
    forged = tokens.encode(
        {"sub": "a"}, keys.generate_private_key("ES256"), algorithm="ES256", headers={"kid": "random"}
    )
    for _ in range(100):  # a flood of unknown kids within one interval: no further fetch
        with pytest.raises(jwks.UnknownKeyError):
            cache.verify(forged)
    assert issuer.fetches == 2 and cache.stats.refetches_refused == 100
    clock.advance(seconds=60)
    with pytest.raises(jwks.UnknownKeyError):
        cache.verify(forged)
    assert issuer.fetches == 3


def test_a_withdrawn_key_is_trusted_until_the_cache_expires_while_no_token_names_a_new_kid():
    clock, issuer = FrozenClock(START), _Issuer()
    leaked = issuer.ring.private_key("k1")[1]
    cache = jwks.KeySetCache(issuer.fetch, ttl=600, refetch_on_unknown_kid=True, clock=clock)
    cache.verify(issuer.ring.mint({"sub": "a"}))
    issuer.ring.withdraw("k1")
    forged = tokens.encode({"sub": "admin"}, leaked, algorithm="ES256", headers={"kid": "k1"})
    clock.advance(seconds=599)
    assert cache.verify(forged)["sub"] == "admin"  # the kid is known, so nothing triggers a refetch
    clock.advance(seconds=1)
    with pytest.raises(jwks.UnknownKeyError):
        cache.verify(forged)


def test_the_key_decides_the_algorithm_not_the_token():
    clock, issuer = FrozenClock(START), _Issuer()
    cache = jwks.KeySetCache(issuer.fetch, clock=clock)
    public_pem = keys.public_pem(issuer.ring.private_key("k1")[1])
    for alg, key in (("HS256", public_pem), ("EdDSA", keys.demo_private_key("EdDSA"))):
        forged = (
            jwt.encode({"sub": "admin"}, key, algorithm=alg, headers={"kid": "k1"})
            if alg != "HS256"
            else (tokens.b64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + ".e30.AAAA")
        )
        with pytest.raises(tokens.InvalidTokenError):
            cache.verify(forged)
    with pytest.raises(tokens.InvalidAlgorithmError):
        cache.verify(issuer.ring.mint({"sub": "a"}), algorithms=["RS256"])


def test_verifier_app_over_https_answers_200_401_and_503_never_500():
    clock, issuer = FrozenClock(START), _Issuer()
    with serve(jwks.create_issuer_app(issuer.ring)) as published:
        session = published.client()

        def fetch():
            answer = session.get(published.url + jwks.JWKS_PATH, timeout=5)
            answer.raise_for_status()
            return answer.json()

        cache = jwks.KeySetCache(fetch, ttl=600, refetch_on_unknown_kid=True, clock=clock)
        with serve(jwks.create_verifier_app(cache)) as verifier:
            client = verifier.client()
            good = issuer.ring.mint({"sub": "alice", "exp": START + 300})
            assert client.get(verifier.url + "/api", headers=bearer(good)).json() == {"sub": "alice"}
            for header in (
                {},
                {"Authorization": "Bearer"},
                {"Authorization": "Basic abc"},
                bearer("a.b.c"),
                bearer(good + "x"),
                bearer("é" * 10),
                bearer(tokens.encode({"sub": "x"}, keys.generate_private_key("ES256"), "ES256", {"kid": "k1"})),
                bearer(tokens.encode({"sub": "x"}, keys.generate_private_key("ES256"), "ES256", {"kid": "zz"})),
            ):
                answer = client.get(verifier.url + "/api", headers=header)
                assert answer.status_code == 401 and answer.json() == {"error": "Unauthorized"}, header
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            published.stop()
            clock.advance(seconds=600)
            answer = client.get(verifier.url + "/api", headers=bearer(good))
            assert answer.status_code == 503


def test_a_failed_fetch_is_not_retried_before_the_refetch_interval():
    clock, issuer, calls = FrozenClock(START), _Issuer(), []
    up = True

    def fetch():
        calls.append(clock.now())
        if not up:
            raise ConnectionError("issuer down")
        return issuer.ring.document()

    cache = jwks.KeySetCache(fetch, ttl=600, refetch_on_unknown_kid=True, min_refetch_interval=60, clock=clock)
    assert cache.key_for("k1")[0] == "ES256" and len(calls) == 1
    up = False
    clock.advance(seconds=600)
    with pytest.raises(ConnectionError):
        cache.key_for("k1")
    for kid in ("k1", "made-up"):  # an outage, and tokens meanwhile: no fetch per request
        with pytest.raises(jwks.KeySetUnavailableError):
            cache.key_for(kid)
    assert len(calls) == 2
    up = True
    clock.advance(seconds=60)
    assert cache.key_for("k1")[0] == "ES256" and len(calls) == 3


def test_bad_cache_arguments_are_refused():
    with pytest.raises(ValueError):
        jwks.KeySetCache(dict, ttl=0)
    with pytest.raises(jwks.JWKError):
        jwks.to_jwk(rsa.generate_private_key(65537, 2048), alg="ES256")


@pytest.mark.parametrize(
    "jwk, expected",
    [
        ({"kty": "EC"}, ("ES256",)),
        ({"kty": "RSA"}, ("RS256", "PS256")),
        ({"kty": "RSA", "alg": "PS256"}, ("PS256",)),
        ({"kty": "RSA", "alg": "ES256"}, ()),
        ({"kty": "oct"}, ()),
    ],
)
def test_algorithms_for_follows_the_key_type_and_its_alg(jwk, expected):
    assert jwks.algorithms_for(jwk) == expected


def test_rotation_steps_follow_each_policy():
    fleet = jwks.Fleet(cache_ttl=600, token_ttl=300)
    assert jwks.rotation_steps("fixed TTL", 5, fleet) == {5: ["publish", "sign"], 10: ["retire"]}
    assert jwks.rotation_steps("pre-publication", 5, fleet) == {5: ["publish"], 15: ["sign"], 20: ["retire"]}
    assert jwks.emergency_steps("pre-publication", 5) == {-1: ["publish"], 5: ["leak"]}
    with pytest.raises(ValueError, match="unknown drill step"):
        jwks.apply_step(jwks.KeyRing(), "explode", None)


def test_a_fixed_ttl_fleet_refuses_the_new_key_until_its_copy_expires_and_the_others_do_not():
    fleet = jwks.Fleet(verifiers=2, cache_ttl=240, token_ttl=120, requests_per_minute=1)
    results = {
        policy: jwks.run_drill(
            policy,
            10,
            jwks.rotation_steps(policy, 2, fleet),
            fleet,
            keys.demo_private_key("ES256"),
            keys.generate_private_key("ES256"),
        )
        for policy in jwks.POLICIES
    }
    fixed = jwks.refused_shares(results["fixed TTL"].verdicts, 10, 2)
    assert all(share == 0.0 for series in fixed.values() for share in series[:2])  # before the switch
    assert 0 < sum(sum(series) for series in fixed.values()) <= 2 * 4  # at most one cache TTL (4 min) each
    for policy in ("refetch on unknown kid", "pre-publication"):
        assert all(verdict.accepted for verdict in results[policy].verdicts), policy
    assert all(len(result.verdicts) == 10 * 2 for result in results.values())


def test_a_leaked_key_is_trusted_until_the_copy_is_refreshed_under_a_fixed_ttl():
    fleet = jwks.Fleet(verifiers=1, cache_ttl=180, requests_per_minute=1)
    result = jwks.run_drill(
        "fixed TTL",
        6,
        jwks.emergency_steps("fixed TTL", 1),
        fleet,
        keys.demo_private_key("ES256"),
        keys.generate_private_key("ES256"),
        leaked_from=1,
    )
    forged = [verdict.accepted for verdict in result.verdicts if verdict.kind == "forged"]
    assert len(forged) == 5 and forged[0] and not forged[-1]


def test_the_refetch_limit_caps_what_a_flood_of_made_up_kids_costs_the_issuer():
    ring = jwks.KeyRing()
    ring.add("key-1", "ES256", keys.demo_private_key("ES256"))
    for limit, most in ((60, 2), (0, 31)):
        fetches, refused = jwks.flood(
            ring.document,
            30,
            min_refetch_interval=limit,
            ttl=600,
            rng=random.Random(1),
            forger_key=keys.demo_private_key("EdDSA"),
        )
        assert refused == 30 and 1 <= fetches <= most
