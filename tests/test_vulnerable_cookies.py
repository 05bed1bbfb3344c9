"""The deliberately naive cookie app: it logs in properly, then believes whatever the cookie says."""

from __future__ import annotations

from helpers.server import serve
from helpers.vulnerable.cookies import COOKIE_NAME, create_naive_app

ALICE = {"username": "alice", "password": "wonderland"}


def test_login_sets_a_plain_username_cookie_with_the_usual_flags(users):
    with serve(create_naive_app(users)) as srv:
        client = srv.client()
        response = client.post(srv.url + "/login", json=ALICE)
        assert response.status_code == 200
        assert response.json() == {"user": "alice", "role": "user"}
        assert response.headers["Set-Cookie"] == "user=alice; Secure; HttpOnly; Path=/; SameSite=Lax"
        assert client.get(srv.url + "/me").json() == {"user": "alice", "role": "user"}
        assert client.get(srv.url + "/admin").status_code == 403


def test_editing_the_cookie_makes_you_someone_else(users):
    with serve(create_naive_app(users)) as srv:
        client = srv.client()
        client.post(srv.url + "/login", json=ALICE)
        client.cookies.set(COOKIE_NAME, "bob", domain="127.0.0.1", path="/")
        assert len(client.cookies) == 1  # replaced, not added
        assert client.get(srv.url + "/me").json() == {"user": "bob", "role": "admin"}
        assert client.get(srv.url + "/admin").json() == {"area": "admin", "user": "bob"}


def test_no_password_needed_at_all(users):
    with serve(create_naive_app(users)) as srv:
        response = srv.client().get(srv.url + "/admin", headers={"Cookie": "user=bob"})
        assert response.status_code == 200


def test_missing_or_unknown_cookie_is_401(users):
    with serve(create_naive_app(users)) as srv:
        client = srv.client()
        assert client.get(srv.url + "/me").status_code == 401
        assert client.get(srv.url + "/admin").status_code == 401
        assert client.get(srv.url + "/me", headers={"Cookie": "user=mallory"}).status_code == 401


def test_bad_logins_set_no_cookie(users):
    with serve(create_naive_app(users)) as srv:
        client = srv.client()
        wrong = client.post(srv.url + "/login", json={"username": "alice", "password": "nope"})
        assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
        assert client.post(srv.url + "/login", json={"username": "alice"}).status_code == 400
        assert len(client.cookies) == 0
