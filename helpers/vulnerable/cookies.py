"""DELIBERATELY VULNERABLE: a login that remembers you in a plain ``user=<name>`` cookie and believes it.

The login itself is sound (scrypt via ``UserDirectory.authenticate``) and the cookie carries the usual
hardening flags (``Secure``, ``HttpOnly``, ``SameSite=Lax``). None of that helps: every later request
is identified by whatever name the cookie holds, and the client decides what it holds. Change the
cookie to ``user=bob`` and you are bob, admin rights included, without bob's password.

Chapter 01 attacks it live; ``helpers.signing`` shows the first repair. Never copy this into a real app.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from helpers.users import User, UserDirectory
from helpers.web_common import authenticate, json_answer  # what every course app shares; the flaw is elsewhere

__all__ = ["COOKIE_NAME", "create_naive_app", "current_user"]

COOKIE_NAME = "user"


def current_user(users: UserDirectory) -> User | None:
    """THE FLAW: the caller is whoever the ``user`` cookie names; nothing proves this server wrote it."""
    name = request.cookies.get(COOKIE_NAME)
    return users.get(name) if name else None


def create_naive_app(users: UserDirectory) -> Flask:
    """A login app whose only proof of identity on later requests is a cookie holding the username in plain text."""
    app = Flask("helpers.vulnerable.cookies")

    @app.post("/login")
    def login() -> Any:
        user = authenticate(users)
        response = json_answer(200, user=user.username, role=user.role)
        response.set_cookie(COOKIE_NAME, user.username, path="/", secure=True, httponly=True, samesite="Lax")
        return response

    @app.get("/me")
    def me() -> Any:
        user = current_user(users)
        if user is None:
            return json_answer(401, error="Not authenticated", reason="no user cookie, or it names no known user")
        return json_answer(200, user=user.username, role=user.role)

    @app.get("/admin")
    def admin() -> Any:
        user = current_user(users)
        if user is None:
            return json_answer(401, error="Not authenticated", reason="no user cookie, or it names no known user")
        if user.role != "admin":
            return json_answer(403, error="Forbidden", reason="admins only")
        return json_answer(200, area="admin", user=user.username)

    return app
