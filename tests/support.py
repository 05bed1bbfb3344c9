"""What several test modules share: the store contract's backends and fixtures, and threads run together.

A contract test checks that a store never holds a raw secret (session ID, refresh token), so each
backend comes with a ``dump``: every string reachable from a Python store, or an SQLite store's
SQL dump plus the raw bytes of its database files. A new backend (Redis, PostgreSQL) adds one
``Backend`` to the test module's factory table.
"""

from __future__ import annotations

import threading
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
