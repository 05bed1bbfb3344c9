"""ASVS-style checks on every hardened app, from outside, over the real HTTPS server.

Each app (the three strategies of ``helpers.web`` and the token-in-cookie app) is driven through a
whole life — logins good and bad, refreshes, refused and accepted logouts, logout everywhere, a
password change — and every response is checked against rules that must hold for all of them:

- every ``Set-Cookie``, deletions included, is HttpOnly, Secure and SameSite, with a prefixed name
  whose rules hold (``__Host-``: Path=/ and no Domain) (OWASP ASVS 3.4.1–3.4.5);
- every response is JSON, ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff`` (ASVS
  8.2.1, 14.4.1, 14.4.3), and none is a 500;
- 401, 403, 413, 415 and 429 answers have one JSON shape each; a 401 is ``{"error": "Unauthorized"}``
  whatever went wrong, so a thief cannot tell an expired token from a revoked one or a detected reuse,
  and nothing the client sent comes back in it (ASVS 7.4.1); a failed login has its own fixed answer,
  the same for an unknown user and a wrong password (ASVS 2.2.1); every 401 carries a
  ``WWW-Authenticate`` challenge (RFC 9110 §15.5.2): ``Bearer`` for tokens, ``Cookie`` for cookies;
- hostile bodies (nested JSON, huge numbers, invalid UTF-8, NUL bytes, wrong content types, chunked
  transfer) are fuzzed with hypothesis: each gets a clear 4xx, never a 500, never an accept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from conftest import CHEAP_PARAMS, DEMO_PASSWORDS, START
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import tokens
from helpers.attacks import Browser
from helpers.clock import FrozenClock
from helpers.denylist import MemoryDenylist
from helpers.server import RunningServer, serve
from helpers.throttle import LoginThrottle
from helpers.token_cookie import ACCESS_COOKIE, create_token_cookie_app
from helpers.users import UserDirectory
from helpers.web import REFRESH_COOKIE, SESSION_COOKIE, auth_config, bearer, cookie_challenge, create_app

APPS = ["session", "jwt", "both", "token_cookie"]
ALICE = {"username": "alice", "password": "wonderland"}
CREDENTIAL_COOKIES = {SESSION_COOKIE, REFRESH_COOKIE, ACCESS_COOKIE}
XSS = "<img src=x onerror=alert(1)>"
NEW_PASSWORD = "a brand new passphrase"
LOGIN_FAILED = {"error": "Invalid credentials", "reason": "unknown user or wrong password"}
CHALLENGES = {
    'Bearer realm="api"',
    'Bearer realm="api", error="invalid_token"',
    cookie_challenge(SESSION_COOKIE),
    cookie_challenge(REFRESH_COOKIE),
}


def demo_users() -> UserDirectory:
    directory = UserDirectory(params=CHEAP_PARAMS)
    for name, (password, role) in DEMO_PASSWORDS.items():
        directory.add(name, password, role=role)
    return directory


def make_app(kind: str, clock: FrozenClock, **options: Any):
    """A hardened app with its defaults (generic errors, a throttle), the frozen clock, cheap users and a denylist."""
    options = {"clock": clock, "users": demo_users(), "denylist": MemoryDenylist(clock=clock), **options}
    return create_token_cookie_app(**options) if kind == "token_cookie" else create_app(kind, **options)


def uses_tokens(kind: str) -> bool:
    return kind != "session"


@dataclass
class Recorder:
    """Every response an app gave during a test, with what was sent, for the rules checked afterwards."""

    seen: list[tuple[str, requests.Response]] = field(default_factory=list)

    def keep(self, label: str, response: requests.Response) -> requests.Response:
        self.seen.append((label, response))
        return response


def set_cookie_headers(response: requests.Response) -> list[str]:
    return response.raw.headers.getlist("Set-Cookie")


def cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    """The cookie's name and its attributes (lower-case names) from one Set-Cookie header."""
    first, *rest = [part.strip() for part in header.split(";")]
    attributes = {}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return first.partition("=")[0], attributes


def check_cookie(header: str) -> None:
    """ASVS 3.4: HttpOnly, Secure, SameSite on every credential cookie, and the prefix rules."""
    name, attributes = cookie_attributes(header)
    assert name in CREDENTIAL_COOKIES, f"unexpected cookie {name!r}"
    assert "httponly" in attributes and "secure" in attributes, header
    assert attributes.get("samesite") in ("Lax", "Strict"), header
    assert "domain" not in attributes, header  # host-only: never shared with sibling subdomains
    if name.startswith("__Host-"):
        assert attributes.get("path") == "/", header
    else:
        assert name.startswith("__Secure-"), header


def check_response(label: str, response: requests.Response) -> None:
    """The rules every answer of a hardened app meets."""
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
    assert response.headers.get("Cache-Control") == "no-store", label
    assert response.headers.get("X-Content-Type-Options") == "nosniff", label
    assert response.headers.get("Content-Type", "").startswith("application/json"), label
    body = response.json()
    assert isinstance(body, dict), label
    for header in set_cookie_headers(response):
        check_cookie(header)
    if response.status_code == 401:
        # RFC 9110 §15.5.2: a 401 MUST carry a challenge, and a generic one carries no client text.
        assert response.headers.get("WWW-Authenticate") in CHALLENGES, f"{label}: {response.headers}"
    if response.status_code == 401 and label.endswith("POST /login"):
        # A failed login: one fixed answer for an unknown user and a wrong password alike.
        assert body == LOGIN_FAILED, f"{label}: {body}"
    elif response.status_code == 401:
        assert body == {"error": "Unauthorized"}, f"{label}: a 401 says nothing more by default, got {body}"
    elif response.status_code >= 400:
        assert isinstance(body.get("error"), str) and isinstance(body.get("reason"), str), f"{label}: {body}"
    if response.status_code == 429:
        assert re.fullmatch(r"[1-9][0-9]*", response.headers.get("Retry-After", "")), label
    if response.status_code in (403, 413, 415, 429):
        assert set(body) == {"error", "reason"}, f"{label}: {body}"


def check_all(recorder: Recorder) -> None:
    assert recorder.seen
    for label, response in recorder.seen:
        check_response(label, response)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def running(clock: FrozenClock) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(kind: str, **options: Any) -> RunningServer:
        srv = serve(make_app(kind, clock, **options))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


class Session:
    """One client of one app: a browser-like cookie jar plus the access token when the app hands one out."""

    def __init__(self, srv: RunningServer, recorder: Recorder) -> None:
        self.srv, self.recorder = srv, recorder
        self.browser = Browser(srv.client())
        self.access: str | None = None

    def send(self, label: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.access is not None and "Authorization" not in headers:
            headers.update(bearer(self.access))
        response = self.browser.request(method, self.srv.url + path, headers=headers, **kwargs)
        return self.recorder.keep(f"{label}: {method} {path}", response)

    def login(self, credentials: dict[str, str] = ALICE) -> requests.Response:
        response = self.send("login", "POST", "/login", json=credentials)
        if response.status_code == 200:
            self.access = response.json().get("access_token")
        return response


def life_of_an_app(kind: str, srv: RunningServer, clock: FrozenClock, recorder: Recorder) -> None:
    """Drive one app through logins, refreshes, refusals and every kind of logout, recording every answer."""
    user = Session(srv, recorder)
    assert user.login().status_code == 200
    assert user.send("me", "GET", "/me").status_code == 200
    assert user.send("api", "GET", "/api/data").status_code == 200
    assert user.send("unknown path", "GET", "/nowhere").status_code == 404
    assert user.send("static route", "GET", "/static/app.js").status_code == 404  # no /static route
    assert user.send("cross-site logout", "POST", "/logout", initiator="https://evil.example/").status_code == 403
    if uses_tokens(kind):
        assert user.send("form refresh", "POST", "/refresh", data={"a": "b"}).status_code == 415
        assert user.send("refresh", "POST", "/refresh", json={}).status_code == 200
    assert (
        user.send(
            "big body", "POST", "/login", data=b" " * 20_000, headers={"Content-Type": "application/json"}
        ).status_code
        == 413
    )
    assert user.send("logout", "POST", "/logout", json={}).status_code == 200
    assert user.send("me after logout", "GET", "/me").status_code == 401
    # A second login: a password change ends it, and everything after is refused.
    other = Session(srv, recorder)
    assert other.login().status_code == 200
    changed = other.send(
        "password", "POST", "/password", json={"current_password": "wonderland", "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert other.send("me after password change", "GET", "/me").status_code == 401
    clock.advance(seconds=1)
    third = Session(srv, recorder)
    assert third.login({"username": "alice", "password": NEW_PASSWORD}).status_code == 200
    assert third.send("logout everywhere", "POST", "/logout-everywhere", json={}).status_code == 200
    if uses_tokens(kind):
        assert third.send("refresh after logout everywhere", "POST", "/refresh", json={}).status_code == 401
    # Failed logins until the account is locked.
    guesser = Session(srv, recorder)
    answers = [guesser.login({"username": "bob", "password": f"guess {i}"}).status_code for i in range(6)]
    assert answers[-1] == 429 and set(answers[:-1]) <= {401, 429}


@pytest.mark.parametrize("kind", APPS)
def test_every_answer_of_an_apps_life_follows_the_rules(running, clock, kind):
    recorder = Recorder()
    life_of_an_app(kind, running(kind), clock, recorder)
    check_all(recorder)
    statuses = {response.status_code for _, response in recorder.seen}
    assert {200, 401, 403, 404, 413, 429} <= statuses  # the life really went through every kind of answer
    assert any(set_cookie_headers(r) for _, r in recorder.seen)
    deletions = [h for _, r in recorder.seen for h in set_cookie_headers(r) if "Max-Age=0" in h]
    assert deletions, "logouts must clear cookies, and those deletions are checked too"


def forged(kind_of_failure: str, srv: RunningServer, clock: FrozenClock) -> dict[str, str]:
    """Headers presenting an access token that fails in one particular way."""
    config = auth_config(srv.app)
    now = int(clock.now())
    claims = {
        "sub": "alice",
        "role": "user",
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + 60,
        "jti": "b" * 32,
    }
    header = {"typ": "at+jwt"}
    if kind_of_failure == "expired":
        claims.update(iat=now - 3600, exp=now - 1)
    elif kind_of_failure == "wrong type":
        header = {"typ": "JWT"}
    elif kind_of_failure == "critical extension":
        header = {"typ": "at+jwt", "crit": [XSS], XSS: True}
    elif kind_of_failure == "bad signature":
        return bearer(tokens.encode(claims, b"another key, at least 32 bytes long", headers=header))
    elif kind_of_failure == "garbage":
        return bearer(XSS)
    token = tokens.encode(claims, config.secret, headers=header)
    if kind_of_failure == "revoked":
        config.denylist.deny(claims["jti"], claims["exp"])
    return bearer(token)


FAILURES = ["expired", "wrong type", "critical extension", "bad signature", "garbage", "revoked"]


@pytest.mark.parametrize("kind", ["jwt", "both"])
def test_a_401_is_the_same_whatever_went_wrong(running, clock, kind):
    srv = running(kind)
    answers = {
        failure: srv.client().get(srv.url + "/api/data", headers=forged(failure, srv, clock)) for failure in FAILURES
    }
    shapes = {failure: (a.status_code, a.text, a.headers.get("WWW-Authenticate")) for failure, a in answers.items()}
    assert len(set(shapes.values())) == 1, shapes
    assert shapes["expired"][:2] == (401, '{"error":"Unauthorized"}\n')


def test_refresh_401s_do_not_tell_reuse_from_logout_or_garbage(running):
    srv = running("jwt")
    user = Session(srv, Recorder())
    user.login()
    spent = user.browser.cookies_for(srv.url + "/refresh")[REFRESH_COOKIE]
    user.send("refresh", "POST", "/refresh", json={})
    replay = srv.client().post(srv.url + "/refresh", json={}, headers={"Cookie": f"{REFRESH_COOKIE}={spent}"})  # reuse
    after = user.send("refresh of a revoked family", "POST", "/refresh", json={})
    garbage = srv.client().post(srv.url + "/refresh", json={}, headers={"Cookie": f"{REFRESH_COOKIE}={XSS}"})
    assert {(a.status_code, a.text) for a in (replay, after, garbage)} == {(401, '{"error":"Unauthorized"}\n')}


@pytest.mark.parametrize("explain", [False, True])
def test_no_401_echoes_what_the_client_sent(running, clock, explain):
    srv = running("both", explain_errors=explain)
    for failure in FAILURES:
        answer = srv.client().get(srv.url + "/me", headers=forged(failure, srv, clock))
        assert answer.status_code == 401
        assert "img" not in answer.text and "img" not in answer.headers.get("WWW-Authenticate", ""), failure
        assert ("reason" in answer.json()) is explain


@pytest.mark.parametrize("kind", APPS)
def test_duplicate_credential_cookies_are_refused_with_400(running, kind):
    srv = running(kind)
    name, path = (SESSION_COOKIE, "/logout") if kind in ("session", "both") else (REFRESH_COOKIE, "/refresh")
    answer = srv.client().post(srv.url + path, json={}, headers={"Cookie": f"{name}=planted; {name}=mine"})
    assert answer.status_code == 400 and not set_cookie_headers(answer)
    check_response("tossed cookie", answer)


@pytest.mark.parametrize("kind", APPS)
def test_the_server_does_not_name_its_software(running, kind):
    srv = running(kind)
    assert "Server" not in srv.client().get(srv.url + "/me").headers


# --- hostile bodies, fuzzed ---------------------------------------------------------------------------

POST_PATHS = ["/login", "/logout", "/refresh", "/refresh/logout", "/logout-everywhere", "/password"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _nested(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    inner = opener * depth if opener == "[" else '{"a":' * depth
    return (inner + "1" + (closer * depth)).encode()


hostile_bodies = st.one_of(
    st.builds(_nested, st.integers(17, 3000), st.sampled_from(["[", "{"])),  # nested past the limit
    st.builds(
        lambda n: b'{"username": "alice", "password": ' + b"9" * n + b"}", st.integers(1, 10_000)
    ),  # huge numbers
    st.builds(lambda v: json.dumps({"username": v, "password": v}).encode(), json_values),  # wrong shapes and types
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.binary(max_size=300),  # invalid UTF-8, NUL bytes, anything
    st.builds(
        lambda s: b'{"username": "' + s + b'", "password": "x"}', st.binary(max_size=40)
    ),  # NUL and bad bytes in strings
    st.just(b"\x00" * 64),
    st.just(b" " * 20_000),  # over the size limit
)


@pytest.fixture(scope="module")
def fuzz_targets() -> Iterator[dict[str, RunningServer]]:
    """One server per app for the whole fuzz run; the throttle is loose so fuzzed logins keep being parsed."""
    clock = FrozenClock(START)
    servers = {
        kind: serve(make_app(kind, clock, throttle=LoginThrottle(clock, client_failures=10_000))) for kind in APPS
    }
    yield servers
    for srv in servers.values():
        srv.stop()


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(APPS),
    path=st.sampled_from(POST_PATHS),
    body=hostile_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    chunked=st.booleans(),
)
def test_hostile_bodies_get_a_clear_4xx_never_a_500_or_an_accept(fuzz_targets, kind, path, body, content_type, chunked):
    srv = fuzz_targets[kind]
    headers = {"Content-Type": content_type} if content_type else {}
    data: Any = (
        iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    )  # an iterator is sent chunked
    answer = srv.client().post(srv.url + path, data=data, headers=headers)
    check_response(f"{kind} POST {path}", answer)
    assert answer.status_code != 200 or path in ("/logout", "/refresh/logout"), answer.text  # nothing is accepted
    assert XSS not in answer.text


@pytest.mark.parametrize("asked", [["session"], ["token"], ["session", "token"]])
def test_a_hybrid_login_issues_only_the_credentials_asked_for(running, asked):
    srv = running("both")
    client = srv.client()
    answer = client.post(srv.url + "/login", json={**ALICE, "credentials": asked})
    check_response("login asking for " + "+".join(asked), answer)
    assert answer.status_code == 200
    names = {cookie_attributes(header)[0] for header in set_cookie_headers(answer)}
    assert (SESSION_COOKIE in names) is ("session" in asked)
    assert (REFRESH_COOKIE in names) is ("token" in asked)
    assert ("access_token" in answer.json()) is ("token" in asked)
    config = auth_config(srv.app)
    assert config.store.count() == int("session" in asked)
    assert len(config.refresh_store.active_families()) == int("token" in asked)


@pytest.mark.parametrize("kind", ["session", "jwt", "both"])
@pytest.mark.parametrize("asked", [[], "session", ["cookie"], [1], ["token", "token", "session"], {"a": 1}])
def test_a_login_asking_for_unknown_credentials_is_a_400_before_any_hash(running, kind, asked):
    srv = running(kind)
    answer = srv.client().post(srv.url + "/login", json={**ALICE, "credentials": asked})
    check_response("odd credentials", answer)
    assert answer.status_code == 400 and not set_cookie_headers(answer)
    assert auth_config(srv.app).store.count() == 0


@pytest.mark.parametrize("kind, other", [("session", "token"), ("jwt", "session")])
def test_a_login_cannot_ask_for_what_its_strategy_does_not_issue(running, kind, other):
    srv = running(kind)
    assert srv.client().post(srv.url + "/login", json={**ALICE, "credentials": [other]}).status_code == 400


@pytest.mark.parametrize(
    "kind, path, cookie",
    [
        ("session", "/me", SESSION_COOKIE),
        ("both", "/me", SESSION_COOKIE),
        ("jwt", "/refresh", REFRESH_COOKIE),
        ("both", "/refresh", REFRESH_COOKIE),
    ],
)
def test_cookie_401s_carry_a_cookie_challenge(running, kind, path, cookie):
    srv = running(kind)
    forged_cookie = {"Cookie": f"{cookie}={XSS.replace(' ', '')}"}
    method = srv.client().post if path == "/refresh" else srv.client().get
    for headers in ({}, forged_cookie):
        answer = method(srv.url + path, json={}, headers=headers)
        check_response(f"{kind} {path}", answer)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == cookie_challenge(cookie)


def test_a_failed_login_names_the_way_in(running):
    for kind, expected in (("session", cookie_challenge(SESSION_COOKIE)), ("jwt", 'Bearer realm="api"')):
        srv = running(kind)
        answer = srv.client().post(srv.url + "/login", json={"username": "alice", "password": "wrong"})
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == expected
