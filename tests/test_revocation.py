"""The replay simulation behind chapter 05's revocation charts, run against live servers."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import pytest

from helpers.clock import FrozenClock
from helpers.refresh import MemoryRefreshStore, SQLiteRefreshStore
from helpers.revocation import (
    STRATEGIES,
    RotationRace,
    denylist_size_over_time,
    exposure_minutes,
    logout_ends,
    race_rotation,
    replay_after_logout,
    thief_refreshes_first,
)
from helpers.users import UserDirectory

START = 1_700_000_000.0  # the same start as conftest.py's clock fixture


def test_exposure_minutes_counts_up_to_the_last_accepted_interval() -> None:
    assert exposure_minutes([], 1) == 0
    assert exposure_minutes([False, False], 5) == 0
    assert exposure_minutes([True, True, True, False], 1) == 3
    assert exposure_minutes([True, False, True, False], 5) == 15  # a gap does not end the exposure
    assert exposure_minutes([True] * 4, 2.5) == 10


def test_exposure_minutes_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError):
        exposure_minutes([True], 0)


@pytest.mark.parametrize(
    ("strategy", "ttl", "expected"),
    [("session", 900, 0), ("jwt", 3600, 60), ("jwt+refresh", 900, 15), ("jwt+denylist", 900, 0)],
)
def test_replay_measures_each_strategy(users: UserDirectory, strategy: str, ttl: int, expected: int) -> None:
    replay = replay_after_logout(
        strategy,
        users,
        "alice",
        "wonderland",
        clock=FrozenClock(START),
        access_ttl=ttl,
        interval_minutes=5,
        duration_minutes=70,
    )
    assert replay.minutes == tuple(range(0, 75, 5))
    assert exposure_minutes(replay.accepted, 5) == expected
    # Once refused, the credential stays refused: no strategy lets it back in within the window.
    first_refusal = replay.accepted.index(False)
    assert not any(replay.accepted[first_refusal:])


def test_logout_answers_and_denylist_lookups(users: UserDirectory) -> None:
    replays = {
        s: replay_after_logout(
            s, users, "alice", "wonderland", clock=FrozenClock(START), interval_minutes=20, duration_minutes=20
        )
        for s in STRATEGIES
    }
    assert replays["session"].logout_answer["session_deleted"] is True
    assert replays["jwt"].logout_answer == {}  # the client only forgets
    assert replays["jwt+refresh"].logout_answer["refresh_revoked"] is True
    assert replays["jwt+denylist"].logout_answer["token_revoked"] is True
    assert replays["jwt+denylist"].logout_answer["refresh_revoked"] is True  # at /logout, found through sid
    assert {s: r.victim_lookups for s, r in replays.items()} == {
        "session": 0,
        "jwt": 0,
        "jwt+refresh": 0,
        "jwt+denylist": 2,
    }
    # The thief's stolen refresh cookie was tried once the access token died, and refused.
    assert replays["jwt+refresh"].refresh_statuses == (401,)


def test_stop_when_refused_ends_the_replay(users: UserDirectory) -> None:
    replay = replay_after_logout(
        "jwt",
        users,
        "alice",
        "wonderland",
        clock=FrozenClock(START),
        access_ttl=60,
        interval_minutes=1 / 12,
        duration_minutes=600,
        stop_when_refused=True,
    )
    assert len(replay.accepted) == 13 and replay.accepted[-1] is False
    assert exposure_minutes(replay.accepted, 1 / 12) == pytest.approx(1)


def test_replay_rejects_unknown_strategies_and_bad_intervals(users: UserDirectory) -> None:
    with pytest.raises(ValueError):
        replay_after_logout("cookie", users, "alice", "wonderland", clock=FrozenClock(START))
    with pytest.raises(ValueError):
        replay_after_logout("jwt", users, "alice", "wonderland", clock=FrozenClock(START), interval_minutes=0)


def test_denylist_entries_leave_when_their_token_would_have_expired(users: UserDirectory) -> None:
    growth = denylist_size_over_time(
        users, "alice", "wonderland", [0, 0, 10], clock=FrozenClock(START), access_ttl=15 * 60, duration_minutes=30
    )
    assert growth.minutes == tuple(range(31))
    assert growth.stored[0] == 2 and growth.stored[10] == 3
    assert growth.stored[15] == 1  # the two minute-0 tokens expired at minute 15 and were purged
    assert growth.stored[25] == 0 and growth.denied_total[-1] == 3


def test_denylist_growth_rejects_logouts_outside_the_window(users: UserDirectory) -> None:
    with pytest.raises(ValueError):
        denylist_size_over_time(users, "alice", "wonderland", [40], clock=FrozenClock(START), duration_minutes=30)


@pytest.mark.parametrize("denylist, token_status", [(False, 200), (True, 401)])
def test_one_logout_ends_the_session_and_the_refresh_family(
    users: UserDirectory, denylist: bool, token_status: int
) -> None:
    outcome = logout_ends(users, "alice", "wonderland", clock=FrozenClock(START), denylist=denylist)
    assert outcome.logout_answer == {
        "logged_out": True,
        "session_deleted": True,
        "refresh_revoked": True,
        "token_revoked": denylist,
    }
    assert outcome.after_logout == {"session cookie": 401, "refresh cookie": 401, "access token": token_status}


DAY = 1440  # minutes


def test_a_thief_who_refreshes_first_rotates_until_the_family_deadline(users: UserDirectory) -> None:
    run = thief_refreshes_first(
        users,
        "alice",
        "wonderland",
        clock=FrozenClock(START),
        every_minutes=360,
        duration_minutes=8 * DAY,
        refresh_ttl=7 * DAY * 60,
    )
    accepted = [minute for minute, status in zip(run.minutes, run.statuses) if status == 200]
    assert accepted == [m for m in run.minutes if m < 7 * DAY]  # every refresh before the deadline, none after
    assert set(run.statuses[len(accepted) :]) == {401}
    assert run.victim_status is None and run.family_minutes == 7 * DAY


def test_the_victims_return_revokes_the_thiefs_family(users: UserDirectory) -> None:
    run = thief_refreshes_first(
        users,
        "alice",
        "wonderland",
        clock=FrozenClock(START),
        every_minutes=360,
        duration_minutes=3 * DAY,
        victim_returns_minutes=DAY,
    )
    assert run.victim_status == 401 and "reuse detected" in run.victim_reason
    assert run.statuses == tuple(200 if minute < DAY else 401 for minute in run.minutes)


@pytest.mark.parametrize("backend", [MemoryRefreshStore, SQLiteRefreshStore])
def test_the_victims_return_after_100_thief_rotations_is_caught(users: UserDirectory, backend) -> None:
    # A refresh every 15 minutes for a day and an hour: the thief has rotated 100 times when the victim
    # comes back, and the family still knows her token as spent.
    clock = FrozenClock(START)
    store = backend(clock=clock)
    run = thief_refreshes_first(
        users,
        "alice",
        "wonderland",
        clock=clock,
        every_minutes=15,
        duration_minutes=DAY + 60,
        victim_returns_minutes=DAY + 60,
        refresh_store=store,
    )
    assert run.statuses[:100] == (200,) * 100  # the thief's 100 rotations before the victim's return
    assert run.victim_status == 401 and "reuse detected" in run.victim_reason
    assert run.statuses[100:] == (401,)  # the thief's next refresh, just after: the family is revoked
    assert store.active_families() == [] and store.count() == 101


def test_a_login_ends_at_the_rotation_cap_and_still_knows_every_spent_token(users: UserDirectory) -> None:
    clock = FrozenClock(START)
    store = SQLiteRefreshStore(clock=clock, max_rotations_per_family=20)
    run = thief_refreshes_first(
        users,
        "alice",
        "wonderland",
        clock=clock,
        every_minutes=5,
        duration_minutes=150,
        victim_returns_minutes=150,
        refresh_store=store,
    )
    assert run.statuses == (200,) * 20 + (401,) * 11  # the 21st refresh would pass the cap: the login ends
    assert run.victim_status == 401 and "reuse detected" in run.victim_reason  # her spent token, still known
    assert store.count() == 21 and run.family_minutes == 7 * DAY


def test_thief_run_rejects_bad_intervals(users: UserDirectory) -> None:
    with pytest.raises(ValueError):
        thief_refreshes_first(
            users, "alice", "wonderland", clock=FrozenClock(START), every_minutes=0, duration_minutes=10
        )


class _Store:
    """A minimal family store for race_rotation: one family, optionally without a lock."""

    def __init__(self, locked: bool) -> None:
        self.current: str | None = "t0"
        self.spent: set[str] = set()
        self.lock = threading.Lock() if locked else contextlib.nullcontext()
        self.issued = 0


def _rotate(store: _Store, token: str) -> str:
    with store.lock:
        if store.current is None or (token != store.current and token not in store.spent):
            raise LookupError("refused")
        if token in store.spent:
            store.current = None
            raise PermissionError("reuse")
        time.sleep(0.001)  # the gap a racing thread slips into when nothing serialises the check and the update
        store.spent.add(token)
        store.issued += 1
        store.current = f"t{store.issued}"
        return store.current


def test_race_rotation_finds_one_winner_one_reuse_and_a_revoked_family_when_rotation_is_atomic() -> None:
    race = race_rotation(_rotate, _Store(locked=True), "t0", 8)
    assert race == RotationRace({"rotated": 1, "PermissionError": 1, "LookupError": 6}, successor_rotates=False)
    assert sys.getswitchinterval() > 1e-6  # restored


def test_race_rotation_exposes_a_check_then_act_gap() -> None:
    race = race_rotation(_rotate, _Store(locked=False), "t0", 8)
    assert race.outcomes.get("rotated", 0) > 1


def test_race_rotation_needs_two_threads() -> None:
    with pytest.raises(ValueError):
        race_rotation(_rotate, _Store(locked=True), "t0", 1)
