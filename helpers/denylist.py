"""A JWT ID (``jti``) denylist: how a server revokes an access token before its ``exp``.

A signed token is valid until it expires; nothing on the server knows it exists. To revoke one
anyway (logout, a stolen laptop), the server remembers its ``jti`` and refuses it on every request
— which puts back the very lookup per request that JWTs were meant to avoid. ``lookups`` counts
them, so chapter 05 can chart the cost.

Every store follows one contract, ``JtiDenylist``:

* ``deny(jti, expires_at)`` keeps the entry only until the token would have expired anyway (its
  ``exp``): after that the signature check refuses it by itself, so the list stays as small as the
  number of revoked tokens still inside their lifetime.
* ``is_denied`` ignores expired entries; ``count`` reports entries *stored*, expired ones included,
  until ``purge_expired`` removes them — the same lesson as the session stores.
* A ``jti`` arrives inside a client's token, so garbage (a non-string, empty, over-long or
  non-ASCII) is never denied and ``is_denied`` answers False to it instead of raising.

Unlike session IDs and refresh tokens, the ``jti`` is stored as it is, not hashed: it names a token
but does not grant anything (the token's signature does), so a leaked denylist lets nobody in.

Backends: ``MemoryDenylist`` (teaching only) and ``SQLiteDenylist`` (its table can share a file
with the sessions and refresh tokens).
"""

from __future__ import annotations

import abc
import math
import os
import threading

from helpers.clock import Clock
from helpers.storage import ClockedStore, SQLiteBacked

__all__ = ["JtiDenylist", "MAX_JTI_LENGTH", "MemoryDenylist", "SQLiteDenylist"]

MAX_JTI_LENGTH = 256  # the app's jti is 32 hex characters; anything much longer is garbage


def _valid_jti(jti: object) -> bool:
    """True if ``jti`` could be a JWT ID we store: a non-empty ASCII str of bounded length."""
    # type() rather than isinstance(): a str subclass could override __eq__ or __hash__.
    return type(jti) is str and 0 < len(jti) <= MAX_JTI_LENGTH and jti.isascii()


def _check_time(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expires_at must be epoch seconds (a number), got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"expires_at must be finite, got {value}")
    return float(value)


class JtiDenylist(ClockedStore):
    """The contract every denylist backend meets; see the module docstring for the rules."""

    def __init__(self, clock: Clock | None = None) -> None:
        """``clock`` decides when entries lapse (default: the system clock)."""
        super().__init__(clock)
        self._lookups = 0
        self._lookups_lock = threading.Lock()  # += on an int is not atomic across threads

    @property
    def lookups(self) -> int:
        """How many times ``is_denied`` has been called: the extra lookups revocation costs."""
        with self._lookups_lock:
            return self._lookups

    def reset_lookups(self) -> int:
        """Set ``lookups`` back to 0 and return what it was (to measure one experiment at a time)."""
        with self._lookups_lock:
            previous, self._lookups = self._lookups, 0
            return previous

    def deny(self, jti: str, expires_at: float) -> bool:
        """Refuse the token ``jti`` until ``expires_at`` (its ``exp``); False if ignored (garbage, or already expired)."""
        expires_at = _check_time(expires_at)
        if not _valid_jti(jti):
            return False
        if expires_at <= self.clock.now():
            return False  # the token is already dead; remembering it would only take space
        self._deny(jti, expires_at)
        return True

    def is_denied(self, jti: str) -> bool:
        """True if ``jti`` is on the list and its entry has not lapsed; False for anything else."""
        with self._lookups_lock:
            self._lookups += 1
        if not _valid_jti(jti):
            return False
        return self._is_denied(jti, self.clock.now())

    # purge_expired (of lapsed entries), close and the context manager come from ClockedStore.

    @abc.abstractmethod
    def count(self) -> int:
        """Entries currently stored, *including* lapsed ones not yet purged."""

    # -- what a backend implements; jti already validated, ``now`` already read --------------------

    @abc.abstractmethod
    def _deny(self, jti: str, expires_at: float) -> None:
        """Store the entry; if present, keep the later of the two deadlines."""

    @abc.abstractmethod
    def _is_denied(self, jti: str, now: float) -> bool:
        """True if stored with ``now < expires_at``."""

    @abc.abstractmethod
    def _purge_expired(self, now: float) -> int:
        """Remove entries with ``expires_at <= now``; how many."""


class MemoryDenylist(JtiDenylist):
    """The denylist as a dict under a lock. For teaching only: each process has its own, and restarts forget it."""

    def __init__(self, clock: Clock | None = None) -> None:
        """An empty in-memory denylist; see ``JtiDenylist`` for the argument."""
        super().__init__(clock)
        self._lock = threading.Lock()
        self._entries: dict[str, float] = {}  # jti -> expires_at

    def _deny(self, jti: str, expires_at: float) -> None:
        with self._lock:
            # max(): denying again with an earlier deadline must not shorten the revocation.
            self._entries[jti] = max(expires_at, self._entries.get(jti, expires_at))

    def _is_denied(self, jti: str, now: float) -> bool:
        with self._lock:
            expires_at = self._entries.get(jti)
        return expires_at is not None and now < expires_at

    def _purge_expired(self, now: float) -> int:
        with self._lock:
            lapsed = [jti for jti, expires_at in self._entries.items() if expires_at <= now]
            for jti in lapsed:
                del self._entries[jti]
            return len(lapsed)

    def count(self) -> int:
        """Entries currently stored, *including* lapsed ones not yet purged."""
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryDenylist(clock={self.clock!r}, entries={self.count()}, lookups={self.lookups})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jti_denylist (
    jti        TEXT PRIMARY KEY,  -- the token's ID, not a secret (see the module docstring)
    expires_at REAL NOT NULL      -- the token's exp: after it, the entry is useless
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jti_denylist_expires_at ON jti_denylist (expires_at);
"""


class SQLiteDenylist(SQLiteBacked, JtiDenylist):
    """The denylist in an SQLite table; shared by every process that opens the same file.

    One connection shared by all threads behind a lock, like ``SQLiteStore``.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", clock: Clock | None = None) -> None:
        """Open (creating if needed) the denylist table at ``path``; see ``JtiDenylist`` for the clock."""
        super().__init__(clock)
        self._open(path, _SCHEMA)  # the settings every store shares: see helpers.storage.open_sqlite

    def _deny(self, jti: str, expires_at: float) -> None:
        with self._lock:
            # An upsert in one statement: denying again keeps the later deadline, never the earlier.
            self._conn.execute(
                "INSERT INTO jti_denylist (jti, expires_at) VALUES (?, ?)"
                " ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                (jti, expires_at),
            )

    def _is_denied(self, jti: str, now: float) -> bool:
        with self._lock:
            # fetchall() drains the statement so no read transaction stays open between calls.
            rows = self._conn.execute(
                "SELECT 1 FROM jti_denylist WHERE jti = ? AND expires_at > ?", (jti, now)
            ).fetchall()
        return bool(rows)

    def _purge_expired(self, now: float) -> int:
        return self._write("DELETE FROM jti_denylist WHERE expires_at <= ?", (now,))

    def count(self) -> int:
        """Entries currently stored, *including* lapsed ones not yet purged."""
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM jti_denylist").fetchone()[0]

    def __repr__(self) -> str:
        return f"SQLiteDenylist(path={self.path!r}, clock={self.clock!r}, {self._state()})"
