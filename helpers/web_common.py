"""What every Flask app of the course shares, the hardened ones and the deliberately vulnerable ones alike.

JSON answers (``json_answer``) and JSON bodies read with bounds (``json_body``), the header a client
presents a bearer token in (``bearer``), the ``WWW-Authenticate`` challenge of a cookie login
(``cookie_challenge``), and password logins: ``check_password`` (optionally throttled and capped) and
``authenticate``, which reads a login's JSON credentials and, when they name no user, ends the request
with the JSON answer to send (Flask's ``abort``). Every app answers through these, so two apps'
answers differ only where a lesson is.

This module keeps no credential state: it imports nothing of sessions, tokens, refresh tokens or the
denylist, so chapter 01's signing demo and ``helpers.vulnerable`` load none of them.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

from flask import Response, abort, jsonify, request

from .throttle import ConcurrencyLimit, LoginThrottle
from .users import User, UserDirectory

__all__ = [
    "HASHING_WAIT",
    "MAX_JSON_DEPTH",
    "authenticate",
    "bearer",
    "check_password",
    "cookie_challenge",
    "hashing_slot",
    "json_answer",
    "json_body",
    "retry_later",
    "too_busy",
]

MAX_JSON_DEPTH = 16  # deeper JSON is refused before parsing: no recursion a client can drive
HASHING_WAIT = 1.0  # seconds a login may queue for a hashing slot before it is told to come back (503)


def json_answer(status: int, **body: Any) -> Response:
    """A JSON response holding ``body`` as one object, with HTTP status ``status``."""
    response = jsonify(body)
    response.status_code = status
    return response


def _nesting_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``data`` (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def json_body() -> Any:
    """The request's JSON body; None if it is not JSON, not UTF-8, malformed, or nested too deep.

    Too big a body (over the app's ``MAX_CONTENT_LENGTH``) raises Werkzeug's 413.
    """
    if not request.is_json:
        return None
    data = request.get_data(cache=True)
    # Counting brackets first is cheap and bounds the parser's recursion: a body of 2,000 '[' is a 400,
    # not a RecursionError. Most bodies have too few brackets to need the count at all.
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _nesting_depth(data) > MAX_JSON_DEPTH:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: bad JSON, or an int of >4,300 digits
        return None


def bearer(token: str) -> dict[str, str]:
    """The request header a client sends to present ``token``: ``{"Authorization": "Bearer <token>"}``."""
    return {"Authorization": f"Bearer {token}"}


def cookie_challenge(cookie_name: str) -> str:
    """The ``WWW-Authenticate`` challenge of a 401 on a cookie path: where to log in, which cookie to send."""
    return f'Cookie realm="app", form-action="/login", cookie-name={cookie_name}'


def retry_later(status: int, error: str, reason: str, seconds: float) -> Response:
    """A JSON ``status`` answer whose ``Retry-After`` tells the client to come back in ``seconds``."""
    response = json_answer(status, error=error, reason=reason)
    response.headers["Retry-After"] = str(max(1, math.ceil(seconds)))  # RFC 9110 §10.2.3: whole seconds
    return response


def too_busy() -> Response:
    """The 503 of a server whose password-hashing slots are all taken."""
    return retry_later(503, "Service Unavailable", "too many password checks at once; try again shortly", 1)


@contextlib.contextmanager
def hashing_slot(hashing: ConcurrencyLimit | None) -> Iterator[bool]:
    """Hold one of the password-hashing slots, waiting up to ``HASHING_WAIT``; yields whether one was had."""
    if hashing is None:
        yield True
        return
    with hashing.slot(timeout=HASHING_WAIT) as acquired:
        yield acquired


def check_password(
    users: UserDirectory,
    username: str,
    password: str,
    throttle: LoginThrottle | None = None,
    hashing: ConcurrencyLimit | None = None,
) -> User | None:
    """The user if the password is right, else None; aborts with the 429 or 503 when throttled or too busy."""
    client = request.remote_addr or ""
    if throttle is not None:
        wait = throttle.retry_after(username, client)
        if wait is not None:
            abort(retry_later(429, "Too Many Requests", "too many failed logins; try again later", wait))
    with hashing_slot(hashing) as acquired:
        if not acquired:
            abort(too_busy())
        user = users.authenticate(username, password)
    if throttle is not None:
        if user is None:
            throttle.record_failure(username, client)
        else:
            throttle.record_success(username, client)
    return user


def authenticate(
    users: UserDirectory,
    throttle: LoginThrottle | None = None,
    hashing: ConcurrencyLimit | None = None,
    *,
    challenge: str | None = None,
) -> User:
    """The user the request's JSON ``{"username", "password"}`` names; else aborts with the 400/401/429/503.

    ``challenge`` is the ``WWW-Authenticate`` header of the 401 of a wrong password (none if None).
    """
    # A missing, non-JSON, malformed or too deeply nested body is answered like a JSON body of the
    # wrong shape, with one hint, instead of Flask's HTML error page (or a 500).
    body = json_body()
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        abort(json_answer(400, error="Bad request", reason='send JSON {"username": ..., "password": ...}'))
    user = check_password(users, body["username"], body["password"], throttle, hashing)
    if user is None:
        # One answer for both failures, so the response does not tell which usernames exist.
        refused = json_answer(401, error="Invalid credentials", reason="unknown user or wrong password")
        if challenge is not None:
            refused.headers["WWW-Authenticate"] = challenge
        abort(refused)
    return user
