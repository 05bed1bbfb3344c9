"""Fixtures shared by the HTTP tests: a frozen clock, cheap demo users, and a served app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helpers.clock import FrozenClock
from helpers.passwords import ScryptParams
from helpers.server import RunningServer, serve
from helpers.users import UserDirectory
from helpers.web import create_app

# The demo users' passwords, with a tiny scrypt cost so hundreds of test logins stay fast.
# Production cost is tested in test_passwords.py; here only the HTTP behaviour matters.
CHEAP_PARAMS = ScryptParams(n=2**4, r=1, p=1)
DEMO_PASSWORDS = {"alice": ("wonderland", "user"), "bob": ("builder", "admin")}
START = 1_700_000_000.0


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def users() -> UserDirectory:
    directory = UserDirectory(params=CHEAP_PARAMS)
    for name, (password, role) in DEMO_PASSWORDS.items():
        directory.add(name, password, role=role)
    return directory


@pytest.fixture
def served(clock: FrozenClock, users: UserDirectory) -> Iterator[Callable[..., RunningServer]]:
    """Start apps made by ``create_app(strategy, ...)`` with the frozen clock and cheap users; stop them after."""
    running: list[RunningServer] = []

    def start(strategy: str, **options: object) -> RunningServer:
        options.setdefault("clock", clock)
        options.setdefault("users", users)
        srv = serve(create_app(strategy, **options))
        running.append(srv)
        return srv

    yield start
    for srv in running:
        srv.stop()


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """Register stores (anything with ``close()``) to be closed when the test ends; returns what it is given."""
    made: list[Any] = []

    def keep(store: Any) -> Any:
        made.append(store)
        return store

    yield keep
    for store in made:
        store.close()
