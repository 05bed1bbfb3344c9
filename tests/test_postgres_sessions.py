"""What is particular to PostgresStore; the shared contract runs in test_sessions.py."""

from __future__ import annotations

import pytest
from support import postgres_url, unique_name

from helpers.clock import SystemClock
from helpers.postgres_sessions import PostgresStore
from helpers.sessions import hash_session_id
from helpers.storage import LockedConnection


def test_rows_hold_the_hash_and_timestamptz_deadlines(clock, closing):
    store = closing(PostgresStore(postgres_url(), clock=clock, table=unique_name("s_")))
    session_id = store.create("alice", role="admin", ttl=60)
    row = store.connection.execute(
        f"SELECT id, user_id, role, extract(epoch FROM expires_at) FROM {store.table}"
    ).fetchone()
    assert row[:3] == (hash_session_id(session_id), "alice", "admin")
    assert float(row[3]) == clock.now() + 60


def test_the_system_clock_uses_the_databases_now(closing):
    store = closing(PostgresStore(postgres_url(), clock=SystemClock(), table=unique_name("s_")))
    assert "expires_at > NOW()" in store._select_live.as_string(store.connection)
    session_id = store.create("alice", ttl=60)
    assert store.get(session_id).user_id == "alice"
    store.connection.execute(f"UPDATE {store.table} SET expires_at = NOW() - interval '1 second'")
    assert store.get(session_id) is None  # the database's clock decided


def test_an_injected_clock_replaces_now_with_a_parameter(clock, closing):
    store = closing(PostgresStore(postgres_url(), clock=clock, table=unique_name("s_")))
    assert "NOW()" not in store._select_live.as_string(store.connection)


def test_two_stores_on_one_table_share_sessions(clock, closing):
    table = unique_name("s_")
    first = closing(PostgresStore(postgres_url(), clock=clock, table=table))
    second = closing(PostgresStore(postgres_url(), clock=clock, table=table))
    session_id = first.create("alice")
    assert second.get(session_id).user_id == "alice"
    assert second.delete(session_id) and first.get(session_id) is None


@pytest.mark.parametrize("table", ["Sessions", "s; DROP TABLE x", "", 7, "x" * 60])
def test_table_names_must_be_plain_identifiers(clock, table):
    with pytest.raises(ValueError, match="lower-case SQL identifier"):
        PostgresStore(postgres_url(), clock=clock, table=table)


def test_the_connection_lifecycle_is_the_one_every_locked_store_shares(clock):
    table = unique_name("s_")
    store = PostgresStore(postgres_url(), clock=clock, table=table)
    assert isinstance(store, LockedConnection)
    assert repr(store) == f"PostgresStore(table={table!r}, clock={clock!r}, open)"
    connection = store.connection
    store.close()
    store.close()  # a second close is harmless
    assert repr(store) == f"PostgresStore(table={table!r}, clock={clock!r}, closed)"
    assert connection.closed
