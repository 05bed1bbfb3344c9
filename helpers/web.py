"""The course's Flask app: one login, two ways to remember it (a server-side session or a signed JWT).

``create_app(strategy=...)`` builds a fresh app (Flask refuses new routes once an app has served):

- ``"session"``: ``POST /login`` stores a session server-side and sets an HttpOnly, Secure, SameSite
  cookie holding only its random ID; every request looks the ID up.
- ``"jwt"``: ``POST /login`` answers ``{"access_token": ...}``; the client sends it as
  ``Authorization: Bearer ...`` and the server checks its signature and claims, with no lookup.
- ``"both"``: the hybrid — pages use the session cookie, ``/api/...`` uses bearer tokens.

With ``"jwt"`` and ``"both"``, ``POST /login`` also sets a refresh token (``helpers.refresh``) in the
cookie ``__Secure-refresh`` (HttpOnly, Secure, SameSite=Strict, Path=/refresh), while the access token
travels only in the JSON body, for the client to keep in memory. ``POST /refresh`` spends the refresh
token and answers a new access token plus the rotated refresh cookie; replaying a spent refresh token
revokes the whole login. Because the browser sends that cookie only to paths under ``/refresh``,
``POST /logout`` cannot see it: a browser logs out at ``POST /refresh/logout`` (the same view), which
receives the refresh cookie and the session cookie alike. With a ``denylist`` (``helpers.denylist``),
logout also revokes the presented access token, at the price of one lookup on every API request.

Every POST is refused (403) when the browser marks it as cross-site (``Sec-Fetch-Site`` or a foreign
``Origin``): a CSRF defence on top of the cookies' SameSite; non-browser clients send neither header.

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
from .denylist import JtiDenylist
from .refresh import DEFAULT_REFRESH_TTL, RefreshTokenError, RefreshTokenStore, SQLiteRefreshStore
from .sessions import SessionStore, SQLiteStore
from .users import User, UserDirectory, load_demo_users

Strategy = Literal["session", "jwt", "both"]
View = TypeVar("View", bound=Callable[..., Any])

SESSION_COOKIE = "__Host-session"  # the __Host- prefix makes browsers demand Secure, Path=/ and no Domain
# __Host- would force Path=/; __Secure- only demands Secure, so the cookie can be scoped to /refresh
# and is never sent with ordinary requests (where it would only add exposure in logs and proxies).
REFRESH_COOKIE = "__Secure-refresh"
REFRESH_PATH = "/refresh"
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
    refresh_store: RefreshTokenStore | None = None  # set for "jwt" and "both"
    denylist: JtiDenylist | None = None  # None: no revocation of access tokens, and no lookup per request


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


def json_answer(status: int, **body: Any) -> Response:
    """A JSON response holding ``body`` as one object, with HTTP status ``status``."""
    # Every app of the course answers this way, the deliberately vulnerable ones included, so their
    # answers differ only where the lesson is.
    response = jsonify(body)
    response.status_code = status
    return response


def login_user(users: UserDirectory) -> User | Response:
    """The user the current request's JSON ``{"username", "password"}`` authenticates; else the 400 or 401 answer to send."""
    # silent=True: a missing, non-JSON or malformed body is answered like a JSON body of the wrong
    # shape, with one hint, instead of Flask's HTML error page.
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        return json_answer(400, error="Bad request", reason='send JSON {"username": ..., "password": ...}')
    user = users.authenticate(body["username"], body["password"])
    if user is None:
        # One answer for both failures, so the response does not tell which usernames exist.
        return json_answer(401, error="Invalid credentials", reason="unknown user or wrong password")
    return user


def _unauthorized_response(exc: Unauthorized) -> Response:
    response = json_answer(401, error=exc.error, reason=exc.reason)
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


def _set_refresh_cookie(response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        REFRESH_COOKIE, token, max_age=max_age, path=REFRESH_PATH, secure=True, httponly=True, samesite="Strict"
    )


def _clear_refresh_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=True, httponly=True, samesite="Strict")


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
    # The server slid the deadline; the browser's copy must slide too, or it drops the cookie at
    # the login-time Max-Age however active the user is. ``_renew_session_cookie`` sends it.
    g.renewed_session = (session_id, int(record.expires_at - _config().clock.now()))
    return Principal(user=record.user_id, role=record.role, via="session")


def _renew_session_cookie(response: Response) -> Response:
    """After a successful session request, re-send the cookie with the slid Max-Age."""
    renewed = g.pop("renewed_session", None)
    if renewed is not None and response.status_code < 400:
        _set_session_cookie(response, *renewed)
    return response


def bearer(token: str) -> dict[str, str]:
    """The request header a client sends to present ``token``: ``{"Authorization": "Bearer <token>"}``."""
    return {"Authorization": f"Bearer {token}"}


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


def _decode_access_token(config: AuthConfig, token: str) -> dict[str, Any]:
    """The claims of an access token this app signed, checked; raises ``tokens.InvalidTokenError``."""
    return tokens.decode(
        token,
        config.secret,
        algorithms=config.algorithms,
        audience=config.audience,
        issuer=config.issuer,
        options={"require": ["exp", "iat", "sub"]},
        clock=config.clock,
    )


def _token_principal() -> Principal:
    """Verify the bearer token's signature and claims (and the denylist, if any), or raise ``Unauthorized``."""
    config = _config()
    token = _bearer_token()
    try:
        claims = _decode_access_token(config, token)
    except tokens.InvalidTokenError as exc:
        raise Unauthorized("Invalid or expired token", str(exc) or type(exc).__name__, bearer=True) from None
    role = claims.get("role")
    if not isinstance(role, str):
        raise Unauthorized("Invalid or expired token", "token has no role claim", bearer=True)
    denylist = config.denylist
    if denylist is not None:  # without a denylist, no lookup at all: the stateless hot path stays stateless
        jti = claims.get("jti")
        if not isinstance(jti, str):
            raise Unauthorized(
                "Invalid or expired token", "token has no jti claim, so it cannot be checked for revocation", bearer=True
            )
        if denylist.is_denied(jti):
            raise Unauthorized("Invalid or expired token", "Token has been revoked", bearer=True)
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
    user = login_user(config.users)  # checks the password (scrypt), or answers 400/401
    if isinstance(user, Response):
        return user
    payload: dict[str, Any] = {"user": user.username, "role": user.role}
    if config.strategy in ("jwt", "both"):
        payload.update(access_token=issue_access_token(config, user.username, user.role), token_type="Bearer", expires_in=config.access_ttl)
    response = jsonify(payload)
    if config.refresh_store is not None:
        # A new family per login; the family lives refresh_store.ttl from now (rotation never extends it).
        refresh_token = config.refresh_store.issue(user.username, role=user.role)
        _set_refresh_cookie(response, refresh_token, int(config.refresh_store.ttl))
        response.headers["Cache-Control"] = "no-store"  # the body holds a token (RFC 6749 §5.1)
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


def _deny_presented_token(config: AuthConfig) -> bool:
    """Put the valid bearer token of this request on the denylist until its ``exp``; True if done."""
    if config.denylist is None or "Authorization" not in request.headers:
        return False
    try:
        claims = _decode_access_token(config, _bearer_token())
    except (Unauthorized, tokens.InvalidTokenError):
        return False  # logout still succeeds; there is just no valid token to revoke
    jti, exp = claims.get("jti"), claims["exp"]
    return isinstance(jti, str) and config.denylist.deny(jti, exp)


def _logout() -> Response:
    config = _config()
    result: dict[str, Any] = {"logged_out": True}
    if config.strategy in ("session", "both"):
        session_id = request.cookies.get(SESSION_COOKIE, "")
        result["session_deleted"] = bool(session_id) and len(session_id) <= MAX_CREDENTIAL_LENGTH and config.store.delete(session_id)
    if config.strategy in ("jwt", "both"):
        # Without a denylist nothing on the server knows the access token: it stays valid until
        # ``exp`` and the client must forget it. With one, its jti is refused from now on.
        result["token_revoked"] = _deny_presented_token(config)
        # The refresh cookie arrives only at /refresh/logout (its Path is /refresh); at /logout it
        # is absent unless a non-browser client sends it, and the family then lives until it expires.
        refresh_token = request.cookies.get(REFRESH_COOKIE, "")
        result["refresh_revoked"] = (
            bool(refresh_token) and len(refresh_token) <= MAX_CREDENTIAL_LENGTH
            and config.refresh_store is not None and config.refresh_store.revoke_family(refresh_token)
        )
    response = jsonify(result)
    if config.strategy in ("session", "both"):
        _clear_session_cookie(response)
    if config.strategy in ("jwt", "both"):
        _clear_refresh_cookie(response)  # a browser accepts the deletion from any path
    return response


def _refresh() -> Response:
    config = _config()
    assert config.refresh_store is not None  # the route exists only when there is a store
    # CSRF: the refresh cookie authenticates this request by itself, so a cross-site page must not
    # be able to trigger it. SameSite=Strict already keeps the cookie off cross-site requests; as a
    # second, cheap layer we demand Content-Type: application/json, which an HTML form cannot send
    # and cross-site fetch() can send only after a CORS preflight this app never approves.
    if request.mimetype != "application/json":
        return json_answer(415, error="Unsupported Media Type",
                           reason="POST /refresh needs Content-Type: application/json (a CSRF defence)")
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        return json_answer(401, error="No refresh token", reason="no refresh cookie; log in first")
    try:
        if len(refresh_token) > MAX_CREDENTIAL_LENGTH:
            raise RefreshTokenError("refresh cookie too long")
        rotated = config.refresh_store.rotate(refresh_token)
        # The new access token carries the user's role *now*, not the one at login: a role change
        # (or a deleted account) takes effect at the next refresh, within one access-token lifetime.
        user = config.users.get(rotated.user_id)
        if user is None:
            config.refresh_store.revoke_family(rotated.token)
            raise RefreshTokenError("the user no longer exists")
    except RefreshTokenError as exc:  # invalid, expired, revoked, or reused (then the family is revoked)
        response = json_answer(401, error="Invalid refresh token", reason=str(exc))
        _clear_refresh_cookie(response)
        return response
    response = jsonify(
        access_token=issue_access_token(config, user.username, user.role), token_type="Bearer", expires_in=config.access_ttl
    )
    _set_refresh_cookie(response, rotated.token, max(0, int(rotated.expires_at - config.clock.now())))
    response.headers["Cache-Control"] = "no-store"  # the body holds a token (RFC 6749 §5.1)
    return response


def _refuse_cross_site() -> Response | None:
    """CSRF defence for every POST: refuse a request a browser marks as coming from another site.

    SameSite on the cookies is the first layer; this is the second, for browsers or cookies where it
    fails. Browsers send ``Sec-Fetch-Site`` and, on POST, ``Origin``; clients that send neither (curl,
    requests) are not browsers, so no other site can be riding their cookies.
    """
    if request.method != "POST":
        return None
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    own_origin = request.host_url.rstrip("/")
    if fetch_site in ("cross-site", "same-site") or (origin is not None and origin != own_origin):
        return json_answer(403, error="Forbidden", reason="cross-site request refused (a CSRF defence)")
    return None


def _me() -> Response:
    principal: Principal = g.auth
    return jsonify(user=principal.user, role=principal.role, via=principal.via)


def _api_data() -> Response:
    principal: Principal = g.auth
    return jsonify(data=[1, 2, 3], owner=principal.user, via=principal.via)


def _error_response(exc: HTTPException) -> Response:
    return json_answer(exc.code or 500, error=exc.name, reason=exc.description)


def _internal_error(exc: Exception) -> Response:
    # Never leak a traceback to the client; the tests make sure this handler is never reached.
    return json_answer(500, error="Internal Server Error", reason="the server failed; this is a bug")


def create_app(
    strategy: Strategy = "session",
    store: SessionStore | None = None,
    clock: Clock | None = None,
    secret: bytes | None = None,
    users: UserDirectory | None = None,
    access_ttl: int = ACCESS_TOKEN_TTL,
    refresh_store: RefreshTokenStore | None = None,
    denylist: JtiDenylist | None = None,
    refresh_ttl: float = DEFAULT_REFRESH_TTL,
) -> Flask:
    """Build a fresh Flask app that remembers logins by ``strategy``; every dependency can be injected.

    ``refresh_store`` and ``refresh_ttl`` matter only for ``"jwt"`` and ``"both"``: ``refresh_ttl`` sets the
    lifetime of the default store (an in-memory SQLite one), while an injected store keeps its own ``ttl``.
    ``denylist`` (default None) turns on access-token revocation, and with it one lookup per API request.
    """
    if strategy not in ("session", "jwt", "both"):
        raise ValueError(f'strategy must be "session", "jwt" or "both", got {strategy!r}')
    clock = clock or SystemClock()
    uses_tokens = strategy in ("jwt", "both")
    if uses_tokens and refresh_store is None:
        refresh_store = SQLiteRefreshStore(":memory:", clock=clock, ttl=refresh_ttl)
    config = AuthConfig(
        strategy=strategy,
        store=store if store is not None else SQLiteStore(":memory:", clock=clock),
        users=users if users is not None else load_demo_users(),
        clock=clock,
        secret=secret if secret is not None else secrets.token_bytes(32),  # a fresh key per app: demo tokens die with it
        access_ttl=access_ttl,
        refresh_store=refresh_store if uses_tokens else None,
        denylist=denylist,
    )
    app = Flask("helpers.web")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # a login body is tiny; refuse anything bigger early
    app.extensions["auth_course"] = config
    app.after_request(_renew_session_cookie)
    app.before_request(_refuse_cross_site)
    app.register_error_handler(Unauthorized, _unauthorized_response)
    app.register_error_handler(HTTPException, _error_response)
    app.register_error_handler(Exception, _internal_error)

    app.post("/login")(_login)
    app.post("/logout")(_logout)
    if uses_tokens:
        app.post(REFRESH_PATH)(_refresh)
        # The same logout, at a path the Path=/refresh cookie is sent to (see the module docstring).
        app.post(REFRESH_PATH + "/logout", endpoint="refresh_logout")(_logout)
    app.get("/me")(credential_required(_me))
    api_guard = login_required if strategy == "session" else token_required
    app.get("/api/data")(api_guard(_api_data))
    return app


def auth_config(app: Flask) -> AuthConfig:
    """The injected stores, users, clock and key of an app made by ``create_app`` (for demos and tests)."""
    return app.extensions["auth_course"]
