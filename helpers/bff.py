"""A backend-for-frontend (BFF): the page holds one session cookie, the tokens never leave the server.

An access token in page memory and a refresh cookie the page's origin can spend are both within reach
of an injected script: it can read the one and ``POST /refresh`` with the other, minting fresh access
tokens for as long as it runs (chapter 05 shows it). A BFF takes the tokens out of the browser. It is a
small server on the page's own origin: ``POST /login`` forwards the password to the API's login asking
for ``"credentials": ["token"]``, keeps the access token and the API's refresh cookie server-side, and
gives the page only ``__Host-bff``, an HttpOnly session cookie. ``GET /api/<path>`` forwards to the
API with the stored bearer token, refreshing it (server-side, once) when the API answers 401.
``POST /logout`` logs the tokens out at the API and ends the BFF session. There is no ``/refresh``
route and no answer ever carries a token: a script on the page can still act *through* the BFF while
it runs (the CSRF checks of ``helpers.web`` keep other sites from doing the same), but it has nothing
to take away.

The pattern is the "Backend For Frontend" of the IETF draft "OAuth 2.0 for Browser-Based Applications"
(draft-ietf-oauth-browser-based-apps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, current_app, g, request

from .clock import Clock, SystemClock
from .sessions import SessionStore, SQLiteStore, hash_session_id
from .web import (
    MAX_CREDENTIAL_LENGTH,
    REFRESH_PATH,
    _error_response,
    _internal_error,
    _refuse_cross_site,
    _refuse_duplicate_cookies,
    _security_headers,
    bearer,
    cookie_challenge,
    json_answer,
    json_body,
)

BFF_COOKIE = "__Host-bff"  # the page's only credential: HttpOnly, Secure, SameSite=Strict, Path=/
BFF_SESSION_TTL = 8 * 3600  # seconds of idleness before the BFF session ends (a working day)


@dataclass
class Grant:
    """What the BFF holds for one page: an API client (its jar keeps the refresh cookie) and the access token."""

    api: requests.Session
    access_token: str
    last_used: float  # when the page last used it: a grant idle for the session's ttl has lost its session
    refreshes: int = 0  # how many times the BFF renewed the access token for this page
    # One refresh at a time: two requests refreshing at once would present one refresh token twice,
    # and the API's reuse detection would end the login.
    refreshing: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class BffConfig:
    """The BFF's injected parts: where the API is, how to reach it, the clock, and the server-side state."""

    api_url: str
    api_client: Callable[[], requests.Session]
    clock: Clock
    store: SessionStore
    grants: dict[str, Grant] = field(default_factory=dict)  # keyed by the SHA-256 of the BFF session ID
    lock: threading.Lock = field(default_factory=threading.Lock)


def _config() -> BffConfig:
    return current_app.extensions["bff"]


def _set_bff_cookie(response: Response, session_id: str, max_age: int) -> None:
    """Send the page's cookie; its Max-Age is the session's idle deadline, so the browser drops it when the BFF does."""
    response.set_cookie(
        BFF_COOKIE, session_id, max_age=max_age, path="/", secure=True, httponly=True, samesite="Strict"
    )


def _unauthorized() -> Response:
    g.pop("renewed_bff", None)  # the cookie is being deleted, not renewed
    response = json_answer(401, error="Unauthorized")
    response.headers["WWW-Authenticate"] = cookie_challenge(BFF_COOKIE)
    response.delete_cookie(BFF_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
    return response


def _grant() -> tuple[str, Grant] | None:
    """The caller's BFF session ID and grant, if its cookie names a live session (sliding it once per update_age)."""
    session_id = request.cookies.get(BFF_COOKIE, "")
    config = _config()
    if not session_id or len(session_id) > MAX_CREDENTIAL_LENGTH:
        return None
    found = config.store.lookup(session_id)  # a read; a write only when the idle deadline is due to slide
    if found is None:  # expired or unknown: a grant it left behind must not keep its tokens alive
        with config.lock:
            stale = config.grants.pop(hash_session_id(session_id), None)
        _abandon(config, [stale] if stale is not None else [])
        return None
    with config.lock:
        grant = config.grants.get(hash_session_id(session_id))
    if grant is None:
        return None
    grant.last_used = config.clock.now()
    if found.slid:  # the browser's copy must slide too, or it drops the cookie at the login-time Max-Age
        g.renewed_bff = (session_id, int(found.session.expires_at - config.clock.now()))
    return session_id, grant


def _renew_bff_cookie(response: Response) -> Response:
    """Re-send the cookie with its new Max-Age after a request that slid the session; between slides, nothing."""
    renewed = g.pop("renewed_bff", None)
    if renewed is not None:
        _set_bff_cookie(response, *renewed)
    return response


def _login() -> Response:
    config = _config()
    body = json_body()
    if not isinstance(body, dict):
        return json_answer(400, error="Bad request", reason='send JSON {"username": ..., "password": ...}')
    # Only the two fields go on, and the API checks them (a wrong shape comes back as its 400).
    credentials = {"username": body.get("username"), "password": body.get("password"), "credentials": ["token"]}
    api = config.api_client()
    answer = api.post(config.api_url + "/login", json=credentials)
    if answer.status_code != 200:
        api.close()
        response = json_answer(answer.status_code, **answer.json())  # the API's own 401/429/503, passed on
        for header in ("WWW-Authenticate", "Retry-After"):
            if header in answer.headers:
                response.headers[header] = answer.headers[header]
        return response
    tokens = answer.json()
    previous = request.cookies.get(BFF_COOKIE, "")
    replaced = _forget(config, previous) if previous else None  # a fresh BFF session at every login: no fixation
    now = config.clock.now()
    session_id = config.store.create(tokens["user"], role=tokens["role"])
    with config.lock:
        idle = [key for key, grant in config.grants.items() if now - grant.last_used >= config.store.ttl]
        abandoned = [config.grants.pop(key) for key in idle] + ([replaced] if replaced is not None else [])
        config.grants[hash_session_id(session_id)] = Grant(api, tokens["access_token"], last_used=now)
    _abandon(config, abandoned)
    response = json_answer(200, user=tokens["user"], role=tokens["role"])  # no token: the page never sees one
    record = config.store.get(session_id)
    _set_bff_cookie(response, session_id, int(record.expires_at - config.clock.now()) if record else 0)
    return response


def _log_out_at_api(config: BffConfig, grant: Grant) -> dict[str, Any] | None:
    """End a grant's tokens at the API (its refresh family, its access token with a denylist); the answer, or None."""
    # Under /refresh the jar sends the refresh cookie, so the API finds the refresh family even after the
    # access token has expired (its sid claim is then unreadable).
    try:
        answer = grant.api.post(config.api_url + REFRESH_PATH + "/logout", json={}, headers=bearer(grant.access_token))
        return answer.json() if answer.ok else None
    except OSError:  # requests' errors (unreachable, refused, not JSON) are OSErrors, as are TLS set-up ones
        return None


def _abandon(config: BffConfig, grants: list[Grant]) -> None:
    """Log out grants whose BFF session is gone (expired, or replaced by a new login): nobody can use them now."""
    for grant in grants:
        _log_out_at_api(config, grant)  # best effort: the page is not waiting on it
        grant.api.close()


def _forget(config: BffConfig, session_id: str) -> Grant | None:
    """End a BFF session and drop its grant; the grant is returned so its tokens can be logged out."""
    config.store.delete(session_id)
    with config.lock:
        return config.grants.pop(hash_session_id(session_id), None)


def _api(path: str) -> Response:
    """Forward ``GET /api/<path>`` to the API with the stored access token; on a 401, refresh once and retry."""
    config = _config()
    found = _grant()
    if found is None:
        return _unauthorized()
    _, grant = found
    url = f"{config.api_url}/api/{path}"
    sent = grant.access_token
    answer = grant.api.get(url, headers=bearer(sent))
    if answer.status_code == 401:
        with grant.refreshing:
            if grant.access_token == sent:  # else another request refreshed while this one waited
                renewed = grant.api.post(config.api_url + REFRESH_PATH, json={})  # the jar sends the refresh cookie
                if renewed.status_code != 200:
                    return _unauthorized()
                grant.access_token, grant.refreshes = renewed.json()["access_token"], grant.refreshes + 1
        answer = grant.api.get(url, headers=bearer(grant.access_token))
    return json_answer(answer.status_code, **answer.json())


def _logout() -> Response:
    """Log the stored tokens out at the API (session, refresh family) and end the BFF session."""
    config = _config()
    found = _grant()
    g.pop("renewed_bff", None)  # ending the session: the cookie is deleted below, never renewed
    api_answer: dict[str, Any] = {}
    if found is not None:
        session_id, grant = found
        answered = _log_out_at_api(config, grant)
        if answered is None:
            # The grant is kept until the API has ended its tokens: forgetting it first would leave a live
            # refresh family that nobody can reach to log out.
            return json_answer(502, error="Bad Gateway", reason="the API did not log the tokens out; log out again")
        api_answer = answered
        if _forget(config, session_id) is not None:
            grant.api.close()
    response = json_answer(200, logged_out=True, api_refresh_revoked=bool(api_answer.get("refresh_revoked")))
    response.delete_cookie(BFF_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
    return response


def create_bff(
    api_url: str,
    api_client: Callable[[], requests.Session],
    *,
    clock: Clock | None = None,
    store: SessionStore | None = None,
) -> Flask:
    """Build a BFF app in front of the course API at ``api_url``; ``api_client()`` makes one client per login."""
    clock = clock or SystemClock()
    config = BffConfig(
        api_url.rstrip("/"),
        api_client,
        clock,
        store if store is not None else SQLiteStore(":memory:", clock=clock, ttl=BFF_SESSION_TTL),
    )
    app = Flask("helpers.bff", static_folder=None)
    app.extensions["bff"] = config
    app.before_request(_refuse_duplicate_cookies)
    app.before_request(_refuse_cross_site)
    app.after_request(_renew_bff_cookie)
    app.after_request(_security_headers)
    app.register_error_handler(404, _error_response)
    app.register_error_handler(405, _error_response)
    app.register_error_handler(Exception, _internal_error)
    app.post("/login")(_login)
    app.post("/logout")(_logout)
    app.get("/api/<path:path>")(_api)
    return app


def bff_config(app: Flask) -> BffConfig:
    """The injected parts and server-side grants of an app made by ``create_bff`` (for demos and tests)."""
    return app.extensions["bff"]
