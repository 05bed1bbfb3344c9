"""The course's JWT app with the access token in an HttpOnly cookie, driven over real HTTPS.

The apps are built with ``explain_errors=True`` where a test checks why a request got a 401.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import tokens
from helpers.attacks import Browser, tamper_claims, xss_steal
from helpers.denylist import MemoryDenylist
from helpers.server import RunningServer, serve
from helpers.token_cookie import ACCESS_COOKIE, create_token_cookie_app
from helpers.web import REFRESH_COOKIE, auth_config, create_app

ALICE = {"username": "alice", "password": "wonderland"}
SECRET = b"test-only HS256 key for the token cookie app, 32+ bytes"


@pytest.fixture
def cookie_app(clock, users) -> Iterator[RunningServer]:
    with serve(create_token_cookie_app(clock=clock, users=users, secret=SECRET, explain_errors=True)) as srv:
        yield srv


def login(srv: RunningServer) -> tuple[Browser, object]:
    browser = Browser(srv.client())
    return browser, browser.request("POST", srv.url + "/login", json=ALICE)


def stored(browser: Browser, name: str):
    return next(cookie for cookie in browser.cookies.values() if cookie.name == name)


def test_login_puts_the_token_in_a_hardened_cookie_not_the_body(cookie_app):
    browser, answer = login(cookie_app)
    assert answer.status_code == 200
    assert answer.json() == {"user": "alice", "role": "user", "expires_in": 900}
    cookie = stored(browser, ACCESS_COOKIE)
    assert (cookie.secure, cookie.httponly, cookie.samesite, cookie.path) == (True, True, "Strict", "/")
    claims = tokens.decode(
        cookie.value, SECRET, algorithms=["HS256"], audience="auth-course-api", clock=auth_config(cookie_app.app).clock
    )
    assert claims["sub"] == "alice" and claims["role"] == "user"
    assert "Max-Age=900" in ";".join(answer.raw.headers.getlist("Set-Cookie"))


def test_the_cookie_alone_authenticates_and_scripts_cannot_read_it(cookie_app):
    browser, _ = login(cookie_app)
    assert browser.request("GET", cookie_app.url + "/me").json() == {"user": "alice", "role": "user", "via": "jwt"}
    assert browser.request("GET", cookie_app.url + "/api/data").status_code == 200
    assert xss_steal(browser, cookie_app.url + "/") == {}


def test_no_cookie_or_a_tampered_one_is_a_401_json(cookie_app):
    browser, _ = login(cookie_app)
    assert cookie_app.client().get(cookie_app.url + "/me").status_code == 401
    cookie = stored(browser, ACCESS_COOKIE)
    cookie.value = tamper_claims(cookie.value, role="admin")
    answer = browser.request("GET", cookie_app.url + "/me")
    assert answer.status_code == 401 and answer.json()["reason"] == "Signature verification failed"
    cookie.value = "x" * 5000  # over the length limit: ignored, so no credential at all
    assert browser.request("GET", cookie_app.url + "/me").json()["reason"] == "no bearer token"


def test_an_explicit_authorization_header_wins_over_the_cookie(cookie_app):
    browser, _ = login(cookie_app)
    answer = browser.request("GET", cookie_app.url + "/me", headers={"Authorization": "Bearer not.a.token"})
    assert answer.status_code == 401


def test_the_token_expires_and_refresh_renews_the_cookie(cookie_app, clock):
    browser, _ = login(cookie_app)
    first = stored(browser, ACCESS_COOKIE).value
    clock.advance(minutes=16)
    assert browser.request("GET", cookie_app.url + "/me").json()["reason"] == "Signature has expired"
    renewed = browser.request("POST", cookie_app.url + "/refresh", json={})
    assert renewed.status_code == 200 and "access_token" not in renewed.json()
    assert stored(browser, ACCESS_COOKIE).value != first
    assert browser.request("GET", cookie_app.url + "/me").status_code == 200


def test_logout_clears_the_cookie_but_a_copy_lives_until_exp(cookie_app, clock):
    browser, _ = login(cookie_app)
    copy = stored(browser, ACCESS_COOKIE).value
    assert browser.request("POST", cookie_app.url + "/logout").json()["token_revoked"] is False
    assert not any(c.name == ACCESS_COOKIE for c in browser.cookies.values())
    thief = cookie_app.client()
    thief.cookies.set(ACCESS_COOKIE, copy, domain="127.0.0.1")
    assert thief.get(cookie_app.url + "/me").status_code == 200
    clock.advance(minutes=15)
    assert thief.get(cookie_app.url + "/me").status_code == 401


def test_logout_with_a_denylist_revokes_the_cookie_token(clock, users):
    app = create_token_cookie_app(
        clock=clock, users=users, secret=SECRET, denylist=MemoryDenylist(clock), explain_errors=True
    )
    with serve(app) as srv:
        browser, _ = login(srv)
        copy = stored(browser, ACCESS_COOKIE).value
        assert browser.request("POST", srv.url + "/refresh/logout", json={}).json()["token_revoked"] is True
        thief = srv.client()
        thief.cookies.set(ACCESS_COOKIE, copy, domain="127.0.0.1")
        assert thief.get(srv.url + "/me").json()["reason"] == "Token has been revoked"
        assert not any(c.name in (ACCESS_COOKIE, REFRESH_COOKIE) for c in browser.cookies.values())


def test_cross_site_requests_get_neither_the_cookie_nor_a_post(cookie_app):
    browser, _ = login(cookie_app)
    evil = "https://evil.example/page.html"
    assert ACCESS_COOKIE not in browser.cookies_for(cookie_app.url + "/me", evil, "GET", top_level=True)
    assert browser.request("POST", cookie_app.url + "/logout", initiator=evil).status_code == 403


def set_cookie_names(answer) -> list[str]:
    return [header.partition("=")[0] for header in answer.raw.headers.getlist("Set-Cookie")]


@pytest.mark.parametrize("path", ["/logout", "/refresh/logout", "/logout-everywhere"])
def test_a_refused_logout_leaves_the_cookie_so_the_real_one_can_revoke_it(clock, users, path):
    app = create_token_cookie_app(clock=clock, users=users, secret=SECRET, denylist=MemoryDenylist(clock))
    with serve(app) as srv:
        browser, _ = login(srv)
        copy = stored(browser, ACCESS_COOKIE).value
        refused = browser.request("POST", srv.url + path, json={}, initiator="https://evil.example/page.html")
        assert refused.status_code == 403 and ACCESS_COOKIE not in set_cookie_names(refused)
        assert stored(browser, ACCESS_COOKIE).value == copy  # still there, so the real logout can present it
        real = browser.request("POST", srv.url + path, json={})
        assert real.status_code == 200 and ACCESS_COOKIE in set_cookie_names(real)
        thief = srv.client()
        thief.cookies.set(ACCESS_COOKIE, copy, domain="127.0.0.1")
        assert thief.get(srv.url + "/me").status_code == 401


def test_logout_with_only_the_cookie_ends_the_refresh_family_too(cookie_app):
    browser, _ = login(cookie_app)
    refresh_copy = stored(browser, REFRESH_COOKIE).value
    answer = browser.request("POST", cookie_app.url + "/logout")  # the browser sends no Path=/refresh cookie here
    assert answer.json()["refresh_revoked"] is True
    replay = cookie_app.client().post(
        cookie_app.url + "/refresh", json={}, headers={"Cookie": f"{REFRESH_COOKIE}={refresh_copy}"}
    )
    assert replay.status_code == 401


def test_failed_login_sets_no_cookie(cookie_app):
    answer = cookie_app.client().post(cookie_app.url + "/login", json={"username": "alice", "password": "wrong"})
    assert answer.status_code == 401 and ACCESS_COOKIE not in answer.headers.get("Set-Cookie", "")


def test_the_plain_app_is_unchanged(clock, users):
    with serve(create_app("jwt", clock=clock, users=users, secret=SECRET)) as srv:
        answer = srv.client().post(srv.url + "/login", json=ALICE)
        assert "access_token" in answer.json() and ACCESS_COOKIE not in answer.headers["Set-Cookie"]
