"""A JWT carried in an HttpOnly cookie: the token format without the localStorage habit.

Nothing in a JWT says where the client must keep it. ``create_token_cookie_app`` is the course app
(``helpers.web.create_app("jwt", ...)``, the same signing, the same verifier with its algorithm
allow-list) with one change of transport: the access token that ``/login`` and ``/refresh`` would put
in the JSON body goes into the cookie ``__Host-access`` instead (HttpOnly, Secure, SameSite=Strict,
Path=/), and a request that brings the cookie but no ``Authorization`` header is verified as if it
had sent ``Bearer <cookie>``. A page's script cannot read the token; the browser attaches it itself.

That last property has a price: a credential the browser sends on its own can be ridden by another
site (CSRF), exactly like a session cookie. SameSite=Strict keeps it off cross-site requests, and the
course app already refuses every POST a browser marks as cross-site. And it is still a JWT: logout
clears the browser's copy, but a copy taken earlier verifies until its ``exp`` (unless a denylist is
injected, which works here as in the course app). The cookie is cleared only by a logout that happened
(an answer of 200): a refused cross-site ``POST /logout`` must not wipe the victim's cookie, or the real
logout could no longer present the token to deny it while a stolen copy lives on.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request

from .web import MAX_CREDENTIAL_LENGTH, create_app

__all__ = ["ACCESS_COOKIE", "create_token_cookie_app"]

ACCESS_COOKIE = "__Host-access"  # __Host-: browsers demand Secure, Path=/ and no Domain
_LOGOUT_PATHS = ("/logout", "/refresh/logout", "/logout-everywhere", "/password")


def _cookie_to_bearer() -> None:
    """Before the view: present the access cookie as ``Authorization: Bearer`` when no header was sent."""
    token = request.cookies.get(ACCESS_COOKIE, "")
    if token and len(token) <= MAX_CREDENTIAL_LENGTH and "HTTP_AUTHORIZATION" not in request.environ:
        # Werkzeug's request.headers reads the WSGI environ live, so the course app's verifier sees it.
        request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"


def _token_to_cookie(response: Response) -> Response:
    """After the view: move an access token out of the JSON body into the HttpOnly cookie; clear it at logout."""
    if request.path in _LOGOUT_PATHS:
        if response.status_code == 200:  # a logout that happened, not a refused one (403, 400, 401...)
            response.delete_cookie(ACCESS_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
        return response
    body = response.get_json(silent=True) if response.is_json else None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        return response
    token = body.pop("access_token")
    body.pop("token_type", None)  # no longer a bearer token the client handles
    response.set_data(current_app.json.dumps(body) + "\n")
    response.set_cookie(
        ACCESS_COOKIE,
        token,
        max_age=int(body.get("expires_in", 0)),
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


def create_token_cookie_app(**options: Any) -> Flask:
    """The course's JWT app (``create_app("jwt", **options)``) with the access token in an HttpOnly cookie."""
    app = create_app("jwt", **options)
    # Registered after create_app's own hooks: the cross-site POST refusal still runs first.
    app.before_request(_cookie_to_bearer)
    app.after_request(_token_to_cookie)
    return app
