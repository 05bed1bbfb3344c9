"""What the store contract tests share: how to build a backend, and how to dump all it persisted.

A contract test checks that a store never holds a raw secret (session ID, refresh token), so each
backend comes with a ``dump``: every string reachable from a Python store, or an SQLite store's
SQL dump plus the raw bytes of its database files. A new backend (Redis, PostgreSQL) adds one
``Backend`` to the test module's factory table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
