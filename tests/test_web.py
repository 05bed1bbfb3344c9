"""HTTP integration tests: the real app on the real in-process HTTPS server, driven with requests.

The apps here are built with ``explain_errors=True``, so a 401 says why and each test can check the
reason it is about; the default, generic 401 bodies are checked in test_security.py.
"""

from __future__ import annotations

import dataclasses
import gc
import http.client
import json
import ssl
import sys
import threading
from collections.abc import Callable

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_together

from helpers import tokens, web
from helpers.clock import FrozenClock
from helpers.denylist import MemoryDenylist, SQLiteDenylist
from helpers.passwords import ScryptParams
from helpers.refresh import MemoryRefreshStore, SQLiteRefreshStore
from helpers.server import RunningServer, serve
from helpers.sessions import MemoryStore, SQLiteStore, hash_session_id
from helpers.throttle import LoginThrottle
from helpers.users import UserDirectory
from helpers.web import REFRESH_COOKIE, SESSION_COOKIE, auth_config, bearer, create_app

ALICE = {"username": "alice", "password": "wonderland"}
BOB = {"username": "bob", "password": "builder"}


@pytest.fixture
def served(served: Callable[..., RunningServer]) -> Callable[..., RunningServer]:
    """The conftest's served apps, with the 401 reasons explained."""
    return lambda strategy, **options: served(strategy, **{"explain_errors": True, **options})


def login(srv, client=None, credentials=ALICE):
    client = client or srv.client()
    response = client.post(srv.url + "/login", json=credentials)
    return client, response


def assert_401_json(response) -> dict:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "Unauthorized" and body["reason"]
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
    assert SESSION_COOKIE + "=;" in logout.headers["Set-Cookie"] and "Max-Age=0" in logout.headers["Set-Cookie"]
    thief = srv.client()
    thief.cookies.set(SESSION_COOKIE, stolen, domain="127.0.0.1", path="/")
    assert_401_json(thief.get(srv.url + "/me"))


def test_session_expires_by_the_clock_and_slides_while_used(served, clock):
    srv = served("session")
    client, _ = login(srv)
    clock.advance(days=6)
    assert client.get(srv.url + "/me").status_code == 200  # use slides the 7-day idle window
    clock.advance(days=6)
    assert client.get(srv.url + "/me").status_code == 200
    clock.advance(days=7, seconds=1)
    body = assert_401_json(client.get(srv.url + "/me"))
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
    assert_401_json(response)


# --- JWT strategy -----------------------------------------------------------------------------


def test_jwt_login_returns_a_token_and_only_a_refresh_cookie(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    body = response.json()
    # Changed with refresh tokens: the only cookie is the refresh token's; the access token stays in the body.
    assert response.status_code == 200 and response.headers["Set-Cookie"].startswith(REFRESH_COOKIE + "=")
    assert set(client.cookies.keys()) == {REFRESH_COOKIE}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    claims = tokens.decode(
        body["access_token"],
        auth_config(srv.app).secret,
        algorithms=["HS256"],
        audience="auth-course-api",
        issuer="auth-course",
        clock=clock,
    )
    assert {"sub", "role", "iat", "exp", "jti", "iss", "aud"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    assert bearer("abc") == {"Authorization": "Bearer abc"}
    me = client.get(srv.url + "/me", headers=bearer(body["access_token"]))
    assert me.json() == {"user": "alice", "role": "user", "via": "jwt"}


def test_jwt_missing_token_is_401_with_a_bare_challenge(served):
    srv = served("jwt")
    response = srv.client().get(srv.url + "/api/data")
    assert_401_json(response)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_token_is_401_invalid_or_expired(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    clock.advance(minutes=15, seconds=1)
    response = client.get(srv.url + "/api/data", headers=bearer(token))
    body = assert_401_json(response)
    assert body["reason"] == "Signature has expired"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Signature has expired"'
    )


def test_jwt_logout_does_not_revoke_the_token(served):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    # Changed with refresh tokens: the answer also says whether a refresh family was revoked. None was,
    # because the Path=/refresh cookie is not sent to /logout.
    assert client.post(srv.url + "/logout").json() == {
        "logged_out": True,
        "token_revoked": False,
        "refresh_revoked": False,
    }
    assert client.get(srv.url + "/me", headers=bearer(token)).status_code == 200


def admin_claims(clock: FrozenClock, **extra: object) -> dict[str, object]:
    """The claims of a minute-long access token making alice an admin, as this app's tokens name them."""
    now = int(clock.now())
    return {
        "sub": "alice",
        "role": "admin",
        "iss": "auth-course",
        "aud": "auth-course-api",
        "iat": now,
        "exp": now + 60,
        **extra,
    }


def test_tokens_signed_with_another_key_or_algorithm_are_refused(served, clock):
    srv = served("jwt")
    claims = admin_claims(clock)
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    body = assert_401_json(srv.client().get(srv.url + "/me", headers=bearer(forged)))
    assert "Signature verification failed" in body["reason"]
    secret = auth_config(srv.app).secret
    for algorithm in ("HS384", "HS512"):
        wrong_alg = jwt.encode(claims, secret + secret, algorithm=algorithm)
        assert srv.client().get(srv.url + "/me", headers=bearer(wrong_alg)).status_code == 401
    unsigned = tokens.b64url_encode(b'{"alg":"none","typ":"JWT"}') + "." + tokens.b64url_encode(b'{"sub":"bob"}') + "."
    assert srv.client().get(srv.url + "/me", headers=bearer(unsigned)).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6d29uZGVybGFuZA==",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer ...",
        "Bearer " + "A" * 5000,
        "Bearer \u00e9.\u00e9.\u00e9",
        "bearer eyJ.eyJ.sig",
        "Token abc",
    ],
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
    body = assert_401_json(client.get(srv.url + "/me", headers=bearer(tampered)))
    assert "Signature verification failed" in body["reason"]


# --- both, and the login route itself ---------------------------------------------------------


def test_hybrid_pages_use_the_cookie_and_the_api_uses_the_token(served):
    srv = served("both")
    browser, response = login(srv)
    token = response.json()["access_token"]
    assert SESSION_COOKIE in browser.cookies
    assert browser.get(srv.url + "/me").json()["via"] == "session"
    assert_401_json(browser.get(srv.url + "/api/data"))  # the API wants a token
    api = srv.client()
    assert api.get(srv.url + "/api/data", headers=bearer(token)).json()["via"] == "jwt"
    assert api.get(srv.url + "/me", headers=bearer(token)).json()["via"] == "jwt"


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_bad_logins(served, strategy):
    srv = served(strategy)
    client = srv.client()
    assert client.post(srv.url + "/login", json={"username": "alice", "password": "nope"}).status_code == 401
    assert (
        client.post(srv.url + "/login", json={"username": "nobody", "password": "x"}).json()["error"]
        == "Invalid credentials"
    )
    for body in (None, [], {"username": "alice"}, {"username": 1, "password": 2}):
        assert client.post(srv.url + "/login", json=body).status_code == 400
    assert client.post(srv.url + "/login", data=b"\xff\xfe not json").status_code == 400
    assert (
        client.post(srv.url + "/login", data=b"x" * 20000, headers={"Content-Type": "application/json"}).status_code
        == 413
    )
    assert client.get(srv.url + "/login").status_code == 405
    assert client.get(srv.url + "/nowhere").json()["error"] == "Not Found"


def test_create_app_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="strategy must be"):
        create_app("cookies")


def test_eight_threads_logging_in_and_out_lose_nothing(served, clock):
    store = SQLiteStore(":memory:", clock=clock)
    srv = served("both", store=store)

    def worker(index: int) -> list[str]:
        errors: list[str] = []
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
        return errors

    assert [error for errors in run_together(worker, 8) for error in errors] == []
    assert store.count() == 0


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every microsecond meanwhile, so steps that are not atomic interleave as often as they can."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _connected(srv: RunningServer) -> http.client.HTTPSConnection:
    """A connection to ``srv`` with its TLS handshake done, so racers released at once reach the app at once."""
    connection = http.client.HTTPSConnection(
        srv.url.removeprefix("https://"), context=ssl.create_default_context(cafile=str(srv.ca_file))
    )
    connection.connect()
    return connection


def _race_one_login(srv: RunningServer, client, access_token: str) -> list[tuple[str, int]]:
    """Six refreshes of ``client``'s refresh cookie, both logouts, logout-everywhere and a new login, sent at once."""
    paths = ["/refresh"] * 6 + ["/logout", "/refresh/logout", "/logout-everywhere", "/login"]
    connections = [_connected(srv) for _ in paths]

    def send(index: int) -> tuple[str, int]:
        path = paths[index]
        cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies if path.startswith(c.path))
        body = json.dumps(ALICE if path == "/login" else {})
        try:
            connections[index].request(
                "POST", path, body, {"Content-Type": "application/json", "Cookie": cookies, **bearer(access_token)}
            )
            return path, connections[index].getresponse().status
        finally:
            connections[index].close()

    return run_together(send, len(paths))


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_one_login_raced_from_ten_threads_is_never_a_5xx(served, clock, backend, frequent_thread_switches):
    # Six refreshes of one cookie, both logouts, logout-everywhere and a new login, all released at once,
    # while automatic purges fall due: every answer is a 200 or a 4xx, a refresh token is spent once.
    refresh_store = (
        SQLiteRefreshStore(":memory:", clock=clock) if backend == "sqlite" else MemoryRefreshStore(clock=clock)
    )
    denylist = SQLiteDenylist(":memory:", clock=clock) if backend == "sqlite" else MemoryDenylist(clock)
    srv = served(
        "both",
        store=SQLiteStore(":memory:", clock=clock) if backend == "sqlite" else MemoryStore(clock=clock),
        refresh_store=refresh_store,
        denylist=denylist,
        hashing_limit=16,
    )
    failures: list[str] = []  # what reached the app's generic 500 handler, which tells the client nothing
    srv.app.register_error_handler(Exception, lambda exc: failures.append(repr(exc)) or web._internal_error(exc))
    for _ in range(6):
        client, response = login(srv)
        clock.advance(seconds=61)  # past the purge interval: the racing writes also purge
        answers = _race_one_login(srv, client, response.json()["access_token"])
        assert failures == [] and all(status < 500 for _, status in answers), answers
        assert [status for kind, status in answers if kind == "refresh"].count(200) <= 1, answers
        assert refresh(srv, client).status_code == 401  # whoever won, the login ended


def test_auth_config_exposes_the_injected_parts(clock, users):
    store = MemoryStore(clock=clock)
    app = create_app("both", store=store, clock=clock, users=users, secret=b"s" * 32)
    config = auth_config(app)
    assert config.store is store and config.clock is clock and config.users is users and config.secret == b"s" * 32


# --- refresh tokens, rotation and revocation ----------------------------------------------------


def set_cookies(response) -> dict[str, str]:
    """Every Set-Cookie header of a response, by cookie name (requests joins them into one string)."""
    return {header.partition("=")[0]: header for header in response.raw.headers.getlist("Set-Cookie")}


def refresh(srv, client, **kwargs):
    kwargs.setdefault("json", {})  # the JSON content type is the endpoint's CSRF check
    return client.post(srv.url + "/refresh", **kwargs)


def with_refresh_cookie(token: str) -> dict[str, str]:
    """Headers that present ``token`` as the refresh cookie, as a thief replaying a copy would."""
    return {"Cookie": f"{REFRESH_COOKIE}={token}"}


def assert_cleared(response, name: str) -> None:
    header = set_cookies(response)[name]
    assert header.startswith(name + "=;") and "Max-Age=0" in header, header


@pytest.mark.parametrize("strategy", ["jwt", "both"])
def test_login_sets_the_refresh_cookie_with_the_right_flags(served, strategy):
    srv = served(strategy)
    client, response = login(srv)
    header = set_cookies(response)[REFRESH_COOKIE]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/refresh", "Max-Age=604800"):
        assert flag in header, f"{flag} missing from {header}"
    assert "Domain" not in header
    token = client.cookies[REFRESH_COOKIE]
    assert len(token) >= 43 and token not in response.text  # the refresh token is never in the body
    assert "access_token" in response.json()  # ... and the access token never in a cookie
    assert response.headers["Cache-Control"] == "no-store"
    assert (SESSION_COOKIE in client.cookies) is (strategy == "both")


def test_session_strategy_has_no_refresh_token(served):
    srv = served("session")
    client, response = login(srv)
    assert REFRESH_COOKIE not in set_cookies(response)
    assert refresh(srv, client).status_code == 404
    assert auth_config(srv.app).refresh_store is None


def test_refresh_rotates_the_cookie_and_answers_a_new_access_token(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    old_refresh, old_access = client.cookies[REFRESH_COOKIE], response.json()["access_token"]
    clock.advance(minutes=14)
    answer = refresh(srv, client)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"] != old_access and answer.headers["Cache-Control"] == "no-store"
    new_refresh = client.cookies[REFRESH_COOKIE]
    assert new_refresh != old_refresh
    header = set_cookies(answer)[REFRESH_COOKIE]
    assert "Path=/refresh" in header and "SameSite=Strict" in header and "HttpOnly" in header
    assert f"Max-Age={7 * 86400 - 14 * 60}" in header  # the login's fixed deadline, not a fresh 7 days
    clock.advance(minutes=2)  # the first access token has expired; the refreshed one carries on
    assert client.get(srv.url + "/api/data", headers=bearer(old_access)).status_code == 401
    assert client.get(srv.url + "/api/data", headers=bearer(body["access_token"])).json()["owner"] == "alice"
    assert refresh(srv, client).status_code == 200  # and the rotated cookie refreshes again


def test_replaying_a_spent_refresh_token_logs_out_thief_and_user(served):
    srv = served("jwt")
    user, _ = login(srv)
    stolen = user.cookies[REFRESH_COOKIE]
    assert refresh(srv, user).status_code == 200  # the user refreshes first; the stolen copy is now spent
    thief = srv.client()
    replay = thief.post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(stolen))
    body = assert_401_json(replay)
    assert "reuse detected" in body["reason"] and "revoked" in body["reason"]
    assert_cleared(replay, REFRESH_COOKIE)
    # The user's newest token died with the family: both must log in again.
    body = assert_401_json(refresh(srv, user))
    assert "revoked" in body["reason"] and "reuse" in body["reason"]
    assert REFRESH_COOKIE not in user.cookies  # the failed refresh cleared the useless cookie
    assert auth_config(srv.app).refresh_store.active_families() == []


def test_refresh_after_seven_days_is_refused(served, clock):
    srv = served("jwt")
    client, _ = login(srv)
    clock.advance(days=6)
    assert refresh(srv, client).status_code == 200  # refreshing does not extend the login ...
    clock.advance(days=1)
    body = assert_401_json(refresh(srv, client))
    assert "expired" in body["reason"]  # ... so seven days after login it is over


def test_refresh_ttl_option_sets_the_default_stores_lifetime(served, clock):
    srv = served("jwt", refresh_ttl=3600)
    client, response = login(srv)
    assert "Max-Age=3600" in set_cookies(response)[REFRESH_COOKIE]
    clock.advance(hours=1)
    assert_401_json(refresh(srv, client))


def test_a_role_change_shows_up_at_the_next_refresh(served, users, clock):
    srv = served("jwt")
    client, response = login(srv)
    old_access = response.json()["access_token"]
    users.set_role("alice", "admin")
    assert client.get(srv.url + "/me", headers=bearer(old_access)).json()["role"] == "user"  # the JWT is a snapshot
    new_access = refresh(srv, client).json()["access_token"]
    assert client.get(srv.url + "/me", headers=bearer(new_access)).json()["role"] == "admin"
    claims = tokens.decode(
        new_access,
        auth_config(srv.app).secret,
        algorithms=["HS256"],
        audience="auth-course-api",
        issuer="auth-course",
        clock=clock,
    )
    assert claims["role"] == "admin" and claims["sub"] == "alice"


def test_a_deleted_user_cannot_refresh(served):
    srv = served("jwt")
    client, _ = login(srv)
    config = auth_config(srv.app)
    config.users = UserDirectory(params=ScryptParams(n=2**4, r=1, p=1))  # no alice: her account is gone
    body = assert_401_json(refresh(srv, client))
    assert "no longer exists" in body["reason"]
    assert config.refresh_store.active_families() == []


def test_refresh_without_a_cookie_is_401(served):
    srv = served("jwt")
    body = assert_401_json(refresh(srv, srv.client()))
    assert "log in" in body["reason"]


@pytest.mark.parametrize("cookie", ["x", "A" * 43, "A" * 5000, "é", "%00%ff", '"quoted"', "..%2f..%2fetc"])
def test_garbage_refresh_cookies_get_401_never_500(served, cookie):
    srv = served("jwt")
    response = srv.client().post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(cookie))
    assert_401_json(response)


def test_refresh_demands_json_as_a_csrf_defence(served):
    srv = served("jwt")
    client, _ = login(srv)
    token = client.cookies[REFRESH_COOKIE]
    # What a cross-site HTML form could send (if SameSite=Strict ever failed): refused before any lookup.
    for kwargs in ({"data": {"a": "b"}}, {"data": b"{}", "headers": {"Content-Type": "text/plain"}}, {"json": None}):
        response = client.post(srv.url + "/refresh", **kwargs)
        assert response.status_code == 415 and "CSRF" in response.json()["reason"]
    assert client.cookies[REFRESH_COOKIE] == token
    assert refresh(srv, client).status_code == 200  # the token was not spent by the refused attempts


def test_logout_revokes_the_refresh_family(served):
    srv = served("jwt")
    client, _ = login(srv)
    token = client.cookies[REFRESH_COOKIE]
    # A browser never sends the Path=/refresh cookie to /logout, so it logs out under /refresh.
    logout = client.post(srv.url + "/refresh/logout")
    assert logout.json() == {"logged_out": True, "token_revoked": False, "refresh_revoked": True}
    assert_cleared(logout, REFRESH_COOKIE)
    assert REFRESH_COOKIE not in client.cookies
    replay = srv.client().post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(token))
    assert "revoked" in assert_401_json(replay)["reason"]


def test_plain_logout_revokes_the_refresh_family_only_if_the_cookie_arrives(served):
    srv = served("jwt")
    browser, _ = login(srv)
    token = browser.cookies[REFRESH_COOKIE]
    answer = browser.post(srv.url + "/logout")  # the cookie jar, like a browser, keeps it for /refresh
    assert answer.json()["refresh_revoked"] is False
    assert_cleared(answer, REFRESH_COOKIE)  # the browser forgets it, but the server never saw it
    assert srv.client().post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(token)).status_code == 200
    other, _ = login(srv)
    sent = other.post(srv.url + "/logout", headers=with_refresh_cookie(other.cookies[REFRESH_COOKIE]))
    assert sent.json()["refresh_revoked"] is True


def test_hybrid_logout_under_refresh_ends_the_session_too(served):
    srv = served("both")
    browser, _ = login(srv)
    answer = browser.post(srv.url + "/refresh/logout")
    assert answer.json() == {
        "logged_out": True,
        "session_deleted": True,
        "token_revoked": False,
        "refresh_revoked": True,
    }
    assert_cleared(answer, SESSION_COOKIE)
    assert_cleared(answer, REFRESH_COOKIE)
    assert_401_json(browser.get(srv.url + "/me"))


def test_denylist_makes_a_logged_out_access_token_fail_at_once(served, clock):
    denylist = MemoryDenylist(clock=clock)
    srv = served("jwt", denylist=denylist)
    client, response = login(srv)
    token = response.json()["access_token"]
    assert client.get(srv.url + "/api/data", headers=bearer(token)).status_code == 200
    logout = client.post(srv.url + "/logout", headers=bearer(token))
    assert logout.json()["token_revoked"] is True
    response = client.get(srv.url + "/api/data", headers=bearer(token))
    body = assert_401_json(response)
    assert body["reason"] == "Token has been revoked"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has been revoked"'
    )
    assert client.get(srv.url + "/me", headers=bearer(token)).status_code == 401
    # The entry is kept only while the token could still be used: at exp it lapses and can be purged.
    assert denylist.count() == 1
    clock.advance(minutes=15)
    assert denylist.purge_expired() == 1


def test_without_a_denylist_a_logged_out_access_token_lives_until_exp(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    assert client.post(srv.url + "/logout", headers=bearer(token)).json()["token_revoked"] is False
    clock.advance(minutes=14, seconds=59)
    assert client.get(srv.url + "/api/data", headers=bearer(token)).status_code == 200  # still works
    clock.advance(seconds=1)
    body = assert_401_json(client.get(srv.url + "/api/data", headers=bearer(token)))
    assert body["reason"] == "Signature has expired"


def test_logout_with_a_denylist_and_a_bad_token_still_logs_out(served, clock):
    denylist = MemoryDenylist(clock=clock)
    srv = served("jwt", denylist=denylist)
    client = srv.client()
    for headers in ({}, bearer("not.a.token"), {"Authorization": "Basic abc"}):
        answer = client.post(srv.url + "/logout", headers=headers)
        assert answer.status_code == 200 and answer.json()["token_revoked"] is False
    assert denylist.count() == 0


def test_the_denylist_costs_one_lookup_per_api_request_and_none_without_it(served, clock):
    denylist = SQLiteDenylist(clock=clock)
    srv = served("both", denylist=denylist)
    client, response = login(srv)
    token = response.json()["access_token"]
    for _ in range(5):
        assert client.get(srv.url + "/api/data", headers=bearer(token)).status_code == 200
    assert client.get(srv.url + "/me").json()["via"] == "session"  # the session path needs no jti check
    assert denylist.lookups == 5
    plain = served("jwt")
    assert auth_config(plain.app).denylist is None  # no denylist, no lookup: the stateless path stays stateless


def test_two_refreshes_racing_with_one_token_have_exactly_one_winner(served):
    srv = served("jwt")
    for _ in range(5):
        client, _ = login(srv)
        token = client.cookies[REFRESH_COOKIE]
        answers = run_together(
            lambda index, token=token: srv.client().post(
                srv.url + "/refresh", json={}, headers=with_refresh_cookie(token)
            ),
            2,
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 401], [answer.text for answer in answers]
        loser = next(answer for answer in answers if answer.status_code == 401)
        assert "reuse detected" in loser.json()["reason"]
        # The winner's rotated token went down with the family: a client must serialise its refreshes.
        winner = next(answer for answer in answers if answer.status_code == 200)
        rotated = winner.cookies[REFRESH_COOKIE]
        assert rotated != token
        replay = srv.client().post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(rotated))
        assert "revoked" in assert_401_json(replay)["reason"]


def test_create_app_exposes_the_injected_refresh_store_and_denylist(clock, users):
    store, denylist = MemoryRefreshStore(clock=clock), MemoryDenylist(clock=clock)
    config = auth_config(create_app("jwt", clock=clock, users=users, refresh_store=store, denylist=denylist))
    assert config.refresh_store is store and config.denylist is denylist
    default = auth_config(create_app("both", clock=clock, users=users))
    assert isinstance(default.refresh_store, SQLiteRefreshStore) and default.refresh_store.clock is clock
    assert default.denylist is None


def test_session_cookie_slides_with_the_session(served, clock):
    srv = served("session")
    client, _ = login(srv)
    clock.advance(days=3)
    response = client.get(srv.url + "/me")
    renewed = response.headers["Set-Cookie"]
    assert "Max-Age=604800" in renewed and "HttpOnly" in renewed and "Secure" in renewed
    assert "Set-Cookie" not in client.get(srv.url + "/nowhere").headers  # only successful session requests renew


@pytest.mark.parametrize("path", ["/logout-everywhere", "/password"])
def test_a_logout_that_slid_the_session_only_clears_the_cookie(served, clock, path):
    srv = served("session")
    client, _ = login(srv)
    clock.advance(days=3)  # finding the caller's session for this request slides it too
    body = {"current_password": "wonderland", "new_password": "a new and long passphrase"}
    answer = client.post(srv.url + path, json=body if path == "/password" else {})
    assert answer.status_code == 200, answer.text
    cookies = answer.raw.headers.getlist("Set-Cookie")  # every one, in order: a browser keeps the last
    assert len(cookies) == 1 and cookies[0].startswith(SESSION_COOKIE + "=;") and "Max-Age=0" in cookies[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab=; "\\\t,x1é€\x00')), max_size=40))
def test_the_app_reads_the_cookie_header_exactly_as_werkzeug_does(header):
    from flask import Request
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(headers={"Cookie": header}).get_environ()
    assert web._Request(environ).cookies == Request(environ).cookies


# --- one logout ends the whole login (issue row 1) ------------------------------------------------


def refresh_replay(srv, token):
    return srv.client().post(srv.url + "/refresh", json={}, headers=with_refresh_cookie(token))


def test_access_tokens_are_typed_and_name_their_refresh_family(served, clock):
    srv = served("jwt")
    client, response = login(srv)
    token = response.json()["access_token"]
    assert tokens.get_unverified_header(token)["typ"] == "at+jwt"
    claims = tokens.decode(
        token, auth_config(srv.app).secret, algorithms=["HS256"], audience="auth-course-api", clock=clock, typ="at+jwt"
    )
    store = auth_config(srv.app).refresh_store
    assert claims["sid"] == store.family_id(client.cookies[REFRESH_COOKIE])
    rotated = refresh(srv, client).json()["access_token"]  # a refreshed token names the same family
    assert (
        tokens.decode(
            rotated,
            auth_config(srv.app).secret,
            algorithms=["HS256"],
            audience="auth-course-api",
            clock=clock,
            typ="at+jwt",
        )["sid"]
        == claims["sid"]
    )


def test_logout_at_the_root_ends_the_refresh_family_named_by_the_access_token(served):
    srv = served("jwt")
    browser, response = login(srv)
    copied = browser.cookies[REFRESH_COOKIE]  # taken before logout, e.g. by malware on the device
    # A browser sends no Path=/refresh cookie to /logout; the access token's sid names the family.
    answer = browser.post(srv.url + "/logout", headers=bearer(response.json()["access_token"]))
    assert answer.json() == {"logged_out": True, "token_revoked": False, "refresh_revoked": True}
    assert "revoked" in assert_401_json(refresh_replay(srv, copied))["reason"]


def test_hybrid_logout_with_the_session_cookie_alone_ends_the_refresh_family(served):
    srv = served("both")
    browser, _ = login(srv)
    copied = browser.cookies[REFRESH_COOKIE]
    answer = browser.post(srv.url + "/logout")  # only the session cookie goes to /logout
    assert answer.json() == {
        "logged_out": True,
        "session_deleted": True,
        "token_revoked": False,
        "refresh_revoked": True,
    }
    assert_401_json(refresh_replay(srv, copied))
    assert_401_json(browser.get(srv.url + "/me"))


def test_logout_revokes_only_its_own_login(served):
    srv = served("jwt")
    laptop, laptop_login = login(srv)
    phone, _ = login(srv)
    laptop.post(srv.url + "/logout", headers=bearer(laptop_login.json()["access_token"]))
    assert refresh(srv, phone).status_code == 200  # the other device's login lives on


# --- typed tokens: no other JWT passes for an access token (row 12) ------------------------------


@pytest.mark.parametrize("header", [{}, {"typ": "JWT"}, {"typ": "refresh+jwt"}, {"typ": None}])
def test_a_token_of_another_type_signed_with_the_same_key_is_refused(served, clock, header):
    srv = served("jwt")
    # What an ID token (or any other JWT this key signs) looks like: the right key, issuer, audience and claims.
    claims = admin_claims(clock, jti="a" * 32)
    other = tokens.encode(claims, auth_config(srv.app).secret, headers=header)
    body = assert_401_json(srv.client().get(srv.url + "/me", headers=bearer(other)))
    assert "typ" in body["reason"] or "access token" in body["reason"]
    typed = tokens.encode(claims, auth_config(srv.app).secret, headers={"typ": "at+jwt"})
    assert srv.client().get(srv.url + "/me", headers=bearer(typed)).json()["role"] == "admin"  # the control


# --- the user's current state on every request, and logging out everywhere (row 5) ---------------


def test_a_session_reads_the_current_role_at_every_request(served, users):
    srv = served("session")
    client, _ = login(srv, credentials=BOB)
    assert client.get(srv.url + "/me").json()["role"] == "admin"
    users.set_role("bob", "user")
    assert client.get(srv.url + "/me").json()["role"] == "user"  # demoted at once, not at the next login


def test_a_deleted_account_ends_its_sessions(served, clock):
    store = MemoryStore(clock=clock)
    srv = served("session", store=store)
    client, _ = login(srv)
    auth_config(srv.app).users = UserDirectory(params=ScryptParams(n=2**4, r=1, p=1))  # alice is gone
    assert "no longer exists" in assert_401_json(client.get(srv.url + "/me"))["reason"]
    assert store.count() == 0


def two_devices(srv):
    """Two logins of alice: (client, access token) each."""
    return [(client, response.json().get("access_token")) for client, response in (login(srv), login(srv))]


def assert_every_login_ended(srv, devices, strategy):
    for client, access in devices:
        if strategy in ("session", "both"):
            assert_401_json(client.get(srv.url + "/me"))
        if strategy in ("jwt", "both"):
            assert_401_json(refresh(srv, client))
            assert_401_json(client.get(srv.url + "/api/data", headers=bearer(access)))  # with a denylist: at once


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_logout_everywhere_ends_every_login_of_the_user(served, clock, strategy):
    srv = served(strategy, denylist=MemoryDenylist(clock=clock))
    devices = two_devices(srv)
    bob, _ = login(srv, credentials=BOB)
    first, access = devices[0]
    headers = bearer(access) if strategy == "jwt" else {}
    answer = first.post(srv.url + "/logout-everywhere", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["logged_out"] is True
    assert body.get("sessions_deleted", 2) == 2 and body.get("refresh_families_revoked", 2) == 2
    assert body.get("tokens_revoked", True) is True
    assert_every_login_ended(srv, devices, strategy)
    other = refresh(srv, bob) if strategy != "session" else bob.get(srv.url + "/me")
    assert other.status_code == 200  # another user's login is untouched
    clock.advance(seconds=1)
    again, response = login(srv)  # logging in again works at once
    assert response.status_code == 200
    if strategy in ("jwt", "both"):
        assert again.get(srv.url + "/api/data", headers=bearer(response.json()["access_token"])).status_code == 200


def test_logout_everywhere_needs_a_credential(served):
    srv = served("both")
    assert_401_json(srv.client().post(srv.url + "/logout-everywhere"))


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_set_password_called_directly_ends_every_login(served, users, clock, strategy):
    srv = served(strategy, denylist=MemoryDenylist(clock=clock))
    devices = two_devices(srv)
    users.set_password("alice", "a brand new passphrase")
    assert_every_login_ended(srv, devices, strategy)


def test_password_change_over_http(served, clock):
    srv = served("both", denylist=MemoryDenylist(clock=clock))
    devices = two_devices(srv)
    client, access = devices[0]
    url = srv.url + "/password"
    wrong = client.post(url, json={"current_password": "nope", "new_password": "a brand new passphrase"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "Forbidden"
    assert client.get(srv.url + "/me").status_code == 200  # a refused change ends nothing
    for body in (
        {"current_password": "wonderland", "new_password": "short"},
        {"new_password": "a brand new passphrase"},
        {"current_password": "wonderland", "new_password": 12345678901234},
    ):
        assert client.post(url, json=body).status_code == 400
    assert_401_json(srv.client().post(url, json={"current_password": "wonderland", "new_password": "x" * 20}))
    changed = client.post(url, json={"current_password": "wonderland", "new_password": "a brand new passphrase"})
    assert changed.json() == {"password_changed": True, "logged_out": True}
    assert_cleared(changed, SESSION_COOKIE)
    assert_cleared(changed, REFRESH_COOKIE)
    assert_every_login_ended(srv, devices, "both")
    clock.advance(seconds=1)
    assert login(srv)[1].status_code == 401  # the old password is gone
    assert login(srv, credentials={"username": "alice", "password": "a brand new passphrase"})[1].status_code == 200


# --- login throttling and the hashing cap (row 2) -----------------------------------------------


def test_failed_logins_lock_the_account_with_429_and_retry_after(served, clock):
    srv = served("session", throttle=LoginThrottle(clock, account_failures=3, window=600))
    wrong = {"username": "alice", "password": "guess"}
    assert [login(srv, credentials=wrong)[1].status_code for _ in range(3)] == [401, 401, 401]
    locked = login(srv)[1]  # even the right password waits: the lockout must not reveal it
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "600"
    assert locked.json()["error"] == "Too Many Requests"
    assert login(srv, credentials=BOB)[1].status_code == 200  # another account is not locked
    clock.advance(seconds=599)
    assert login(srv)[1].headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert login(srv)[1].status_code == 200


def test_failed_logins_lock_the_client_across_accounts(served, clock):
    srv = served("jwt", throttle=LoginThrottle(clock, account_failures=100, client_failures=4))
    answers = [login(srv, credentials={"username": f"user{i}", "password": "x"})[1].status_code for i in range(5)]
    assert answers == [401, 401, 401, 401, 429]


def test_a_full_hashing_cap_answers_503_with_retry_after(served):
    srv = served("session", hashing_limit=1)
    with auth_config(srv.app).hashing.slot() as held:  # a login in progress holds the only slot
        assert held
        busy = login(srv)[1]
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert login(srv)[1].status_code == 200


# --- hostile bodies (row 3) -----------------------------------------------------------------------


NESTED = [b"[" * 2000, b'{"a":' * 2000, b"[" * 2000 + b"]" * 2000, b'{"username": ' + b"[" * 100 + b"]" * 100 + b"}"]


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
@pytest.mark.parametrize("chunked", [False, True])
def test_deeply_nested_json_is_a_400(served, strategy, chunked):
    srv = served(strategy)
    client = srv.client()
    for body in NESTED:
        data = iter([body[:7], body[7:]]) if chunked else body  # an iterator makes requests send it chunked
        answer = client.post(srv.url + "/login", data=data, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_a_413_chunked_or_not(served, chunked):
    srv = served("both")
    client = srv.client()
    for size, status in ((16 * 1024, 400), (16 * 1024 + 1, 413), (100_000, 413)):
        body = b" " * size
        data = iter([body[: size // 2], body[size // 2 :]]) if chunked else body
        answer = client.post(srv.url + "/login", data=data, headers={"Content-Type": "application/json"})
        assert answer.status_code == status, (size, answer.text)


# --- cookie tossing (row 7) -------------------------------------------------------------------------


def test_a_tossed_second_refresh_cookie_is_refused_and_revokes_nothing(served):
    srv = served("jwt")
    victim, _ = login(srv)
    attacker, _ = login(srv, credentials=BOB)
    mine, planted = victim.cookies[REFRESH_COOKIE], attacker.cookies[REFRESH_COOKIE]
    store = auth_config(srv.app).refresh_store
    for path in ("/refresh/logout", "/refresh"):
        # The planted cookie (longer Path, so the browser sends it first) and the victim's own.
        answer = srv.client().post(
            srv.url + path, json={}, headers={"Cookie": f"{REFRESH_COOKIE}={planted}; {REFRESH_COOKIE}={mine}"}
        )
        assert answer.status_code == 400 and "Set-Cookie" not in answer.headers
    assert {family.user_id for family in store.active_families()} == {"alice", "bob"}  # nothing was revoked
    same_twice = srv.client().post(
        srv.url + "/refresh", json={}, headers={"Cookie": f"{REFRESH_COOKIE}={mine}; {REFRESH_COOKIE}={mine}"}
    )
    assert same_twice.status_code == 200  # two identical copies are not ambiguous


def test_a_tossed_second_session_cookie_is_refused(served):
    srv = served("session")
    victim, _ = login(srv)
    answer = srv.client().get(
        srv.url + "/me",
        headers={"Cookie": f"{SESSION_COOKIE}=planted; {SESSION_COOKIE}={victim.cookies[SESSION_COOKIE]}"},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "Bad request"


# --- stores stay bounded (row 6) ---------------------------------------------------------------------


def test_two_thousand_refreshes_leave_a_bounded_refresh_store(clock, users):
    store = SQLiteRefreshStore(":memory:", clock=clock)
    app = create_app("jwt", clock=clock, users=users, refresh_store=store, explain_errors=True)
    client = app.test_client()
    assert client.post("/login", json=ALICE).status_code == 200
    answers = []
    for _ in range(2000):
        clock.advance(seconds=60)
        answers.append(client.post("/refresh", json={}))
    cap = store.max_rotations_per_family
    assert [a.status_code for a in answers] == [200] * cap + [401] * (2000 - cap)  # the login ended at the cap
    assert "login too old" in answers[cap].json["reason"]
    assert store.count() <= cap + 1  # every token the family issued, each spent one still known
    clock.advance(days=8)  # the family expired: the next login's write purges it
    assert client.post("/login", json=ALICE).status_code == 200
    assert store.count() == 1
    store.close()


def test_the_session_store_purges_expired_logins_by_itself(clock, users):
    store = SQLiteStore(":memory:", clock=clock)
    app = create_app("session", clock=clock, users=users, store=store)
    client = app.test_client()
    for _ in range(300):
        clock.advance(hours=1)
        assert client.post("/login", json=ALICE).status_code == 200
    # A login every hour for 300 hours; each session idles out after 7 days (168 hours).
    assert store.count() <= 168 + 2
    store.close()


def test_rotations_over_https_stay_bounded_and_end_the_login_at_the_cap(served, clock):
    store = SQLiteRefreshStore(":memory:", clock=clock, max_rotations_per_family=4)
    srv = served("jwt", refresh_store=store)
    client, _ = login(srv)
    first = client.cookies[REFRESH_COOKIE]
    for _ in range(4):
        assert refresh(srv, client).status_code == 200
    ended = refresh(srv, client)
    assert "login too old" in assert_401_json(ended)["reason"]
    assert REFRESH_COOKIE not in client.cookies  # the useless cookie was cleared
    assert store.count() == 4 + 1 and store.active_families() == []
    assert "reuse detected" in assert_401_json(refresh_replay(srv, first))["reason"]  # still known as spent


def test_a_user_directory_shared_by_many_apps_does_not_keep_them_alive(users, clock):
    app = create_app("session", users=users, clock=clock)
    store = auth_config(app).store
    client = app.test_client()
    assert client.post("/login", json=ALICE).status_code == 200
    users.set_password("alice", "a brand new passphrase")
    assert store.count() == 0  # the live app heard of the change
    store.close()
    del app, client
    gc.collect()
    users.set_password("alice", "another new passphrase")  # the collected app, its store closed, is not called


class CountingDirectory(UserDirectory):
    """A user directory that records the most password checks it ever ran at once."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._count_lock = threading.Lock()
        self.running = self.most = 0

    def authenticate(self, username: str, password: str):
        with self._count_lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return super().authenticate(username, password)
        finally:
            with self._count_lock:
                self.running -= 1


def test_a_login_flood_never_runs_more_hashes_at_once_than_the_cap(served, clock):
    users = CountingDirectory(params=ScryptParams(n=2**12, r=8, p=1))  # ~4 MiB and a few ms per hash
    users.add("alice", "wonderland")
    srv = served(
        "session",
        users=users,
        hashing_limit=2,
        throttle=LoginThrottle(clock, account_failures=1000, client_failures=1000),
    )
    statuses = run_together(
        lambda i: login(srv, credentials={"username": "alice", "password": f"guess {i}"})[1].status_code, 16
    )
    assert set(statuses) <= {401, 503} and 401 in statuses
    assert 1 <= users.most <= 2, users.most


def test_a_verifier_whose_clock_lags_accepts_a_fresh_token_but_not_one_from_the_far_future(served, clock):
    srv = served("jwt")
    config = auth_config(srv.app)
    client = srv.client()

    def signed_by_a_server_ahead_by(seconds: float) -> str:
        ahead = dataclasses.replace(config, clock=FrozenClock(clock.now() + seconds))
        return web.issue_access_token(ahead, "alice", "user")

    slightly_ahead = signed_by_a_server_ahead_by(web.ISSUED_AT_SKEW / 2)
    assert client.get(srv.url + "/api/data", headers=bearer(slightly_ahead)).status_code == 200
    far_ahead = signed_by_a_server_ahead_by(web.ISSUED_AT_SKEW * 2)
    response = client.get(srv.url + "/api/data", headers=bearer(far_ahead))
    assert assert_401_json(response)["reason"] == web._token_reason(tokens.ImmatureSignatureError())


@pytest.mark.parametrize("strategy", ["session", "jwt"])
def test_a_view_that_fails_answers_a_generic_json_500(clock, users, strategy):
    app = create_app(strategy, clock=clock, users=users)

    @app.get("/explode")
    def explode():
        raise RuntimeError("the secret hunter2 in /srv/app/secrets.py, line 7")

    srv = serve(app)
    try:
        response = srv.client().get(srv.url + "/explode")
    finally:
        srv.stop()
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "Internal Server Error", "reason": "the server failed; this is a bug"}
    for leak in ("hunter2", "secrets.py", "RuntimeError", "Traceback", "explode"):
        assert leak not in response.text
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("algorithm", ["HS512", "RS256", "none", "HS255"])
def test_an_algorithm_the_secret_cannot_sign_with_is_refused_when_the_app_is_built(algorithm):
    # A 32-byte generated secret is too short for HS512 and no RSA key; refused now, not as a 500 at the first login.
    with pytest.raises(tokens.PyJWTError):
        create_app("jwt", algorithm=algorithm)
