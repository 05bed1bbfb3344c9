"""The refresh-token store contract, run unchanged against every backend, plus SQLite-specific checks.

To test a new backend, add one ``Backend`` entry to ``STORE_FACTORIES``: how to build it around a
clock, and how to dump everything it has persisted (so the contract can check that no raw token is
ever stored).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import Backend, dump_python, dump_sqlite, run_together, store_fixtures

from helpers.clock import FrozenClock
from helpers.denylist import SQLiteDenylist
from helpers.refresh import (
    DEFAULT_REFRESH_TTL,
    InvalidRefreshTokenError,
    MemoryRefreshStore,
    RefreshFamily,
    RefreshTokenError,
    RefreshTokenReuseError,
    RefreshTokenStore,
    RotationResult,
    SQLiteRefreshStore,
    hash_refresh_token,
)
from helpers.sessions import SQLiteStore

START = 1_700_000_000.0
DAY = 86_400.0


# --- backends -------------------------------------------------------------------------------------


STORE_FACTORIES: dict[str, Backend] = {
    "memory": Backend(lambda clock, tmp_path, **kw: MemoryRefreshStore(clock=clock, **kw), dump_python),
    "sqlite-memory": Backend(
        lambda clock, tmp_path, **kw: SQLiteRefreshStore(":memory:", clock=clock, **kw), dump_sqlite("refresh.db")
    ),
    "sqlite-file": Backend(
        lambda clock, tmp_path, **kw: SQLiteRefreshStore(tmp_path / "refresh.db", clock=clock, **kw),
        dump_sqlite("refresh.db"),
    ),
}


backend, make_store, store = store_fixtures(STORE_FACTORIES)


def refused(store: RefreshTokenStore, token: object) -> RefreshTokenError:
    """Rotate ``token``, expecting a refusal; return the error."""
    with pytest.raises(RefreshTokenError) as caught:
        store.rotate(token)  # type: ignore[arg-type]
    return caught.value


# --- issue and rotate -----------------------------------------------------------------------------


def test_issue_returns_a_256_bit_url_safe_token(store):
    tokens = {store.issue("alice") for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_rotate_returns_a_successor_in_the_same_family(store, clock):
    first = store.issue("alice", role="admin")
    clock.advance(minutes=15)
    result = store.rotate(first)
    assert isinstance(result, RotationResult)
    assert result.token != first and re.fullmatch(r"[A-Za-z0-9_-]{43}", result.token)
    assert (result.user_id, result.role) == ("alice", "admin")
    assert result.expires_at == START + DEFAULT_REFRESH_TTL == START + 7 * DAY
    again = store.rotate(result.token)
    assert again.family_id == result.family_id and again.token not in (first, result.token)


def test_rotation_results_are_frozen_and_never_show_the_token(store):
    result = store.rotate(store.issue("alice"))
    with pytest.raises(FrozenInstanceError):
        result.user_id = "mallory"  # type: ignore[misc]
    assert result.token not in repr(result) and "alice" in repr(result)


def test_each_login_is_its_own_family(store):
    a = store.rotate(store.issue("alice"))
    b = store.rotate(store.issue("alice"))
    assert a.family_id != b.family_id


def test_store_never_holds_the_raw_token(backend, store, clock, tmp_path):
    first = store.issue("alice")
    second = store.rotate(first).token
    dump = backend.dump(store, tmp_path)
    for token in (first, second):
        assert token.encode() not in dump
        assert hash_refresh_token(token).encode() in dump


def test_hash_refresh_token_is_plain_sha256_hex():
    assert hash_refresh_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(TypeError):
        hash_refresh_token(b"abc")  # type: ignore[arg-type]


# --- reuse detection ------------------------------------------------------------------------------


def test_a_token_works_only_once_and_reuse_revokes_the_whole_family(store, clock):
    first = store.issue("alice")
    legit = store.rotate(first)  # the user refreshes; a thief kept a copy of ``first``
    newest = store.rotate(legit.token)
    clock.advance(minutes=5)
    error = refused(store, first)  # the thief replays it
    assert isinstance(error, RefreshTokenReuseError) and error.code == "reused"
    assert (error.family_id, error.user_id) == (legit.family_id, "alice")
    assert "reuse detected" in str(error) and "revoked" in str(error)
    # The user's newest token dies with the family: thief and user are both logged out.
    error = refused(store, newest.token)
    assert isinstance(error, InvalidRefreshTokenError) and error.code == "revoked"
    assert "reuse" in str(error)
    # Every spent token of the family still counts as reuse.
    assert isinstance(refused(store, legit.token), RefreshTokenReuseError)
    assert store.active_families() == []


def test_reuse_in_one_family_leaves_other_logins_alone(store):
    laptop, phone = store.issue("alice"), store.issue("alice")
    store.rotate(laptop)
    refused(store, laptop)
    assert store.rotate(phone).user_id == "alice"
    assert len(store.active_families("alice")) == 1


def test_replaying_a_token_of_a_logged_out_family_is_still_reuse(store):
    first = store.issue("alice")
    second = store.rotate(first).token
    assert store.revoke_family(second) is True
    assert isinstance(refused(store, first), RefreshTokenReuseError)  # spent: suspicious either way
    assert refused(store, second).code == "revoked"  # never spent, only revoked


# --- lifetime -------------------------------------------------------------------------------------


def test_the_family_dies_a_fixed_ttl_after_login_however_often_it_rotates(store, clock):
    token = store.issue("alice")
    for _ in range(6):
        clock.advance(days=1)
        result = store.rotate(token)
        assert result.expires_at == START + 7 * DAY  # rotation never extends the login
        token = result.token
    clock.advance(days=1)  # exactly 7 days after login: dead ("on or after" the deadline)
    error = refused(store, token)
    assert isinstance(error, InvalidRefreshTokenError) and error.code == "expired"
    assert "expired" in str(error)


def test_store_ttl_option_is_honoured(make_store, clock):
    store = make_store(ttl=3600)
    token = store.rotate(store.issue("alice"))
    assert token.expires_at == START + 3600
    clock.advance(seconds=3600)
    assert refused(store, token.token).code == "expired"
    assert store.rotate(store.issue("bob")).expires_at == START + 2 * 3600


@pytest.mark.parametrize("ttl", [0, -1, math.inf, math.nan])
def test_constructor_rejects_bad_ttls(make_store, ttl):
    with pytest.raises(ValueError):
        make_store(ttl=ttl)


@pytest.mark.parametrize("ttl", ["7d", None, True])
def test_constructor_rejects_ttls_that_are_not_numbers(make_store, ttl):
    with pytest.raises(TypeError):
        make_store(ttl=ttl)


# --- revocation -----------------------------------------------------------------------------------


def test_revoke_family_logs_one_login_out(store):
    token = store.issue("alice")
    other = store.issue("alice")
    assert store.revoke_family(token) is True
    assert store.revoke_family(token) is False  # already revoked
    error = refused(store, token)
    assert error.code == "revoked" and "log in again" in str(error)
    assert store.rotate(other).user_id == "alice"


def test_revoke_family_accepts_any_token_of_the_family(store):
    first = store.issue("alice")
    newest = store.rotate(first).token
    assert store.revoke_family(first) is True  # an old cookie still identifies the login
    assert refused(store, newest).code == "revoked"


def test_revoke_family_of_an_expired_or_unknown_token_is_false(store, clock):
    token = store.issue("alice")
    assert store.revoke_family("A" * 43) is False
    clock.advance(days=7)
    assert store.revoke_family(token) is False


def test_family_id_names_the_login_of_a_live_or_spent_token(store, clock):
    first = store.issue("alice")
    second = store.rotate(first)
    family_id = store.family_id(first)
    assert family_id == store.family_id(second.token) == second.family_id
    assert re.fullmatch(r"[0-9a-f]{32}", family_id)  # 128 random bits
    assert store.family_id(store.issue("alice")) != family_id  # a second login, a second family
    assert store.family_id("A" * 43) is None
    store.revoke_family(first)
    assert store.family_id(first) == family_id  # still known: a logout can name it
    clock.advance(days=7)
    store.issue("bob")
    store.purge_expired()
    assert store.family_id(first) is None  # purged


def test_revoke_family_id_logs_that_login_out_and_no_other(store):
    token = store.issue("alice")
    other = store.issue("alice")
    family_id = store.family_id(token)
    assert store.revoke_family_id(family_id) is True
    assert store.revoke_family_id(family_id) is False  # already revoked
    error = refused(store, token)
    assert error.code == "revoked" and "logged out" in str(error)
    assert store.rotate(other).user_id == "alice"


@pytest.mark.parametrize("garbage", [None, 7, "", "x" * 1000, "f\u00e9" * 8, "0" * 32, ["a"]])
def test_revoke_family_id_answers_false_to_garbage(store, garbage):
    store.issue("alice")
    assert store.revoke_family_id(garbage) is False
    assert store.family_id(garbage) is None


def test_revoke_family_id_of_an_expired_family_is_false(store, clock):
    family_id = store.family_id(store.issue("alice"))
    clock.advance(days=7)
    assert store.revoke_family_id(family_id) is False


def test_revoke_user_logs_out_every_login_of_one_user(store, clock):
    tokens = [store.issue("alice") for _ in range(3)]
    bob = store.issue("bob")
    store.revoke_family(tokens[0])
    assert store.revoke_user("alice") == 2  # only the live ones
    assert store.revoke_user("alice") == 0
    for token in tokens[1:]:
        error = refused(store, token)
        assert error.code == "revoked" and "every other refresh token" in str(error)
    assert store.rotate(bob).user_id == "bob"
    assert store.revoke_user("nobody") == 0


def test_active_families_lists_live_logins_for_notebooks(store, clock):
    first = store.issue("alice")
    clock.advance(seconds=1)
    store.issue("bob", role="admin")
    clock.advance(seconds=1)
    store.revoke_family(store.issue("alice"))
    store.rotate(store.rotate(first).token)
    families = store.active_families()
    assert all(isinstance(f, RefreshFamily) for f in families)
    assert [(f.user_id, f.role, f.created_at, f.tokens_issued) for f in families] == [
        ("alice", "user", START, 3),
        ("bob", "admin", START + 1, 1),
    ]
    assert families[0].expires_at == START + 7 * DAY
    assert [f.user_id for f in store.active_families("bob")] == ["bob"]
    assert store.active_families("nobody") == []
    clock.advance(days=7)
    assert store.active_families() == []


def test_count_includes_spent_revoked_and_expired_tokens_until_purged(store, clock):
    old = store.issue("alice")
    store.rotate(store.rotate(old).token)  # 3 tokens, 2 spent
    store.revoke_family(store.issue("bob"))  # 1 token, revoked
    clock.advance(days=1)
    keeper = store.issue("carol")
    assert store.count() == 5
    clock.advance(days=6)  # alice's and bob's families expire; carol's has a day left
    assert store.count() == 5  # expired, but still stored
    assert store.purge_expired() == 4
    assert store.count() == 1
    assert store.purge_expired() == 0
    assert store.rotate(keeper).user_id == "carol"
    assert refused(store, old).code == "unknown"  # purged: nothing left to recognise it by


def test_2000_rotation_attempts_keep_at_most_cap_plus_one_rows_and_40_days_later_none(store, clock):
    first = token = store.issue("alice")
    cap = store.max_rotations_per_family
    assert cap == 1024  # above the 672 rotations of a 7-day login refreshed every 15 minutes
    outcomes = []
    for _ in range(2000):
        clock.advance(seconds=60)
        try:
            token = store.rotate(token).token
            outcomes.append("rotated")
        except InvalidRefreshTokenError as error:
            outcomes.append(error.code)
            assert "login too old" in str(error) and "log in again" in str(error)
    assert outcomes == ["rotated"] * cap + ["revoked"] * (2000 - cap)  # the family ended at the cap
    assert store.count() == cap + 1  # every spent token and the last one issued, not 2,001
    assert store.active_families() == []
    assert store.family_id(first) is not None  # never forgotten while the family lives
    assert isinstance(refused(store, first), RefreshTokenReuseError)  # still recognised as spent
    clock.advance(days=40)
    assert store.count() == cap + 1  # nothing has written since: the rows wait
    store.issue("bob")  # one write
    assert store.count() == 1  # bob's token only: alice's expired family is gone


def test_a_victims_return_after_100_thief_rotations_is_reuse(store, clock):
    victims = store.issue("alice")  # a thief copies it and spends it first
    thiefs = victims
    for _ in range(100):
        clock.advance(minutes=15)
        thiefs = store.rotate(thiefs).token
    clock.advance(minutes=15)
    error = refused(store, victims)  # the victim comes back with the token the thief spent first
    assert isinstance(error, RefreshTokenReuseError) and error.user_id == "alice"
    assert refused(store, thiefs).code == "revoked"  # the thief's newest token died with the family
    assert store.active_families("alice") == []
    assert store.count() == 101  # every token of the family, all still remembered


def test_every_spent_token_is_reuse_until_the_cap_ends_the_family(make_store):
    store = make_store(max_rotations_per_family=3)
    tokens = [store.issue("alice")]
    for _ in range(3):
        tokens.append(store.rotate(tokens[-1]).token)
    assert store.count() == 4  # tokens[0..2] spent, tokens[3] live
    error = refused(store, tokens[3])  # a fourth rotation would pass the cap: the family ends instead
    assert error.code == "revoked" and "login too old" in str(error)
    assert store.count() == 4  # the refused rotation added nothing
    assert refused(store, tokens[3]).code == "revoked"  # and says so again, for the same reason
    assert "login too old" in str(refused(store, tokens[3]))
    for spent in tokens[:3]:
        assert isinstance(refused(store, spent), RefreshTokenReuseError)  # the oldest included
    assert store.active_families("alice") == []


def test_a_fresh_login_is_not_touched_by_another_familys_cap(make_store):
    store = make_store(max_rotations_per_family=2)
    alice, bob = store.issue("alice"), store.issue("bob")
    for _ in range(2):
        alice = store.rotate(alice).token
    assert refused(store, alice).code == "revoked"
    bob_first = bob
    bob = store.rotate(bob).token
    assert store.count() == 3 + 2  # alice: 2 spent + 1 refused; bob: 1 spent + 1 live
    assert [f.user_id for f in store.active_families()] == ["bob"]
    assert isinstance(refused(store, bob_first), RefreshTokenReuseError)
    again = store.issue("alice")  # logging in again starts a new family with the full allowance
    assert store.rotate(store.rotate(again).token).user_id == "alice"


@pytest.mark.parametrize(("cap", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError), (2.5, TypeError)])
def test_constructor_rejects_bad_caps(make_store, cap, error):
    with pytest.raises(error):
        make_store(max_rotations_per_family=cap)


def test_rotation_purges_expired_families_but_judges_the_presented_token_first(store, clock):
    old = store.issue("alice")
    clock.advance(days=1)
    live = store.issue("bob")
    clock.advance(days=6)  # alice's family has expired; bob's has a day left
    assert refused(store, old).code == "expired"  # judged before the purge that this write triggers
    assert store.count() == 1
    assert refused(store, old).code == "unknown"
    assert store.rotate(live).user_id == "bob"


# --- garbage in, a clean refusal out --------------------------------------------------------------

GARBAGE = [
    None,
    12345,
    1.5,
    b"bytes-token",
    ["list"],
    {"dict": 1},
    "",
    " ",
    "x" * 257,
    "é" * 20,
    "\x00",
    "🍪",
    "\ud800",
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_garbage_tokens_are_refused_cleanly(store, garbage):
    store.issue("alice")
    error = refused(store, garbage)
    assert isinstance(error, InvalidRefreshTokenError) and error.code in ("malformed", "unknown")
    assert store.revoke_family(garbage) is False
    assert store.count() == 1


def test_unknown_and_longest_allowed_tokens_are_unknown(store):
    assert refused(store, "A" * 256).code == "unknown"
    assert refused(store, store.issue("alice") + "x").code == "unknown"


def test_arbitrary_input_only_ever_raises_invalid(store):
    valid = store.issue("alice")

    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300) | st.binary(max_size=64) | st.integers() | st.none())
    def check(candidate):
        if candidate != valid:
            with pytest.raises(InvalidRefreshTokenError):
                store.rotate(candidate)
            assert store.revoke_family(candidate) is False

    check()
    assert store.rotate(valid).user_id == "alice"


def test_error_classes_form_one_family():
    assert issubclass(InvalidRefreshTokenError, RefreshTokenError)
    assert issubclass(RefreshTokenReuseError, RefreshTokenError)
    assert not issubclass(RefreshTokenReuseError, InvalidRefreshTokenError)
    assert issubclass(RefreshTokenError, Exception)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": ""}, ValueError),
        ({"user_id": None}, TypeError),
        ({"user_id": "alice", "role": ""}, ValueError),
        ({"user_id": "alice", "role": 3}, TypeError),
    ],
)
def test_issue_rejects_programming_errors(store, kwargs, error):
    with pytest.raises(error):
        store.issue(**kwargs)
    assert store.count() == 0


def test_store_is_a_context_manager(backend, clock, tmp_path):
    with backend.make(clock, tmp_path) as store:
        assert isinstance(store, RefreshTokenStore)
        assert store.rotate(store.issue("alice")).user_id == "alice"


# --- concurrency ----------------------------------------------------------------------------------


def _race(store: RefreshTokenStore, token: str, racers: int) -> list[object]:
    """Rotate ``token`` from ``racers`` threads released together; each thread's result or error."""
    return run_together(lambda index: store.rotate(token), racers, raise_errors=False)


@pytest.mark.parametrize("racers", [2, 4])
def test_concurrent_rotations_of_one_token_have_exactly_one_winner(store, racers):
    for _ in range(100 if racers == 2 else 40):
        outcomes = _race(store, store.issue("alice"), racers)
        winners = [o for o in outcomes if isinstance(o, RotationResult)]
        losers = [o for o in outcomes if not isinstance(o, RotationResult)]
        assert len(winners) == 1, outcomes
        # Every loser presented a token already spent by the winner: reuse, never a crash.
        assert all(isinstance(o, RefreshTokenReuseError) for o in losers), losers
        # ... so the family is gone, the winner's fresh token included (a client must serialise refreshes).
        assert refused(store, winners[0].token).code == "revoked"
    assert store.active_families() == []


def test_concurrent_logins_and_rotations_lose_nothing(store):
    threads_count, per_thread = 8, 30

    def work(index: int) -> None:
        token = store.issue(f"user{index}")
        for _ in range(per_thread):
            result = store.rotate(token)
            assert result.user_id == f"user{index}"
            token = result.token

    run_together(work, threads_count)
    assert store.count() == threads_count * (per_thread + 1)
    assert sorted(f.tokens_issued for f in store.active_families()) == [per_thread + 1] * threads_count


# --- SQLite specifics -----------------------------------------------------------------------------


def test_sqlite_rows_hold_hashes_and_the_fixed_deadline(clock):
    with SQLiteRefreshStore(clock=clock) as store:
        first = store.issue("alice", role="admin")
        second = store.rotate(first).token
        conn = store.connection
        assert conn.execute("SELECT user_id, role, expires_at, revoked_at FROM refresh_families").fetchall() == [
            ("alice", "admin", START + 7 * DAY, None)
        ]
        rows = dict(conn.execute("SELECT id, used_at FROM refresh_tokens").fetchall())
        assert rows == {hash_refresh_token(first): START, hash_refresh_token(second): None}


def test_sqlite_file_survives_a_restart(tmp_path, clock):
    with SQLiteRefreshStore(tmp_path / "refresh.db", clock=clock) as first:
        token = first.issue("alice")
        spent = first.rotate(token).token
    with SQLiteRefreshStore(tmp_path / "refresh.db", clock=clock) as second:
        assert isinstance(refused(second, token), RefreshTokenReuseError)  # the spent mark survived too
        assert refused(second, spent).code == "revoked"


def test_two_stores_on_one_file_cannot_both_spend_a_token(tmp_path, clock):
    # Like two server processes sharing the database: BEGIN IMMEDIATE serialises their rotations.
    path = tmp_path / "refresh.db"
    with SQLiteRefreshStore(path, clock=clock) as a, SQLiteRefreshStore(path, clock=clock) as b:
        for _ in range(20):
            token = a.issue("alice")
            outcomes = run_together(lambda index, token=token: (a, b)[index].rotate(token), 2, raise_errors=False)
            assert sorted(type(o).__name__ for o in outcomes) == ["RefreshTokenReuseError", "RotationResult"]


def test_one_file_can_hold_sessions_refresh_tokens_and_the_denylist(tmp_path, clock):
    path = tmp_path / "auth.db"
    with (
        SQLiteStore(path, clock=clock) as sessions,
        SQLiteRefreshStore(path, clock=clock) as refresh,
        SQLiteDenylist(path, clock=clock) as denylist,
    ):
        session_id = sessions.create("alice")
        token = refresh.issue("alice")
        denylist.deny("jti-1", START + 60)
        assert sessions.get(session_id) is not None
        assert refresh.rotate(token).user_id == "alice"
        assert denylist.is_denied("jti-1")
        tables = {row[0] for row in refresh.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"sessions", "refresh_families", "refresh_tokens", "jti_denylist"} <= tables


def test_sqlite_lookups_use_the_indexes(clock):
    with SQLiteRefreshStore(clock=clock) as store:
        conn = store.connection

        def plan(sql: str, *params: object) -> str:
            return " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

        assert "PRIMARY KEY" in plan("SELECT * FROM refresh_tokens WHERE id = ?", "x")
        assert "refresh_families_user_id" in plan("SELECT * FROM refresh_families WHERE user_id = ?", "x")
        assert "refresh_tokens_family_seq" in plan("DELETE FROM refresh_tokens WHERE family_id = ?", "x")


def test_sqlite_close_is_idempotent_and_final(clock):
    store = SQLiteRefreshStore(clock=clock)
    store.close()
    store.close()
    assert "closed" in repr(store)
    with pytest.raises(sqlite3.ProgrammingError):
        store.issue("alice")


# --- grace period (opt-in) -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [MemoryRefreshStore, SQLiteRefreshStore])
def test_grace_period_returns_the_same_successor_within_the_window(make) -> None:
    clock = FrozenClock()
    store = make(clock=clock, grace_period=10)
    first = store.issue("alice")
    successor = store.rotate(first)
    clock.advance(seconds=9)
    again = store.rotate(first)
    assert again.token == successor.token and again.family_id == successor.family_id
    assert len(store.active_families("alice")) == 1
    assert store.rotate(successor.token).token != successor.token  # the successor rotates normally


@pytest.mark.parametrize("make", [MemoryRefreshStore, SQLiteRefreshStore])
def test_grace_period_ends_and_reuse_is_detected_again(make) -> None:
    clock = FrozenClock()
    store = make(clock=clock, grace_period=10)
    first = store.issue("alice")
    store.rotate(first)
    clock.advance(seconds=10)
    with pytest.raises(RefreshTokenReuseError):
        store.rotate(first)
    assert store.active_families("alice") == []


def test_grace_covers_only_the_token_spent_last() -> None:
    clock = FrozenClock()
    store = MemoryRefreshStore(clock=clock, grace_period=10)
    first = store.issue("alice")
    second = store.rotate(first).token
    store.rotate(second)
    with pytest.raises(RefreshTokenReuseError):
        store.rotate(first)  # its successor is spent too: a replay of it is reuse at once


@pytest.mark.parametrize("make", [MemoryRefreshStore, SQLiteRefreshStore])
def test_the_cap_ends_the_grace_too(make) -> None:
    clock = FrozenClock()
    store = make(clock=clock, grace_period=10, max_rotations_per_family=2)
    first = store.issue("alice")
    second = store.rotate(first).token
    last = store.rotate(second)
    clock.advance(seconds=1)
    assert refused(store, last.token).code == "revoked"  # the cap ends the family
    with pytest.raises(RefreshTokenReuseError):
        store.rotate(second)  # within its grace, but the successor it would get back is dead
    assert store.count() == 3


@pytest.mark.parametrize("revoke", ["family", "user", "family_id"])
def test_revocation_ends_the_grace(revoke: str) -> None:
    clock = FrozenClock()
    store = SQLiteRefreshStore(clock=clock, grace_period=10)
    first = store.issue("alice")
    successor = store.rotate(first)
    if revoke == "family":
        store.revoke_family(successor.token)
    elif revoke == "user":
        store.revoke_user("alice")
    else:
        store.revoke_family_id(successor.family_id)
    with pytest.raises(RefreshTokenReuseError):
        store.rotate(first)


def test_strict_rotation_is_the_default_and_concurrent_graced_rotations_agree() -> None:
    assert MemoryRefreshStore().grace_period == 0
    store = SQLiteRefreshStore(clock=FrozenClock(), grace_period=5)
    first = store.issue("alice")
    barrier = threading.Barrier(8)
    results: list[str] = []

    def tab() -> None:
        barrier.wait()
        results.append(store.rotate(first).token)

    threads = [threading.Thread(target=tab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert store.count() == 2


@pytest.mark.parametrize("bad", [-1, True, "5", 7 * 24 * 3600.0])
def test_grace_period_is_checked(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        MemoryRefreshStore(grace_period=bad)  # type: ignore[arg-type]
