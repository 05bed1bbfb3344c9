"""A small, thread-safe user directory: who exists, their role, and their password hash.

Later chapters change a user's role or password while a server is running, to show how server-side
sessions see the change at once while an already-issued JWT keeps the old claims until it expires.
A server that must act on such a change (end every session after a password change) ``subscribe``s
to the directory, so a change made anywhere, over HTTP or straight from a notebook, reaches it.

``authenticate`` takes the same time whether the username exists or not: for an unknown user it
still runs a full password verification, against a hash no password matches, with the same parameters, so an
attacker cannot time the login form to learn which usernames are registered.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from helpers import DATA_DIR
from helpers.passwords import DEFAULT_PARAMS, ScryptParams, hash_password, unmatchable_hash, verify_password
from helpers.storage import check_name

__all__ = ["DEMO_USERS_PATH", "User", "UserDirectory", "load_demo_users"]

DEMO_USERS_PATH = DATA_DIR / "users.json"

Verifier = Callable[[str, str], bool]
# Called as callback(username, what) after a change; ``what`` is "password" or "role".
ChangeListener = Callable[[str, str], None]


@dataclass(frozen=True)
class User:
    """One account. Immutable: a change of role or password replaces the whole record."""

    username: str
    role: str
    # Kept out of repr so printing a user in a notebook does not spill the hash.
    password_hash: str = field(repr=False)


class UserDirectory:
    """Users by username, guarded by a lock so a server thread and a notebook can share one."""

    def __init__(
        self,
        users: Mapping[str, User] | None = None,
        *,
        params: ScryptParams = DEFAULT_PARAMS,
        verify: Verifier = verify_password,
    ) -> None:
        """Build from ``{username: User}``; ``params`` hash new passwords, ``verify`` checks them."""
        self._users: dict[str, User] = {}
        for username, user in (users or {}).items():
            if not isinstance(user, User) or user.username != username:
                raise ValueError(f"entry {username!r} must be a User with that username, got {user!r}")
            self._users[username] = user
        self._params = params
        self._verify = verify
        self._lock = threading.Lock()
        self._listeners: list[ChangeListener] = []
        # What an unknown username is checked against, so it costs the same scrypt as a known one.
        # Made now, not on the first unknown username: a lazy dummy would make that first failed
        # login slower than the rest, a one-off timing signal that a user does not exist.
        self._dummy_hash = unmatchable_hash(params)

    @classmethod
    def from_json(
        cls,
        path: str | os.PathLike[str],
        *,
        params: ScryptParams = DEFAULT_PARAMS,
        verify: Verifier = verify_password,
    ) -> UserDirectory:
        """Load ``{"users": {name: {"role": ..., "password_hash": ...}}}``; keys starting with ``_`` are notes."""
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"user file not found: {path}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        entries = document.get("users") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise ValueError(f'{path} must hold an object with a "users" object inside')
        users: dict[str, User] = {}
        for username, entry in entries.items():
            if username.startswith("_"):
                continue
            try:
                users[username] = User(
                    username=check_name("username", username, unpadded=True),
                    role=check_name("role", entry["role"], unpadded=True),
                    password_hash=check_name("password_hash", entry["password_hash"], unpadded=True),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: bad entry for user {username!r}: {exc!r}") from None
        return cls(users, params=params, verify=verify)

    def to_json(self, path: str | os.PathLike[str], *, comment: str | None = None) -> None:
        """Write the directory in the format ``from_json`` reads (hashes only, never passwords)."""
        with self._lock:
            users = sorted(self._users.values(), key=lambda u: u.username)
        document: dict[str, object] = {}
        if comment is not None:
            document["_comment"] = comment
        document["users"] = {u.username: {"role": u.role, "password_hash": u.password_hash} for u in users}
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    def authenticate(self, username: str, password: str) -> User | None:
        """Return the user if the password is right, else None; unknown users take just as long."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError(
                f"authenticate() expects str username and password, got "
                f"{type(username).__name__} and {type(password).__name__}"
            )
        with self._lock:
            user = self._users.get(username)
        # Verify outside the lock: scrypt is slow on purpose and must not block other logins.
        # Always verify, even for an unknown user, so both paths cost one full scrypt.
        stored = user.password_hash if user is not None else self._dummy_hash
        matched = self._verify(password, stored)
        return user if (user is not None and matched) else None

    def get(self, username: str) -> User | None:
        """The user with this username, or None."""
        with self._lock:
            return self._users.get(username)

    def add(self, username: str, password: str, role: str = "user") -> User:
        """Create a user; raises ValueError if the username is taken."""
        check_name("username", username, unpadded=True)
        check_name("role", role, unpadded=True)
        # Hash before taking the lock: it is slow and needs no shared state.
        user = User(username=username, role=role, password_hash=hash_password(password, params=self._params))
        with self._lock:
            if username in self._users:
                raise ValueError(f"user {username!r} already exists")
            self._users[username] = user
        return user

    def set_role(self, username: str, role: str) -> User:
        """Change a user's role, notify subscribers, and return the new record; KeyError if there is no such user."""
        check_name("role", role, unpadded=True)
        with self._lock:
            user = replace(self._require(username), role=role)
            self._users[username] = user
        self._notify(username, "role")
        return user

    def set_password(self, username: str, new_password: str) -> User:
        """Replace a user's password hash, notify subscribers, and return the new record; KeyError if no such user."""
        new_hash = hash_password(new_password, params=self._params)
        with self._lock:
            user = replace(self._require(username), password_hash=new_hash)
            self._users[username] = user
        self._notify(username, "password")
        return user

    def subscribe(self, callback: ChangeListener) -> None:
        """Call ``callback(username, "password")`` after every ``set_password``, ``callback(username, "role")`` after ``set_role``."""
        if not callable(callback):
            raise TypeError(f"subscribe() expects a callable, got {type(callback).__name__}")
        with self._lock:
            self._listeners.append(callback)

    def _notify(self, username: str, what: str) -> None:
        """Call every subscriber, outside the lock, after the change is in place; re-raise the first failure.

        The change is made first, so a failing subscriber cannot leave the directory half-changed, and
        every subscriber still runs. The error is then raised, not swallowed: a subscriber usually ends
        sessions after a password change, and a caller told "done" while they live on would be misled.
        """
        with self._lock:
            listeners = list(self._listeners)  # a snapshot: a callback may subscribe another
        first_error: BaseException | None = None
        for listener in listeners:
            try:
                listener(username, what)
            except Exception as exc:  # the others still run; the first error is raised below
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def _require(self, username: str) -> User:
        user = self._users.get(username)
        if user is None:
            raise KeyError(f"no such user: {username!r}")
        return user

    def usernames(self) -> list[str]:
        """All usernames, sorted."""
        with self._lock:
            return sorted(self._users)

    def __len__(self) -> int:
        with self._lock:
            return len(self._users)

    def __contains__(self, username: object) -> bool:
        with self._lock:
            return username in self._users

    def __iter__(self) -> Iterator[User]:
        # Iterate over a snapshot so a concurrent add() cannot break the loop.
        with self._lock:
            return iter(sorted(self._users.values(), key=lambda u: u.username))

    def __repr__(self) -> str:
        return f"UserDirectory({self.usernames()!r})"


def load_demo_users(path: str | os.PathLike[str] | None = None) -> UserDirectory:
    """Load the course's demo users (alice/wonderland, bob/builder) from ``data/users.json``."""
    path = Path(path) if path is not None else DEMO_USERS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"demo user file not found at {path}. It ships with the course repository under data/; "
            "run the notebooks from a checkout (or an editable install) of the repo."
        )
    return UserDirectory.from_json(path)
