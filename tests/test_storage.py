"""helpers.storage: the checks, SQLite settings and lifecycle every server-side store shares."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from support import run_together

from helpers.clock import FrozenClock, SystemClock
from helpers.denylist import JtiDenylist, SQLiteDenylist
from helpers.refresh import RefreshTokenStore, SQLiteRefreshStore
from helpers.sessions import SessionStore, SQLiteStore
from helpers.storage import (
    DEFAULT_PURGE_INTERVAL,
    SQLITE_PRAGMAS,
    ClockedStore,
    LockedConnection,
    SQLiteBacked,
    check_duration,
    check_name,
    open_sqlite,
)

SCHEMA = "CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, expires_at REAL NOT NULL);"


# --- check_name ---------------------------------------------------------------------------------------


def test_check_name_returns_a_good_name():
    assert check_name("user_id", "alice") == "alice"
    assert check_name("user_id", " padded ") == " padded "  # padding is allowed by default


@pytest.mark.parametrize("value, type_name", [(None, "NoneType"), (7, "int"), (b"alice", "bytes")])
def test_check_name_refuses_non_strings(value, type_name):
    with pytest.raises(TypeError, match=rf"^user_id must be a str, got {type_name}$"):
        check_name("user_id", value)


def test_check_name_refuses_the_empty_string():
    with pytest.raises(ValueError, match=r"^role must not be empty$"):
        check_name("role", "")


@pytest.mark.parametrize("value", ["", " alice", "alice\n", "\t"])
def test_unpadded_check_name_refuses_empty_or_padded(value):
    with pytest.raises(ValueError) as caught:
        check_name("username", value, unpadded=True)
    assert str(caught.value) == f"username must be non-empty with no surrounding whitespace, got {value!r}"


def test_unpadded_check_name_still_checks_the_type_first():
    with pytest.raises(TypeError, match=r"^username must be a str, got int$"):
        check_name("username", 1, unpadded=True)


# --- check_duration -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0.5, 7 * 24 * 3600])
def test_check_duration_returns_a_float(value):
    result = check_duration("ttl", value)
    assert result == value and type(result) is float


@pytest.mark.parametrize("value, type_name", [(True, "bool"), ("60", "str"), (None, "NoneType")])
def test_check_duration_refuses_non_numbers_and_bools(value, type_name):
    with pytest.raises(TypeError, match=rf"^ttl must be a number of seconds, got {type_name}$"):
        check_duration("ttl", value)


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_check_duration_refuses_zero_negative_and_non_finite(value):
    with pytest.raises(ValueError, match=r"^ttl must be a positive, finite number of seconds, got "):
        check_duration("ttl", value)


# --- open_sqlite --------------------------------------------------------------------------------------


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_open_sqlite_on_a_file_sets_the_shared_pragmas_and_creates_the_schema(tmp_path):
    conn = open_sqlite(str(tmp_path / "store.db"), SCHEMA)
    try:
        assert _pragma(conn, "journal_mode") == "wal"
        assert _pragma(conn, "synchronous") == 1  # NORMAL
        assert _pragma(conn, "busy_timeout") == 5000
        assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] == 0
        assert conn.isolation_level is None  # autocommit: multi-statement work says BEGIN itself
    finally:
        conn.close()


def test_open_sqlite_applies_extra_pragmas_after_the_shared_ones(tmp_path):
    conn = open_sqlite(str(tmp_path / "store.db"), SCHEMA, extra_pragmas=["PRAGMA cache_size = -1024"])
    try:
        assert _pragma(conn, "cache_size") == -1024
        assert _pragma(conn, "journal_mode") == "wal"
    finally:
        conn.close()


def test_open_sqlite_in_memory_skips_the_file_pragmas():
    conn = open_sqlite(":memory:", SCHEMA, extra_pragmas=["PRAGMA cache_size = -1024"])
    try:
        assert _pragma(conn, "journal_mode") == "memory"
        assert _pragma(conn, "cache_size") != -1024
        conn.execute("INSERT INTO rows VALUES ('a', 1.0)")
    finally:
        conn.close()


def test_open_sqlite_connection_may_be_used_from_another_thread():
    conn = open_sqlite(":memory:", SCHEMA)
    errors: list[BaseException] = []

    def use() -> None:
        try:
            conn.execute("SELECT 1").fetchall()
        except BaseException as exc:  # pragma: no cover - only on failure
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    conn.close()
    assert errors == []


def test_open_sqlite_raises_on_a_bad_schema():
    with pytest.raises(sqlite3.OperationalError):
        open_sqlite(":memory:", "CREATE TABLE broken (")


def test_shared_pragmas_are_the_three_every_store_needs():
    assert [p.split("=")[0].split()[1] for p in SQLITE_PRAGMAS] == ["journal_mode", "synchronous", "busy_timeout"]


# --- ClockedStore and SQLiteBacked --------------------------------------------------------------------


class _Rows(SQLiteBacked, ClockedStore):
    """The smallest store: rows with a deadline, purged by the shared machinery."""

    def __init__(self, path: str = ":memory:", clock: FrozenClock | None = None) -> None:
        super().__init__(clock)
        self._open(path, SCHEMA)

    def add(self, key: str, expires_at: float) -> int:
        return self._write("INSERT INTO rows VALUES (?, ?)", (check_name("key", key), expires_at))

    def add_and_purge_if_due(self, key: str, expires_at: float) -> int:
        """A growing write, as the real stores make them; how many rows the automatic purge removed."""
        purged = self._purge_if_due(self.clock.now())
        self.add(key, expires_at)
        return purged

    def _purge_expired(self, now: float) -> int:
        return self._write("DELETE FROM rows WHERE expires_at <= ?", (now,))


def test_clocked_store_is_abstract_until_purge_is_defined():
    with pytest.raises(TypeError):
        ClockedStore()  # type: ignore[abstract]


def test_clocked_store_defaults_to_the_system_clock():
    store = _Rows()
    assert isinstance(store.clock, SystemClock)
    store.close()


def test_purge_expired_reads_the_injected_clock_once():
    clock = FrozenClock(100.0)
    with _Rows(clock=clock) as store:
        store.add("old", 100.0)
        store.add("new", 200.0)
        assert store.purge_expired() == 1  # expires_at <= now is expired
        clock.advance(100)
        assert store.purge_expired() == 1
        assert store.purge_expired() == 0


def test_purge_if_due_purges_at_most_once_per_interval_of_the_stores_clock():
    clock = FrozenClock(100.0)
    with _Rows(clock=clock) as store:
        assert store.purge_interval == DEFAULT_PURGE_INTERVAL == 60
        assert store.add_and_purge_if_due("a", 110.0) == 0  # the first write purges (nothing yet)
        clock.advance(30)
        assert store.add_and_purge_if_due("b", 140.0) == 0  # "a" expired, but only 30 s since the last purge
        clock.advance(30)
        assert store.add_and_purge_if_due("c", 1000.0) == 2  # 60 s: "a" and "b" go
        clock.advance(10_000)
        assert store.add_and_purge_if_due("d", 20_000.0) == 1


def test_purge_interval_is_checked_and_none_turns_automatic_purges_off():
    clock = FrozenClock(100.0)
    with _Rows(clock=clock) as store:
        for bad, error in ((0, ValueError), (float("nan"), ValueError), ("60", TypeError), (True, TypeError)):
            with pytest.raises(error):
                store.purge_interval = bad
        store.purge_interval = None
        store.add_and_purge_if_due("a", 100.0)
        clock.advance(1000)
        assert store.add_and_purge_if_due("b", 5000.0) == 0
        store.purge_interval = 5
        assert store.add_and_purge_if_due("c", 5000.0) == 1


def test_concurrent_writers_share_one_due_purge():
    clock = FrozenClock(100.0)
    purges = []

    class Counting(_Rows):
        def _purge_expired(self, now: float) -> int:
            purges.append(now)
            return super()._purge_expired(now)

    with Counting(clock=clock) as store:
        run_together(lambda index: store.add_and_purge_if_due(f"k{index}", 500.0), 8)
        assert purges == [100.0]


def test_with_closes_the_connection_and_close_is_idempotent():
    with _Rows() as store:
        conn = store.connection
        assert store._state() == "open"
    assert store._state() == "closed"
    store.close()  # a second close is harmless
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_transaction_commits_or_rolls_back(tmp_path):
    store = _Rows(str(tmp_path / "rows.db"))
    try:
        assert store.path == str(tmp_path / "rows.db")
        store._transaction(lambda: store.connection.execute("INSERT INTO rows VALUES ('a', 1.0)"))

        def fails() -> None:
            store.connection.execute("INSERT INTO rows VALUES ('b', 1.0)")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            store._transaction(fails)
        assert [r[0] for r in store.connection.execute("SELECT id FROM rows")] == ["a"]
        assert not store.connection.in_transaction
    finally:
        store.close()


@pytest.mark.parametrize(
    "make, base",
    [
        (lambda clock: SQLiteStore(clock=clock), SessionStore),
        (lambda clock: SQLiteRefreshStore(clock=clock), RefreshTokenStore),
        (lambda clock: SQLiteDenylist(clock=clock), JtiDenylist),
    ],
)
def test_every_store_shares_the_lifecycle(make, base):
    clock = FrozenClock(1_700_000_000.0)
    with make(clock) as store:
        assert isinstance(store, base) and isinstance(store, ClockedStore) and isinstance(store, SQLiteBacked)
        assert isinstance(store, LockedConnection)
        assert store.clock is clock
        assert store.purge_expired() == 0
        assert repr(store) == f"{type(store).__name__}(path=':memory:', clock={clock!r}, open)"
    assert repr(store).endswith(", closed)")
