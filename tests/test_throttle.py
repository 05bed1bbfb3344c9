"""Login throttling: per-account and per-client lockout windows, bounded memory, and the hashing cap."""

from __future__ import annotations

import threading
import time

import pytest
from support import run_together

from helpers.clock import FrozenClock
from helpers.throttle import ConcurrencyLimit, LoginThrottle


@pytest.fixture
def throttle(clock: FrozenClock) -> LoginThrottle:
    return LoginThrottle(clock, account_failures=3, client_failures=5, window=60)


def fail(throttle: LoginThrottle, username: str, client: str, times: int) -> None:
    for _ in range(times):
        throttle.record_failure(username, client)


def test_an_account_is_locked_after_its_limit_for_the_rest_of_the_window(throttle, clock):
    fail(throttle, "alice", "10.0.0.1", 2)
    assert throttle.retry_after("alice", "10.0.0.1") is None
    clock.advance(seconds=10)
    throttle.record_failure("alice", "10.0.0.2")  # a third address: the account's count is shared
    assert throttle.retry_after("alice", "10.0.0.3") == pytest.approx(50)  # window started at the first failure
    assert throttle.retry_after("bob", "10.0.0.3") is None  # other accounts are untouched
    clock.advance(seconds=49)
    assert throttle.retry_after("alice", "10.0.0.3") == pytest.approx(1)


def test_the_lock_is_soft_it_ends_with_its_window(throttle, clock):
    fail(throttle, "alice", "10.0.0.1", 3)
    assert throttle.retry_after("alice", "10.0.0.9") is not None
    clock.advance(seconds=60)
    assert throttle.retry_after("alice", "10.0.0.9") is None
    # A new window starts from scratch: one failure does not lock again.
    throttle.record_failure("alice", "10.0.0.9")
    assert throttle.retry_after("alice", "10.0.0.9") is None


def test_a_client_is_locked_after_its_limit_across_accounts(throttle):
    for index in range(5):
        throttle.record_failure(f"user{index}", "10.6.6.6")
    assert throttle.retry_after("somebody-else", "10.6.6.6") == pytest.approx(60)
    assert throttle.retry_after("somebody-else", "10.0.0.1") is None


def test_success_clears_the_account_but_not_the_client(throttle):
    fail(throttle, "alice", "10.0.0.1", 2)
    fail(throttle, "bob", "10.0.0.1", 2)
    throttle.record_success("alice", "10.0.0.1")
    fail(throttle, "alice", "10.0.0.1", 2)
    assert throttle.retry_after("alice", "10.0.0.2") is None  # 2 failures since the success, under 3
    throttle.record_failure("carol", "10.0.0.1")  # the client's fifth failure
    assert throttle.retry_after("dave", "10.0.0.1") is not None


def test_memory_is_bounded_and_the_oldest_windows_go_first(clock):
    throttle = LoginThrottle(clock, account_failures=1, client_failures=1000, window=60, max_tracked=100)
    throttle.record_failure("first", "10.0.0.1")
    for index in range(1000):
        throttle.record_failure(f"user{index}", "10.0.0.1")
    assert throttle.tracked() == (100, 1)
    assert throttle.retry_after("first", "10.0.0.2") is None  # evicted: the oldest window
    assert throttle.retry_after("user999", "10.0.0.2") is not None  # the newest is still there


def test_ended_windows_are_dropped_with_the_clock(throttle, clock):
    for index in range(50):
        throttle.record_failure(f"user{index}", f"10.0.0.{index}")
    assert throttle.tracked() == (50, 50)
    clock.advance(seconds=60)
    assert throttle.tracked() == (0, 0)


@pytest.mark.parametrize(
    "options, error",
    [
        ({"account_failures": 0}, ValueError),
        ({"client_failures": True}, TypeError),
        ({"window": -1}, ValueError),
        ({"max_tracked": 1.5}, TypeError),
    ],
)
def test_bad_settings_are_refused(clock, options, error):
    with pytest.raises(error):
        LoginThrottle(clock, **options)


def test_non_string_keys_are_refused(throttle):
    with pytest.raises(TypeError):
        throttle.record_failure(["alice"], "10.0.0.1")  # type: ignore[arg-type]


def test_counting_is_thread_safe(clock):
    throttle = LoginThrottle(clock, account_failures=400, client_failures=10_000, window=60)
    run_together(lambda index: fail(throttle, "alice", f"10.0.0.{index}", 50), 8)
    assert throttle.retry_after("alice", "10.1.1.1") is not None  # 8 x 50 = 400 counted, none lost
    assert throttle.tracked() == (1, 8)


def test_a_concurrency_limit_never_admits_more_than_its_limit():
    limit = ConcurrencyLimit(3)
    inside, most, lock = 0, 0, threading.Lock()

    def work(index: int) -> bool:
        nonlocal inside, most
        with limit.slot(timeout=30) as got:
            assert got
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)  # hold the slot so the threads overlap
            with lock:
                inside -= 1
        return got

    assert all(run_together(work, 12))
    assert most <= 3
    assert limit.held == 0


def test_a_full_limit_refuses_at_once_and_frees_the_slot_after_the_block():
    limit = ConcurrencyLimit(1)
    with limit.slot() as first:
        assert first and limit.held == 1
        with limit.slot() as second:
            assert second is False  # timeout 0: refused without waiting
        assert limit.held == 1
    with limit.slot() as again:
        assert again


def test_a_slot_is_released_when_the_block_raises():
    limit = ConcurrencyLimit(1)
    with pytest.raises(RuntimeError), limit.slot():
        raise RuntimeError("hashing failed")
    assert limit.held == 0
    with limit.slot() as got:
        assert got


def test_a_waiting_slot_is_had_when_a_holder_leaves():
    limit = ConcurrencyLimit(1)
    release = threading.Event()

    def hold() -> None:
        with limit.slot():
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    while limit.held == 0:
        time.sleep(0.001)
    timer = threading.Timer(0.05, release.set)
    timer.start()
    with limit.slot(timeout=30) as got:
        assert got
    holder.join()
    timer.join()
