"""The load driver: K threads, N requests each, every request recorded; no HTTP needed to test it."""

from __future__ import annotations

import itertools
import threading

import pytest

from helpers.load import LoadResult, RequestRecord, run_load


def fake_timer():
    """A timer that advances 1 ms per reading, so latencies are exact (and threads do not matter)."""
    ticks = itertools.count()
    lock = threading.Lock()

    def now():
        with lock:
            return next(ticks) / 1000

    return now


def test_every_client_sends_its_requests_and_each_is_recorded():
    made = []

    def make_sender(k):
        made.append(k)
        return lambda: (200 if k % 2 == 0 else 401, k % 3)

    lines = []
    result = run_load(make_sender, clients=4, requests_per_client=5, progress=lines.append)
    assert sorted(made) == [0, 1, 2, 3]
    assert result.requests == 20 and result.clients == 4
    assert result.statuses == {200: 10, 401: 10}
    assert result.success_rate == 0.5
    assert sorted({(r.client, r.server) for r in result.records}) == [(0, 0), (1, 1), (2, 2), (3, 0)]
    assert lines == [f"  4 clients × 5 requests: {p}%" for p in (25, 50, 75, 100)]


def test_set_up_runs_before_any_request_and_threads_start_together():
    barrier = threading.Barrier(3, timeout=5)
    events = []

    def make_sender(k):
        events.append(f"set up {k}")

        def send():
            events.append("request")
            barrier.wait()  # raises BrokenBarrierError unless all three clients are sending at the same time
            return 200, 0

        return send

    result = run_load(make_sender, clients=3, requests_per_client=2, progress=None)
    assert result.success_rate == 1.0
    assert events[:3] == ["set up 0", "set up 1", "set up 2"] and events[3:] == ["request"] * 6


def test_latency_quartiles_and_throughput_come_from_the_records():
    result = LoadResult(
        tuple(RequestRecord(0, 200, ms / 1000, 0) for ms in (1, 2, 3, 4, 5)), wall_seconds=0.5, clients=1
    )
    assert result.latency_ms() == pytest.approx((2.0, 3.0, 4.0))
    assert result.throughput == 10.0


def test_a_sender_that_raises_fails_the_run_with_its_error():
    def make_sender(k):
        def send():
            raise ConnectionError(f"client {k} could not connect")

        return send

    with pytest.raises(ConnectionError, match="could not connect"):
        run_load(make_sender, clients=2, requests_per_client=3, progress=None)


@pytest.mark.parametrize("clients, per_client", [(0, 1), (1, 0), (True, 1), (2, 1.5)])
def test_counts_must_be_positive_whole_numbers(clients, per_client):
    with pytest.raises(ValueError, match="positive whole number"):
        run_load(lambda k: lambda: (200, 0), clients, per_client, progress=None)


def test_the_injected_timer_measures_each_request():
    result = run_load(lambda k: lambda: (200, 0), 1, 3, progress=None, timer=fake_timer())
    assert [round(r.latency_s, 6) for r in result.records] == [0.001, 0.001, 0.001]
