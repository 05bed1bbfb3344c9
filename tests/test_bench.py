import itertools

import pytest

from helpers.bench import (
    LAYERS,
    STRATEGIES,
    compare,
    format_strategy_costs,
    format_table,
    measure,
    session_lookup_benchmarks,
    shared_stores,
    strategy_costs,
)
from helpers.sessions import MemoryStore
from support import postgres_url, redis_url


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
    assert [row.name for row in rows] == ["dict get, 20 sessions", "RedisStore get, 20 sessions", "PostgresStore get, 20 sessions"]
    assert all(row.median_us > 0 for row in rows)
    for make_store in shared_stores(redis_url(), postgres_url()).values():  # the shared stores were left empty
        with make_store() as store:
            assert store.count() == 0


def test_compare_times_each_function_round_robin_in_alternating_order():
    order = []
    timed = compare({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                    rounds=4, warmup=0, sample_seconds=0.0, timer=fake_timer(0.001))
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
    assert "session" in format_strategy_costs(rows)
    with pytest.raises(ValueError, match="unknown layers"):
        strategy_costs(layers=("keep-alive",))
