"""DELIBERATELY VULNERABLE: a session login that keeps the session ID the browser arrived with.

Giving visitors a session before they log in is normal (a basket, a language choice). The flaw is at
login: the app writes the user into the session the request already carries instead of issuing a new
ID. Whoever knew that ID before the login (an attacker who got it from this very server and planted it
in the victim's browser) is logged in as the victim the moment the victim types their password. This
is *session fixation*.

The app only accepts IDs it issued itself ("strict" session IDs), and that does not help: the attacker
simply asks the server for one. The session cookie carries the usual flags but no ``__Host-`` prefix.

Chapter 02 attacks it live, then shows ``helpers.web``'s login, which issues a fresh ID and drops the
one the browser came with. Never copy this into a real app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask, Response, request

from helpers.credentials import hash_presented
from helpers.sessions import hash_session_id, new_session_id
from helpers.users import UserDirectory
from helpers.web_common import authenticate, json_answer  # what every course app shares; the flaw is elsewhere

__all__ = ["COOKIE_NAME", "FixationProneSessions", "bind_login", "create_fixation_app"]

COOKIE_NAME = "sid"  # a plain name: without the __Host- prefix, a sibling subdomain may set it in a browser


@dataclass
class _Record:
    """What the app remembers about one session: nobody yet (a visitor), or a logged-in user."""

    user: str | None = None
    role: str | None = None


class FixationProneSessions:
    """The app's session table, keyed by the SHA-256 of the ID like ``helpers.sessions``; no expiry (not the point here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def start(self) -> str:
        """Issue a new visitor session (nobody logged in) and return its ID."""
        session_id = new_session_id()
        with self._lock:
            self._records[hash_session_id(session_id)] = _Record()
        return session_id

    def knows(self, session_id: object) -> bool:
        """True if ``session_id`` is an ID this app issued."""
        return self._find(session_id) is not None

    def user_of(self, session_id: object) -> tuple[str, str] | None:
        """``(user, role)`` of the logged-in session with this ID, or None for visitors and unknown IDs."""
        record = self._find(session_id)
        if record is None or record.user is None or record.role is None:
            return None
        return record.user, record.role

    def log_in(self, session_id: str, user: str, role: str) -> None:
        """Mark an existing session as belonging to ``user``; KeyError if the ID is unknown."""
        with self._lock:
            record = self._records[hash_session_id(session_id)]
            record.user, record.role = user, role

    def count(self) -> int:
        """Sessions stored, visitors included."""
        with self._lock:
            return len(self._records)

    def logged_in_users(self) -> list[str]:
        """The users of the logged-in sessions, sorted (one entry per session)."""
        with self._lock:
            return sorted(r.user for r in self._records.values() if r.user is not None)

    def _find(self, session_id: object) -> _Record | None:
        id_hash = hash_presented(session_id)
        if id_hash is None:
            return None
        with self._lock:
            return self._records.get(id_hash)


def bind_login(sessions: FixationProneSessions, presented_id: str | None, user: str, role: str) -> str:
    """THE FLAW: after a good password, reuse the session the browser came with; only start one if it has none."""
    if presented_id is not None and sessions.knows(presented_id):
        session_id = presented_id  # the ID someone else may already know now means "logged in as user"
    else:
        session_id = sessions.start()
    sessions.log_in(session_id, user, role)
    return session_id


def _set_cookie(response: Response, session_id: str) -> None:
    response.set_cookie(COOKIE_NAME, session_id, path="/", secure=True, httponly=True, samesite="Lax")


def create_fixation_app(users: UserDirectory, sessions: FixationProneSessions | None = None) -> Flask:
    """A shop-like app: ``GET /`` hands visitors a session, ``POST /login`` keeps its ID, ``GET /me`` says who you are."""
    table = sessions if sessions is not None else FixationProneSessions()
    app = Flask("helpers.vulnerable.fixation")

    @app.get("/")
    def home() -> Response:
        session_id = request.cookies.get(COOKIE_NAME)
        if table.knows(session_id):
            return json_answer(200, visitor=table.user_of(session_id) is None)
        response = json_answer(200, visitor=True)
        _set_cookie(response, table.start())
        return response

    @app.post("/login")
    def login() -> Response:
        user = authenticate(users)
        session_id = bind_login(table, request.cookies.get(COOKIE_NAME), user.username, user.role)
        response = json_answer(200, user=user.username, role=user.role)
        _set_cookie(response, session_id)
        return response

    @app.get("/me")
    def me() -> Response:
        found = table.user_of(request.cookies.get(COOKIE_NAME))
        if found is None:
            return json_answer(401, error="Not authenticated", reason="no session, or nobody logged in on it")
        return json_answer(200, user=found[0], role=found[1])

    return app
