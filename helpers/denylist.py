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
  until ``purge_expired`` removes them — the same lesson as the session stores. Like them, the
  denylist also purges by itself on the writes that add entries (``deny``, ``cut_off``), at most
  once per ``purge_interval`` of its clock (see ``helpers.storage``); lookups never purge.
* A ``jti`` arrives inside a client's token, so garbage (a non-string, empty, over-long or
  non-ASCII) is never denied and ``is_denied`` answers False to it instead of raising.
* ``cut_off(user_id, issued_before, expires_at)`` revokes every token of one user issued before a
  moment ("log out everywhere", a password change) without knowing their jtis: one row per user,
  kept until ``expires_at`` (the ``exp`` of the newest token it can catch). ``is_revoked(jti,
  user_id, issued_at)`` asks both questions, the token's jti and its user's cut-off, in one
  lookup, which is what a server calls on every request.

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
from helpers.credentials import MAX_CREDENTIAL_LENGTH, well_formed
from helpers.storage import ClockedStore, SQLiteBacked, check_name

__all__ = ["JtiDenylist", "MAX_JTI_LENGTH", "MemoryDenylist", "SQLiteDenylist"]

# The app's jti is 32 hex characters. A jti is checked like an opaque credential (well_formed), but
# stored as it is: it names a token without granting anything.
MAX_JTI_LENGTH = MAX_CREDENTIAL_LENGTH


def _check_time(value: object, kind: str = "expires_at") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{kind} must be epoch seconds (a number), got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{kind} must be finite, got {value}")
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
        """How many times ``is_denied`` or ``is_revoked`` has been called: the extra lookups revocation costs."""
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
        if not well_formed(jti):
            return False
        now = self.clock.now()
        if expires_at <= now:
            return False  # the token is already dead; remembering it would only take space
        self._purge_if_due(now)
        self._deny(jti, expires_at)
        return True

    def is_denied(self, jti: str) -> bool:
        """True if ``jti`` is on the list and its entry has not lapsed; False for anything else."""
        self._count_lookup()
        if not well_formed(jti):
            return False
        return self._is_denied(jti, self.clock.now())

    def cut_off(self, user_id: str, issued_before: float, expires_at: float) -> None:
        """Count every token of ``user_id`` issued before ``issued_before`` as revoked, until ``expires_at``."""
        check_name("user_id", user_id)
        issued_before = _check_time(issued_before, "issued_before")
        expires_at = _check_time(expires_at)
        now = self.clock.now()
        if expires_at <= now:
            return  # every token it could catch has expired already
        self._purge_if_due(now)
        self._cut_off(user_id, issued_before, expires_at)

    def is_revoked(self, jti: str, user_id: str, issued_at: float) -> bool:
        """True if ``jti`` is denied or the token predates its user's cut-off; one lookup, counted once."""
        self._count_lookup()
        now = self.clock.now()
        # All three arrive from a token. A garbage jti or user cannot match a stored entry; an
        # issued_at that is not a finite number counts as older than any cut-off (fail closed).
        jti_key = jti if well_formed(jti) else None
        user_key = user_id if well_formed(user_id) else None
        valid_time = (
            not isinstance(issued_at, bool) and isinstance(issued_at, (int, float)) and math.isfinite(issued_at)
        )
        if jti_key is None and user_key is None:
            return False
        return self._is_revoked(jti_key, user_key, float(issued_at) if valid_time else -math.inf, now)

    def _count_lookup(self) -> None:
        with self._lookups_lock:
            self._lookups += 1

    # purge_expired (of lapsed entries), close and the context manager come from ClockedStore.

    @abc.abstractmethod
    def count(self) -> int:
        """Entries (denied jtis and per-user cut-offs) currently stored, *including* lapsed ones not yet purged."""

    # -- what a backend implements; jti already validated, ``now`` already read --------------------

    @abc.abstractmethod
    def _deny(self, jti: str, expires_at: float) -> None:
        """Store the entry; if present, keep the later of the two deadlines."""

    @abc.abstractmethod
    def _is_denied(self, jti: str, now: float) -> bool:
        """True if stored with ``now < expires_at``."""

    @abc.abstractmethod
    def _cut_off(self, user_id: str, issued_before: float, expires_at: float) -> None:
        """Store the user's cut-off; if present, keep the later of each (more revoked, never less)."""

    @abc.abstractmethod
    def _is_revoked(self, jti: str | None, user_id: str | None, issued_at: float, now: float) -> bool:
        """True if the jti is denied, or the user's live cut-off is later than ``issued_at``; None never matches."""

    @abc.abstractmethod
    def _purge_expired(self, now: float) -> int:
        """Remove entries (jtis and cut-offs) with ``expires_at <= now``; how many."""


class MemoryDenylist(JtiDenylist):
    """The denylist as a dict under a lock. For teaching only: each process has its own, and restarts forget it."""

    def __init__(self, clock: Clock | None = None) -> None:
        """An empty in-memory denylist; see ``JtiDenylist`` for the argument."""
        super().__init__(clock)
        self._lock = threading.Lock()
        self._entries: dict[str, float] = {}  # jti -> expires_at
        self._cut_offs: dict[str, tuple[float, float]] = {}  # user_id -> (issued_before, expires_at)

    def _deny(self, jti: str, expires_at: float) -> None:
        with self._lock:
            # max(): denying again with an earlier deadline must not shorten the revocation.
            self._entries[jti] = max(expires_at, self._entries.get(jti, expires_at))

    def _is_denied(self, jti: str, now: float) -> bool:
        with self._lock:
            expires_at = self._entries.get(jti)
        return expires_at is not None and now < expires_at

    def _cut_off(self, user_id: str, issued_before: float, expires_at: float) -> None:
        with self._lock:
            before, until = self._cut_offs.get(user_id, (issued_before, expires_at))
            self._cut_offs[user_id] = (max(before, issued_before), max(until, expires_at))

    def _is_revoked(self, jti: str | None, user_id: str | None, issued_at: float, now: float) -> bool:
        with self._lock:
            jti_until = self._entries.get(jti) if jti is not None else None
            cut_off = self._cut_offs.get(user_id) if user_id is not None else None
        if jti_until is not None and now < jti_until:
            return True
        return cut_off is not None and issued_at < cut_off[0] and now < cut_off[1]

    def _purge_expired(self, now: float) -> int:
        with self._lock:
            lapsed = [jti for jti, expires_at in self._entries.items() if expires_at <= now]
            for jti in lapsed:
                del self._entries[jti]
            ended = [user for user, (_, expires_at) in self._cut_offs.items() if expires_at <= now]
            for user in ended:
                del self._cut_offs[user]
            return len(lapsed) + len(ended)

    def count(self) -> int:
        """Entries (denied jtis and per-user cut-offs) currently stored, *including* lapsed ones not yet purged."""
        with self._lock:
            return len(self._entries) + len(self._cut_offs)

    def __repr__(self) -> str:
        return f"MemoryDenylist(clock={self.clock!r}, entries={self.count()}, lookups={self.lookups})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jti_denylist (
    jti        TEXT PRIMARY KEY,  -- the token's ID, not a secret (see the module docstring)
    expires_at REAL NOT NULL      -- the token's exp: after it, the entry is useless
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jti_denylist_expires_at ON jti_denylist (expires_at);
CREATE TABLE IF NOT EXISTS jti_cut_offs (
    user_id       TEXT PRIMARY KEY,
    issued_before REAL NOT NULL,  -- tokens of this user issued earlier are revoked
    expires_at    REAL NOT NULL   -- when the newest such token expires: after it, the row is useless
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jti_cut_offs_expires_at ON jti_cut_offs (expires_at);
"""
# Both questions in one statement, so a revocation check stays one lookup (one round trip, one lock).
_IS_REVOKED = (
    "SELECT EXISTS (SELECT 1 FROM jti_denylist WHERE jti = ? AND expires_at > ?)"
    " OR EXISTS (SELECT 1 FROM jti_cut_offs WHERE user_id = ? AND issued_before > ? AND expires_at > ?)"
)


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

    def _cut_off(self, user_id: str, issued_before: float, expires_at: float) -> None:
        self._write(
            "INSERT INTO jti_cut_offs (user_id, issued_before, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET issued_before = max(issued_before, excluded.issued_before),"
            " expires_at = max(expires_at, excluded.expires_at)",
            (user_id, issued_before, expires_at),
        )

    def _is_revoked(self, jti: str | None, user_id: str | None, issued_at: float, now: float) -> bool:
        with self._lock:
            # NULL never equals anything, so an absent jti or user simply matches no row.
            return bool(self._conn.execute(_IS_REVOKED, (jti, now, user_id, issued_at, now)).fetchall()[0][0])

    def _purge_expired(self, now: float) -> int:
        def work() -> int:
            lapsed = self._conn.execute("DELETE FROM jti_denylist WHERE expires_at <= ?", (now,)).rowcount
            return lapsed + self._conn.execute("DELETE FROM jti_cut_offs WHERE expires_at <= ?", (now,)).rowcount

        return self._transaction(work)

    def count(self) -> int:
        """Entries (denied jtis and per-user cut-offs) currently stored, *including* lapsed ones not yet purged."""
        with self._lock:
            return self._conn.execute(
                "SELECT (SELECT count(*) FROM jti_denylist) + (SELECT count(*) FROM jti_cut_offs)"
            ).fetchone()[0]
