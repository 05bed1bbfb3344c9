"""The chapter 07 experiments: real servers and stores, small sizes, exact outcomes where the design fixes them."""

from __future__ import annotations

import threading

import pytest
from support import postgres_url, redis_url, unique_name

from helpers import scaling
from helpers.keys import demo_private_key
from helpers.postgres_sessions import PostgresStore
from helpers.redis_sessions import RedisStore
from helpers.sessions import MemoryStore, SQLiteStore

CREDENTIALS = [("alice", "wonderland"), ("bob", "builder")]


@pytest.fixture
def setups(clock, tmp_path):
    return scaling.standard_setups(clock, tmp_path, redis_url(), postgres_url())


def test_success_rates_follow_the_way_state_is_kept(setups, users, clock):
    lines = []
    rows = scaling.success_by_servers(setups, [1, 2, 3, 4], users, CREDENTIALS[:1], 12, clock, progress=lines.append)
    rates = {(row["setup"], row["servers"]): row["success_rate"] for row in rows}
    own, resent = "in-memory, own store per server", "in-memory, own store, cookie re-sent"
    # The first request after login lands on another server, whose 401 clears the cookie: logged out.
    assert [rates[own, n] for n in (1, 2, 3, 4)] == [1.0, 0.0, 0.0, 0.0]
    # Re-sending the cookie anyway, exactly the requests that return to the login server succeed: 1/N.
    assert [rates[resent, n] for n in (1, 2, 3, 4)] == [1.0, 1 / 2, 1 / 3, 1 / 4]
    for setup in setups[2:]:
        assert all(rates[setup.name, n] == 1.0 for n in (1, 2, 3, 4)), setup.name
    assert len(lines) == len(setups) and lines[1].endswith("1: 100%, 2: 50%, 3: 33%, 4: 25%")


def test_end_to_end_records_every_request_for_every_client_count(setups, users, clock):
    chosen = [s for s in setups if s.name.startswith(("SQLite", "JWT"))]
    rows = scaling.end_to_end(chosen, [1, 3], users, CREDENTIALS[0], 6, clock, progress=None)
    # Every client count sends the same number of requests, split over its clients.
    assert [(row["setup"][:3], row["clients"], row["requests"]) for row in rows] == [
        ("SQL", 1, 6),
        ("SQL", 3, 6),
        ("JWT", 1, 6),
        ("JWT", 3, 6),
    ]
    for row in rows:
        assert row["success_rate"] == 1.0
        assert 0 < row["latency_q1_ms"] <= row["latency_median_ms"] <= row["latency_q3_ms"]
        assert row["throughput_rps"] > 0


def test_requests_per_point_must_split_evenly_over_the_clients(setups, users, clock):
    with pytest.raises(ValueError, match="split evenly over 4 clients"):
        scaling.end_to_end(setups[-1:], [1, 4], users, CREDENTIALS[0], 6, clock, progress=None)


def test_counting_calls_counts_every_thread_and_puts_the_methods_back(clock):
    store = MemoryStore(clock=clock)
    session_id = store.create("alice")
    with scaling.counting_calls(store) as counts:
        store.touch(session_id)
        workers = [threading.Thread(target=store.get, args=(session_id,)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert store.get(session_id).user_id == "alice", "a counted call still returns the store's answer"
    assert counts == {"touch": 1, "get": 5}
    assert not set(vars(store)) & set(scaling.STORE_METHODS), "the class's methods show through again"
    store.get(session_id)
    assert counts == {"touch": 1, "get": 5}, "calls after the block are not counted"


def test_the_session_app_makes_one_store_lookup_per_request_over_https(users, clock):
    store = SQLiteStore(":memory:", clock=clock)
    try:
        row = scaling.store_calls_per_request(store, users, CREDENTIALS[0], 5, clock)
        touched = scaling.store_calls_per_request(store, users, CREDENTIALS[0], 1, clock, seconds_between=86_400)
    finally:
        store.close()
    calls = row["calls"]
    # Each request finds the session with one call: a get, a touch, or a lookup that slides when due.
    assert set(calls) <= {"get", "lookup", "touch"} and sum(calls.values()) == 5, calls
    assert row["requests"] == 5 and row["unit"] == "rows changed"
    assert 0 <= row["requests_that_wrote"] <= 5
    if "touch" in calls:
        assert row["requests_that_wrote"] == calls["touch"], "every touch writes"
    # A day later the idle deadline is due to slide in every design, and sliding it is a write.
    assert touched["requests_that_wrote"] == 1, touched


def test_check_costs_times_get_and_touch_and_empties_each_store(clock):
    kept = []

    def make():
        kept.append(MemoryStore(clock=clock))
        return kept[-1]

    start = clock.now()
    rows = scaling.check_costs({"dict": make}, 50, clock, repeat=3, progress=None)
    assert [row.name for row in rows] == ["dict get", "dict touch"]
    assert all(0 < row.q1_us <= row.median_us <= row.q3_us for row in rows)
    assert kept[0].count() == 0, "the store is left empty"
    assert clock.now() > start, "the clock moved, so every touch wrote a new deadline"


def write_load_stores(clock, tmp_path):
    yield SQLiteStore(tmp_path / "writes.db", clock=clock), "rows changed", 1
    yield RedisStore(redis_url(), clock=clock, prefix=unique_name("w:")), "write commands", 3  # HSET, PEXPIRE, ZADD
    yield PostgresStore(postgres_url(), clock=clock, table=unique_name("w_")), "WAL bytes", None


def test_a_get_writes_nothing_and_a_touch_writes_every_time(clock, tmp_path):
    for store, unit, per_touch in write_load_stores(clock, tmp_path):
        try:
            get, touch = scaling.write_load(store, 6, clock)
        finally:
            store.close()
        assert (get["method"], get["calls"], get["calls_that_wrote"], get["written"], get["unit"]) == (
            "get",
            6,
            0,
            0,
            unit,
        )
        assert (touch["method"], touch["calls_that_wrote"]) == ("touch", 6), (unit, touch)
        if per_touch is not None:
            assert touch["written"] == 6 * per_touch, (unit, touch)
        else:
            assert touch["written"] >= 6 * 50, "every UPDATE appends a WAL record of tens of bytes at least"


def test_write_load_needs_a_backend_with_a_write_counter(clock):
    with pytest.raises(TypeError, match="no write counter for MemoryStore"):
        scaling.write_load(MemoryStore(clock=clock), 1, clock)


def test_most_claims_that_fit_finds_the_exact_boundary():
    keys = {"HS256": b"k" * 32, "ES256": demo_private_key("ES256")}
    for algorithm, key in keys.items():
        most = scaling.most_claims_that_fit(4096, algorithm, key, overhead=14)
        size = {row["claims"]: row["bytes"] for row in scaling.token_sizes([most, most + 1], [algorithm], keys)}
        assert size[most] + 14 <= 4096 < size[most + 1] + 14, (algorithm, most, size)
    assert scaling.most_claims_that_fit(100, "HS256", keys["HS256"]) == -1, "not even an empty token fits 100 bytes"


def test_token_sizes_grow_with_claims_and_rsa_is_largest():
    keys = {"HS256": b"k" * 32, "RS256": demo_private_key("RS256"), "ES256": demo_private_key("ES256")}
    rows = scaling.token_sizes([0, 10], ["HS256", "RS256", "ES256"], keys)
    size = {(row["claims"], row["algorithm"]): row["bytes"] for row in rows}
    assert size[10, "HS256"] > size[0, "HS256"]
    assert size[0, "HS256"] < size[0, "ES256"] < size[0, "RS256"]
    # Ten permission strings add the same bytes whatever signs them.
    assert size[10, "RS256"] - size[0, "RS256"] == size[10, "HS256"] - size[0, "HS256"]


def test_bytes_per_session_are_positive_for_stores_and_zero_for_jwt():
    rows = scaling.bytes_per_session(500, redis_url(), postgres_url())
    sizes = {row["store"]: row["bytes"] for row in rows}
    assert list(sizes) == ["MemoryStore (Python dict)", "SQLite file", "Redis", "PostgreSQL", "JWT (nothing stored)"]
    assert all(64 < size < 4096 for name, size in sizes.items() if not name.startswith("JWT"))
    assert sizes["JWT (nothing stored)"] == 0


def test_request_latencies_times_each_request_and_refuses_a_failed_one():
    ticks = iter([0.0, 0.002, 1.0, 1.005])
    assert scaling.request_latencies(lambda: 200, 2, timer=lambda: next(ticks)) == pytest.approx([2.0, 5.0])
    with pytest.raises(RuntimeError, match="answered 401"):
        scaling.request_latencies(lambda: 401, 1)


def test_running_gives_a_cluster_whose_own_stores_forget_the_user_on_another_server(setups, users, clock):
    with scaling.running(setups[0], 2, clock, users) as cluster:
        client = cluster.client()
        headers = scaling.login(client, *CREDENTIALS[0])
        assert [client.get("/me", headers=headers).status_code for _ in range(2)] == [401, 401]
    assert not any(server.running for server in cluster.servers)  # stopped on the way out


def test_rows_round_trip_through_csv(tmp_path):
    rows = [
        {"setup": "JWT", "servers": 2, "success_rate": 0.5},
        {"setup": "Redis, shared", "servers": 4, "success_rate": 1.0},
    ]
    path = scaling.save_rows(rows, tmp_path / "results", "success")
    assert path.name == "success.csv"
    assert scaling.load_rows(tmp_path / "results", "success") == rows


def test_loading_a_missing_run_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="RESULTS_DIR"):
        scaling.load_rows(tmp_path, "success")
