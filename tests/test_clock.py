import pytest
from support import run_together

from helpers.clock import FrozenClock, SystemClock


def test_system_clock_follows_wall_time():
    import time

    before = time.time()
    now = SystemClock().now()
    assert before <= now <= time.time()


def test_frozen_clock_stands_still_until_advanced():
    clock = FrozenClock(1_000.0)
    assert clock.now() == clock.now() == 1_000.0
    assert clock.advance(seconds=1, minutes=1, hours=1, days=1) == 1_000.0 + 1 + 60 + 3600 + 86400
    assert clock.now() == 91_061.0


def test_frozen_clock_refuses_to_go_back():
    clock = FrozenClock(10.0)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(seconds=-1)
    assert clock.now() == 10.0


def test_frozen_clock_is_safe_to_advance_from_many_threads():
    clock = FrozenClock(0.0)
    run_together(lambda index: [clock.advance(seconds=1) for _ in range(1000)], 8)
    assert clock.now() == 8000.0
