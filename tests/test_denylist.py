"""The jti denylist contract, run unchanged against every backend, plus SQLite-specific checks."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_together

from helpers.clock import FrozenClock
from helpers.denylist import MAX_JTI_LENGTH, JtiDenylist, MemoryDenylist, SQLiteDenylist

START = 1_700_000_000.0

DENYLIST_FACTORIES: dict[str, Callable[[FrozenClock, Path], JtiDenylist]] = {
    "memory": lambda clock, tmp_path: MemoryDenylist(clock=clock),
    "sqlite-memory": lambda clock, tmp_path: SQLiteDenylist(":memory:", clock=clock),
    "sqlite-file": lambda clock, tmp_path: SQLiteDenylist(tmp_path / "denylist.db", clock=clock),
}


@pytest.fixture(params=sorted(DENYLIST_FACTORIES))
def make_denylist(
    request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path, closing
) -> Callable[[], JtiDenylist]:
    """Build denylists of the current backend, closed after the test."""
    return lambda: closing(DENYLIST_FACTORIES[request.param](clock, tmp_path))


@pytest.fixture
def denylist(make_denylist: Callable[[], JtiDenylist]) -> JtiDenylist:
    return make_denylist()


# --- the contract ---------------------------------------------------------------------------------


def test_a_denied_jti_is_refused_until_the_token_would_expire(denylist, clock):
    assert denylist.deny("jti-1", START + 900) is True
    assert denylist.is_denied("jti-1") is True
    assert denylist.is_denied("jti-2") is False
    clock.advance(seconds=899)
    assert denylist.is_denied("jti-1") is True
    clock.advance(seconds=1)  # at exp the token is dead anyway, so the entry no longer counts
    assert denylist.is_denied("jti-1") is False


def test_denying_an_already_expired_token_stores_nothing(denylist):
    assert denylist.deny("old", START) is False
    assert denylist.deny("older", START - 60) is False
    assert denylist.count() == 0 and denylist.is_denied("old") is False


def test_denying_again_keeps_the_later_deadline(denylist, clock):
    denylist.deny("jti", START + 600)
    assert denylist.deny("jti", START + 60) is True  # an earlier deadline must not shorten it
    clock.advance(seconds=300)
    assert denylist.is_denied("jti") is True
    denylist.deny("jti", START + 1200)
    clock.advance(seconds=600)
    assert denylist.is_denied("jti") is True
    assert denylist.count() == 1


def test_count_includes_lapsed_entries_until_purged(denylist, clock):
    denylist.deny("a", START + 60)
    denylist.deny("b", START + 60)
    denylist.deny("c", START + 3600)
    clock.advance(seconds=60)
    assert denylist.count() == 3  # lapsed, but still stored
    assert denylist.purge_expired() == 2
    assert denylist.count() == 1 and denylist.is_denied("c")
    assert denylist.purge_expired() == 0


def test_the_next_deny_or_cut_off_purges_lapsed_entries_by_itself(denylist, clock):
    for index in range(100):
        denylist.deny(f"jti-{index}", START + 900)
    denylist.cut_off("alice", START, START + 900)
    clock.advance(days=40)
    assert denylist.is_denied("jti-0") is False and denylist.is_revoked("jti-1", "alice", 0) is False
    assert denylist.count() == 101  # lookups never purge
    denylist.deny("fresh", clock.now() + 900)  # one write
    assert denylist.count() == 1
    clock.advance(days=1)
    denylist.cut_off("bob", clock.now(), clock.now() + 900)
    assert denylist.count() == 1  # "fresh" lapsed and went; bob's cut-off stays


def test_lookups_count_every_is_denied_call_and_nothing_else(denylist):
    assert denylist.lookups == 0
    denylist.deny("jti", START + 60)
    denylist.purge_expired()
    denylist.count()
    assert denylist.lookups == 0
    for candidate in ("jti", "other", None, ""):
        denylist.is_denied(candidate)  # type: ignore[arg-type]
    assert denylist.lookups == 4
    assert denylist.reset_lookups() == 4
    assert denylist.lookups == 0


def test_a_cut_off_revokes_the_users_older_tokens_until_it_lapses(denylist, clock):
    denylist.cut_off("alice", issued_before=START, expires_at=START + 900)
    assert denylist.is_revoked("jti-old", "alice", START - 1) is True
    assert denylist.is_revoked("jti-new", "alice", START) is False  # issued at the cut-off: not before it
    assert denylist.is_revoked("jti-new", "alice", START + 5) is False
    assert denylist.is_revoked("jti-old", "bob", START - 1) is False  # other users untouched
    clock.advance(seconds=900)  # every token the cut-off could catch has expired by itself
    assert denylist.is_revoked("jti-old", "alice", START - 1) is False
    assert denylist.count() == 1
    assert denylist.purge_expired() == 1
    assert denylist.count() == 0


def test_is_revoked_also_answers_for_denied_jtis(denylist):
    denylist.deny("stolen", START + 60)
    assert denylist.is_revoked("stolen", "alice", START) is True
    assert denylist.is_revoked("other", "alice", START) is False
    assert denylist.is_revoked("stolen", None, START) is True  # type: ignore[arg-type]


def test_cut_offs_never_shrink(denylist, clock):
    denylist.cut_off("alice", issued_before=START + 10, expires_at=START + 900)
    denylist.cut_off("alice", issued_before=START, expires_at=START + 60)  # earlier on both counts
    assert denylist.count() == 1
    clock.advance(seconds=100)
    assert denylist.is_revoked("jti", "alice", START + 5) is True


def test_a_cut_off_that_has_already_lapsed_stores_nothing(denylist):
    denylist.cut_off("alice", issued_before=START, expires_at=START)
    assert denylist.count() == 0


@pytest.mark.parametrize("issued_at", [None, "yesterday", math.nan, math.inf, True])
def test_a_token_time_that_is_not_a_number_counts_as_before_any_cut_off(denylist, issued_at):
    assert denylist.is_revoked("jti", "alice", issued_at) is False  # no cut-off: nothing to be before
    denylist.cut_off("alice", issued_before=START, expires_at=START + 60)
    assert denylist.is_revoked("jti", "alice", issued_at) is True  # fail closed


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": ""}, ValueError),
        ({"user_id": 7}, TypeError),
        ({"issued_before": "now"}, TypeError),
        ({"expires_at": math.nan}, ValueError),
    ],
)
def test_cut_off_rejects_programming_errors(denylist, kwargs, error):
    arguments = {"user_id": "alice", "issued_before": START, "expires_at": START + 60, **kwargs}
    with pytest.raises(error):
        denylist.cut_off(**arguments)
    assert denylist.count() == 0


def test_is_revoked_is_one_counted_lookup(denylist):
    denylist.cut_off("alice", START, START + 60)
    denylist.deny("jti", START + 60)
    denylist.is_revoked("jti", "alice", START - 1)
    denylist.is_revoked("other", "bob", START)
    denylist.is_revoked(None, None, None)  # type: ignore[arg-type]
    assert denylist.lookups == 3


GARBAGE = [None, 12345, 1.5, b"bytes", ["list"], {"dict": 1}, "", "x" * (MAX_JTI_LENGTH + 1), "é", "\ud800", "🍪"]


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_garbage_jtis_are_ignored_safely(denylist, garbage):
    assert denylist.deny(garbage, START + 60) is False
    assert denylist.is_denied(garbage) is False
    assert denylist.count() == 0


@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_garbage_in_is_revoked_matches_nothing(denylist, garbage):
    denylist.cut_off("alice", START, START + 60)
    assert denylist.is_revoked(garbage, garbage, START + 1) is False
    assert denylist.is_revoked(garbage, "alice", START - 1) is True


def test_the_longest_allowed_jti_works(denylist):
    jti = "j" * MAX_JTI_LENGTH
    assert denylist.deny(jti, START + 60) is True and denylist.is_denied(jti) is True


def test_arbitrary_input_never_raises(denylist):
    denylist.deny("known", START + 60)

    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300) | st.binary(max_size=64) | st.integers() | st.none())
    def check(candidate):
        if candidate != "known":
            assert denylist.is_denied(candidate) is False

    check()
    assert denylist.is_denied("known") is True


@pytest.mark.parametrize(
    ("expires_at", "error"),
    [("soon", TypeError), (None, TypeError), (True, TypeError), (math.nan, ValueError), (math.inf, ValueError)],
)
def test_deny_rejects_a_deadline_that_is_not_a_time(denylist, expires_at, error):
    with pytest.raises(error):
        denylist.deny("jti", expires_at)
    assert denylist.count() == 0


def test_denylist_is_a_context_manager(clock, tmp_path):
    for make in DENYLIST_FACTORIES.values():
        with make(clock, tmp_path) as denylist:
            assert isinstance(denylist, JtiDenylist)
            assert denylist.deny("jti", START + 1) and denylist.is_denied("jti")


def test_concurrent_threads_lose_no_entries_and_no_lookups(denylist):
    threads_count, per_thread = 8, 50

    def work(index: int) -> None:
        for n in range(per_thread):
            assert denylist.deny(f"{index}-{n}", START + 60 + n)
            assert denylist.is_denied(f"{index}-{n}")

    run_together(work, threads_count)
    assert denylist.count() == threads_count * per_thread
    assert denylist.lookups == threads_count * per_thread


# --- SQLite specifics -----------------------------------------------------------------------------


def test_sqlite_file_is_shared_and_survives_a_restart(tmp_path, clock):
    path = tmp_path / "denylist.db"
    with SQLiteDenylist(path, clock=clock) as a, SQLiteDenylist(path, clock=clock) as b:
        a.deny("jti", START + 60)
        assert b.is_denied("jti")  # another process's revocation is seen at once
    with SQLiteDenylist(path, clock=clock) as again:
        assert again.is_denied("jti") and again.count() == 1


def test_sqlite_stores_the_jti_and_its_deadline(clock):
    with SQLiteDenylist(clock=clock) as denylist:
        denylist.deny("abc", START + 900)
        assert denylist.connection.execute("SELECT jti, expires_at FROM jti_denylist").fetchall() == [
            ("abc", START + 900)
        ]
        plan = " ".join(
            row[-1]
            for row in denylist.connection.execute(
                "EXPLAIN QUERY PLAN DELETE FROM jti_denylist WHERE expires_at <= ?", (0,)
            )
        )
        assert "jti_denylist_expires_at" in plan


def test_sqlite_close_is_idempotent_and_final(clock):
    denylist = SQLiteDenylist(clock=clock)
    denylist.close()
    denylist.close()
    assert "closed" in repr(denylist)
    with pytest.raises(sqlite3.ProgrammingError):
        denylist.deny("jti", START + 60)


def test_memory_repr_shows_entries_and_lookups(clock):
    denylist = MemoryDenylist(clock=clock)
    denylist.deny("jti", START + 60)
    denylist.is_denied("jti")
    assert repr(denylist) == f"MemoryDenylist(clock={clock!r}, entries=1, lookups=1)"
