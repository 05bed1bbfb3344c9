"""Three ways to log a user out everywhere: how long a stolen token lives, the state kept, the lookups made."""

from __future__ import annotations

import pytest

from helpers import tokens
from helpers.clock import FrozenClock
from helpers.logout_everywhere import (
    DenylistEverywhere,
    ShortTtlOnly,
    StolenTokenReplay,
    TokenVersions,
    TokenVersionStore,
    replay_after_logout_everywhere,
)

KEY = b"test key for logout everywhere, 32+ bytes long"
MECHANISMS = [ShortTtlOnly, DenylistEverywhere, TokenVersions]


def alice_claims(clock: FrozenClock, ver: object) -> dict[str, object]:
    """An access token's claims for alice, valid for a minute, with ``ver`` as given."""
    now = int(clock.now())
    return {
        "iss": "auth-course",
        "aud": "auth-course-api",
        "sub": "alice",
        "iat": now,
        "exp": now + 60,
        "jti": "x" * 22,
        "ver": ver,
    }


@pytest.mark.parametrize("make, minutes", [(ShortTtlOnly, 15), (DenylistEverywhere, 0), (TokenVersions, 0)])
def test_stolen_token_works_for(make, minutes: int) -> None:
    clock = FrozenClock()
    replay = replay_after_logout_everywhere(make(KEY, clock), clock, "alice", 20)
    assert replay.minutes_working == minutes
    assert replay.accepted[minutes:] == (False,) * (20 - minutes)


@pytest.mark.parametrize("make, per_request", [(ShortTtlOnly, 0), (DenylistEverywhere, 1), (TokenVersions, 1)])
def test_lookups_per_request(make, per_request: int) -> None:
    verifier = make(KEY, FrozenClock())
    token = verifier.issue("alice")
    assert all(verifier.verify(token) for _ in range(10))
    assert verifier.lookups == 10 * per_request


@pytest.mark.parametrize("make", MECHANISMS)
def test_other_users_and_new_tokens_keep_working(make) -> None:
    clock = FrozenClock()
    verifier = make(KEY, clock)
    bob = verifier.issue("bob")
    verifier.logout_everywhere("alice")
    assert verifier.verify(bob) and verifier.verify(verifier.issue("alice"))


@pytest.mark.parametrize("make", MECHANISMS)
def test_foreign_and_mistyped_tokens_are_refused(make) -> None:
    clock = FrozenClock()
    verifier = make(KEY, clock)
    claims = alice_claims(clock, ver=0)
    assert not verifier.verify(tokens.encode(claims, KEY))  # typ JWT, not at+jwt
    assert not verifier.verify(tokens.encode(claims, b"another key, also 32 bytes or more", headers={"typ": "at+jwt"}))
    assert not verifier.verify("garbage")


def test_state_kept() -> None:
    clock = FrozenClock()
    made = {make: make(KEY, clock) for make in MECHANISMS}
    for verifier in made.values():
        for _ in range(3):
            verifier.issue("alice")
        verifier.logout_everywhere("alice")
    assert made[ShortTtlOnly].state_bytes() == 0
    assert made[DenylistEverywhere].state_bytes() == 3 * (22 + 8)
    assert made[TokenVersions].state_bytes() == len("alice") + 8
    clock.advance(minutes=16)
    assert made[DenylistEverywhere].state_bytes() == 0  # denied entries lapse with their tokens
    assert made[TokenVersions].state_bytes() == len("alice") + 8  # a version is kept for good


def test_version_claim_must_be_an_exact_int() -> None:
    clock = FrozenClock()
    verifier = TokenVersions(KEY, clock)
    for ver in (True, 0.0, "0", None):
        claims = alice_claims(clock, ver=ver)
        assert not verifier.verify(tokens.encode(claims, KEY, headers={"typ": "at+jwt"})), ver


def test_version_store() -> None:
    store = TokenVersionStore()
    assert store.current("alice") == 0 and store.lookups == 1
    assert store.bump("alice") == 1 and store.peek("alice") == 1 and store.lookups == 1
    assert StolenTokenReplay((True, False, True, False)).minutes_working == 3
