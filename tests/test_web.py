"""HTTP integration tests: the real app on the real in-process HTTPS server, driven with requests."""

from __future__ import annotations

import threading

import jwt
import pytest

from helpers import tokens
from helpers.sessions import MemoryStore, SQLiteStore, hash_session_id
from helpers.web import SESSION_COOKIE, auth_config, create_app

ALICE = {"username": "alice", "password": "wonderland"}
BOB = {"username": "bob", "password": "builder"}


def login(srv, client=None, credentials=ALICE):
    client = client or srv.client()
    response = client.post(srv.url + "/login", json=credentials)
    return client, response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401_json(response, error: str) -> dict:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == error and body["reason"]
    return body


# --- session strategy -------------------------------------------------------------------------


def test_session_login_sets_a_hardened_cookie(served):
    srv = served("session")
    client, response = login(srv)
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "role": "user"}
    set_cookie = response.headers["Set-Cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=604800"):
        assert flag in set_cookie, f"{flag} missing from {set_cookie}"
    assert "Domain" not in set_cookie
    assert set_cookie.startswith(SESSION_COOKIE + "=")
    assert client.get(srv.url + "/me").json() == {"user": "alice", "role": "user", "via": "session"}
    assert client.get(srv.url + "/api/data").status_code == 200


def test_session_store_keeps_only_the_hash(served, clock):
    store = MemoryStore(clock=clock)
    srv = served("session", store=store)
    client, _ = login(srv)
    session_id = client.cookies[SESSION_COOKIE]
    assert len(session_id) >= 22  # ≥128 bits in URL-safe base64
    assert store.get(session_id).user_id == "alice"
    assert session_id not in repr(store.__dict__)
    assert hash_session_id(session_id) in repr(store.__dict__)


def test_session_logout_is_instant_and_replay_fails(served):
    srv = served("session")
    client, _ = login(srv)
    stolen = client.cookies[SESSION_COOKIE]
    logout = client.post(srv.url + "/logout")
    assert logout.status_code == 200 and logout.json()["session_deleted"] is True
    assert SESSION_COOKIE + '=;' in logout.headers["Set-Cookie"] and "Max-Age=0" in logout.headers["Set-Cookie"]
    thief = srv.client()
    thief.cookies.set(SESSION_COOKIE, stolen, domain="127.0.0.1", path="/")
    assert_401_json(thief.get(srv.url + "/me"), "Not authenticated")


def test_session_expires_by_the_clock_and_slides_while_used(served, clock):
    srv = served("session")
    client, _ = login(srv)
    clock.advance(days=6)
    assert client.get(srv.url + "/me").status_code == 200  # use slides the 7-day idle window
    clock.advance(days=6)
    assert client.get(srv.url + "/me").status_code == 200
    clock.advance(days=7, seconds=1)
    body = assert_401_json(client.get(srv.url + "/me"), "Not authenticated")
    assert "expired" in body["reason"]


def test_revoke_all_logs_out_every_device(served, clock):
    store = SQLiteStore(":memory:", clock=clock)
    srv = served("session", store=store)
    laptop, _ = login(srv)
    phone, _ = login(srv)
    assert store.revoke_all("alice") == 2
    for device in (laptop, phone):
        assert device.get(srv.url + "/me").status_code == 401


def test_login_issues_a_fresh_id_and_drops_the_planted_one(served, clock):
    store = MemoryStore(clock=clock)
    srv = served("session", store=store)
    planted = store.create("mallory")  # an attacker's own valid session ID, planted in the victim's browser
    victim = srv.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1", path="/")
    login(srv, victim)
    assert victim.cookies[SESSION_COOKIE] != planted
    assert store.get(planted) is None


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "not-a-session", "A" * 5000, "é", "%00%ff", '"quoted"', "a;b", "..%2f..%2fetc"],
)
def test_garbage_cookies_get_401_never_500(served, cookie):
    srv = served("session")
    client = srv.client()
    response = client.get(srv.url + "/me", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert_401_json(response, "Not authenticated")


# --- JWT strategy -----------------------------------------------------------------------------


def test_jwt_login_returns_a_token_and_no_cookie(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    body = response.json()
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    claims = tokens.decode(body["access_token"], auth_config(srv.app).secret, algorithms=["HS256"],
                           audience="auth-course-api", issuer="auth-course", clock=clock)
    assert {"sub", "role", "iat", "exp", "jti", "iss", "aud"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    me = client.get(srv.url + "/me", headers=bearer(body["access_token"]))
    assert me.json() == {"user": "alice", "role": "user", "via": "jwt"}


def test_jwt_missing_token_is_401_with_a_bare_challenge(served):
    srv = served("jwt")
    response = srv.client().get(srv.url + "/api/data")
    assert_401_json(response, "Not authenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_token_is_401_invalid_or_expired(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    clock.advance(minutes=15, seconds=1)
    response = client.get(srv.url + "/api/data", headers=bearer(token))
    body = assert_401_json(response, "Invalid or expired token")
    assert body["reason"] == "Signature has expired"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Signature has expired"'
    )


def test_jwt_logout_does_not_revoke_the_token(served):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    assert client.post(srv.url + "/logout").json() == {"logged_out": True, "token_revoked": False}
    assert client.get(srv.url + "/me", headers=bearer(token)).status_code == 200


def test_tokens_signed_with_another_key_or_algorithm_are_refused(served, clock):
    srv = served("jwt")
    now = int(clock.now())
    claims = {"sub": "alice", "role": "admin", "iss": "auth-course", "aud": "auth-course-api", "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    body = assert_401_json(srv.client().get(srv.url + "/me", headers=bearer(forged)), "Invalid or expired token")
    assert "Signature verification failed" in body["reason"]
    secret = auth_config(srv.app).secret
    for algorithm in ("HS384", "HS512"):
        wrong_alg = jwt.encode(claims, secret + secret, algorithm=algorithm)
        assert srv.client().get(srv.url + "/me", headers=bearer(wrong_alg)).status_code == 401
    unsigned = tokens.b64url_encode(b'{"alg":"none","typ":"JWT"}') + "." + tokens.b64url_encode(b'{"sub":"bob"}') + "."
    assert srv.client().get(srv.url + "/me", headers=bearer(unsigned)).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic YWxpY2U6d29uZGVybGFuZA==", "Bearer a.b", "Bearer a.b.c", "Bearer ...",
     "Bearer " + "A" * 5000, "Bearer \u00e9.\u00e9.\u00e9", "bearer eyJ.eyJ.sig", "Token abc"],
)
def test_garbage_bearer_headers_get_401_never_500(served, header):
    srv = served("jwt")
    response = srv.client().get(srv.url + "/api/data", headers={"Authorization": header.encode("utf-8")})
    assert response.status_code == 401
    assert response.json()["reason"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_tampered_payload_is_refused(served):
    srv = served("jwt")
    client, response = login(srv)
    header, payload, signature = response.json()["access_token"].split(".")
    claims = tokens.b64url_decode(payload).replace(b'"role":"user"', b'"role":"admin"')
    tampered = ".".join([header, tokens.b64url_encode(claims), signature])
    body = assert_401_json(client.get(srv.url + "/me", headers=bearer(tampered)), "Invalid or expired token")
    assert "Signature verification failed" in body["reason"]


# --- both, and the login route itself ---------------------------------------------------------


def test_hybrid_pages_use_the_cookie_and_the_api_uses_the_token(served):
    srv = served("both")
    browser, response = login(srv)
    token = response.json()["access_token"]
    assert SESSION_COOKIE in browser.cookies
    assert browser.get(srv.url + "/me").json()["via"] == "session"
    assert_401_json(browser.get(srv.url + "/api/data"), "Not authenticated")  # the API wants a token
    api = srv.client()
    assert api.get(srv.url + "/api/data", headers=bearer(token)).json()["via"] == "jwt"
    assert api.get(srv.url + "/me", headers=bearer(token)).json()["via"] == "jwt"


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_bad_logins(served, strategy):
    srv = served(strategy)
    client = srv.client()
    assert client.post(srv.url + "/login", json={"username": "alice", "password": "nope"}).status_code == 401
    assert client.post(srv.url + "/login", json={"username": "nobody", "password": "x"}).json()["error"] == "Invalid credentials"
    for body in (None, [], {"username": "alice"}, {"username": 1, "password": 2}):
        assert client.post(srv.url + "/login", json=body).status_code == 400
    assert client.post(srv.url + "/login", data=b"\xff\xfe not json").status_code == 400
    assert client.post(srv.url + "/login", data=b"x" * 20000, headers={"Content-Type": "application/json"}).status_code == 413
    assert client.get(srv.url + "/login").status_code == 405
    assert client.get(srv.url + "/nowhere").json()["error"] == "Not Found"


def test_create_app_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="strategy must be"):
        create_app("cookies")


def test_eight_threads_logging_in_and_out_lose_nothing(served, clock):
    store = SQLiteStore(":memory:", clock=clock)
    srv = served("both", store=store)
    errors: list[str] = []

    def worker(index: int) -> None:
        for _ in range(5):
            client, response = login(srv, credentials=ALICE if index % 2 else BOB)
            if response.status_code != 200:
                errors.append(f"login {response.status_code}")
                continue
            if client.get(srv.url + "/me").status_code != 200:
                errors.append("session lost")
            if client.get(srv.url + "/api/data", headers=bearer(response.json()["access_token"])).status_code != 200:
                errors.append("token refused")
            if client.post(srv.url + "/logout").json().get("session_deleted") is not True:
                errors.append("logout missed")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 0


def test_auth_config_exposes_the_injected_parts(clock, users):
    store = MemoryStore(clock=clock)
    app = create_app("both", store=store, clock=clock, users=users, secret=b"s" * 32)
    config = auth_config(app)
    assert config.store is store and config.clock is clock and config.users is users and config.secret == b"s" * 32
