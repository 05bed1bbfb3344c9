"""Login throttling: slow password guessing down, and keep a flood of logins from exhausting memory.

Two independent guards, both meant to sit in front of the password check:

* ``LoginThrottle`` counts failed logins per account and per client (the remote address) in a
  fixed window that starts at the first failure. Once a count reaches its limit, ``retry_after``
  says how many seconds are left in that window, and the server answers ``429`` with a
  ``Retry-After`` header without hashing anything (OWASP ASVS 2.2.1). It keeps at most
  ``max_tracked`` accounts and ``max_tracked`` clients; the oldest windows are evicted first, and
  windows that have ended are dropped as the injected clock passes them.
* ``ConcurrencyLimit`` caps how many password hashes run at once. scrypt with the course's
  parameters takes about 16 MiB per hash, so 48 concurrent bogus logins would otherwise cost
  hundreds of MiB and starve real logins; with a cap, the extra requests are refused at once
  (``503`` + ``Retry-After``) instead of queueing.

Why the account lock is *soft*, and how it avoids becoming a denial-of-service tool: a lock is
never permanent, it ends with its window (15 minutes by default) and needs no administrator. Its
job is to bound guessing against one account to ``account_failures`` tries per window (480 a day
with the defaults), whoever sends them, however many addresses they use. The honest cost: anyone
who knows a username can spend those few tries and close that account's password form for the
rest of the window, and keep doing so. The damage stays small by design: sessions and tokens the
user already holds keep working (the lock guards the login form, nothing else); the lock lasts
one window, not until someone intervenes; the attacker's own address is counted per client, so
one address cannot do it to many accounts (``client_failures`` per window). Deployments that
cannot accept even that add a second way in that the lock does not cover (a trusted-device
cookie, a one-time link by mail) rather than dropping the lock.

Eviction is also honest about its limit: an attacker who fails on ``max_tracked`` fresh usernames
within one window pushes the oldest windows out, an older lock included. That takes thousands of
requests, which the per-client count throttles to ``client_failures`` per address and window.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

from helpers.clock import Clock
from helpers.storage import check_duration

__all__ = ["ConcurrencyLimit", "LoginThrottle"]


def _check_count(kind: str, value: object) -> int:
    """Return ``value`` if it is a positive int (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{kind} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{kind} must be at least 1, got {value}")
    return value


class _Window(NamedTuple):
    """Failures counted for one key since ``started_at``."""

    failures: int
    started_at: float


class _Counter:
    """Failure windows for one kind of key, at most ``max_tracked`` of them; the caller holds the lock."""

    def __init__(self, limit: int, window: float, max_tracked: int) -> None:
        self.limit, self.window, self.max_tracked = limit, window, max_tracked
        # Ordered by window start: a key whose window restarts moves to the end, so the front is
        # always the oldest window, the first to end and the first to evict.
        self.windows: OrderedDict[str, _Window] = OrderedDict()

    def drop_ended(self, now: float) -> None:
        while self.windows:
            oldest = next(iter(self.windows.values()))
            if now < oldest.started_at + self.window:
                return
            self.windows.popitem(last=False)

    def wait(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it is under its limit."""
        self.drop_ended(now)
        entry = self.windows.get(key)
        if entry is None or entry.failures < self.limit:
            return None
        return entry.started_at + self.window - now

    def fail(self, key: str, now: float) -> None:
        """Count one failure for ``key``, starting a window if it has none."""
        self.drop_ended(now)
        entry = self.windows.get(key)
        if entry is not None:
            self.windows[key] = entry._replace(failures=entry.failures + 1)
            return
        while len(self.windows) >= self.max_tracked:
            self.windows.popitem(last=False)  # full: the oldest window goes
        self.windows[key] = _Window(1, now)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures."""
        self.windows.pop(key, None)


class LoginThrottle:
    """Failed-login counting per account and per client, with lockout windows; bounded memory."""

    def __init__(
        self,
        clock: Clock,
        *,
        account_failures: int = 5,
        client_failures: int = 20,
        window: float = 15 * 60,
        max_tracked: int = 10_000,
    ) -> None:
        """Lock an account after ``account_failures``, a client after ``client_failures``, for ``window`` s from the first."""
        self.clock = clock
        window = check_duration("window", window)
        max_tracked = _check_count("max_tracked", max_tracked)
        self._accounts = _Counter(_check_count("account_failures", account_failures), window, max_tracked)
        self._clients = _Counter(_check_count("client_failures", client_failures), window, max_tracked)
        self._lock = threading.Lock()

    def retry_after(self, username: str, client: str) -> float | None:
        """Seconds to wait before this login may be tried, or None if it may be tried now."""
        now = self.clock.now()
        with self._lock:
            waits = [
                w
                for w in (self._accounts.wait(_key(username), now), self._clients.wait(_key(client), now))
                if w is not None
            ]
        return max(waits) if waits else None

    def record_failure(self, username: str, client: str) -> None:
        """Count one failed login against the account and against the client."""
        now = self.clock.now()
        with self._lock:
            self._accounts.fail(_key(username), now)
            self._clients.fail(_key(client), now)

    def record_success(self, username: str, client: str) -> None:
        """Clear the account's count; the client's stays, so one good password cannot buy more guesses elsewhere."""
        with self._lock:
            self._accounts.clear(_key(username))

    def tracked(self) -> tuple[int, int]:
        """How many (accounts, clients) have a failure window open or not yet dropped."""
        now = self.clock.now()
        with self._lock:
            self._accounts.drop_ended(now)
            self._clients.drop_ended(now)
            return len(self._accounts.windows), len(self._clients.windows)

    def __repr__(self) -> str:
        accounts, clients = self.tracked()
        return f"LoginThrottle(clock={self.clock!r}, accounts={accounts}, clients={clients})"


def _key(value: object) -> str:
    """A counter key for a username or client address; only str is accepted, so no two kinds collide."""
    if not isinstance(value, str):
        raise TypeError(f"usernames and clients must be str, got {type(value).__name__}")
    return value


class ConcurrencyLimit:
    """At most ``limit`` holders at once (caps concurrent scrypt hashing, ~16 MiB each)."""

    def __init__(self, limit: int) -> None:
        """Allow ``limit`` holders at the same time."""
        self.limit = _check_count("limit", limit)
        self._slots = threading.BoundedSemaphore(self.limit)
        self._held = 0
        self._held_lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, timeout: float = 0.0) -> Iterator[bool]:
        """Hold a slot for the ``with`` block; yields True if one was had within ``timeout`` s, else False."""
        # timeout 0 never blocks: a full server refuses at once rather than queueing requests.
        acquired = self._slots.acquire(timeout=timeout) if timeout > 0 else self._slots.acquire(blocking=False)
        if acquired:
            with self._held_lock:
                self._held += 1
        try:
            yield acquired
        finally:
            if acquired:
                with self._held_lock:
                    self._held -= 1
                self._slots.release()

    @property
    def held(self) -> int:
        """How many slots are held right now."""
        with self._held_lock:
            return self._held

    def __repr__(self) -> str:
        return f"ConcurrencyLimit(limit={self.limit}, held={self.held})"
