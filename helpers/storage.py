"""What every server-side store shares: argument checks, an SQLite connection, a clock and ``close``.

The session store (``helpers.sessions``), the refresh-token store (``helpers.refresh``) and the jti
denylist (``helpers.denylist``) teach different ideas but keep their rows the same way. What they
have in common lives here once, so a fix to, say, the SQLite settings reaches all three:

* ``check_name`` and ``check_duration`` validate the arguments callers pass (user IDs, roles, TTLs).
* ``open_sqlite`` opens a connection with the settings every store wants on a file (WAL,
  ``synchronous = NORMAL``, a 5 s ``busy_timeout``) and creates the store's tables.
* ``ClockedStore`` is the base of every store: an injectable clock, ``purge_expired`` reading it
  once, the automatic purge (below), and ``close`` usable through ``with``.
* ``LockedConnection`` is one database connection shared by all threads behind a lock, with
  ``connection``, an idempotent ``close`` and a repr that says open or closed: the base of
  ``SQLiteBacked`` (the SQLite stores) and of ``helpers.postgres_sessions.PostgresStore``.

Automatic purging. A store only grows where it writes a new row (a login, a rotation, a denial), so
that is where it cleans up: each such write calls ``_purge_if_due``, which runs ``purge_expired``
at most once per ``purge_interval`` seconds of the store's own clock (60 by default; ``None``
turns it off). Per interval, the cost is one comparison per write plus one indexed delete of the
rows that died since the last purge. The reads on every request's path (``get``, ``touch``, a
revocation check) never purge. So the store holds its live rows plus at most what expired within
the last interval, without a scheduler thread to start, stop or forget. The interval is on the
store's clock, not the wall clock, so a ``FrozenClock`` moved 40 days ahead purges on the next write.
"""

from __future__ import annotations

import abc
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from helpers.clock import Clock, SystemClock

__all__ = [
    "DEFAULT_PURGE_INTERVAL",
    "SQLITE_PRAGMAS",
    "ClockedStore",
    "LockedConnection",
    "SQLiteBacked",
    "check_duration",
    "check_name",
    "open_sqlite",
]

# Set on every file-backed store (an in-memory database has no file to journal or share):
SQLITE_PRAGMAS = (
    # Write-ahead logging: readers in other processes never block the writer, nor it them.
    "PRAGMA journal_mode = WAL",
    # NORMAL cannot corrupt a WAL database; a power cut may lose the last commits, which for these
    # stores means a few users sign in again. FULL would fsync every login.
    "PRAGMA synchronous = NORMAL",
    # Another process holding the write lock makes us wait up to 5 s instead of failing.
    "PRAGMA busy_timeout = 5000",
)

DEFAULT_PURGE_INTERVAL = 60.0  # seconds of the store's clock between two automatic purges

_Store = TypeVar("_Store", bound="ClockedStore")
_Result = TypeVar("_Result")


class _Closable(Protocol):
    def close(self) -> None: ...


_Connection = TypeVar("_Connection", bound=_Closable)


def check_name(kind: str, value: object, *, unpadded: bool = False) -> str:
    """Return ``value`` if it is a non-empty str (with ``unpadded``, also free of surrounding whitespace)."""
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    if unpadded:
        # Usernames and roles read from a file: a stray space would make "alice " a second user.
        if not value or value != value.strip():
            raise ValueError(f"{kind} must be non-empty with no surrounding whitespace, got {value!r}")
    elif not value:
        raise ValueError(f"{kind} must not be empty")
    return value


def check_duration(kind: str, value: object) -> float:
    """Return ``value`` as float seconds if it is a positive, finite int or float (bool refused)."""
    # bool is an int subclass: ttl=True would silently mean one second.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{kind} must be a number of seconds, got {type(value).__name__}")
    if not 0 < value < float("inf"):
        raise ValueError(f"{kind} must be a positive, finite number of seconds, got {value}")
    return float(value)


def open_sqlite(path: str, schema: str, *, extra_pragmas: Sequence[str] = ()) -> sqlite3.Connection:
    """Open ``path`` with the stores' settings (``SQLITE_PRAGMAS``, then ``extra_pragmas`` on files) and create ``schema``."""
    # check_same_thread=False because the store's lock, not the sqlite3 module, serialises access.
    # isolation_level=None: each statement commits by itself; multi-statement work uses BEGIN.
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        if path != ":memory:":
            for pragma in (*SQLITE_PRAGMAS, *extra_pragmas):
                conn.execute(pragma)
        conn.executescript(schema)
    except BaseException:
        conn.close()  # a half-opened store must not leak its connection
        raise
    return conn


class ClockedStore(abc.ABC):
    """The base of every store: an injectable clock, ``purge_expired`` (also automatic), and ``close`` as a context manager."""

    def __init__(self, clock: Clock | None = None) -> None:
        """``clock`` decides expiry (default: the system clock)."""
        # Injected so tests and notebooks can jump hours ahead without waiting.
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._purge_interval: float | None = DEFAULT_PURGE_INTERVAL
        self._next_purge = float("-inf")  # the first growing write purges
        self._purge_lock = threading.Lock()

    @property
    def purge_interval(self) -> float | None:
        """Seconds of the store's clock between automatic purges; None: only explicit ``purge_expired()``."""
        return self._purge_interval

    @purge_interval.setter
    def purge_interval(self, seconds: float | None) -> None:
        self._purge_interval = None if seconds is None else check_duration("purge_interval", seconds)

    def purge_expired(self) -> int:
        """Remove expired rows from storage; how many were removed (what a row is depends on the store)."""
        return self._purge_expired(self.clock.now())

    def _purge_if_due(self, now: float) -> int:
        """Purge if ``purge_interval`` has passed since the last automatic purge; how many rows went. Call on growing writes."""
        interval = self._purge_interval
        if interval is None:
            return 0
        with self._purge_lock:
            # Claim the slot under the lock so concurrent writers purge once, not once each.
            if now < self._next_purge:
                return 0
            self._next_purge = now + interval
        return self._purge_expired(now)

    def close(self) -> None:  # noqa: B027 - a no-op on purpose: memory-only stores hold nothing to release
        """Release resources (connections, files). Memory-only stores have nothing to release."""

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @abc.abstractmethod
    def _purge_expired(self, now: float) -> int:
        """Remove what has expired by ``now``; how many rows."""


class LockedConnection(Generic[_Connection]):
    """Mixin for a ``ClockedStore`` on one database connection, shared by all threads behind a lock.

    A subclass calls ``_attach`` once from ``__init__`` and names where its rows live in
    ``_location`` (for the repr); it reads and writes only while holding ``_lock``.
    """

    clock: Clock  # from ClockedStore
    _conn: _Connection

    def _attach(self, connection: _Connection) -> None:
        """Adopt ``connection``; call once, from ``__init__``."""
        self._lock = threading.Lock()
        self._closed = False
        self._conn = connection

    @property
    def connection(self) -> _Connection:
        """The underlying connection, so notebooks can show the stored rows (bypasses the lock)."""
        return self._conn

    def close(self) -> None:
        """Close the connection; safe to call twice. Rows in a file or a server stay; an in-memory database goes."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _state(self) -> str:
        """``"open"`` or ``"closed"``, for ``__repr__``."""
        return "closed" if self._closed else "open"

    def _location(self) -> str:
        """Where the rows live, as ``name=value`` for ``__repr__``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._location()}, clock={self.clock!r}, {self._state()})"


class SQLiteBacked(LockedConnection[sqlite3.Connection]):
    """Mixin for a ``ClockedStore`` kept in SQLite: one connection shared by all threads behind a lock."""

    path: str

    def _open(self, path: str | os.PathLike[str], schema: str, *, extra_pragmas: Sequence[str] = ()) -> None:
        """Open the database at ``path`` (see ``open_sqlite``); call once, from ``__init__``."""
        self.path = os.fspath(path)
        self._attach(open_sqlite(self.path, schema, extra_pragmas=extra_pragmas))

    def _location(self) -> str:
        return f"path={self.path!r}"

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement under the lock; how many rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def _transaction(self, work: Callable[[], _Result]) -> _Result:
        """Run ``work()`` in one write transaction under the lock; roll back if it raises."""
        with self._lock:
            # IMMEDIATE takes the write lock at BEGIN, so a read-then-write cannot interleave with
            # another process's; a plain BEGIN would only discover the conflict at the write.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return result
