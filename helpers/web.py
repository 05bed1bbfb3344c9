"""The course's Flask app: one login, two ways to remember it (a server-side session or a signed JWT).

``create_app(strategy=...)`` builds a fresh app (Flask refuses new routes once an app has served):

- ``"session"``: ``POST /login`` stores a session server-side and sets an HttpOnly, Secure, SameSite
  cookie holding only its random ID; every request looks the ID up.
- ``"jwt"``: ``POST /login`` answers ``{"access_token": ...}``; the client sends it as
  ``Authorization: Bearer ...`` and the server checks its signature and claims, with no lookup.
- ``"both"``: the hybrid — pages use the session cookie, ``/api/...`` uses bearer tokens.

``login_required`` and ``token_required`` are the Flask counterpart of Next.js middleware: they run
before a view, reject with 401 and a JSON reason, or put the caller in ``flask.g.auth``.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import tokens
from .clock import Clock, SystemClock
from .sessions import SessionStore, SQLiteStore
from .users import UserDirectory, load_demo_users

Strategy = Literal["session", "jwt", "both"]
View = TypeVar("View", bound=Callable[..., Any])

SESSION_COOKIE = "__Host-session"  # the __Host- prefix makes browsers demand Secure, Path=/ and no Domain
ACCESS_TOKEN_TTL = 15 * 60  # seconds: the tutorials' 15-minute access token
TOKEN_ALGORITHM = "HS256"
MAX_CREDENTIAL_LENGTH = 4096  # bytes; longer cookies or tokens are refused before any parsing


@dataclass
class AuthConfig:
    """Everything the app's auth code needs, injected once and stored on the app."""

    strategy: Strategy
    store: SessionStore
    users: UserDirectory
    clock: Clock
    secret: bytes
    access_ttl: int = ACCESS_TOKEN_TTL
    issuer: str = "auth-course"
    audience: str = "auth-course-api"
    algorithms: list[str] = field(default_factory=lambda: [TOKEN_ALGORITHM])


@dataclass(frozen=True)
class Principal:
    """Who is calling and how they proved it: ``via`` is ``"session"`` or ``"jwt"``."""

    user: str
    role: str
    via: str


class Unauthorized(Exception):
    """A request without a valid credential; turned into a 401 with a JSON reason."""

    def __init__(self, error: str, reason: str, bearer: bool, bearer_error: str | None = "invalid_token") -> None:
        super().__init__(reason)
        self.error, self.reason, self.bearer, self.bearer_error = error, reason, bearer, bearer_error


def _config() -> AuthConfig:
    return current_app.extensions["auth_course"]


def _header_safe(text: str) -> str:
    """Make ``text`` safe inside a quoted-string of ``WWW-Authenticate`` (RFC 6750 §3: no quotes or backslashes)."""
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')


def _unauthorized_response(exc: Unauthorized) -> Response:
    response = jsonify(error=exc.error, reason=exc.reason)
    response.status_code = 401
    if exc.bearer:
        # RFC 6750 §3.1: with no credential at all, the challenge carries no error code.
        challenge = 'Bearer realm="api"'
        if exc.bearer_error:
            challenge += f', error="{exc.bearer_error}", error_description="{_header_safe(exc.reason)}"'
        response.headers["WWW-Authenticate"] = challenge
    else:
        _clear_session_cookie(response)
    return response


def _set_session_cookie(response: Response, session_id: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, path="/", secure=True, httponly=True, samesite="Lax"
    )


def _clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="Lax")


def _session_principal() -> Principal:
    """Find the caller's session from the cookie, slide its expiry, or raise ``Unauthorized``."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise Unauthorized("Not authenticated", "no session cookie", bearer=False)
    if len(session_id) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("Not authenticated", "session cookie too long", bearer=False)
    record = _config().store.touch(session_id)  # a lookup that also slides the idle expiry
    if record is None:
        raise Unauthorized("Not authenticated", "unknown, expired or revoked session", bearer=False)
    return Principal(user=record.user_id, role=record.role, via="session")


def _bearer_token() -> str:
    """Extract the token from ``Authorization: Bearer <token>`` or raise ``Unauthorized``."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("Not authenticated", "no bearer token", bearer=True, bearer_error=None)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Invalid or expired token", "Authorization header is not 'Bearer <token>'", bearer=True)
    if len(token) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("Invalid or expired token", "token too long", bearer=True)
    return token


def _token_principal() -> Principal:
    """Verify the bearer token's signature and claims, or raise ``Unauthorized``."""
    config = _config()
    token = _bearer_token()
    try:
        claims = tokens.decode(
            token,
            config.secret,
            algorithms=config.algorithms,
            audience=config.audience,
            issuer=config.issuer,
            options={"require": ["exp", "iat", "sub"]},
            clock=config.clock,
        )
    except tokens.InvalidTokenError as exc:
        raise Unauthorized("Invalid or expired token", str(exc) or type(exc).__name__, bearer=True) from None
    role = claims.get("role")
    if not isinstance(role, str):
        raise Unauthorized("Invalid or expired token", "token has no role claim", bearer=True)
    return Principal(user=claims["sub"], role=role, via="jwt")


def login_required(view: View) -> View:
    """Let the view run only for a caller with a live session cookie (Flask's answer to Next.js middleware)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.auth = _session_principal()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def token_required(view: View) -> View:
    """Let the view run only for a caller with a valid bearer JWT."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.auth = _token_principal()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def credential_required(view: View) -> View:
    """Accept whichever credential the app's strategy allows: a bearer token if one is sent, else the cookie."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        strategy = _config().strategy
        wants_token = strategy == "jwt" or (strategy == "both" and "Authorization" in request.headers)
        g.auth = _token_principal() if wants_token else _session_principal()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def issue_access_token(config: AuthConfig, user: str, role: str) -> str:
    """Sign a short-lived access token for ``user`` with the app's key, issuer, audience and clock."""
    now = int(config.clock.now())
    claims = {
        "sub": user,
        "role": role,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + config.access_ttl,
        "jti": uuid.UUID(bytes=secrets.token_bytes(16), version=4).hex,
    }
    return tokens.encode(claims, config.secret, algorithm=config.algorithms[0])


def _login() -> Response:
    config = _config()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        response = jsonify(error="Bad request", reason='send JSON {"username": ..., "password": ...}')
        response.status_code = 400
        return response
    user = config.users.authenticate(body["username"], body["password"])
    if user is None:
        response = jsonify(error="Invalid credentials", reason="unknown user or wrong password")
        response.status_code = 401
        return response
    payload: dict[str, Any] = {"user": user.username, "role": user.role}
    if config.strategy in ("jwt", "both"):
        payload.update(access_token=issue_access_token(config, user.username, user.role), token_type="Bearer", expires_in=config.access_ttl)
    response = jsonify(payload)
    if config.strategy in ("session", "both"):
        # A fresh ID at every login, and the one the browser came with is dropped: no session fixation.
        previous = request.cookies.get(SESSION_COOKIE)
        if previous and len(previous) <= MAX_CREDENTIAL_LENGTH:
            config.store.delete(previous)
        session_id = config.store.create(user.username, role=user.role)
        record = config.store.get(session_id)
        max_age = int(record.expires_at - config.clock.now()) if record else 0
        _set_session_cookie(response, session_id, max_age)
    return response


def _logout() -> Response:
    config = _config()
    result: dict[str, Any] = {"logged_out": True}
    if config.strategy in ("session", "both"):
        session_id = request.cookies.get(SESSION_COOKIE, "")
        result["session_deleted"] = bool(session_id) and len(session_id) <= MAX_CREDENTIAL_LENGTH and config.store.delete(session_id)
    if config.strategy in ("jwt", "both"):
        # Nothing on the server knows the token: it stays valid until ``exp``. The client must forget it.
        result["token_revoked"] = False
    response = jsonify(result)
    if config.strategy in ("session", "both"):
        _clear_session_cookie(response)
    return response


def _me() -> Response:
    principal: Principal = g.auth
    return jsonify(user=principal.user, role=principal.role, via=principal.via)


def _api_data() -> Response:
    principal: Principal = g.auth
    return jsonify(data=[1, 2, 3], owner=principal.user, via=principal.via)


def _error_response(exc: HTTPException) -> Response:
    response = jsonify(error=exc.name, reason=exc.description)
    response.status_code = exc.code or 500
    return response


def _internal_error(exc: Exception) -> Response:
    # Never leak a traceback to the client; the tests make sure this handler is never reached.
    response = jsonify(error="Internal Server Error", reason="the server failed; this is a bug")
    response.status_code = 500
    return response


def create_app(
    strategy: Strategy = "session",
    store: SessionStore | None = None,
    clock: Clock | None = None,
    secret: bytes | None = None,
    users: UserDirectory | None = None,
    access_ttl: int = ACCESS_TOKEN_TTL,
) -> Flask:
    """Build a fresh Flask app that remembers logins by ``strategy``; every dependency can be injected."""
    if strategy not in ("session", "jwt", "both"):
        raise ValueError(f'strategy must be "session", "jwt" or "both", got {strategy!r}')
    clock = clock or SystemClock()
    config = AuthConfig(
        strategy=strategy,
        store=store if store is not None else SQLiteStore(":memory:", clock=clock),
        users=users if users is not None else load_demo_users(),
        clock=clock,
        secret=secret if secret is not None else secrets.token_bytes(32),  # a fresh key per app: demo tokens die with it
        access_ttl=access_ttl,
    )
    app = Flask("helpers.web")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # a login body is tiny; refuse anything bigger early
    app.extensions["auth_course"] = config
    app.register_error_handler(Unauthorized, _unauthorized_response)
    app.register_error_handler(HTTPException, _error_response)
    app.register_error_handler(Exception, _internal_error)

    app.post("/login")(_login)
    app.post("/logout")(_logout)
    app.get("/me")(credential_required(_me))
    api_guard = login_required if strategy == "session" else token_required
    app.get("/api/data")(api_guard(_api_data))
    return app


def auth_config(app: Flask) -> AuthConfig:
    """The injected store, users, clock and key of an app made by ``create_app`` (for demos and tests)."""
    return app.extensions["auth_course"]
