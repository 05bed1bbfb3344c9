"""The course's Flask app: one login, two ways to remember it (a server-side session or a signed JWT).

``create_app(strategy=...)`` builds a fresh app (Flask refuses new routes once an app has served):

- ``"session"``: ``POST /login`` stores a session server-side and sets an HttpOnly, Secure, SameSite
  cookie holding only its random ID; every request looks the ID up, and reads the user's current role.
- ``"jwt"``: ``POST /login`` answers ``{"access_token": ...}``; the client sends it as
  ``Authorization: Bearer ...`` and the server checks its signature, type and claims, with no lookup.
- ``"both"``: the hybrid — pages use the session cookie, ``/api/...`` uses bearer tokens. A login may
  say which credentials its client wants, ``{"username", "password", "credentials": [...]}`` with
  ``"session"`` (the session cookie) and/or ``"token"`` (access token + refresh cookie): a browser page
  asks for ``["session"]`` and gets no script-readable token, an API client asks for ``["token"]`` and
  leaves no session row behind. Without the field a login gets every credential its strategy issues.

With ``"jwt"`` and ``"both"``, ``POST /login`` also sets a refresh token (``helpers.refresh``) in the
cookie ``__Secure-refresh`` (HttpOnly, Secure, SameSite=Strict, Path=/refresh), while the access token
travels only in the JSON body, for the client to keep in memory. ``POST /refresh`` spends the refresh
token and answers a new access token plus the rotated refresh cookie; replaying a spent refresh token
revokes the whole login. Access tokens are typed (header ``typ: at+jwt``, RFC 9068) and name their
login's refresh family in the claim ``sid``.

One logout ends every credential the login created: ``POST /logout`` deletes the session, revokes the
refresh family (found from the access token's ``sid``, from the session, or from the refresh cookie at
``POST /refresh/logout``, the same view at a path the Path=/refresh cookie is sent to) and, with a
``denylist`` (``helpers.denylist``), the presented access token. ``POST /logout-everywhere`` and
``POST /password`` end every session and refresh family of the user (and with a denylist every access
token issued so far); so does ``users.set_password`` called directly, through ``UserDirectory.subscribe``.

Hardening on every request: a POST the browser marks as cross-site is refused (403, a CSRF defence on
top of SameSite); a request carrying one cookie name twice with different values is refused (400,
against cookie tossing); bodies over 16 KiB are refused (413, chunked or not) and JSON nested deeper
than ``MAX_JSON_DEPTH`` is a 400; every answer carries ``Cache-Control: no-store`` and
``X-Content-Type-Options: nosniff``. Failed logins are throttled per account and per client (429 +
``Retry-After``) and at most ``hashing_limit`` password hashes run at once (503 + ``Retry-After: 1``
beyond). A 401 says only ``{"error": "Unauthorized"}``: why a credential failed (expired, revoked,
reuse detected) helps a thief as much as a developer, so the reason is added only with
``create_app(..., explain_errors=True)``, and it is never raw input.

Every 401 carries a ``WWW-Authenticate`` challenge (RFC 9110 §15.5.2 makes it a MUST): ``Bearer`` (RFC
6750) where a bearer token is expected, and where a cookie is, ``Cookie realm="app", form-action="/login",
cookie-name=...``: a scheme no registry holds (it comes from the expired draft-broyer-http-cookie-auth-00),
which a browser ignores and a client can read as "log in at /login, then send this cookie".

``login_required``, ``token_required`` and ``credential_required`` (each made by ``requires``) are the
Flask counterpart of Next.js middleware: they run before a view, reject with 401, or put the caller in
``flask.g.auth``. The JSON answers, bounded JSON bodies and throttled password checks every course app
shares, the vulnerable ones included, are ``helpers.web_common``'s.
"""

from __future__ import annotations

import functools
import math
import secrets
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from flask import Flask, Request, Response, abort, after_this_request, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property

from . import tokens
from .clock import Clock, SystemClock
from .denylist import JtiDenylist
from .refresh import DEFAULT_REFRESH_TTL, RefreshTokenError, RefreshTokenStore, SQLiteRefreshStore
from .sessions import SessionStore, SQLiteStore
from .throttle import ConcurrencyLimit, LoginThrottle
from .users import User, UserDirectory, load_demo_users
from .web_common import (
    MAX_JSON_DEPTH,
    authenticate,
    bearer,
    check_password,
    cookie_challenge,
    hashing_slot,
    json_answer,
    json_body,
    too_busy,
)

__all__ = [  # bearer, cookie_challenge, json_answer, json_body and MAX_JSON_DEPTH (web_common's) included
    "ACCESS_TOKEN_TTL",
    "ACCESS_TOKEN_TYPE",
    "CREDENTIAL_KINDS",
    "HASHING_LIMIT",
    "ISSUED_AT_SKEW",
    "MAX_BODY_BYTES",
    "MAX_CREDENTIAL_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "REFRESH_COOKIE",
    "REFRESH_PATH",
    "SESSION_COOKIE",
    "STRATEGIES",
    "TOKEN_ALGORITHM",
    "UNAUTHORIZED",
    "AuthConfig",
    "Principal",
    "Strategy",
    "Unauthorized",
    "auth_config",
    "bearer",
    "cookie_challenge",
    "create_app",
    "credential_required",
    "end_everywhere",
    "issue_access_token",
    "json_answer",
    "json_body",
    "login_required",
    "offered_credentials",
    "requires",
    "signing_key",
    "token_required",
    "verifying_key",
]

Strategy = Literal["session", "jwt", "both"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
View = TypeVar("View", bound=Callable[..., Any])

SESSION_COOKIE = "__Host-session"  # the __Host- prefix makes browsers demand Secure, Path=/ and no Domain
# Why __Secure- with Path=/refresh rather than __Host- with Path=/: a __Host- cookie cannot be planted by
# a sibling subdomain, but it must have Path=/, so the refresh token (a 7-day credential) would ride on
# every request, into every access log and proxy on the way. Scoped to /refresh it is sent only where it
# is spent. The price is that a sibling subdomain can toss in a second __Secure-refresh; the app refuses
# any request that carries a cookie name twice (400), so tossing can at worst block a refresh, never
# make the server pick the attacker's family, and logout finds the family from the access token's sid.
REFRESH_COOKIE = "__Secure-refresh"
REFRESH_PATH = "/refresh"
ACCESS_TOKEN_TTL = 15 * 60  # seconds: the tutorials' 15-minute access token
ISSUED_AT_SKEW = 30.0  # seconds an access token's iat may lie ahead of this server's clock (clocks drift)
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: an ID or refresh token signed with the same key is not an access token
TOKEN_ALGORITHM = "HS256"
MAX_CREDENTIAL_LENGTH = 4096  # bytes; longer cookies or tokens are refused before any parsing
MAX_BODY_BYTES = 16 * 1024  # every body this app reads is tiny; refuse anything bigger early (413)
HASHING_LIMIT = 4  # password hashes at once: scrypt needs ~16 MiB each, so a flood cannot exhaust memory
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 12, 128  # OWASP ASVS 2.1.1 and 2.1.2

UNAUTHORIZED = "Unauthorized"
CREDENTIAL_KINDS = ("session", "token")  # what a login may ask for: the session cookie; access + refresh tokens


@dataclass
class AuthConfig:
    """Everything the app's auth code needs, injected once and stored on the app."""

    strategy: Strategy
    store: SessionStore
    users: UserDirectory
    clock: Clock
    secret: bytes  # the HMAC key; unused when ``signing_key`` is set
    access_ttl: int = ACCESS_TOKEN_TTL
    issuer: str = "auth-course"
    audience: str = "auth-course-api"
    algorithms: list[str] = field(default_factory=lambda: [TOKEN_ALGORITHM])  # one: the algorithm of the key
    signing_key: tokens.PrivateKey | None = None  # set: tokens are signed with it, checked with its public half
    refresh_store: RefreshTokenStore | None = None  # set for "jwt" and "both"
    denylist: JtiDenylist | None = None  # None: no revocation of access tokens, and no lookup per request
    throttle: LoginThrottle | None = None  # None: failed logins are not counted (the naive apps' way)
    hashing: ConcurrencyLimit | None = None  # None: no cap on password hashes at once
    explain_errors: bool = False  # True: 401 bodies say why (for teaching); never raw input either way

    @property
    def uses_sessions(self) -> bool:
        """Whether logins of this strategy may start a server-side session (``"session"`` and ``"both"``)."""
        return self.strategy in ("session", "both")

    @property
    def uses_tokens(self) -> bool:
        """Whether logins of this strategy may issue access and refresh tokens (``"jwt"`` and ``"both"``)."""
        return self.strategy in ("jwt", "both")


@dataclass(frozen=True)
class Principal:
    """Who is calling and how they proved it: ``via`` is ``"session"`` or ``"jwt"``."""

    user: str
    role: str
    via: str


class Unauthorized(Exception):
    """A request without a valid credential; turned into a generic 401 (the reason only if explained)."""

    def __init__(self, reason: str, bearer: bool, bearer_error: str | None = "invalid_token") -> None:
        super().__init__(reason)
        self.reason, self.bearer, self.bearer_error = reason, bearer, bearer_error


def signing_key(config: AuthConfig) -> bytes | tokens.PrivateKey:
    """The key that signs this app's access tokens: the private key if one is set, else the HMAC secret."""
    return config.signing_key if config.signing_key is not None else config.secret


def verifying_key(config: AuthConfig) -> bytes | tokens.PublicKey:
    """The key that checks them: only the public half of a private key (one algorithm per key), else the secret."""
    return config.signing_key.public_key() if config.signing_key is not None else config.secret


def _config() -> AuthConfig:
    return current_app.extensions["auth_course"]


def _header_safe(text: str) -> str:
    """Make ``text`` safe inside a quoted-string of ``WWW-Authenticate`` (RFC 6750 §3: no quotes or backslashes)."""
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')


def _unauthorized_response(exc: Unauthorized) -> Response:
    explain = _config().explain_errors
    response = json_answer(401, error=UNAUTHORIZED, **({"reason": exc.reason} if explain else {}))
    if exc.bearer:
        # RFC 6750 §3.1: with no credential at all, the challenge carries no error code.
        challenge = 'Bearer realm="api"'
        if exc.bearer_error:
            challenge += f', error="{exc.bearer_error}"'
            if explain:
                challenge += f', error_description="{_header_safe(exc.reason)}"'
        response.headers["WWW-Authenticate"] = challenge
    else:
        response.headers["WWW-Authenticate"] = cookie_challenge(SESSION_COOKIE)
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


class _Request(Request):
    """Flask's request, reading its cookies from the one ``HTTP_COOKIE`` a WSGI server puts in the environ."""

    @cached_property
    def cookies(self) -> Any:
        # Werkzeug gets the same text with ``headers.getlist("Cookie")``, which scans every header of the
        # environ and costs more than the parse itself; ``get`` goes straight to it, decoded the same way.
        # (A server names header keys in upper case, PEP 3333; a hand-made environ with an "HTTP_Cookie"
        # key as well would be read by getlist and not here.)
        return parse_cookie(self.headers.get("Cookie", ""), cls=self.dict_storage_class)


def _cookie(name: str) -> str:
    """The cookie ``name`` if it was sent and is not absurdly long, else ``""``."""
    value = request.cookies.get(name, "")
    return value if len(value) <= MAX_CREDENTIAL_LENGTH else ""


def _session_principal() -> Principal:
    """Find the caller's session from the cookie, slide its expiry, or raise ``Unauthorized``."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise Unauthorized("no session cookie", bearer=False)
    if len(session_id) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("session cookie too long", bearer=False)
    config = _config()
    found = config.store.lookup(session_id)  # slides the idle deadline once per update_age, not per request
    if found is None:
        raise Unauthorized("unknown, expired or revoked session", bearer=False)
    record = found.session
    # The role is read from the directory on every request, not copied at login: a demoted user is
    # demoted at once, and a deleted account's sessions end at their next request.
    user = config.users.get(record.user_id)
    if user is None:
        config.store.delete(session_id)
        raise Unauthorized("the account no longer exists", bearer=False)
    # When the server slid the deadline, the browser's copy must slide too, or it drops the cookie at
    # the login-time Max-Age however active the user is. ``_renew_session_cookie`` sends it, set up for
    # this request alone; between slides the cookie the browser holds is still right: no Set-Cookie.
    if found.slid:
        max_age = int(record.expires_at - config.clock.now())
        after_this_request(functools.partial(_renew_session_cookie, session_id, max_age))
    return Principal(user=user.username, role=user.role, via="session")


def _renew_session_cookie(session_id: str, max_age: int, response: Response) -> Response:
    """After a successful request that slid the session, re-send its cookie with the new Max-Age.

    Flask runs it before the app's ``after_request`` hooks: a hook that turns an answer into a refusal
    must remove this cookie itself.
    """
    if response.status_code < 400 and not g.get("logged_out"):
        _set_session_cookie(response, session_id, max_age)
    return response


def _bearer_token() -> str:
    """Extract the token from ``Authorization: Bearer <token>`` or raise ``Unauthorized``."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("no bearer token", bearer=True, bearer_error=None)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header is not 'Bearer <token>'", bearer=True)
    if len(token) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("token too long", bearer=True)
    return token


# Fixed wording per failure, most specific class first: some exception messages quote the token's own
# header or claims (an attacker's text), and a reason must never carry it back, even when explained.
_TOKEN_REASONS: list[tuple[type[Exception], str]] = [
    (tokens.InvalidTypeError, f"not an access token (typ must be {ACCESS_TOKEN_TYPE})"),
    (tokens.ExpiredSignatureError, "Signature has expired"),
    (tokens.ImmatureSignatureError, "The token is not yet valid (nbf or iat in the future)"),
    (tokens.InvalidSignatureError, "Signature verification failed"),
    (tokens.InvalidAudienceError, "Invalid audience"),
    (tokens.InvalidIssuerError, "Invalid issuer"),
    (tokens.InvalidIssuedAtError, "Invalid issued-at time (iat)"),
    (tokens.MissingRequiredClaimError, "Token is missing a required claim"),
    (tokens.InvalidAlgorithmError, "The specified alg value is not allowed"),
    (tokens.InvalidKeyError, "Invalid key"),
    (tokens.DecodeError, "Malformed token"),
]


def _token_reason(exc: Exception) -> str:
    """A fixed sentence for why a token failed; never text taken from the token."""
    return next((reason for kind, reason in _TOKEN_REASONS if isinstance(exc, kind)), "Invalid token")


# Checked once here rather than on every request; iat is checked in _decode_access_token, with skew.
_ACCESS_TOKEN_OPTIONS = tokens.decode_options({"require": ["exp", "iat", "sub"], "verify_iat": False})


def _decode_access_token(config: AuthConfig, token: str) -> dict[str, Any]:
    """The claims of an access token this app signed, checked; raises ``tokens.InvalidTokenError``."""
    claims = tokens.decode(
        token,
        verifying_key(config),
        algorithms=config.algorithms,
        audience=config.audience,
        issuer=config.issuer,
        options=_ACCESS_TOKEN_OPTIONS,
        clock=config.clock,
        typ=ACCESS_TOKEN_TYPE,
    )
    # ``exp`` stays exact: a token dies when it says. Only "issued in the future" tolerates skew, so a
    # verifier whose clock runs a little behind the signer's still accepts a token minted a moment ago.
    issued_at = claims["iat"]
    if isinstance(issued_at, bool) or not isinstance(issued_at, (int, float)) or not math.isfinite(issued_at):
        raise tokens.InvalidIssuedAtError("Issued At claim (iat) must be an integer.")
    if issued_at > config.clock.now() + ISSUED_AT_SKEW:
        raise tokens.ImmatureSignatureError("The token is not yet valid (iat)")
    return claims


def _token_principal() -> Principal:
    """Verify the bearer token's signature, type and claims (and the denylist, if any), or raise ``Unauthorized``."""
    config = _config()
    token = _bearer_token()
    try:
        claims = _decode_access_token(config, token)
    except tokens.InvalidTokenError as exc:
        raise Unauthorized(_token_reason(exc), bearer=True) from None
    role = claims.get("role")
    if not isinstance(role, str):
        raise Unauthorized("token has no role claim", bearer=True)
    denylist = config.denylist
    if denylist is not None:  # without a denylist, no lookup at all: the stateless hot path stays stateless
        jti = claims.get("jti")
        if not isinstance(jti, str):
            raise Unauthorized("token has no jti claim, so it cannot be checked for revocation", bearer=True)
        # One lookup answers both "was this token logged out?" and "was its user logged out everywhere?".
        if denylist.is_revoked(jti, claims["sub"], claims["iat"]):
            raise Unauthorized("Token has been revoked", bearer=True)
    return Principal(user=claims["sub"], role=role, via="jwt")


def _any_principal() -> Principal:
    """The caller by whichever credential the strategy allows: a bearer token if one is sent, else the cookie."""
    config = _config()
    wants_token = config.uses_tokens and (not config.uses_sessions or "Authorization" in request.headers)
    return _token_principal() if wants_token else _session_principal()


def requires(find_caller: Callable[[], Principal]) -> Callable[[View], View]:
    """A decorator that lets a view run only once ``find_caller`` names the caller (kept in ``flask.g.auth``)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.auth = find_caller()  # raises Unauthorized (a 401) when the request proves no one
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


login_required = requires(_session_principal)  # a live session cookie (Flask's answer to Next.js middleware)
token_required = requires(_token_principal)  # a valid bearer access token
credential_required = requires(_any_principal)  # whichever the strategy allows


def issue_access_token(config: AuthConfig, user: str, role: str, sid: str | None = None) -> str:
    """Sign a short-lived ``at+jwt`` access token for ``user``; ``sid`` names its login's refresh family."""
    now = int(config.clock.now())
    claims: dict[str, Any] = {
        "sub": user,
        "role": role,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + config.access_ttl,
        "jti": uuid.UUID(bytes=secrets.token_bytes(16), version=4).hex,
    }
    if sid is not None:
        claims["sid"] = sid
    return tokens.encode(
        claims, signing_key(config), algorithm=config.algorithms[0], headers={"typ": ACCESS_TOKEN_TYPE}
    )


def offered_credentials(strategy: Strategy) -> tuple[str, ...]:
    """The credential kinds a login of ``strategy`` can issue: ``"session"`` and/or ``"token"``."""
    return {"session": ("session",), "jwt": ("token",), "both": CREDENTIAL_KINDS}[strategy]


def _wanted_credentials(config: AuthConfig) -> set[str]:
    """The credentials the login body asks for (default: all the strategy offers); else aborts with a 400."""
    body = json_body()
    offered = offered_credentials(config.strategy)
    asked = body.get("credentials", list(offered)) if isinstance(body, dict) else list(offered)
    if (
        not isinstance(asked, list)
        or not asked
        or len(asked) > len(offered)
        or not all(isinstance(kind, str) and kind in offered for kind in asked)
    ):
        abort(
            json_answer(
                400,
                error="Bad request",
                reason=f'"credentials" must be a non-empty list of {", ".join(map(repr, offered))}',
            )
        )
    return set(asked)


def _login() -> Response:
    """Check the password, then issue the credentials the login asks for: tokens, a session, or both."""
    config = _config()
    wanted = _wanted_credentials(config)  # checked before the password: a bad request costs no hash
    # A failed login is a 401 too, and every 401 names a way in (RFC 9110 §15.5.2).
    challenge = cookie_challenge(SESSION_COOKIE) if "session" in wanted else 'Bearer realm="api"'
    user = authenticate(config.users, config.throttle, config.hashing, challenge=challenge)  # or 400/401/429/503
    payload: dict[str, Any] = {"user": user.username, "role": user.role}
    family_id: str | None = None
    refresh_token: str | None = None
    if "token" in wanted:
        assert config.refresh_store is not None  # always set when tokens are offered
        # A new family per login; the family lives refresh_store.ttl from now (rotation never extends it).
        refresh_token = config.refresh_store.issue(user.username, role=user.role)
        family_id = config.refresh_store.family_id(refresh_token)
        payload.update(
            access_token=issue_access_token(config, user.username, user.role, family_id),
            token_type="Bearer",
            expires_in=config.access_ttl,
        )
    response = jsonify(payload)
    if config.refresh_store is not None and refresh_token is not None:  # both set together, above
        _set_refresh_cookie(response, refresh_token, int(config.refresh_store.ttl))
    if "session" in wanted:
        _start_session(config, response, user, family_id)
    return response


def _start_session(config: AuthConfig, response: Response, user: User, family_id: str | None) -> None:
    """Log ``user`` in on a fresh session ID and drop the ID the browser came with: no session fixation."""
    previous = _cookie(SESSION_COOKIE)
    if previous:
        config.store.delete(previous)
    # The session remembers its login's refresh family (if any), so logging out with the cookie ends both.
    data = {"sid": family_id} if family_id is not None else None
    session_id = config.store.create(user.username, data=data, role=user.role)
    record = config.store.get(session_id)
    max_age = int(record.expires_at - config.clock.now()) if record else 0
    _set_session_cookie(response, session_id, max_age)


def _presented_claims(config: AuthConfig) -> dict[str, Any] | None:
    """The claims of this request's bearer token if it is a valid access token of this app, else None."""
    if "Authorization" not in request.headers:
        return None
    try:
        return _decode_access_token(config, _bearer_token())
    except (Unauthorized, tokens.InvalidTokenError):
        return None  # logout still succeeds; there is just no valid token to revoke


def _logout() -> Response:
    """End every credential this login created that the request names: session, refresh family, access token."""
    config = _config()
    result: dict[str, Any] = {"logged_out": True}
    families: set[str] = set()
    if config.uses_sessions:
        session_id = _cookie(SESSION_COOKIE)
        record = config.store.get(session_id) if session_id else None
        if record is not None and isinstance(record.data.get("sid"), str):
            families.add(record.data["sid"])
        result["session_deleted"] = bool(session_id) and config.store.delete(session_id)
    if config.uses_tokens:
        claims = _presented_claims(config)
        if claims is not None and isinstance(claims.get("sid"), str):
            families.add(claims["sid"])
        # Without a denylist nothing on the server knows the access token: it stays valid until
        # ``exp`` and the client must forget it. With one, its jti is refused from now on.
        jti = claims.get("jti") if claims is not None else None
        result["token_revoked"] = (
            config.denylist is not None
            and claims is not None
            and isinstance(jti, str)
            and config.denylist.deny(jti, claims["exp"])
        )
        # The refresh cookie arrives only under /refresh (its Path); elsewhere the family is found from
        # the access token's sid or the session's.
        assert config.refresh_store is not None  # always set for these strategies
        refresh_token = _cookie(REFRESH_COOKIE)
        family_id = config.refresh_store.family_id(refresh_token) if refresh_token else None
        if family_id is not None:
            families.add(family_id)
        result["refresh_revoked"] = any([config.refresh_store.revoke_family_id(f) for f in sorted(families)])
    g.logged_out = True
    response = jsonify(result)
    _clear_credential_cookies(config, response)
    return response


def _clear_credential_cookies(config: AuthConfig, response: Response) -> None:
    if config.uses_sessions:
        _clear_session_cookie(response)
    if config.uses_tokens:
        _clear_refresh_cookie(response)  # a browser accepts the deletion from any path


def end_everywhere(config: AuthConfig, username: str) -> dict[str, Any]:
    """End every session and refresh family of ``username`` (and with a denylist, every access token so far)."""
    result: dict[str, Any] = {}
    if config.uses_sessions:
        result["sessions_deleted"] = config.store.revoke_all(username)
    if config.refresh_store is not None:
        result["refresh_families_revoked"] = config.refresh_store.revoke_user(username)
    if config.uses_tokens:
        if config.denylist is not None:
            # iat is in whole seconds, so the cut-off is rounded up: a token minted in this very second
            # dies too (fail closed); the user's next login or refresh, a second later, is unaffected.
            cut = math.floor(config.clock.now()) + 1
            config.denylist.cut_off(username, cut, cut + config.access_ttl)
        result["tokens_revoked"] = config.denylist is not None
    return result


def _listen_to_users(config: AuthConfig) -> None:
    """Subscribe to the user directory: a new password ends every login of that user in this app."""
    # A weak reference: a directory shared by many apps (a cluster, a notebook's experiments) must not
    # keep every app it ever served, and their stores, alive; a collected app just stops listening.
    app_config = weakref.ref(config)

    def on_change(username: str, what: str) -> None:
        current = app_config()
        if current is not None and what == "password":
            end_everywhere(current, username)

    config.users.subscribe(on_change)


def _logout_everywhere() -> Response:
    config = _config()
    principal: Principal = g.auth
    g.logged_out = True
    response = jsonify(logged_out=True, **end_everywhere(config, principal.user))
    _clear_credential_cookies(config, response)
    return response


def _change_password() -> Response:
    """Check the current password, set the new one; the directory's subscription then ends every login."""
    config = _config()
    principal: Principal = g.auth
    body = json_body()
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("current_password"), str)
        or not isinstance(body.get("new_password"), str)
    ):
        return json_answer(400, error="Bad request", reason='send JSON {"current_password": ..., "new_password": ...}')
    if not MIN_PASSWORD_LENGTH <= len(body["new_password"]) <= MAX_PASSWORD_LENGTH:
        return json_answer(
            400,
            error="Bad request",
            reason=f"the new password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )
    # The current password is checked like a login (throttled, capped): a stolen session must not be
    # a way to guess it, nor to take the account over by setting a new one.
    if check_password(config.users, principal.user, body["current_password"], config.throttle, config.hashing) is None:
        return json_answer(403, error="Forbidden", reason="the current password is wrong")
    with hashing_slot(config.hashing) as acquired:
        if not acquired:
            return too_busy()
        config.users.set_password(principal.user, body["new_password"])
    g.logged_out = True
    response = jsonify(password_changed=True, logged_out=True)
    _clear_credential_cookies(config, response)
    return response


def _refresh() -> Response:
    config = _config()
    assert config.refresh_store is not None  # the route exists only when there is a store
    # CSRF: the refresh cookie authenticates this request by itself, so a cross-site page must not
    # be able to trigger it. SameSite=Strict already keeps the cookie off cross-site requests; as a
    # second, cheap layer we demand Content-Type: application/json, which an HTML form cannot send
    # and cross-site fetch() can send only after a CORS preflight this app never approves.
    if request.mimetype != "application/json":
        return json_answer(
            415,
            error="Unsupported Media Type",
            reason="POST /refresh needs Content-Type: application/json (a CSRF defence)",
        )
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        return _refresh_refused(config, "no refresh cookie; log in first", clear=False)
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
        return _refresh_refused(config, str(exc), clear=True)  # the store's own wording, never the token
    response = jsonify(
        access_token=issue_access_token(config, user.username, user.role, rotated.family_id),
        token_type="Bearer",
        expires_in=config.access_ttl,
    )
    _set_refresh_cookie(response, rotated.token, max(0, int(rotated.expires_at - config.clock.now())))
    return response


def _refresh_refused(config: AuthConfig, reason: str, clear: bool) -> Response:
    """The 401 of a refused refresh: generic unless explained, the useless cookie cleared."""
    response = json_answer(401, error=UNAUTHORIZED, **({"reason": reason} if config.explain_errors else {}))
    response.headers["WWW-Authenticate"] = cookie_challenge(REFRESH_COOKIE)
    if clear:
        _clear_refresh_cookie(response)
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


def _refuse_duplicate_cookies() -> Response | None:
    """Cookie tossing: refuse a request that carries two different values under one cookie name.

    A sibling subdomain can plant a second ``__Secure-refresh`` (or a second session cookie under a
    longer Path) that the browser sends alongside the real one. Picking either copy would let the
    attacker choose which login the server acts on, so the server picks neither (400). Identical
    copies (a client that sends its jar's cookie and the same one again) are not ambiguous and pass.
    """
    # Werkzeug's parse_cookie ends each pair at ";", so a header without one (a bearer request sends no
    # Cookie header; a session request sends one cookie) holds at most one cookie: nothing to compare.
    if ";" not in request.environ.get("HTTP_COOKIE", ""):
        return None
    if any(len(set(values)) > 1 for values in request.cookies.listvalues()):
        return json_answer(400, error="Bad request", reason="a cookie was sent twice; clear this site's cookies")
    return None


def _refuse_oversized_body() -> None:
    """413 for a body over ``MAX_BODY_BYTES``, whether it came with a Content-Length or chunked.

    Werkzeug refuses a Content-Length over the app's limit, but a chunked body it only stops reading at
    the limit, silently: the view would parse a truncated body. So the limit Werkzeug applies is one byte
    more than ours, every body is read here (at most that many bytes, cached for the view), and a body
    that filled it is refused.
    """
    environ = request.environ
    if "CONTENT_LENGTH" not in environ and "wsgi.input_terminated" not in environ:
        return  # no Content-Length, not chunked: no body (RFC 9112 §6.3), and Werkzeug reads none
    if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()


def _security_headers(response: Response) -> Response:
    """Headers every answer carries: never cache it (it carries or depends on credentials), never sniff it."""
    response.headers["Cache-Control"] = "no-store"  # RFC 9111 §5.2.2.5; also RFC 6749 §5.1 for token bodies
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _me() -> Response:
    principal: Principal = g.auth
    return jsonify(user=principal.user, role=principal.role, via=principal.via)


def _api_data() -> Response:
    principal: Principal = g.auth
    return jsonify(data=[1, 2, 3], owner=principal.user, via=principal.via)


def _error_response(exc: HTTPException) -> Response:
    return json_answer(exc.code or 500, error=exc.name, reason=exc.description)


def _internal_error(exc: Exception) -> Response:
    # Any other exception is a bug: the client learns that much and nothing else (no traceback, no
    # exception text, which could quote a credential). Bad input is answered with a 4xx long before.
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
    *,
    throttle: LoginThrottle | None = None,
    hashing_limit: int = HASHING_LIMIT,
    explain_errors: bool = False,
    signing_key: tokens.PrivateKey | None = None,
    algorithm: str = TOKEN_ALGORITHM,
    audience: str = "auth-course-api",
) -> Flask:
    """Build a fresh Flask app that remembers logins by ``strategy``; every dependency can be injected.

    ``refresh_store`` and ``refresh_ttl`` matter only for ``"jwt"`` and ``"both"``: ``refresh_ttl`` sets the
    lifetime of the default store (an in-memory SQLite one), while an injected store keeps its own ``ttl``.
    ``denylist`` (default None) turns on access-token revocation, and with it one lookup per API request.
    ``throttle`` (default: a ``LoginThrottle`` with its default limits on ``clock``) counts failed logins;
    ``hashing_limit`` caps password hashes at once; ``explain_errors`` adds the reason to 401 bodies.
    ``signing_key`` (a private key, instead of ``secret``) signs access tokens with ``algorithm`` (e.g. RS256),
    and only its public half verifies them, under that one algorithm; ``audience`` is the ``aud`` the app
    issues and accepts.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f'strategy must be "session", "jwt" or "both", got {strategy!r}')
    if signing_key is not None:
        if secret is not None:
            raise ValueError("pass either secret (HMAC) or signing_key (a private key), not both")
    clock = clock or SystemClock()
    config = AuthConfig(
        strategy=strategy,
        store=store if store is not None else SQLiteStore(":memory:", clock=clock),
        users=users if users is not None else load_demo_users(),
        clock=clock,
        secret=secret
        if secret is not None
        else secrets.token_bytes(32),  # a fresh key per app: demo tokens die with it
        access_ttl=access_ttl,
        audience=audience,
        algorithms=[algorithm],
        signing_key=signing_key,
        denylist=denylist,
        throttle=throttle if throttle is not None else LoginThrottle(clock),
        hashing=ConcurrencyLimit(hashing_limit),
        explain_errors=explain_errors,
    )
    # An unusable key or algorithm (a key of another family, a public key, a secret too short for HS512,
    # "none") fails here, when the app is built, not as a 500 at its first login.
    tokens.encode({}, config.signing_key if config.signing_key is not None else config.secret, algorithm=algorithm)
    if config.uses_tokens:
        config.refresh_store = (
            refresh_store if refresh_store is not None else SQLiteRefreshStore(":memory:", clock=clock, ttl=refresh_ttl)
        )
    _listen_to_users(config)
    app = Flask("helpers.web", static_folder=None)  # no /static route: this app serves no files
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1  # see _refuse_oversized_body
    app.extensions["auth_course"] = config
    app.request_class = _Request
    app.after_request(_security_headers)
    app.before_request(_refuse_oversized_body)
    app.before_request(_refuse_duplicate_cookies)
    app.before_request(_refuse_cross_site)
    app.register_error_handler(Unauthorized, _unauthorized_response)
    app.register_error_handler(HTTPException, _error_response)
    app.register_error_handler(Exception, _internal_error)

    app.post("/login")(_login)
    app.post("/logout")(_logout)
    app.post("/logout-everywhere")(credential_required(_logout_everywhere))
    app.post("/password")(credential_required(_change_password))
    if config.uses_tokens:
        app.post(REFRESH_PATH)(_refresh)
        # The same logout, at a path the Path=/refresh cookie is sent to (see the module docstring).
        app.post(REFRESH_PATH + "/logout", endpoint="refresh_logout")(_logout)
    app.get("/me")(credential_required(_me))
    api_guard = token_required if config.uses_tokens else login_required
    app.get("/api/data")(api_guard(_api_data))
    return app


def auth_config(app: Flask) -> AuthConfig:
    """The injected stores, users, clock and key of an app made by ``create_app`` (for demos and tests)."""
    return app.extensions["auth_course"]
