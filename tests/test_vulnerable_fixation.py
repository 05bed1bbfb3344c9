"""The deliberately fixation-prone app: its login keeps the session ID the browser arrived with."""

from __future__ import annotations

import pytest

from helpers.server import serve
from helpers.vulnerable.fixation import COOKIE_NAME, FixationProneSessions, bind_login, create_fixation_app
from helpers.web import SESSION_COOKIE

ALICE = {"username": "alice", "password": "wonderland"}


def test_visitors_get_a_session_with_the_usual_flags(users):
    sessions = FixationProneSessions()
    with serve(create_fixation_app(users, sessions)) as srv:
        client = srv.client()
        response = client.get(srv.url + "/")
        assert response.json() == {"visitor": True}
        session_id = client.cookies[COOKIE_NAME]
        assert response.headers["Set-Cookie"] == f"{COOKIE_NAME}={session_id}; Secure; HttpOnly; Path=/; SameSite=Lax"
        assert len(session_id) == 43
        again = client.get(srv.url + "/")
        assert "Set-Cookie" not in again.headers and client.cookies[COOKIE_NAME] == session_id
        assert sessions.count() == 1 and sessions.logged_in_users() == []
        assert client.get(srv.url + "/me").status_code == 401


def test_login_keeps_the_planted_id_so_the_attacker_is_logged_in(users):
    sessions = FixationProneSessions()
    with serve(create_fixation_app(users, sessions)) as srv:
        attacker, victim = srv.client(), srv.client()
        attacker.get(srv.url + "/")
        planted = attacker.cookies[COOKIE_NAME]
        victim.cookies.set(COOKIE_NAME, planted, domain="127.0.0.1", path="/")
        login = victim.post(srv.url + "/login", json=ALICE)
        assert login.status_code == 200
        assert victim.cookies[COOKIE_NAME] == planted and len(victim.cookies) == 1
        assert attacker.get(srv.url + "/me").json() == {"user": "alice", "role": "user"}
        assert sessions.count() == 1 and sessions.logged_in_users() == ["alice"]


def test_unknown_ids_are_not_adopted(users):
    sessions = FixationProneSessions()
    with serve(create_fixation_app(users, sessions)) as srv:
        victim = srv.client()
        victim.cookies.set(COOKIE_NAME, "made-up-by-the-attacker", domain="127.0.0.1", path="/")
        assert victim.post(srv.url + "/login", json=ALICE).status_code == 200
        assert victim.cookies[COOKIE_NAME] != "made-up-by-the-attacker"
        stranger = srv.client()
        assert (
            stranger.get(srv.url + "/me", headers={"Cookie": f"{COOKIE_NAME}=made-up-by-the-attacker"}).status_code
            == 401
        )
        assert victim.get(srv.url + "/me").status_code == 200


def test_login_without_a_session_starts_one(users):
    sessions = FixationProneSessions()
    with serve(create_fixation_app(users, sessions)) as srv:
        client = srv.client()
        assert client.post(srv.url + "/login", json=ALICE).status_code == 200
        assert client.get(srv.url + "/me").json() == {"user": "alice", "role": "user"}
        assert sessions.logged_in_users() == ["alice"]


def test_bad_logins_bind_nothing(users):
    sessions = FixationProneSessions()
    with serve(create_fixation_app(users, sessions)) as srv:
        client = srv.client()
        client.get(srv.url + "/")
        wrong = client.post(srv.url + "/login", json={"username": "alice", "password": "nope"})
        assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
        assert client.post(srv.url + "/login", json={"username": "alice"}).status_code == 400
        assert sessions.logged_in_users() == [] and client.get(srv.url + "/me").status_code == 401


@pytest.mark.parametrize("garbage", [None, "", "x" * 10_000, "é", 42])
def test_the_session_table_ignores_garbage_ids(garbage):
    sessions = FixationProneSessions()
    assert not sessions.knows(garbage) and sessions.user_of(garbage) is None


def test_bind_login_reuses_known_ids_and_only_those():
    sessions = FixationProneSessions()
    visitor = sessions.start()
    assert bind_login(sessions, visitor, "alice", "user") == visitor
    fresh = bind_login(sessions, "unknown", "bob", "admin")
    assert fresh not in (visitor, "unknown")
    assert sessions.user_of(visitor) == ("alice", "user") and sessions.user_of(fresh) == ("bob", "admin")
    with pytest.raises(KeyError):
        sessions.log_in("never-issued", "alice", "user")


def test_the_hardened_app_drops_a_planted_id(served):
    """The contrast the chapter draws: helpers.web issues a fresh ID at login and deletes the planted one."""
    from helpers.web import auth_config

    srv = served("session")
    store = auth_config(srv.app).store
    planted = store.create("visitor", role="anonymous")
    victim = srv.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1", path="/")
    assert victim.post(srv.url + "/login", json=ALICE).status_code == 200
    assert victim.cookies[SESSION_COOKIE] != planted and len(victim.cookies) == 1
    assert store.get(planted) is None
    assert srv.client().get(srv.url + "/me", headers={"Cookie": f"{SESSION_COOKIE}={planted}"}).status_code == 401
    assert victim.get(srv.url + "/me").json()["user"] == "alice"
