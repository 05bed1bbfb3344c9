"""A stand-in for ``time.perf_counter`` that behaves like a machine whose speed keeps changing.

Installed in a notebook's kernel before any cell runs (see ``tests/test_notebooks.py``), it makes every
interval the course times come out ``low`` or ``high`` times its real length (0.2x or 5x: the extremes,
so two timings compared without a 25x margin can swap). The factor holds for a random phase of up to
``max_phase_s`` real seconds, as a busy neighbour slows a whole stretch of a benchmark, so medians of
many samples move too, not only single samples. Any output nbval compares that
still matches the committed one under this timer does not depend on timing. Standard library only:
this file is also executed on its own inside the kernel.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class NoisyTimer:
    """Monotonic seconds whose rate against ``real`` jumps at random to ``low`` or ``high``."""

    def __init__(
        self,
        seed: int,
        real: Callable[[], float] = time.perf_counter,
        low: float = 0.2,
        high: float = 5.0,
        max_phase_s: float = 0.5,
    ) -> None:
        if not 0 < low <= 1 <= high:
            raise ValueError(f"need 0 < low <= 1 <= high, got low={low}, high={high}")
        self._rng = random.Random(seed)
        self._real = real
        self._factors = (low, high)
        self._max_phase_s = max_phase_s
        self._lock = threading.Lock()  # the course times requests from many threads at once
        self._last_real = real()
        self._reading = self._last_real
        self._factor = 1.0
        self._phase_ends = self._last_real

    def __call__(self) -> float:
        with self._lock:
            now = self._real()
            if now >= self._phase_ends:
                self._factor = self._rng.choice(self._factors)
                self._phase_ends = now + self._rng.uniform(0.0, self._max_phase_s)
            self._reading += (now - self._last_real) * self._factor
            self._last_real = now
            return self._reading


def install(seed: int) -> NoisyTimer:
    """Replace ``time.perf_counter`` in this process with a ``NoisyTimer``; return it."""
    timer = NoisyTimer(seed)
    time.perf_counter = timer  # type: ignore[assignment]  # the point: every later import sees this timer
    return timer
