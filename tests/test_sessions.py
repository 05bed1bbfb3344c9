"""The session-store contract, run unchanged against every backend, plus SQLite-specific checks.

To test a new backend (Redis, PostgreSQL, ...), add one ``Backend`` entry to ``STORE_FACTORIES``:
how to build the store around a clock, and how to dump everything it has persisted (so the
contract can check that no raw session ID is ever stored).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    Backend,
    dump_postgres,
    dump_python,
    dump_redis,
    dump_sqlite,
    postgres_url,
    redis_url,
    run_together,
    store_fixtures,
    unique_name,
)

from helpers.clock import FrozenClock
from helpers.postgres_sessions import PostgresStore
from helpers.redis_sessions import RedisStore
from helpers.sessions import (
    DEFAULT_ABSOLUTE_LIFETIME,
    DEFAULT_TTL,
    MemoryStore,
    Session,
    SessionStore,
    SQLiteStore,
    hash_session_id,
)

START = 1_700_000_000.0
DAY = 86_400.0


# --- backends -------------------------------------------------------------------------------------


STORE_FACTORIES: dict[str, Backend] = {
    "memory": Backend(lambda clock, tmp_path, **kw: MemoryStore(clock=clock, **kw), dump_python),
    "sqlite-memory": Backend(
        lambda clock, tmp_path, **kw: SQLiteStore(":memory:", clock=clock, **kw), dump_sqlite("sessions.db")
    ),
    "sqlite-file": Backend(
        lambda clock, tmp_path, **kw: SQLiteStore(tmp_path / "sessions.db", clock=clock, **kw),
        dump_sqlite("sessions.db"),
    ),
    "redis": Backend(
        lambda clock, tmp_path, **kw: RedisStore(redis_url(), clock=clock, prefix=unique_name("t:"), **kw), dump_redis
    ),
    "postgres": Backend(
        lambda clock, tmp_path, **kw: PostgresStore(postgres_url(), clock=clock, table=unique_name("s_"), **kw),
        dump_postgres,
    ),
}


backend, make_store, store = store_fixtures(STORE_FACTORIES)


# --- the contract: create and get ---------------------------------------------------------------


def test_create_then_get_returns_the_session(store, clock):
    session_id = store.create("alice")
    session = store.get(session_id)
    assert isinstance(session, Session)
    assert (session.user_id, session.role, session.data) == ("alice", "user", {})
    assert session.created_at == START
    assert session.expires_at == START + DEFAULT_TTL == START + 7 * DAY
    assert session.absolute_expires_at == START + DEFAULT_ABSOLUTE_LIFETIME == START + 30 * DAY
    assert session.ttl == DEFAULT_TTL
    assert session.id_hash == hash_session_id(session_id)


def test_session_records_are_frozen_value_objects(store):
    session_id = store.create("alice", data={"theme": "dark"})
    session = store.get(session_id)
    with pytest.raises(FrozenInstanceError):
        session.role = "admin"  # type: ignore[misc]
    assert session == store.get(session_id)  # two reads of one row compare equal
    assert hash(session) == hash(store.get(session_id))  # hashable although it holds a dict
    assert replace(session, role="admin").role == "admin"  # dataclass tools work on it


def test_role_and_data_round_trip(store):
    data = {
        "cart": [1, 2, 3],
        "theme": "dark",
        "nothing": None,
        "ratio": 1.5,
        "nested": {"ok": True, "tags": ["a", "b"]},
        "text": "é ✓ 日本",
    }
    session_id = store.create("bob", data=data, role="admin")
    session = store.get(session_id)
    assert session.role == "admin"
    assert session.data == data


def test_data_is_copied_in_and_out(store):
    data = {"cart": [1]}
    session_id = store.create("alice", data=data)
    data["cart"].append(2)  # the caller's dict changing later must not change the session
    first = store.get(session_id)
    first.data["cart"].append(99)  # nor may a reader's copy
    assert store.get(session_id).data == {"cart": [1]}


def test_create_many_makes_independent_sessions(store, clock):
    ids = store.create_many(["alice", "bob", "alice"], data={"batch": 1}, ttl=60, role="admin")
    assert len(set(ids)) == 3 and store.count() == 3
    sessions = [store.get(session_id) for session_id in ids]
    assert [s.user_id for s in sessions] == ["alice", "bob", "alice"]
    assert all(s.role == "admin" and s.data == {"batch": 1} and s.expires_at == START + 60 for s in sessions)
    assert store.revoke_all("alice") == 2
    assert store.create_many([]) == []
    with pytest.raises(ValueError):
        store.create_many(["carol", ""])
    assert store.count() == 1  # a bad batch stores nothing


def test_create_is_a_batch_of_one(clock):
    batches = []

    class Recording(MemoryStore):
        def _insert_many(self, records, data_json):
            batches.append(([r.user_id for r in records], data_json))
            super()._insert_many(records, data_json)

    store = Recording(clock=clock)
    session_id = store.create("alice", data={"cart": 2}, role="admin")
    assert batches == [(["alice"], '{"cart":2}')]  # one write path for a login and a batch
    assert store.get(session_id).data == {"cart": 2}


def test_ids_are_unique_url_safe_and_256_bits(store):
    ids = [store.create("alice") for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for session_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", session_id), session_id
        raw = base64.urlsafe_b64decode(session_id + "=" * (-len(session_id) % 4))
        assert len(raw) * 8 >= 128
        assert len(raw) == 32


def test_store_never_holds_the_raw_id(backend, store, clock, tmp_path):
    ids = [store.create(f"user{n}", data={"n": n}) for n in range(5)]
    store.touch(ids[0])
    store.set_role("user1", "admin")
    dump = backend.dump(store, tmp_path)
    for session_id in ids:
        assert session_id.encode() not in dump
        assert hash_session_id(session_id).encode() in dump or bytes.fromhex(hash_session_id(session_id)) in dump


def test_hash_session_id_is_plain_sha256_hex():
    assert hash_session_id("abc") == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(TypeError):
        hash_session_id(b"abc")  # type: ignore[arg-type]


# --- expiry, sliding and the absolute cap ---------------------------------------------------------


def test_session_expires_after_idle_ttl(store, clock):
    session_id = store.create("alice")
    clock.advance(days=7, seconds=-1)
    assert store.get(session_id) is not None
    clock.advance(seconds=1)  # exactly at expires_at: gone
    assert store.get(session_id) is None


def test_store_ttl_options_are_honoured(make_store, clock):
    store = make_store(ttl=60, absolute_lifetime=3600)
    session_id = store.create("alice")
    session = store.get(session_id)
    assert (session.expires_at, session.absolute_expires_at) == (START + 60, START + 3600)
    clock.advance(seconds=60)
    assert store.get(session_id) is None


def test_per_session_ttl_is_kept_for_sliding(store, clock):
    session_id = store.create("alice", ttl=60)
    assert store.get(session_id).expires_at == START + 60
    clock.advance(seconds=30)
    assert store.touch(session_id).expires_at == START + 30 + 60  # slides by its own 60 s, not 7 days


def test_ttl_longer_than_absolute_lifetime_is_capped(store):
    session = store.get(store.create("alice", ttl=40 * DAY))
    assert session.expires_at == session.absolute_expires_at == START + 30 * DAY


def test_touch_slides_the_idle_deadline(store, clock):
    session_id = store.create("alice")
    clock.advance(days=6)
    touched = store.touch(session_id)
    assert touched.expires_at == clock.now() + 7 * DAY
    assert store.get(session_id) == touched
    clock.advance(days=6)  # 12 days after login, alive thanks to the touch
    assert store.get(session_id) is not None


def test_touch_is_capped_by_the_absolute_lifetime(store, clock):
    session_id = store.create("alice")
    for _ in range(4):  # active every 6 days: days 6, 12, 18, 24
        clock.advance(days=6)
        assert store.touch(session_id) is not None
    clock.advance(days=5)  # day 29: sliding would reach day 36, the cap says day 30
    session = store.touch(session_id)
    assert session.expires_at == session.absolute_expires_at == START + 30 * DAY
    clock.advance(days=1)
    assert store.touch(session_id) is None
    assert store.get(session_id) is None


def test_touch_does_not_revive_an_expired_session(store, clock):
    session_id = store.create("alice", ttl=60)
    clock.advance(seconds=61)
    assert store.touch(session_id) is None
    assert store.get(session_id) is None


# --- lookup: sliding at most once per update_age ------------------------------------------------


def counting_slides(store) -> list[float]:
    """Record the time of every deadline write the store makes (its ``_touch``), for any backend."""
    writes: list[float] = []
    real_touch = store._touch

    def touch(id_hash, now):
        writes.append(now)
        return real_touch(id_hash, now)

    store._touch = touch
    return writes


def test_lookup_slides_at_most_once_per_update_age(make_store, clock):
    store = make_store(ttl=3000, update_age=100)
    session_id = store.create("alice")
    writes = counting_slides(store)
    slid = []
    for _ in range(300):  # a request every 10 s for 3000 s
        clock.advance(seconds=10)
        before = store.get(session_id).expires_at
        found = store.lookup(session_id)
        slid.append(found.slid)
        after = store.get(session_id).expires_at
        assert found.session.expires_at == after
        assert (after == clock.now() + 3000) if found.slid else (after == before)
    assert sum(slid) == len(writes) == 30  # one write per 100 s, not 300
    assert writes == [START + 100 * n for n in range(1, 31)]


def test_update_age_zero_slides_on_every_lookup(make_store, clock):
    store = make_store(ttl=3000, update_age=0)
    session_id = store.create("alice")
    writes = counting_slides(store)
    for _ in range(5):
        clock.advance(seconds=1)
        assert store.lookup(session_id).slid
    assert len(writes) == 5


def test_default_update_age_is_a_small_fraction_of_the_ttl(make_store):
    assert make_store(ttl=3000).update_age == 100.0
    assert make_store().update_age == DEFAULT_TTL / 30


@pytest.mark.parametrize(
    "update_age, error",
    [(3000, ValueError), (5000, ValueError), (-1, ValueError), (True, TypeError), ("60", TypeError)],
)
def test_update_age_must_be_shorter_than_the_ttl(update_age, error):
    with pytest.raises(error, match="update_age"):
        MemoryStore(ttl=3000, update_age=update_age)


@pytest.mark.parametrize("gap", [2900, 1234, 10])  # the longest gap lookup promises to survive, and shorter ones
def test_a_session_in_continuous_use_never_expires_early(make_store, clock, gap):
    store = make_store(ttl=3000, update_age=100, absolute_lifetime=30_000)
    session_id = store.create("alice")
    while clock.now() + gap < START + 30_000:
        clock.advance(seconds=gap)
        assert store.lookup(session_id) is not None, clock.now() - START
    clock.advance(seconds=START + 30_000 - clock.now())  # the absolute deadline still holds
    assert store.lookup(session_id) is None


def test_a_session_idle_past_its_deadline_expires(make_store, clock):
    store = make_store(ttl=3000, update_age=100)
    session_id = store.create("alice")
    clock.advance(seconds=150)
    assert store.lookup(session_id).slid  # deadline now START + 150 + 3000
    clock.advance(seconds=90)
    assert not store.lookup(session_id).slid  # too soon to slide: the deadline stays
    clock.advance(seconds=3000 - 90 - 1)
    assert store.lookup(session_id) is not None  # alive a second before ttl after the last slide
    clock.advance(seconds=1 + 2999)  # idle ever since: gone, and lookup does not revive it
    assert store.lookup(session_id) is None
    assert store.get(session_id) is None


def test_a_short_lived_session_slides_after_the_same_fraction_of_its_own_ttl(make_store, clock):
    store = make_store(ttl=3000, update_age=300)  # a tenth
    session_id = store.create("alice", ttl=60)
    clock.advance(seconds=5)
    assert not store.lookup(session_id).slid
    clock.advance(seconds=1)  # 6 s: a tenth of 60
    assert store.lookup(session_id).slid
    for _ in range(20):  # used every 50 s, it outlives its 60 s ttl many times over
        clock.advance(seconds=50)
        assert store.lookup(session_id) is not None


def test_lookup_answers_none_to_garbage_and_ended_sessions(store, clock):
    session_id = store.create("alice")
    for garbage in ("", "x" * 1000, None, 42, "é"):
        assert store.lookup(garbage) is None
    store.delete(session_id)
    assert store.lookup(session_id) is None


def test_a_lookup_between_slides_changes_no_sqlite_row(clock, tmp_path):
    store = SQLiteStore(tmp_path / "sessions.db", clock=clock, ttl=3000, update_age=100)
    session_id = store.create("alice")
    changes = store.connection.total_changes  # SQLite's own count of rows written on this connection
    for _ in range(9):
        clock.advance(seconds=10)
        store.lookup(session_id)
    assert store.connection.total_changes == changes
    clock.advance(seconds=10)
    assert store.lookup(session_id).slid
    assert store.connection.total_changes == changes + 1
    store.close()


def test_the_app_resends_the_session_cookie_only_when_the_session_slid(served, clock):
    store = SQLiteStore(":memory:", clock=clock, update_age=3600)
    srv = served("session", store=store)
    client = srv.client()
    assert client.post(srv.url + "/login", json={"username": "alice", "password": "wonderland"}).status_code == 200
    clock.advance(seconds=3599)
    quiet = client.get(srv.url + "/api/data")
    assert quiet.status_code == 200 and "Set-Cookie" not in quiet.headers
    clock.advance(seconds=1)
    renewed = client.get(srv.url + "/api/data")
    assert renewed.status_code == 200
    assert "Max-Age=604800" in renewed.headers["Set-Cookie"] and "HttpOnly" in renewed.headers["Set-Cookie"]
    clock.advance(seconds=60)
    assert "Set-Cookie" not in client.get(srv.url + "/me").headers


# --- delete, revoke_all, set_role -----------------------------------------------------------------


def test_delete_ends_one_session(store):
    first, second = store.create("alice"), store.create("alice")
    assert store.delete(first) is True
    assert store.get(first) is None
    assert store.delete(first) is False
    assert store.get(second) is not None


def test_delete_of_an_expired_session_reports_false(store, clock):
    session_id = store.create("alice", ttl=60)
    clock.advance(seconds=60)
    assert store.delete(session_id) is False


def test_revoke_all_ends_every_session_of_one_user(store):
    alices = [store.create("alice") for _ in range(3)]
    bobs = store.create("bob")
    assert store.revoke_all("alice") == 3
    assert all(store.get(session_id) is None for session_id in alices)
    assert store.get(bobs).user_id == "bob"
    assert store.revoke_all("alice") == 0
    assert store.revoke_all("nobody") == 0


def test_revoke_all_counts_only_live_sessions(store, clock):
    store.create("alice", ttl=60)
    store.create("alice")
    clock.advance(seconds=60)
    assert store.revoke_all("alice") == 1


def test_set_role_updates_every_live_session_of_the_user(store, clock):
    alices = [store.create("alice"), store.create("alice")]
    expired = store.create("alice", ttl=60)
    bobs = store.create("bob")
    clock.advance(seconds=60)
    assert store.set_role("alice", "admin") == 2
    assert [store.get(session_id).role for session_id in alices] == ["admin", "admin"]
    assert store.get(bobs).role == "user"
    assert store.get(expired) is None
    assert store.set_role("nobody", "admin") == 0


# --- storage is not state: count and purge_expired ------------------------------------------------


def test_count_includes_expired_sessions_until_purged(store, clock):
    assert store.count() == 0
    store.create("alice", ttl=60)
    store.create("bob", ttl=60)
    keeper = store.create("carol")
    clock.advance(seconds=60)
    assert store.count() == 3  # expired, but still stored
    assert store.purge_expired() == 2
    assert store.count() == 1
    assert store.purge_expired() == 0
    assert store.get(keeper) is not None


def test_the_next_create_purges_expired_sessions_by_itself(store, clock):
    live = [store.create(f"user{index}") for index in range(50)]
    clock.advance(days=40)  # past every idle and absolute deadline
    for session_id in live:  # reads and touches never purge: they are on every request's path
        assert store.get(session_id) is None and store.touch(session_id) is None
    assert store.count() == 50
    fresh = store.create("alice")  # the first write that adds a row
    assert store.count() == 1 and store.get(fresh).user_id == "alice"


def test_automatic_purges_run_at_most_once_per_interval(store, clock):
    store.create("alice", ttl=30)  # the first write purges (nothing yet) and starts the interval
    clock.advance(seconds=30)
    store.create_many(["bob", "carol"])  # alice's row has expired, but the last purge was 30 s ago
    assert store.count() == 3
    clock.advance(seconds=store.purge_interval - 30)
    store.create("dave")
    assert store.count() == 3  # alice's row went, dave's came
    store.purge_interval = None  # off: only an explicit purge_expired() removes rows
    store.create("erin", ttl=1)
    clock.advance(days=40)
    store.create("frank")
    assert store.count() == 5
    assert store.purge_expired() == 4


def test_clear_ends_every_session_of_every_user(store, clock):
    live = [store.create("alice"), store.create("alice"), store.create("bob", role="admin")]
    store.create("carol", ttl=60)
    clock.advance(seconds=60)  # carol's session has expired but is still stored
    assert store.clear() == 4
    assert store.count() == 0
    assert all(store.get(session_id) is None for session_id in live)
    assert store.revoke_all("alice") == 0 and store.purge_expired() == 0
    assert store.get(store.create("alice")) is not None  # the store still works afterwards
    assert store.clear() == 1


# --- garbage in, None out -------------------------------------------------------------------------

GARBAGE = [None, 12345, 1.5, b"bytes-id", ["list"], {"dict": 1}, "", " ", "x" * 257, "é" * 20, "\x00", "🍪", "\ud800"]


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_garbage_ids_are_simply_not_found(store, garbage):
    store.create("alice")
    assert store.get(garbage) is None
    assert store.touch(garbage) is None
    assert store.delete(garbage) is False
    assert store.count() == 1


def test_unknown_and_longest_allowed_ids_are_not_found(store):
    assert store.get("A" * 256) is None
    assert store.get(store.create("alice") + "x") is None


def test_arbitrary_text_never_raises(store):
    valid = store.create("alice")

    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300) | st.binary(max_size=64) | st.integers() | st.none())
    def check(candidate):
        if candidate != valid:
            assert store.get(candidate) is None
            assert store.touch(candidate) is None
            assert store.delete(candidate) is False

    check()
    assert store.get(valid) is not None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": ""}, ValueError),
        ({"user_id": None}, TypeError),
        ({"user_id": "alice", "role": ""}, ValueError),
        ({"user_id": "alice", "data": ["not", "a", "dict"]}, TypeError),
        ({"user_id": "alice", "data": {"x": object()}}, TypeError),
        ({"user_id": "alice", "data": {"x": math.nan}}, ValueError),
        ({"user_id": "alice", "ttl": 0}, ValueError),
        ({"user_id": "alice", "ttl": -5}, ValueError),
        ({"user_id": "alice", "ttl": "7d"}, TypeError),
    ],
)
def test_create_rejects_programming_errors(store, kwargs, error):
    with pytest.raises(error):
        store.create(**kwargs)
    assert store.count() == 0


@pytest.mark.parametrize("options", [{"ttl": 0}, {"absolute_lifetime": -1}, {"ttl": math.inf}])
def test_constructor_rejects_bad_durations(make_store, options):
    with pytest.raises(ValueError):
        make_store(**options)


def test_store_is_a_context_manager(backend, clock, tmp_path):
    with backend.make(clock, tmp_path) as store:
        assert isinstance(store, SessionStore)
        assert store.get(store.create("alice")) is not None


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_threads_lose_nothing_and_raise_nothing(store):
    threads_count, per_thread = 8, 60
    kept: list[list[str]] = [[] for _ in range(threads_count)]

    def work(index: int) -> None:
        for n in range(per_thread):
            session_id = store.create(f"user{index}", data={"n": n})
            assert store.get(session_id).data == {"n": n}
            if n % 2:
                assert store.delete(session_id) is True
            else:
                assert store.touch(session_id) is not None
                kept[index].append(session_id)

    run_together(work, threads_count)
    assert store.count() == threads_count * per_thread // 2
    for index, ids in enumerate(kept):
        assert all(store.get(session_id).user_id == f"user{index}" for session_id in ids)


# --- SQLite specifics -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path, clock: FrozenClock) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "sessions.db", clock=clock) as store:
        yield store


def test_sqlite_row_holds_the_hash_not_the_id(sqlite_file):
    session_id = sqlite_file.create("alice", role="admin")
    rows = sqlite_file.connection.execute("SELECT id, user_id, role, expires_at FROM sessions").fetchall()
    assert rows == [(hash_session_id(session_id), "alice", "admin", START + 7 * DAY)]


def test_sqlite_file_uses_wal_and_indexes(sqlite_file):
    conn = sqlite_file.connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexed = {
        conn.execute(f"PRAGMA index_info({name!r})").fetchone()[2]
        for _, name, *_ in conn.execute("PRAGMA index_list(sessions)")
    }
    assert {"user_id", "expires_at"} <= indexed

    def plan(sql: str, *params: object) -> str:
        return " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    assert "PRIMARY KEY" in plan("SELECT * FROM sessions WHERE id = ? AND expires_at > ?", "x", 0)
    assert "sessions_user_id" in plan("DELETE FROM sessions WHERE user_id = ? AND expires_at > ?", "x", 0)
    assert "sessions_expires_at" in plan("DELETE FROM sessions WHERE expires_at <= ?", 0)


def test_sqlite_file_survives_a_restart(tmp_path, clock):
    with SQLiteStore(tmp_path / "sessions.db", clock=clock) as first:
        session_id = first.create("alice", data={"theme": "dark"})
    with SQLiteStore(tmp_path / "sessions.db", clock=clock) as second:
        assert second.get(session_id).data == {"theme": "dark"}


def test_two_stores_on_one_file_see_each_others_writes(tmp_path, clock):
    # Like two server processes sharing the database: a revocation in one is seen by the other.
    with (
        SQLiteStore(tmp_path / "sessions.db", clock=clock) as a,
        SQLiteStore(tmp_path / "sessions.db", clock=clock) as b,
    ):
        session_id = a.create("alice")
        assert b.get(session_id) is not None
        assert a.get(session_id) is not None  # a has just read: a stale snapshot would hide what follows
        assert b.revoke_all("alice") == 1
        assert a.get(session_id) is None
        # ... and a read left half-finished would make this write fail with "database is locked".
        assert a.create("carol") and b.create("dave")
        assert a.delete(b.create("erin")) is True
        assert a.count() == b.count() == 2


def test_sqlite_close_is_idempotent_and_final(clock):
    store = SQLiteStore(clock=clock)
    store.close()
    store.close()
    assert "closed" in repr(store)
    with pytest.raises(sqlite3.ProgrammingError):
        store.create("alice")
