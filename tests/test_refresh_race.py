"""The multi-tab refresh race over HTTPS: strict rotation logs the user out, a grace period and single-flight do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.clock import FrozenClock
from helpers.passwords import ScryptParams
from helpers.refresh import SQLiteRefreshStore
from helpers.refresh_race import RaceOutcome, false_logout_rate, race_tabs, thief_window
from helpers.server import RunningServer, serve
from helpers.users import UserDirectory
from helpers.web import create_app

ACCESS_TTL = 900
GRACE = 10.0


def _server(grace: float) -> tuple[RunningServer, FrozenClock]:
    clock = FrozenClock()
    users = UserDirectory(params=ScryptParams(n=2**4, r=1, p=1))
    users.add("alice", "wonderland")
    store = SQLiteRefreshStore(clock=clock, grace_period=grace)
    return serve(create_app("jwt", clock=clock, users=users, refresh_store=store, access_ttl=ACCESS_TTL)), clock


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[RunningServer, FrozenClock]]:
    srv, clock = _server(0)
    with srv:
        yield srv, clock


@pytest.fixture(scope="module")
def graced() -> Iterator[tuple[RunningServer, FrozenClock]]:
    srv, clock = _server(GRACE)
    with srv:
        yield srv, clock


def race(setup: tuple[RunningServer, FrozenClock], tabs: int, single_flight: bool = False) -> RaceOutcome:
    srv, clock = setup
    return race_tabs(
        srv.url,
        srv.client,
        clock,
        tabs,
        username="alice",
        password="wonderland",
        access_ttl=ACCESS_TTL,
        single_flight=single_flight,
    )


def test_one_tab_refreshes_and_stays_logged_in(strict) -> None:
    outcome = race(strict, 1)
    assert outcome == RaceOutcome(1, 1, (200,), 1, False)


@pytest.mark.parametrize("tabs", [2, 5, 8])
def test_strict_rotation_logs_racing_tabs_out(strict, tabs: int) -> None:
    outcome = race(strict, tabs)
    assert outcome.refresh_statuses == (200,) + (401,) * (tabs - 1)
    assert outcome.tabs_served == 1 and outcome.logged_out


@pytest.mark.parametrize("tabs", [2, 8])
def test_grace_period_serves_every_tab(graced, tabs: int) -> None:
    outcome = race(graced, tabs)
    assert outcome.refresh_statuses == (200,) * tabs and outcome.tabs_served == tabs and not outcome.logged_out


@pytest.mark.parametrize("tabs", [2, 8])
def test_single_flight_sends_one_refresh(strict, tabs: int) -> None:
    outcome = race(strict, tabs, single_flight=True)
    assert outcome == RaceOutcome(tabs, 1, (200,), tabs, False)


def test_false_logout_rate() -> None:
    assert false_logout_rate([RaceOutcome(2, 2, (200, 401), 1, True), RaceOutcome(1, 1, (200,), 1, False)]) == 0.5
    with pytest.raises(ValueError):
        false_logout_rate([])


def test_thief_window_is_the_grace_period(strict, graced) -> None:
    for setup, accepted in ((strict, []), (graced, [0, 9])):
        srv, clock = setup
        replays = thief_window(srv.url, srv.client, clock, [0, 9, 10, 60], username="alice", password="wonderland")
        assert [r.delay for r in replays if r.status == 200] == accepted
        # A refused replay is detected: the family is revoked and the user must log in again.
        assert all(r.user_still_logged_in == (r.status == 200) for r in replays)


def test_race_needs_a_tab(strict) -> None:
    with pytest.raises(ValueError):
        race(strict, 0)


def test_a_replay_says_what_the_thief_got_and_whether_anyone_noticed():
    from helpers.refresh_race import ThiefReplay

    assert ThiefReplay(0, 200, True).outcome == "tokens, unnoticed"
    assert ThiefReplay(0, 200, False).outcome == "tokens, user logged out"
    assert ThiefReplay(0, 401, False).outcome == "401, theft detected"
    assert ThiefReplay(0, 401, True).outcome == "401"
