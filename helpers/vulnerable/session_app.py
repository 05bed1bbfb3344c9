"""DELIBERATELY VULNERABLE: a session app open to CSRF and whose logout forgets only the cookie.

Two flaws, both common:

- **CSRF.** ``POST /email`` changes the account's e-mail address on the strength of the session cookie
  alone, and the cookie is ``SameSite=None``, so a form on any other site that posts here carries it.
- **Logout that doesn't.** ``POST /logout`` tells the browser to drop the cookie but leaves the session
  on the server, so a copy of the cookie (stolen earlier) keeps working.

For the lab, each CSRF defence can be switched on alone: ``samesite="Lax"`` (the browser stops sending
the cookie with cross-site POSTs) and ``csrf_token=True`` (double-submit: login also sets a random
``csrf`` cookie, readable by the site's own script, and ``POST /email`` must repeat its value in the
form; a cross-site page can neither read it nor guess it). ``helpers.web`` has neither flaw. Never copy
this into a real app.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from typing import Any

from flask import Flask, Response, request

from helpers.sessions import new_session_id
from helpers.users import UserDirectory
from helpers.web_common import authenticate, json_answer  # what every course app shares; the flaws are elsewhere

__all__ = ["COOKIE_NAME", "CSRF_COOKIE", "NaiveSessions", "create_naive_session_app"]

COOKIE_NAME = "sid"
CSRF_COOKIE = "csrf"


class NaiveSessions:
    """Session ID -> ``{"user", "role", "email"}``, in memory; nothing ever deletes a session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, str]] = {}

    def start(self, user: str, role: str) -> str:
        """Create a session for ``user`` and return its new random ID."""
        session_id = new_session_id()
        with self._lock:
            self._records[session_id] = {"user": user, "role": role, "email": f"{user}@example.test"}
        return session_id

    def get(self, session_id: str | None) -> dict[str, str] | None:
        """A copy of the session's record, or None."""
        with self._lock:
            record = self._records.get(session_id or "")
            return dict(record) if record else None

    def set_email(self, session_id: str, email: str) -> None:
        """Change the e-mail address stored in the session."""
        with self._lock:
            self._records[session_id]["email"] = email

    def count(self) -> int:
        """How many sessions are stored."""
        with self._lock:
            return len(self._records)


def create_naive_session_app(
    users: UserDirectory, sessions: NaiveSessions | None = None, *, samesite: str = "None", csrf_token: bool = False
) -> Flask:
    """``POST /login``, ``GET /me``, ``POST /email`` (form field ``email``) and a cookie-only ``POST /logout``."""
    table = sessions if sessions is not None else NaiveSessions()
    app = Flask("helpers.vulnerable.session_app")

    @app.post("/login")
    def login() -> Response:
        user = authenticate(users)
        response = json_answer(200, user=user.username, role=user.role)
        response.set_cookie(
            COOKIE_NAME, table.start(user.username, user.role), path="/", secure=True, httponly=True, samesite=samesite
        )
        if csrf_token:  # double-submit: readable by the site's own script (not HttpOnly), random per login
            response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), path="/", secure=True, samesite="Strict")
        return response

    @app.get("/me")
    def me() -> Response:
        record = table.get(request.cookies.get(COOKIE_NAME))
        if record is None:
            return json_answer(401, error="Not authenticated", reason="no session cookie, or an unknown one")
        return json_answer(200, **record)

    @app.post("/email")
    def change_email() -> Response:
        session_id = request.cookies.get(COOKIE_NAME)
        if table.get(session_id) is None:
            return json_answer(401, error="Not authenticated", reason="no session cookie, or an unknown one")
        if csrf_token:
            expected, sent = request.cookies.get(CSRF_COOKIE, ""), request.form.get("csrf_token", "")
            if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
                return json_answer(403, error="Forbidden", reason="missing or wrong CSRF token")
        email = request.form.get("email", "")
        table.set_email(str(session_id), email)
        return json_answer(200, email=email)

    @app.post("/logout")
    def logout() -> Any:
        response = json_answer(200, logged_out=True)
        response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite=samesite)
        return response  # THE FLAW: the session itself stays valid on the server

    return app
