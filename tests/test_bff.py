"""The backend-for-frontend over HTTPS: the page gets one cookie, never a token, and logout ends the API login."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from helpers.bff import BFF_COOKIE, BFF_SESSION_TTL, bff_config, create_bff
from helpers.clock import FrozenClock
from helpers.server import RunningServer, serve
from helpers.users import UserDirectory
from helpers.web import REFRESH_COOKIE, SESSION_COOKIE, auth_config, cookie_challenge, create_app

ALICE = {"username": "alice", "password": "wonderland"}


@pytest.fixture
def pair(clock: FrozenClock, users: UserDirectory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The course API (strategy "both") and a BFF in front of it, both served over HTTPS."""
    with serve(create_app("both", clock=clock, users=users)) as api:
        with serve(create_bff(api.url, api.client, clock=clock)) as bff:
            yield api, bff


def test_the_page_gets_one_httponly_cookie_and_no_token(pair):
    api, bff = pair
    page = bff.client()
    login = page.post(bff.url + "/login", json=ALICE)
    assert login.status_code == 200 and login.json() == {"user": "alice", "role": "user"}
    assert [cookie.name for cookie in page.cookies] == [BFF_COOKIE]
    header = login.headers["Set-Cookie"]
    assert all(flag in header for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"))
    data = page.get(bff.url + "/api/data")
    assert data.status_code == 200 and data.json()["owner"] == "alice" and data.json()["via"] == "jwt"
    (grant,) = bff_config(bff.app).grants.values()
    for answer in (login, data):
        assert grant.access_token not in answer.text and "access_token" not in answer.text
    # The API issued only what the BFF asked for: a refresh family, no session row.
    config = auth_config(api.app)
    assert config.store.count() == 0 and len(config.refresh_store.active_families()) == 1
    assert {cookie.name for cookie in grant.api.cookies} == {REFRESH_COOKIE}


def test_a_script_on_the_page_finds_no_refresh_route(pair):
    _, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    same_origin = {"Origin": bff.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    answer = page.post(bff.url + "/refresh", json={}, headers=same_origin)
    assert answer.status_code == 404 and "access_token" not in answer.text


def test_the_bff_refreshes_server_side_when_the_access_token_expires(pair, clock):
    _, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    (grant,) = bff_config(bff.app).grants.values()
    first = grant.access_token
    clock.advance(minutes=16)
    assert page.get(bff.url + "/api/data").status_code == 200
    assert grant.refreshes == 1 and grant.access_token != first


def test_pages_that_find_the_access_token_expired_together_refresh_it_once(pair, clock):
    api, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    (grant,) = bff_config(bff.app).grants.values()
    clock.advance(minutes=16)
    tabs = [bff.client() for _ in range(6)]
    for tab in tabs:
        tab.cookies.update(page.cookies)
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda t=tab: statuses.append(t.get(bff.url + "/api/data").status_code)) for tab in tabs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert grant.refreshes == 1  # a second refresh of the same token would have been taken for theft
    assert len(auth_config(api.app).refresh_store.active_families()) == 1


def test_a_logout_after_the_access_token_expired_still_ends_the_refresh_family(pair, clock):
    api, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    clock.advance(minutes=20)  # past the access token's lifetime: its sid claim can no longer be read
    out = page.post(bff.url + "/logout", json={})
    assert out.json() == {"logged_out": True, "api_refresh_revoked": True}
    assert not bff_config(bff.app).grants
    assert not auth_config(api.app).refresh_store.active_families()


def test_logout_ends_the_bff_session_and_the_api_login(pair):
    api, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    copy = page.cookies[BFF_COOKIE]
    out = page.post(bff.url + "/logout", json={})
    assert out.json() == {"logged_out": True, "api_refresh_revoked": True}
    assert BFF_COOKIE not in page.cookies
    replay = bff.client().get(bff.url + "/api/data", headers={"Cookie": f"{BFF_COOKIE}={copy}"})
    assert replay.status_code == 401 and replay.headers["WWW-Authenticate"] == cookie_challenge(BFF_COOKIE)
    assert not bff_config(bff.app).grants and bff_config(bff.app).store.count() == 0
    assert not auth_config(api.app).refresh_store.active_families()


@pytest.mark.parametrize("cookie", ["", "x" * 5000, "not-a-session", "a; __Host-bff=b"])
def test_no_or_bad_cookie_is_a_401_with_a_challenge(pair, cookie):
    _, bff = pair
    headers = {"Cookie": f"{BFF_COOKIE}={cookie}"} if cookie else {}
    answer = bff.client().get(bff.url + "/api/data", headers=headers)
    assert answer.status_code in (400, 401), answer.text
    assert answer.status_code == 400 or answer.headers["WWW-Authenticate"] == cookie_challenge(BFF_COOKIE)
    assert answer.headers["Cache-Control"] == "no-store"


def test_wrong_password_and_bad_bodies_are_passed_on_as_4xx(pair):
    api, bff = pair
    wrong = bff.client().post(bff.url + "/login", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    nested = bff.client().post(bff.url + "/login", data=b"[" * 2000, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400
    assert bff.client().post(bff.url + "/login", json=["alice"]).status_code == 400
    assert bff.client().post(bff.url + "/login", json={"username": "alice", "password": 7}).status_code == 400
    assert not bff_config(bff.app).grants and not auth_config(api.app).refresh_store.active_families()


def test_a_cross_site_logout_is_refused(pair):
    _, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    cross_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    answer = page.post(bff.url + "/logout", json={}, headers=cross_site)
    assert answer.status_code == 403 and BFF_COOKIE in page.cookies
    assert page.get(bff.url + "/api/data").status_code == 200


def test_the_page_never_holds_a_session_of_the_api(pair):
    _, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    assert SESSION_COOKIE not in page.cookies and REFRESH_COOKIE not in page.cookies


def test_the_session_slides_once_per_update_age_and_the_cookie_with_it(pair, clock):
    _, bff = pair
    page = bff.client()
    login = page.post(bff.url + "/login", json=ALICE)
    assert f"Max-Age={BFF_SESSION_TTL}" in login.headers["Set-Cookie"]
    store = bff_config(bff.app).store
    writes: list[float] = []  # every idle-deadline write the store makes
    real_touch = store._touch
    store._touch = lambda id_hash, now: writes.append(now) or real_touch(id_hash, now)
    for _ in range(10):  # ten requests a minute apart, all within one update_age: reads only, no cookie
        clock.advance(seconds=60)
        answer = page.get(bff.url + "/api/data")
        assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert writes == []
    clock.advance(seconds=store.update_age)
    slid = page.get(bff.url + "/api/data")
    assert slid.status_code == 200 and writes == [clock.now()]
    renewed = slid.headers["Set-Cookie"]
    assert f"Max-Age={BFF_SESSION_TTL}" in renewed and renewed.startswith(f"{BFF_COOKIE}={page.cookies[BFF_COOKIE]};")
    assert all(flag in renewed for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"))
    assert "Set-Cookie" not in page.get(bff.url + "/api/data").headers and len(writes) == 1
    clock.advance(seconds=store.update_age)  # due to slide again, but a logout ends the session instead
    out = page.post(bff.url + "/logout", json={})
    (deleted,) = out.raw.headers.getlist("Set-Cookie")  # one Set-Cookie: the deletion, no renewal beside it
    assert "Max-Age=0" in deleted
    assert BFF_COOKIE not in page.cookies


def test_a_logout_the_api_cannot_hear_is_a_502_that_keeps_the_grant_for_a_retry(clock, users, capfd):
    api = serve(create_app("both", clock=clock, users=users))
    with serve(create_bff(api.url, api.client, clock=clock)) as bff:
        page = bff.client()
        page.post(bff.url + "/login", json=ALICE)
        family = auth_config(api.app).refresh_store
        api.stop()  # the API is gone: the BFF cannot end the tokens it holds
        out = page.post(bff.url + "/logout", json={})
        assert out.status_code == 502 and out.json()["error"] == "Bad Gateway"
        assert BFF_COOKIE in page.cookies and len(bff_config(bff.app).grants) == 1
        assert len(family.active_families()) == 1  # still live at the API, and still reachable to log out
    assert capfd.readouterr().err == ""


def test_a_failing_bff_view_is_a_json_500_that_says_nothing(pair, capfd):
    api, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    (grant,) = bff_config(bff.app).grants.values()
    grant.api.get = None  # any bug in a view: the page learns there was one, nothing more
    answer = page.get(bff.url + "/api/data")
    assert answer.status_code == 500 and answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"error": "Internal Server Error", "reason": "the server failed; this is a bug"}
    assert capfd.readouterr().err == ""


def test_a_grant_whose_session_expired_is_logged_out_at_the_api(pair, clock):
    api, bff = pair
    families = auth_config(api.app).refresh_store
    idle, returning = bff.client(), bff.client()
    idle.post(bff.url + "/login", json=ALICE)
    returning.post(bff.url + "/login", json=ALICE)
    clock.advance(seconds=BFF_SESSION_TTL + 60)  # both pages idle past the BFF session's lifetime
    assert len(families.active_families()) == 2
    assert returning.get(bff.url + "/api/data").status_code == 401  # its session is gone, and with it its grant
    assert len(bff_config(bff.app).grants) == 1 and len(families.active_families()) == 1
    bff.client().post(bff.url + "/login", json=ALICE)  # a login sweeps grants idle past the session's lifetime
    assert len(bff_config(bff.app).grants) == 1 and len(families.active_families()) == 1


def test_logging_in_again_on_one_page_ends_the_grant_it_replaces(pair):
    api, bff = pair
    page = bff.client()
    page.post(bff.url + "/login", json=ALICE)
    page.post(bff.url + "/login", json=ALICE)
    assert len(bff_config(bff.app).grants) == 1
    assert len(auth_config(api.app).refresh_store.active_families()) == 1
