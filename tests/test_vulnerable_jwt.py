"""The naive JWT verifier falls to every classic forgery; helpers.tokens and PyJWT refuse the same tokens."""

from __future__ import annotations

import jwt
import pytest

from helpers import attacks, tokens
from helpers.keys import demo_private_key, generate_private_key, public_pem
from helpers.server import serve
from helpers.vulnerable.jwt import NaiveTokenError, create_naive_token_app, naive_decode, naive_encode
from helpers.web import bearer

ALICE = {"username": "alice", "password": "wonderland"}
ADMIN = {"sub": "alice", "role": "admin"}


@pytest.fixture(scope="module")
def attacker_key():
    return generate_private_key("RS256")


def test_naive_encode_round_trips_and_checks_signature_and_expiry(clock):
    token = naive_encode({"sub": "alice", "exp": clock.now() + 60}, b"short")
    assert naive_decode(token, b"short", clock=clock)["sub"] == "alice"
    with pytest.raises(NaiveTokenError, match="bad signature"):
        naive_decode(token, b"other", clock=clock)
    clock.advance(seconds=61)
    with pytest.raises(NaiveTokenError, match="expired"):
        naive_decode(token, b"short", clock=clock)


def test_the_naive_app_issues_tokens_that_work_and_forbids_non_admins(clock, users):
    app = create_naive_token_app(users, b"dragon2024", clock=clock)
    client = app.test_client()
    token = client.post("/login", json=ALICE).get_json()["access_token"]
    assert client.get("/me", headers=bearer(token)).get_json() == {"user": "alice", "role": "user"}
    assert client.get("/admin", headers=bearer(token)).status_code == 403
    assert client.get("/admin").status_code == 401


def test_decode_only_app_accepts_a_tampered_payload_but_helpers_does_not(clock, users, served):
    naive = create_naive_token_app(users, b"k" * 32, clock=clock, verify_signature=False).test_client()
    token = naive.post("/login", json=ALICE).get_json()["access_token"]
    forged = attacks.tamper_claims(token, role="admin")
    assert naive.get("/admin", headers=bearer(forged)).get_json() == {"area": "admin", "user": "alice"}
    srv = served("jwt", explain_errors=True)
    real = srv.client().post(srv.url + "/login", json=ALICE).json()["access_token"]
    answer = srv.client().get(srv.url + "/api/data", headers=bearer(attacks.tamper_claims(real, role="admin")))
    assert answer.status_code == 401 and answer.json()["reason"] == "Signature verification failed"


@pytest.mark.parametrize("token", attacks.alg_none_tokens(ADMIN))
def test_alg_none_in_every_casing(token, clock, users, served):
    naive = create_naive_token_app(users, b"k" * 32, clock=clock).test_client()
    assert naive.get("/admin", headers=bearer(token)).status_code == 200
    with pytest.raises(tokens.InvalidAlgorithmError):
        tokens.decode(token, b"k" * 32, algorithms=["HS256"])
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(token, b"k" * 32, algorithms=["HS256"])
    srv = served("jwt", explain_errors=True)
    answer = srv.client().get(srv.url + "/api/data", headers=bearer(token))
    assert answer.status_code == 401 and answer.json()["reason"] == "The specified alg value is not allowed"


def test_algorithm_confusion_forges_admin_on_the_naive_rs256_app_only(clock, users):
    private = demo_private_key("RS256")
    client = create_naive_token_app(users, private, algorithm="RS256", clock=clock).test_client()
    pem = client.get("/public-key.pem").data
    assert pem == public_pem(private).encode()
    forged = attacks.confusion_token({**ADMIN, "exp": clock.now() + 60}, pem)
    assert client.get("/admin", headers=bearer(forged)).get_json() == {"area": "admin", "user": "alice"}
    with pytest.raises(tokens.InvalidAlgorithmError):
        tokens.decode(forged, private.public_key(), algorithms=["RS256"])
    with pytest.raises(tokens.InvalidKeyError):  # even a sloppy allow-list cannot turn a public key into a secret
        tokens.decode(forged, pem, algorithms=["RS256", "HS256"])
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(forged, pem, algorithms=["RS256", "HS256"])


def test_weak_secret_is_cracked_from_one_token_and_forges_admin(clock, users):
    client = create_naive_token_app(users, b"nextjs_secret", clock=clock).test_client()
    captured = client.post("/login", json=ALICE).get_json()["access_token"]
    result = attacks.crack_hs256(captured, attacks.load_wordlist())
    assert result.secret == "nextjs_secret" and result.guesses > 1000
    forged = attacks.sign_hs256({**attacks.unverified_claims(captured), "role": "admin"}, result.secret.encode())
    assert client.get("/admin", headers=bearer(forged)).status_code == 200
    with pytest.raises(tokens.InvalidKeyError):  # helpers refuses to even use such a key
        tokens.encode(ADMIN, b"nextjs_secret", algorithm="HS256")


def test_jwk_header_injection(clock, users, attacker_key):
    client = create_naive_token_app(users, demo_private_key("RS256"), algorithm="RS256", clock=clock).test_client()
    forged = attacks.jwk_injection_token(ADMIN, attacker_key)
    assert client.get("/admin", headers=bearer(forged)).status_code == 200
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, demo_private_key("RS256").public_key(), algorithms=["RS256"])


def test_jku_header_injection_over_a_real_attacker_server(clock, users, attacker_key):
    from flask import Flask, jsonify

    evil = Flask("attacker")
    evil.get("/jwks.json")(lambda: jsonify(attacks.jwks_document(attacker_key.public_key())))
    with serve(evil) as attacker:
        fetcher = attacker.client()
        app = create_naive_token_app(
            users,
            demo_private_key("RS256"),
            algorithm="RS256",
            clock=clock,
            fetch=lambda url: fetcher.get(url, timeout=5).json(),
        )
        forged = attacks.jku_injection_token(ADMIN, attacker_key, attacker.url + "/jwks.json")
        assert app.test_client().get("/admin", headers=bearer(forged)).status_code == 200
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, demo_private_key("RS256").public_key(), algorithms=["RS256"])


def test_kid_path_traversal(tmp_path, clock, users):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "current.key").write_bytes(b"a real random secret, 32 bytes or more!")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "robots.txt").write_bytes(b"User-agent: *\n")
    app = create_naive_token_app(users, None, clock=clock, keys_dir=tmp_path / "keys", kid="current.key")
    client = app.test_client()
    token = client.post("/login", json=ALICE).get_json()["access_token"]
    assert attacks.segments(token)[0]["kid"] == "current.key"
    forged = attacks.kid_traversal_token(ADMIN, "../public/robots.txt", b"User-agent: *\n")
    assert client.get("/admin", headers=bearer(forged)).status_code == 200
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, (tmp_path / "keys" / "current.key").read_bytes(), algorithms=["HS256"])


def test_naive_app_rejects_garbage_without_crashing(clock, users):
    client = create_naive_token_app(users, b"k", clock=clock).test_client()
    for junk in ("a.b", "!!!.!!!.!!!", "e30.e30.", "W10.W10.x", "eyJhbGciOiJYIn0.e30.x"):
        assert client.get("/me", headers=bearer(junk)).status_code == 401, junk
