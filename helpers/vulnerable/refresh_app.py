"""DELIBERATELY VULNERABLE: a JWT + refresh-token app with the gaps a security review finds in real ones.

The parts are sound: scrypt passwords (``UserDirectory``), HS256 tokens from ``helpers.tokens`` with an
algorithm allow-list, audience and issuer checks, and rotating refresh tokens with reuse detection
(``helpers.refresh``) in an HttpOnly, Secure, SameSite=Strict cookie scoped to ``Path=/refresh``. The
gaps are in how the app wires them together:

- **Logout that misses the refresh family.** ``POST /logout`` revokes the refresh family only if the
  refresh cookie arrives with the request, and a browser never sends a ``Path=/refresh`` cookie to
  ``/logout``. The app answers ``logged_out: true``; a refresh token copied earlier keeps rotating.
- **No typed tokens.** Login also hands the client an ID token (who the user is, for display) signed
  with the same key, issuer and audience and living 10 hours. The verifier checks signature, ``exp``,
  ``aud`` and ``iss``, but not what *kind* of token it holds, so the ID token works as an access token.
- **First cookie wins.** With two ``__Secure-refresh`` cookies (one planted by a sibling subdomain), the
  app reads the first: ``/refresh`` logs the victim into the attacker's account, and the victim's logout
  revokes the attacker's family while the victim's own stays alive.
- **No throttling.** ``/login`` checks every password it is sent, as many at once as arrive.
- **Cacheable answers.** Nothing says ``Cache-Control: no-store``.

``helpers.web`` closes every one of these. Never copy this into a real app.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, Response, request

from helpers import tokens
from helpers.clock import Clock, SystemClock
from helpers.refresh import MemoryRefreshStore, RefreshTokenError, RefreshTokenStore
from helpers.users import UserDirectory
from helpers.web_common import authenticate, json_answer  # what every course app shares; the flaws are elsewhere

__all__ = ["AUDIENCE", "ID_TOKEN_TTL", "ISSUER", "REFRESH_COOKIE", "REFRESH_PATH", "create_naive_refresh_app"]

ID_TOKEN_TTL = 10 * 3600  # seconds: ID tokens often live for hours, for display, not for API calls
ISSUER, AUDIENCE = "naive-app", "naive-app"  # one name for the app, its API and its client: it happens
REFRESH_COOKIE, REFRESH_PATH = "__Secure-refresh", "/refresh"  # the course app's names: one attack fits both


def create_naive_refresh_app(
    users: UserDirectory,
    secret: bytes,
    *,
    clock: Clock | None = None,
    refresh_store: RefreshTokenStore | None = None,
    access_ttl: int = 900,
) -> Flask:
    """``POST /login``, ``GET /me``, ``POST /refresh``, ``POST /logout`` and ``POST /refresh/logout``, with the gaps above."""
    clock = clock or SystemClock()
    store = refresh_store if refresh_store is not None else MemoryRefreshStore(clock=clock)
    app = Flask("helpers.vulnerable.refresh_app", static_folder=None)

    def sign(user: str, role: str, ttl: int, **extra: Any) -> str:
        now = int(clock.now())
        claims = {
            "sub": user,
            "role": role,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(16),
            **extra,
        }
        return tokens.encode(claims, secret, algorithm="HS256")  # header typ "JWT" for every kind of token

    def with_refresh_cookie(response: Response, token: str) -> Response:
        response.set_cookie(
            REFRESH_COOKIE,
            token,
            max_age=int(store.ttl),
            path=REFRESH_PATH,
            secure=True,
            httponly=True,
            samesite="Strict",
        )
        return response

    @app.post("/login")
    def login() -> Response:
        user = authenticate(users)  # THE FLOOD: no count of failures, no cap on hashes at once
        response = json_answer(
            200,
            access_token=sign(user.username, user.role, access_ttl),
            token_type="Bearer",
            id_token=sign(user.username, user.role, ID_TOKEN_TTL, name=user.username.title()),
        )
        return with_refresh_cookie(response, store.issue(user.username, role=user.role))

    @app.get("/me")
    def me() -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return json_answer(401, error="Not authenticated")
        try:  # THE CONFUSION: any token this key signed passes, whatever kind it is
            claims = tokens.decode(
                token.strip(), secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, clock=clock
            )
        except tokens.InvalidTokenError:
            return json_answer(401, error="Invalid token")
        return json_answer(200, user=claims.get("sub"), role=claims.get("role"))  # THE CACHE: no no-store

    @app.post(REFRESH_PATH)
    def refresh() -> Response:
        presented = request.cookies.get(REFRESH_COOKIE)  # THE TOSSING: the first of several, silently
        if not presented:
            return json_answer(401, error="No refresh token")
        try:
            rotated = store.rotate(presented)
        except RefreshTokenError:
            return json_answer(401, error="Invalid refresh token")
        response = json_answer(
            200, access_token=sign(rotated.user_id, rotated.role, access_ttl), token_type="Bearer", user=rotated.user_id
        )
        return with_refresh_cookie(response, rotated.token)

    def logout() -> Response:
        presented = request.cookies.get(REFRESH_COOKIE, "")  # THE GAP: absent at /logout (Path=/refresh)
        revoked = bool(presented) and store.revoke_family(presented)
        response = json_answer(200, logged_out=True, refresh_revoked=revoked)
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=True, httponly=True, samesite="Strict")
        return response

    app.post("/logout")(logout)
    app.post(REFRESH_PATH + "/logout", endpoint="refresh_logout")(logout)
    return app
