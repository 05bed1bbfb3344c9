"""Clocks: the real one, and a frozen one that expiry demos and tests move by hand."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning epoch seconds."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that stands still until ``advance`` moves it; safe to share with a server thread."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the frozen time in epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> float:
        """Move the clock forward and return the new time; moving backwards is refused."""
        step = seconds + 60 * minutes + 3600 * hours + 86400 * days
        if step < 0:
            raise ValueError(f"a FrozenClock only moves forward, got a step of {step} s")
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FrozenClock(start={self.now():.0f})"
