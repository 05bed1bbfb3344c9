import itertools

import pytest
from support import postgres_url, redis_url

from helpers.bench import (
    LAYERS,
    STRATEGIES,
    StrategyCost,
    Target,
    compare,
    format_strategy_costs,
    format_table,
    format_targets,
    measure,
    session_lookup_benchmarks,
    shared_stores,
    signature_floor_targets,
    sqlite_lookup_target,
    strategy_costs,
    strategy_targets,
)
from helpers.sessions import MemoryStore


def fake_timer(step: float):
    """A timer that advances ``step`` seconds per reading, so each call of the loop 'takes' a known time."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_measure_reports_median_and_iqr_in_microseconds():
    calls = []
    result = measure(lambda: calls.append(1), name="noop", repeat=5, warmup=3, sample_seconds=0.0)
    assert result.name == "noop"
    assert result.samples == 5
    assert result.q1_us <= result.median_us <= result.q3_us
    assert result.iqr_us >= 0
    assert len(calls) >= 3 + 5


def test_measure_calibrates_calls_so_samples_are_long_enough():
    # Each timer reading moves 1 ms: a sample of N calls measures 1 ms in total, so per call = 1000/N µs.
    result = measure(lambda: None, repeat=3, warmup=0, sample_seconds=0.0005, timer=fake_timer(0.001))
    assert result.calls_per_sample == 1
    assert result.median_us == pytest.approx(1000.0)


def test_measure_needs_three_samples_for_an_iqr():
    with pytest.raises(ValueError, match="at least 3"):
        measure(lambda: None, repeat=2)


def test_ratio_and_table():
    fast = measure(lambda: None, name="fast", repeat=3, warmup=0, timer=fake_timer(0.001), sample_seconds=0.0)
    table = format_table([fast], baseline=fast, baseline_label="fast")
    assert fast.ratio_to(fast) == 1.0
    assert "fast" in table.splitlines()[2] and table.splitlines()[2].rstrip().endswith("1.00")


def test_lookup_benchmarks_time_every_store_they_are_given():
    stores = {"dict": MemoryStore, **shared_stores(redis_url(), postgres_url())}
    rows = session_lookup_benchmarks((20,), repeat=3, progress=False, stores=stores)
    assert [row.name for row in rows] == [
        "dict get, 20 sessions",
        "RedisStore get, 20 sessions",
        "PostgresStore get, 20 sessions",
    ]
    assert all(row.median_us > 0 for row in rows)
    for make_store in shared_stores(redis_url(), postgres_url()).values():  # the shared stores were left empty
        with make_store() as store:
            assert store.count() == 0


def test_compare_times_each_function_round_robin_in_alternating_order():
    order = []
    timed = compare(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")},
        rounds=4,
        warmup=0,
        sample_seconds=0.0,
        timer=fake_timer(0.001),
    )
    assert order == list("ab") + list("abbaabba")  # one calibration call each, then a b, b a, a b, b a
    assert [m.samples for m in timed.values()] == [4, 4]
    assert timed["a"].median_us == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="at least 3"):
        compare({"a": lambda: None}, rounds=2)


def test_strategy_costs_gives_a_row_per_layer_and_strategy_with_ratios_to_no_auth():
    rows = strategy_costs(rounds=3, sample_seconds=0.0)
    assert [(row.layer, row.strategy) for row in rows] == [(layer, s) for layer in LAYERS for s in STRATEGIES]
    for row in rows:
        base = next(r for r in rows if r.layer == row.layer and r.strategy == "no auth")
        assert row.ratio == pytest.approx(row.median_us / base.median_us)
        assert row.overhead_us == pytest.approx(row.median_us - base.median_us)
        assert row.q1_us <= row.median_us <= row.q3_us
        # Inside the server the app's own time is part of the whole request; the app layer has no server.
        if row.layer == "app":
            assert row.in_server_app_us is None
        else:
            assert row.in_server_app_us is not None and 0 < row.in_server_app_us < row.median_us
    assert "session" in format_strategy_costs(rows)
    assert "app µs in server" in format_strategy_costs(rows)
    with pytest.raises(ValueError, match="unknown layers"):
        strategy_costs(layers=("keep-alive",))


def test_targets_hold_only_within_their_limit_and_the_table_says_which():
    results = [Target("fast enough", 1.1, 1.15, "base"), Target("too slow", 1.2, 1.15, "base")]
    assert [t.holds for t in results] == [True, False]
    lines = format_targets(results).splitlines()
    assert " yes " in lines[2] and " NO " in lines[3]


def test_strategy_targets_read_each_layer_against_its_own_no_auth_row():
    def row(layer, strategy, median):
        base = {"app": 50.0, "http": 1000.0}[layer]
        return StrategyCost(layer, strategy, median, median, median, median / base, median - base)

    rows = [
        row("app", "no auth", 50.0),
        row("app", "jwt", 100.0),
        row("app", "session", 80.0),
        row("http", "no auth", 1000.0),
        row("http", "jwt", 1050.0),
        row("http", "session", 1200.0),
    ]
    results = {t.name: t for t in strategy_targets(rows)}
    assert results["app alone: session overhead ÷ JWT overhead"].measured == pytest.approx(30 / 50)
    assert results["http whole request: session ÷ no auth"].measured == pytest.approx(1.2)
    assert not results["http whole request: session ÷ no auth"].holds
    assert results["http whole request: jwt ÷ no auth"].holds


def test_the_floor_and_lookup_targets_measure_real_ratios():
    floors = signature_floor_targets(rounds=3)
    assert [t.name.split()[0] for t in floors] == ["HS256", "RS256", "ES256", "EdDSA"]
    assert all(t.measured > 0 and "µs" in t.baseline for t in floors)
    lookup = sqlite_lookup_target(200, rounds=3)
    assert lookup.limit == 1.2 and lookup.measured > 0
