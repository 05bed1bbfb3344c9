"""Server-side session stores: the server remembers who is logged in; the browser holds only an ID.

Every store follows one contract, ``SessionStore``:

* ``create`` (or ``create_many``, a batch for benchmarks) makes a random, unguessable session ID
  (256 bits from ``secrets``) and returns it. The store keeps only ``sha256(ID)``: whoever reads
  the store (a backup, a leaked dump, a curious admin) cannot use the rows to log in, yet a
  presented ID is found with one hash and one lookup. A session ID is an opaque credential like a
  refresh token; ``helpers.credentials`` makes, hashes and checks both.
* A session has two deadlines. ``expires_at`` is the *idle* deadline: ``touch`` slides it to
  ``now + ttl`` on activity. ``absolute_expires_at`` is fixed at creation and caps the sliding,
  so a stolen but busy session still dies eventually.
* ``lookup`` is what a request calls: a read that slides the deadline only when that moves it by at
  least ``update_age`` (default ``ttl / 30``, Auth.js's ratio of one day to 30), so a busy session
  costs one write per ``update_age`` rather than one per request. The price is that the idle
  timeout a user sees lies between ``ttl - update_age`` and ``ttl`` after their last request;
  ``update_age=0`` slides on every request, as ``touch`` always does.
* Expired sessions behave as if they were not there for every method except ``count`` and
  ``purge_expired``: ``count`` reports rows *stored*, expired ones included, until
  ``purge_expired`` removes them. Storage is not the same as state. The store also purges by
  itself, amortised on the writes that add rows (``create``, ``create_many``): at most once per
  ``purge_interval`` seconds of its clock (see ``helpers.storage``), never on ``get`` or ``touch``.
* IDs arrive from clients, so ``get``, ``touch`` and ``delete`` answer None/False to garbage (a
  non-string, an empty or over-long string, non-ASCII) instead of raising.

Backends: ``MemoryStore`` (teaching only) and ``SQLiteStore`` (the embedded default); Redis and
PostgreSQL in ``helpers.redis_sessions`` and ``helpers.postgres_sessions``. A new backend implements
the handful of ``_``-prefixed storage methods; validation, ID generation, hashing and deadline
arithmetic live once in the base class.
"""

from __future__ import annotations

import abc
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from helpers.clock import Clock
from helpers.credentials import MAX_CREDENTIAL_LENGTH, hash_credential, hash_presented, new_credential
from helpers.storage import ClockedStore, SQLiteBacked, check_duration, check_name

__all__ = [
    "DEFAULT_ABSOLUTE_LIFETIME",
    "DEFAULT_TTL",
    "DEFAULT_UPDATE_FRACTION",
    "MAX_SESSION_ID_LENGTH",
    "MemoryStore",
    "SQLiteStore",
    "Session",
    "SessionLookup",
    "SessionStore",
    "hash_session_id",
    "new_session_id",
]

DEFAULT_TTL = 7 * 24 * 3600.0  # idle timeout: the seed tutorials' 7-day session
DEFAULT_ABSOLUTE_LIFETIME = 30 * 24 * 3600.0  # hard cap, however active the session is
MAX_SESSION_ID_LENGTH = MAX_CREDENTIAL_LENGTH  # a longer presented ID is garbage, refused before hashing
DEFAULT_UPDATE_FRACTION = 1 / 30  # update_age = ttl / 30: Auth.js slides a 30-day session once a day

# A session ID is an opaque credential (helpers.credentials): 256 random bits, stored as its SHA-256.
new_session_id = new_credential
hash_session_id = hash_credential


@dataclass(frozen=True)
class Session:
    """A snapshot of one stored session. Times are epoch seconds from the store's clock."""

    user_id: str
    role: str
    data: dict[str, Any] = field(hash=False)  # a fresh dict per read; changing it changes nothing stored
    created_at: float
    expires_at: float  # idle deadline; lookup() slides it (once per update_age), touch() always
    absolute_expires_at: float  # fixed at creation; caps expires_at
    ttl: float  # the idle timeout a slide renews
    id_hash: str = field(repr=False)  # what the store keys on: sha256 of the session ID


_new_session = object.__new__


def session_from_row(id_hash: str, row: tuple[Any, ...]) -> Session:
    """A Session from a row of (user_id, role, data JSON, created_at, expires_at, absolute_expires_at, ttl)."""
    # A third of the time Session(...) takes, and every request's lookup comes through here. A frozen
    # dataclass's __init__ assigns each field through object.__setattr__ to get past its own
    # "frozen" guard; filling the new instance's dict gives an identical, equally frozen object
    # (the guard only blocks attribute assignment).
    user_id, role, data, created_at, expires_at, absolute_expires_at, ttl = row
    session = _new_session(Session)
    fields = session.__dict__
    fields["user_id"] = user_id
    fields["role"] = role
    fields["data"] = json.loads(data) if data else {}  # a fresh dict per read
    fields["created_at"] = created_at
    fields["expires_at"] = expires_at
    fields["absolute_expires_at"] = absolute_expires_at
    fields["ttl"] = ttl
    fields["id_hash"] = id_hash
    return session


class SessionLookup(NamedTuple):
    """What ``SessionStore.lookup`` found: the live session, and whether this lookup slid its idle deadline."""

    session: Session
    slid: bool


def _encode_data(data: dict[str, Any] | None) -> str | None:
    """Serialise session data to JSON text (None for empty), so every backend round-trips the same."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TypeError(f"session data must be a dict, got {type(data).__name__}")
    if not data:
        return None
    # allow_nan=False: NaN is not JSON, and a PostgreSQL backend would reject it later.
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


# The SQL backends (SQLite here, PostgreSQL in helpers.postgres_sessions) read rows with
# session_from_row and write them with row_of.


def row_of(record: Session, data_json: str | None) -> tuple[Any, ...]:
    """The SQL row inserted for ``record``: (id, user_id, role, expires_at, data, created_at, absolute_expires_at, ttl)."""
    return (
        record.id_hash,
        record.user_id,
        record.role,
        record.expires_at,
        data_json,
        record.created_at,
        record.absolute_expires_at,
        record.ttl,
    )


class SessionStore(ClockedStore):
    """The contract every session backend meets; see the module docstring for the rules."""

    def __init__(
        self,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        absolute_lifetime: float = DEFAULT_ABSOLUTE_LIFETIME,
        update_age: float | None = None,
    ) -> None:
        """``clock`` decides expiry (default: the system clock); ``ttl`` is the idle timeout in seconds.

        ``update_age`` (default ``ttl * DEFAULT_UPDATE_FRACTION``) is the least a ``lookup`` slides the
        idle deadline by, so at most one write per ``update_age``; 0 slides on every lookup. It must
        be shorter than ``ttl``. A session created with its own ttl slides after the same fraction of it.
        """
        super().__init__(clock)
        self.ttl = check_duration("ttl", ttl)
        self.absolute_lifetime = check_duration("absolute_lifetime", absolute_lifetime)
        if update_age is None:
            update_age = self.ttl * DEFAULT_UPDATE_FRACTION
        elif isinstance(update_age, bool) or not isinstance(update_age, (int, float)):
            raise TypeError(f"update_age must be a number of seconds, got {type(update_age).__name__}")
        if not 0 <= update_age < self.ttl:
            # update_age >= ttl would let a session in continuous use die at its first idle deadline.
            raise ValueError(f"update_age must be at least 0 and shorter than ttl ({self.ttl}), got {update_age}")
        self.update_age = float(update_age)

    # -- the public contract: validation and arithmetic here, storage in the backends --------------

    def create(
        self, user_id: str, data: dict[str, Any] | None = None, ttl: float | None = None, role: str = "user"
    ) -> str:
        """Start a session for ``user_id`` and return its new ID; only the ID's hash is stored."""
        return self.create_many((user_id,), data, ttl, role)[0]

    def create_many(
        self,
        user_ids: Iterable[str],
        data: dict[str, Any] | None = None,
        ttl: float | None = None,
        role: str = "user",
    ) -> list[str]:
        """Start one session per user ID in one write (a login, or a batch for benchmarks); the new IDs, in order."""
        user_ids = list(user_ids)
        for user_id in user_ids:
            check_name("user_id", user_id)
        check_name("role", role)
        ttl = self.ttl if ttl is None else check_duration("ttl", ttl)
        data_json = _encode_data(data)
        now = self.clock.now()
        self._purge_if_due(now)
        absolute = now + self.absolute_lifetime
        expires_at = min(now + ttl, absolute)
        session_ids = [new_session_id() for _ in user_ids]
        # The records carry no data (backends store data_json, the one serialised form).
        records = [
            session_from_row(hash_session_id(session_id), (user_id, role, None, now, expires_at, absolute, ttl))
            for user_id, session_id in zip(user_ids, session_ids)
        ]
        self._insert_many(records, data_json)
        return session_ids

    def get(self, session_id: str) -> Session | None:
        """The live session for this ID, or None if it is unknown, expired or not a valid ID."""
        id_hash = hash_presented(session_id)
        if id_hash is None:
            return None
        return self._load(id_hash, self.clock.now())

    def touch(self, session_id: str) -> Session | None:
        """Slide the idle deadline to ``min(now + ttl, absolute_expires_at)`` now; the updated session or None."""
        id_hash = hash_presented(session_id)
        if id_hash is None:
            return None
        return self._touch(id_hash, self.clock.now())

    def lookup(self, session_id: str) -> SessionLookup | None:
        """The live session, its idle deadline slid only if that moves it by ``update_age`` or more; None if not live."""
        id_hash = hash_presented(session_id)
        if id_hash is None:
            return None
        now = self.clock.now()
        session = self._load(id_hash, now)
        if session is None:
            return None
        # Scaled by the session's own ttl, so one created with a short ttl still slides in time.
        step = self.update_age * (session.ttl / self.ttl)
        if min(now + session.ttl, session.absolute_expires_at) - session.expires_at < step:
            return SessionLookup(session, slid=False)
        # A read found it due; the write re-checks liveness itself (another server may have ended it).
        touched = self._touch(id_hash, now)
        return None if touched is None else SessionLookup(touched, slid=True)

    def delete(self, session_id: str) -> bool:
        """End one session (logout); True if a live session was removed."""
        id_hash = hash_presented(session_id)
        if id_hash is None:
            return False
        return self._delete(id_hash, self.clock.now())

    def revoke_all(self, user_id: str) -> int:
        """End every live session of ``user_id`` ("log out everywhere"); how many were revoked."""
        check_name("user_id", user_id)
        return self._revoke_all(user_id, self.clock.now())

    def set_role(self, user_id: str, role: str) -> int:
        """Change the role on every live session of ``user_id``; how many were updated."""
        check_name("user_id", user_id)
        check_name("role", role)
        return self._set_role(user_id, role, self.clock.now())

    def clear(self) -> int:
        """End every session of every user, live or expired (log everyone out); how many were stored."""
        return self._clear()

    # purge_expired, close and the context manager come from ClockedStore.

    @abc.abstractmethod
    def count(self) -> int:
        """Sessions currently stored, *including* expired ones not yet purged."""

    # -- what a backend implements; ids arrive already hashed and validated, ``now`` already read --

    @abc.abstractmethod
    def _insert_many(self, records: list[Session], data_json: str | None) -> None:
        """Store new sessions (``record.data`` is empty: each one's data is ``data_json``); a single one atomically."""

    @abc.abstractmethod
    def _load(self, id_hash: str, now: float) -> Session | None:
        """The session with this hash if ``now < expires_at``, else None."""

    @abc.abstractmethod
    def _touch(self, id_hash: str, now: float) -> Session | None:
        """Set expires_at = min(now + record.ttl, absolute_expires_at) if live; return the result."""

    @abc.abstractmethod
    def _delete(self, id_hash: str, now: float) -> bool:
        """Remove the session if live; True if removed."""

    @abc.abstractmethod
    def _revoke_all(self, user_id: str, now: float) -> int:
        """Remove the user's live sessions; how many."""

    @abc.abstractmethod
    def _set_role(self, user_id: str, role: str, now: float) -> int:
        """Set the role on the user's live sessions; how many."""

    @abc.abstractmethod
    def _purge_expired(self, now: float) -> int:
        """Remove every session with ``expires_at <= now``; how many."""

    @abc.abstractmethod
    def _clear(self) -> int:
        """Remove every stored session; how many there were."""


class _Entry(NamedTuple):
    """How MemoryStore keeps one session: a SQL row's fields in its order, immutable (an update swaps in a new one).

    Data is kept as JSON and decoded per read (``session_from_row``): every caller gets its own
    dict, and values round-trip exactly as they would through SQLite or PostgreSQL.
    """

    user_id: str
    role: str
    data_json: str | None
    created_at: float
    expires_at: float
    absolute_expires_at: float
    ttl: float


class MemoryStore(SessionStore):
    """Sessions in a Python dict under a lock. For teaching only.

    It is the idea with nothing in the way, and that is also why production cannot use it: every
    session dies when the process restarts, and two server processes (or machines) each have their
    own dict, so a user logged in on one is a stranger to the other.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        absolute_lifetime: float = DEFAULT_ABSOLUTE_LIFETIME,
        update_age: float | None = None,
    ) -> None:
        """An empty in-memory store; see ``SessionStore`` for the arguments."""
        super().__init__(clock, ttl, absolute_lifetime, update_age)
        self._lock = threading.Lock()
        self._sessions: dict[str, _Entry] = {}  # id_hash -> entry
        # user_id -> id_hashes: the in-memory twin of SQL's index on user_id, so revoke_all and
        # set_role need not scan every session.
        self._by_user: dict[str, set[str]] = {}

    def _live(self, id_hash: str, now: float) -> _Entry | None:
        entry = self._sessions.get(id_hash)
        return entry if entry is not None and now < entry.expires_at else None

    def _live_ids_of(self, user_id: str, now: float) -> list[str]:
        return [h for h in self._by_user.get(user_id, ()) if now < self._sessions[h].expires_at]

    def _remove(self, id_hash: str) -> None:
        entry = self._sessions.pop(id_hash)
        ids = self._by_user[entry.user_id]
        ids.discard(id_hash)
        if not ids:
            del self._by_user[entry.user_id]

    def _insert_many(self, records: list[Session], data_json: str | None) -> None:
        entries = [
            (
                record.id_hash,
                _Entry(
                    record.user_id,
                    record.role,
                    data_json,
                    record.created_at,
                    record.expires_at,
                    record.absolute_expires_at,
                    record.ttl,
                ),
            )
            for record in records
        ]
        with self._lock:
            for id_hash, entry in entries:
                self._sessions[id_hash] = entry
                self._by_user.setdefault(entry.user_id, set()).add(id_hash)

    def _load(self, id_hash: str, now: float) -> Session | None:
        with self._lock:
            entry = self._live(id_hash, now)
        return None if entry is None else session_from_row(id_hash, entry)

    def _touch(self, id_hash: str, now: float) -> Session | None:
        with self._lock:
            entry = self._live(id_hash, now)
            if entry is None:
                return None
            entry = entry._replace(expires_at=min(now + entry.ttl, entry.absolute_expires_at))
            self._sessions[id_hash] = entry
        return session_from_row(id_hash, entry)

    def _delete(self, id_hash: str, now: float) -> bool:
        with self._lock:
            if self._live(id_hash, now) is None:
                return False
            self._remove(id_hash)
            return True

    def _revoke_all(self, user_id: str, now: float) -> int:
        with self._lock:
            ids = self._live_ids_of(user_id, now)
            for id_hash in ids:
                self._remove(id_hash)
            return len(ids)

    def _set_role(self, user_id: str, role: str, now: float) -> int:
        with self._lock:
            ids = self._live_ids_of(user_id, now)
            for id_hash in ids:
                self._sessions[id_hash] = self._sessions[id_hash]._replace(role=role)
            return len(ids)

    def _purge_expired(self, now: float) -> int:
        with self._lock:
            expired = [h for h, entry in self._sessions.items() if entry.expires_at <= now]
            for id_hash in expired:
                self._remove(id_hash)
            return len(expired)

    def _clear(self) -> int:
        with self._lock:
            stored = len(self._sessions)
            self._sessions.clear()
            self._by_user.clear()
            return stored

    def count(self) -> int:
        """Sessions currently stored, *including* expired ones not yet purged."""
        with self._lock:
            return len(self._sessions)

    def __repr__(self) -> str:
        return f"MemoryStore(clock={self.clock!r}, sessions={self.count()})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id                  TEXT PRIMARY KEY,  -- sha256(session ID) as hex; never the ID itself
    user_id             TEXT NOT NULL,
    role                TEXT NOT NULL,
    expires_at          REAL NOT NULL,     -- idle deadline, epoch seconds; lookup() and touch() slide it
    data                TEXT,              -- JSON object, NULL when empty
    created_at          REAL NOT NULL,
    absolute_expires_at REAL NOT NULL,     -- hard deadline, fixed at creation
    ttl                 REAL NOT NULL      -- idle timeout in seconds, what a slide renews
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
"""
# WITHOUT ROWID stores each row inside the primary-key B-tree, so a lookup by id is one tree
# descent instead of two (key index, then the rowid table).

# Every read selects these columns in Session's order; the id is left out because the caller
# already holds its hash.
_COLUMNS = "user_id, role, data, created_at, expires_at, absolute_expires_at, ttl"
_SELECT_LIVE = f"SELECT {_COLUMNS} FROM sessions WHERE id = ? AND expires_at > ?"
_SELECT_ANY = f"SELECT {_COLUMNS} FROM sessions WHERE id = ?"
_INSERT = (
    "INSERT INTO sessions (id, user_id, role, expires_at, data, created_at, absolute_expires_at, ttl)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


# Let SQLite map the file into memory and keep 64 MiB of pages cached (the default is 2 MiB): with a
# million sessions, lookups then rarely need a read() syscall.
_READ_TUNING = ("PRAGMA mmap_size = 268435456", "PRAGMA cache_size = -65536")


class SQLiteStore(SQLiteBacked, SessionStore):
    """Sessions in an SQLite table: the embedded default, durable across restarts when given a file.

    ``path=":memory:"`` keeps the table in RAM (gone on ``close``); a file path persists it and
    switches on write-ahead logging (WAL), so readers in other processes never block the writer.

    Thread safety: one connection shared by all threads, guarded by a lock. A single-threaded
    lookup costs the same either way. A connection per thread lets reads of a *file* overlap
    (measured: up to ~1.8x the lookups per second with 8 threads on 2 cores), but it cannot work
    for ``:memory:`` (each connection would get its own empty database), and under a server that
    starts a thread per request, like Werkzeug's development server, it would open a connection
    per request and leak them. Several *processes* on one file each open their own store; WAL and
    ``busy_timeout`` coordinate those.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        absolute_lifetime: float = DEFAULT_ABSOLUTE_LIFETIME,
        update_age: float | None = None,
    ) -> None:
        """Open (creating if needed) the session table at ``path``; see ``SessionStore`` for the rest."""
        super().__init__(clock, ttl, absolute_lifetime, update_age)
        # WAL, synchronous = NORMAL and busy_timeout come with every store (helpers.storage); the
        # read tuning is for sessions alone, which are looked up on every request.
        self._open(path, _SCHEMA, extra_pragmas=_READ_TUNING)
        # One cursor reused for lookups saves creating a cursor object per request; closing the
        # connection finalises it too.
        self._reader = self._conn.cursor()

    def _insert_many(self, records: list[Session], data_json: str | None) -> None:
        # One transaction for the whole batch: committing per row would cost a WAL write each.
        # Rows go in sorted by key, so each lands next to the previous one in the B-tree.
        rows = sorted(row_of(record, data_json) for record in records)
        self._transaction(lambda: self._conn.executemany(_INSERT, rows))

    def _load(self, id_hash: str, now: float) -> Session | None:
        with self._lock:
            # fetchall() drains the statement, so SQLite resets it at once: a half-read statement
            # would keep a read transaction (a stale snapshot of the file) open between calls.
            rows = self._reader.execute(_SELECT_LIVE, (id_hash, now)).fetchall()
        return session_from_row(id_hash, rows[0]) if rows else None

    def _touch(self, id_hash: str, now: float) -> Session | None:
        # UPDATE then SELECT in one write transaction, so another process cannot slip in between.
        # (UPDATE ... RETURNING would be one statement, but needs SQLite 3.35, newer than some
        # Python builds ship.)
        def work() -> list[tuple[Any, ...]]:
            updated = self._conn.execute(
                "UPDATE sessions SET expires_at = min(? + ttl, absolute_expires_at) WHERE id = ? AND expires_at > ?",
                (now, id_hash, now),
            ).rowcount
            return self._conn.execute(_SELECT_ANY, (id_hash,)).fetchall() if updated else []

        rows = self._transaction(work)
        return session_from_row(id_hash, rows[0]) if rows else None

    def _delete(self, id_hash: str, now: float) -> bool:
        return self._write("DELETE FROM sessions WHERE id = ? AND expires_at > ?", (id_hash, now)) > 0

    def _revoke_all(self, user_id: str, now: float) -> int:
        return self._write("DELETE FROM sessions WHERE user_id = ? AND expires_at > ?", (user_id, now))

    def _set_role(self, user_id: str, role: str, now: float) -> int:
        return self._write("UPDATE sessions SET role = ? WHERE user_id = ? AND expires_at > ?", (role, user_id, now))

    def _purge_expired(self, now: float) -> int:
        return self._write("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    def _clear(self) -> int:
        return self._write("DELETE FROM sessions", ())

    def count(self) -> int:
        """Sessions currently stored, *including* expired ones not yet purged."""
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
