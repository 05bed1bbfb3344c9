"""The naive JWT + refresh app falls to each gap its docstring names, over the real HTTPS server."""

from __future__ import annotations

import pytest

from helpers import attacks, tokens, web
from helpers.server import serve
from helpers.vulnerable import refresh_app
from helpers.vulnerable.refresh_app import AUDIENCE, ISSUER, create_naive_refresh_app
from helpers.web import REFRESH_COOKIE, bearer

ALICE = {"username": "alice", "password": "wonderland"}
BOB = {"username": "bob", "password": "builder"}
SECRET = b"DEMO ONLY: naive refresh app test key, 32+ bytes"


@pytest.fixture
def naive(users, clock):
    with serve(create_naive_refresh_app(users, SECRET, clock=clock)) as srv:
        yield srv


def test_the_naive_app_names_its_refresh_cookie_like_the_course_app():
    # The attacks address both apps with one cookie name and path, so the two must not drift apart.
    assert (refresh_app.REFRESH_COOKIE, refresh_app.REFRESH_PATH) == (web.REFRESH_COOKIE, web.REFRESH_PATH)


def test_logout_at_slash_logout_leaves_a_copied_refresh_token_rotating(naive):
    victim = naive.client()
    login = victim.post(naive.url + "/login", json=ALICE)
    thief = naive.client()
    thief.cookies.update(victim.cookies)  # copied before logout
    logout = victim.post(naive.url + "/logout", headers=bearer(login.json()["access_token"]))
    assert logout.status_code == 200 and logout.json() == {"logged_out": True, "refresh_revoked": False}
    assert [thief.post(naive.url + "/refresh", json={}).status_code for _ in range(3)] == [200, 200, 200]


def test_logout_where_the_cookie_arrives_does_revoke(naive):
    victim = naive.client()
    victim.post(naive.url + "/login", json=ALICE)
    thief = naive.client()
    thief.cookies.update(victim.cookies)
    assert victim.post(naive.url + "/refresh/logout").json()["refresh_revoked"] is True
    assert thief.post(naive.url + "/refresh", json={}).status_code == 401


def test_the_id_token_works_as_an_access_token_for_hours(naive, clock):
    body = naive.client().post(naive.url + "/login", json=ALICE).json()
    id_claims = tokens.decode(
        body["id_token"], SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, clock=clock
    )
    assert id_claims["exp"] - id_claims["iat"] == 10 * 3600 and attacks.segments(body["id_token"])[0]["typ"] == "JWT"
    clock.advance(hours=9)
    assert naive.client().get(naive.url + "/me", headers=bearer(body["access_token"])).status_code == 401
    answer = naive.client().get(naive.url + "/me", headers=bearer(body["id_token"]))
    assert answer.status_code == 200 and answer.json()["user"] == "alice"


def test_a_tossed_refresh_cookie_wins_and_logout_revokes_the_wrong_family(naive):
    attacker = naive.client()
    attacker.post(naive.url + "/login", json=BOB)
    planted = attacker.cookies[REFRESH_COOKIE]
    browser = attacks.Browser(naive.client())
    browser.request("POST", naive.url + "/login", json=ALICE)
    own = browser.cookies_for(naive.url + "/refresh")[REFRESH_COOKIE]
    assert browser.plant_from_sibling(naive.url, REFRESH_COOKIE, planted, path="/refresh/logout")
    assert browser.plant_from_sibling(naive.url, REFRESH_COOKIE, planted, path="/refresh")
    sent = browser.cookie_pairs(naive.url + "/refresh/logout")
    assert [name for name, _ in sent] == [REFRESH_COOKIE] * 3 and sent[0][1] == planted
    assert browser.request("POST", naive.url + "/refresh/logout").json()["refresh_revoked"] is True
    keeper = naive.client()  # the victim's own family, presented alone, still rotates
    keeper.cookies.set(REFRESH_COOKIE, own, domain="127.0.0.1", path="/refresh")
    assert keeper.post(naive.url + "/refresh", json={}).status_code == 200


def test_no_throttle_and_no_cache_control(naive):
    client = naive.client()
    statuses = [s for s, _ in attacks.guess_passwords(client, naive.url, "alice", [f"guess{i}" for i in range(12)])]
    assert statuses == [401] * 12
    login = client.post(naive.url + "/login", json=ALICE)
    assert login.status_code == 200
    me = client.get(naive.url + "/me", headers=bearer(login.json()["access_token"]))
    assert me.status_code == 200 and "Cache-Control" not in me.headers
