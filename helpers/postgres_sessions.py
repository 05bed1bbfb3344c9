"""Sessions in PostgreSQL: the relational shared store, with the schema and query of a typical app.

The table is the familiar ``sessions (id, user_id, role, expires_at, ...)`` with ``TIMESTAMPTZ``
deadlines, and a request's lookup is the classic::

    SELECT ... FROM sessions WHERE id = $1 AND expires_at > NOW()

``NOW()`` is the database server's clock. That is exactly right in production (and what the store
uses with the default ``SystemClock``), but a lesson that jumps a ``FrozenClock`` ahead by a week
needs the store's clock instead, so with any other clock ``NOW()`` becomes the bound parameter
``to_timestamp(<clock.now()>)``. The SQL is otherwise the same.

As in every store, the ``id`` column holds ``sha256(session ID)``, never the ID. One connection per
store, shared by the server's threads behind a lock (``helpers.storage.LockedConnection``, the base
``SQLiteStore`` shares); psycopg prepares a statement on the server after a few uses, so the
per-request cost is one round trip.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from helpers.clock import Clock, SystemClock
from helpers.sessions import (
    DEFAULT_ABSOLUTE_LIFETIME,
    DEFAULT_TTL,
    Session,
    SessionStore,
    row_of,
    session_from_row,
)
from helpers.storage import LockedConnection

__all__ = ["PostgresStore"]

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS {table} (
    id                  TEXT PRIMARY KEY,          -- sha256(session ID) as hex; never the ID itself
    user_id             TEXT NOT NULL,
    role                TEXT NOT NULL,
    expires_at          TIMESTAMPTZ NOT NULL,      -- idle deadline; touch() slides it
    data                TEXT,                      -- JSON text (not JSONB, which reorders keys), NULL when empty
    created_at          TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,      -- hard deadline, fixed at creation
    ttl                 DOUBLE PRECISION NOT NULL  -- idle timeout in seconds, what touch() slides by
)""",
    "CREATE INDEX IF NOT EXISTS {user_index} ON {table} (user_id)",
    "CREATE INDEX IF NOT EXISTS {expiry_index} ON {table} (expires_at)",
)

# Read back as epoch seconds, the unit every store's Session uses.
_COLUMNS = (
    "user_id, role, data, extract(epoch FROM created_at)::float8, extract(epoch FROM expires_at)::float8,"
    " extract(epoch FROM absolute_expires_at)::float8, ttl"
)
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,50}")


class PostgresStore(LockedConnection[psycopg.Connection[Any]], SessionStore):
    """Sessions in a PostgreSQL table, shared by every store opened on the same database and table."""

    def __init__(
        self,
        url: str,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        absolute_lifetime: float = DEFAULT_ABSOLUTE_LIFETIME,
        update_age: float | None = None,
        table: str = "sessions",
    ) -> None:
        """Connect to ``url`` (``postgresql://...``) and create ``table`` if needed; see ``SessionStore`` for the rest."""
        super().__init__(clock, ttl, absolute_lifetime, update_age)
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must be a lower-case SQL identifier (letters, digits, _), got {table!r}")
        self.table = table
        # autocommit: every statement is its own transaction, as in SQLiteStore.
        self._attach(psycopg.connect(url, autocommit=True))
        names = {
            "table": sql.Identifier(table),
            "user_index": sql.Identifier(f"{table}_user_id"),
            "expiry_index": sql.Identifier(f"{table}_expires_at"),
        }
        with self._lock:
            for statement in _SCHEMA:
                self._conn.execute(sql.SQL(statement).format(**names))
        # The database's clock when the store runs on real time; otherwise the injected clock's.
        now = "NOW()" if isinstance(self.clock, SystemClock) else "to_timestamp(%(now)s)"

        def q(text: str) -> sql.Composed:
            """``text`` with ``{now}`` filled in and ``{table}`` quoted as an identifier."""
            return sql.SQL(text.replace("{now}", now)).format(table=sql.Identifier(table))

        self._select_live = q(f"SELECT {_COLUMNS} FROM {{table}} WHERE id = %(id)s AND expires_at > {{now}}")
        self._insert_sql = q(
            "INSERT INTO {table} (id, user_id, role, expires_at, data, created_at, absolute_expires_at, ttl)"
            " VALUES (%s, %s, %s, to_timestamp(%s), %s, to_timestamp(%s), to_timestamp(%s), %s)"
        )
        self._touch_sql = q(
            "UPDATE {table} SET expires_at = LEAST({now} + make_interval(secs => ttl), absolute_expires_at)"
            f" WHERE id = %(id)s AND expires_at > {{now}} RETURNING {_COLUMNS}"
        )
        self._delete_sql = q("DELETE FROM {table} WHERE id = %(id)s AND expires_at > {now}")
        self._revoke_sql = q("DELETE FROM {table} WHERE user_id = %(user)s AND expires_at > {now}")
        self._role_sql = q("UPDATE {table} SET role = %(role)s WHERE user_id = %(user)s AND expires_at > {now}")
        self._purge_sql = q("DELETE FROM {table} WHERE expires_at <= {now}")
        self._clear_sql = q("DELETE FROM {table}")
        self._count_sql = q("SELECT count(*) FROM {table}")

    def _location(self) -> str:
        return f"table={self.table!r}"

    def _run(self, statement: sql.Composed, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        with self._lock:
            return self._conn.execute(statement, params)

    def _insert_many(self, records: list[Session], data_json: str | None) -> None:
        rows = [row_of(record, data_json) for record in records]
        with self._lock, self._conn.transaction(), self._conn.cursor() as cursor:
            cursor.executemany(self._insert_sql, rows)  # psycopg pipelines these: few round trips

    def _load(self, id_hash: str, now: float) -> Session | None:
        with self._lock:
            row = self._conn.execute(self._select_live, {"id": id_hash, "now": now}).fetchone()
        return None if row is None else session_from_row(id_hash, row)

    def _touch(self, id_hash: str, now: float) -> Session | None:
        # One statement: UPDATE ... RETURNING reads the slid deadline back atomically.
        with self._lock:
            row = self._conn.execute(self._touch_sql, {"id": id_hash, "now": now}).fetchone()
        return None if row is None else session_from_row(id_hash, row)

    def _delete(self, id_hash: str, now: float) -> bool:
        return self._run(self._delete_sql, {"id": id_hash, "now": now}).rowcount > 0

    def _revoke_all(self, user_id: str, now: float) -> int:
        return self._run(self._revoke_sql, {"user": user_id, "now": now}).rowcount

    def _set_role(self, user_id: str, role: str, now: float) -> int:
        return self._run(self._role_sql, {"user": user_id, "role": role, "now": now}).rowcount

    def _purge_expired(self, now: float) -> int:
        return self._run(self._purge_sql, {"now": now}).rowcount

    def _clear(self) -> int:
        return self._run(self._clear_sql, {}).rowcount

    def count(self) -> int:
        """Sessions currently stored, *including* expired ones not yet purged."""
        with self._lock:
            (stored,) = self._conn.execute(self._count_sql).fetchone() or (0,)
        return int(stored)
