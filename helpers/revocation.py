"""Revocation, measured: replay a stolen credential after the victim logs out, against a live server.

Chapter 05 asks one question of each way to remember a login: once the user has logged out, for
how many minutes does a credential a thief copied *before* the logout still open the API? The
answer is not argued but measured. ``replay_after_logout`` starts a real server (``helpers.web``)
on a ``FrozenClock``, logs a victim in, lets a thief copy what the victim holds, logs the victim
out the way the strategy allows, then has the thief call ``GET /me`` every ``interval_minutes``
simulated minutes, advancing the clock between requests. It returns plain data (minutes since
logout, accepted or not), which ``exposure_minutes`` turns into one number.

The strategies (``STRATEGIES``):

* ``"session"``: the thief copied the session cookie; logout deletes the session.
* ``"jwt"``: the thief copied the access token; logout cannot touch it (no denylist), so the
  client just forgets its copy.
* ``"jwt+refresh"``: the thief copied the access token *and* the refresh cookie; logout at
  ``/logout`` with the access token (where a browser never sends the ``Path=/refresh`` cookie)
  revokes the refresh family named by the token's ``sid``, so when the access token dies the
  thief's ``POST /refresh`` is refused too.
* ``"jwt+denylist"``: logout also puts the access token's ``jti`` on a denylist, refused from then
  on, at the price of one denylist lookup on every API request (counted).

``thief_refreshes_first`` turns the question around: no logout, a thief who copied the refresh
cookie and spends it before the victim does. While the victim stays away, nothing tells the two
apart: the thief rotates the family until its fixed deadline. Reuse detection fires when the victim
comes back with the spent token, however many times the thief has rotated since: a family remembers
every token it spent while it lives (it ends instead at ``max_rotations_per_family`` rotations).

``race_rotation`` presents one refresh token from many threads at the same instant, as two tabs (or a
thief and the user) can, and reports how a store's ``rotate`` answered each: exactly one rotation may
succeed, every other one is a reuse, and the family ends revoked.

``logout_ends`` asks the same question of every credential one login creates at once (session
cookie, refresh cookie, access token), on a hybrid server, with or without a denylist.
``denylist_size_over_time`` runs many logouts through a server with a denylist and reports how
many entries the list holds each minute when it is purged every minute.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookiejar import Cookie
from typing import TypeVar

import requests

from .clock import FrozenClock
from .denylist import MemoryDenylist
from .refresh import DEFAULT_REFRESH_TTL, RefreshTokenStore
from .server import serve
from .users import UserDirectory
from .web import ACCESS_TOKEN_TTL, REFRESH_COOKIE, SESSION_COOKIE, auth_config, bearer, create_app

__all__ = [
    "STRATEGIES",
    "DenylistGrowth",
    "LogoutOutcome",
    "Replay",
    "RotationRace",
    "StolenRefresh",
    "denylist_size_over_time",
    "exposure_minutes",
    "logout_ends",
    "race_rotation",
    "replay_after_logout",
    "thief_refreshes_first",
]

Store = TypeVar("Store")

STRATEGIES = ("session", "jwt", "jwt+refresh", "jwt+denylist")
DEMO_SECRET = b"DEMO ONLY: chapter 05 revocation replay secret, 32+ bytes"  # HS256 key for the replay servers


@dataclass(frozen=True)
class Replay:
    """What one replay measured: when the thief tried after logout, and whether the server said yes."""

    strategy: str
    access_ttl: int  # seconds the access token lived (unused by "session")
    minutes: tuple[float, ...]  # minutes since logout of each replayed request
    accepted: tuple[bool, ...]  # True where GET /me answered 200 to the stolen credential
    logout_answer: dict[str, object]  # the JSON the victim's logout received ({} when the client only forgot)
    refresh_statuses: tuple[int, ...]  # statuses of the thief's POST /refresh attempts ("jwt+refresh" only)
    victim_requests: int  # GET /me requests the victim made before logging out
    victim_lookups: int  # denylist lookups the server made answering those (0 without a denylist)


@dataclass(frozen=True)
class DenylistGrowth:
    """The denylist's size, minute by minute, while logouts arrive and lapsed entries are purged."""

    minutes: tuple[int, ...]  # simulated minutes since the start
    stored: tuple[int, ...]  # entries stored after that minute's purge
    denied_total: tuple[int, ...]  # tokens denied so far (what the list would hold if never purged)


def exposure_minutes(accepted: Sequence[bool], interval: float) -> float:
    """Minutes from logout to the end of the last interval in which the stolen credential was accepted (0 if never)."""
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    last = max((index for index, ok in enumerate(accepted) if ok), default=-1)
    return (last + 1) * interval


def _plant(client: requests.Session, cookies: Sequence[Cookie]) -> None:
    """Replace ``client``'s cookie jar with copies of ``cookies`` (what a thief who copied them would send)."""
    client.cookies.clear()
    for cookie in cookies:
        client.cookies.set_cookie(copy.copy(cookie))


def _check_replay_args(strategy: str, interval_minutes: float, duration_minutes: float) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if interval_minutes <= 0 or duration_minutes < 0:
        raise ValueError("interval_minutes must be positive and duration_minutes not negative")


def replay_after_logout(
    strategy: str,
    users: UserDirectory,
    username: str,
    password: str,
    *,
    clock: FrozenClock,
    access_ttl: int = ACCESS_TOKEN_TTL,
    interval_minutes: float = 1,
    duration_minutes: float = 60,
    stop_when_refused: bool = False,
    uses_before_logout: int = 2,
) -> Replay:
    """Log in, let a thief copy the credential, log out, then replay it every interval on a live server."""
    _check_replay_args(strategy, interval_minutes, duration_minutes)
    denylist = MemoryDenylist(clock) if strategy == "jwt+denylist" else None
    app = create_app(
        "session" if strategy == "session" else "jwt",
        clock=clock,
        users=users,
        secret=DEMO_SECRET,
        access_ttl=access_ttl,
        denylist=denylist,
    )
    with serve(app) as srv:
        victim, thief = srv.client(), srv.client()
        login = victim.post(srv.url + "/login", json={"username": username, "password": password})
        login.raise_for_status()
        token = login.json().get("access_token", "")
        wanted = SESSION_COOKIE if strategy == "session" else REFRESH_COOKIE
        stolen = [c for c in victim.cookies if c.name == wanted and strategy in ("session", "jwt+refresh")]
        credential = bearer(token) if token else {}
        if denylist is not None:
            denylist.reset_lookups()
        for _ in range(uses_before_logout):  # the victim uses the API a little, to count its lookups
            victim.get(srv.url + "/me", headers=credential).raise_for_status()
        victim_lookups = denylist.reset_lookups() if denylist is not None else 0
        logout_answer: dict[str, object] = {}
        if strategy == "session":
            logout_answer = victim.post(srv.url + "/logout").json()
        elif strategy in ("jwt+refresh", "jwt+denylist"):  # the token's sid names the family to revoke
            logout_answer = victim.post(srv.url + "/logout", headers=credential).json()
        victim.cookies.clear()  # whatever the strategy, the victim's client forgets everything
        logged_out_at = clock.now()
        minutes, accepted, refresh_statuses = [], [], []
        for step in range(int(duration_minutes // interval_minutes) + 1):
            _plant(thief, stolen)
            ok = thief.get(srv.url + "/me", headers=credential).status_code == 200
            minutes.append(round(step * interval_minutes, 6))
            accepted.append(ok)
            if not ok and stolen and strategy == "jwt+refresh":  # access token refused: try the stolen refresh cookie
                answer = thief.post(srv.url + "/refresh", json={})
                refresh_statuses.append(answer.status_code)
                if answer.status_code == 200:
                    token = answer.json()["access_token"]
                stolen = [c for c in thief.cookies if c.name == REFRESH_COOKIE]  # rotated, or [] once refused
            if stop_when_refused and not ok:
                break
            # Step to logout + n intervals (rounded to µs), so float steps never drift across an exp.
            target = logged_out_at + round((step + 1) * interval_minutes * 60, 6)
            clock.advance(seconds=max(0.0, target - clock.now()))
    return Replay(
        strategy,
        access_ttl,
        tuple(minutes),
        tuple(accepted),
        logout_answer,
        tuple(refresh_statuses),
        uses_before_logout,
        victim_lookups,
    )


@dataclass(frozen=True)
class StolenRefresh:
    """A copied refresh cookie spent first by the thief: each of the thief's refreshes, and the victim's return."""

    minutes: tuple[float, ...]  # minutes since the theft of each of the thief's POST /refresh
    statuses: tuple[int, ...]  # their HTTP statuses (200: a fresh access token and a rotated cookie)
    victim_minute: float | None  # when the victim came back and refreshed (None: never, within the run)
    victim_status: int | None  # the status of the victim's refresh
    victim_reason: str  # the server's reason for refusing it ("" if accepted or never tried)
    family_minutes: float  # the family's fixed lifetime from login, in minutes


def thief_refreshes_first(
    users: UserDirectory,
    username: str,
    password: str,
    *,
    clock: FrozenClock,
    every_minutes: float,
    duration_minutes: float,
    victim_returns_minutes: float | None = None,
    access_ttl: int = ACCESS_TOKEN_TTL,
    refresh_ttl: float = DEFAULT_REFRESH_TTL,
    refresh_store: RefreshTokenStore | None = None,
) -> StolenRefresh:
    """Log in, let a thief copy the refresh cookie and refresh every ``every_minutes``; the victim may come back once.

    The server keeps refresh tokens in ``refresh_store`` (on ``clock``; its own ``ttl`` then replaces
    ``refresh_ttl``), by default the app's in-memory SQLite store.
    """
    _check_replay_args("jwt", every_minutes, duration_minutes)
    app = create_app(
        "jwt",
        clock=clock,
        users=users,
        secret=DEMO_SECRET,
        access_ttl=access_ttl,
        refresh_store=refresh_store,
        refresh_ttl=refresh_ttl,
        explain_errors=True,
    )
    store = auth_config(app).refresh_store
    assert store is not None  # a "jwt" app always has one
    family_minutes = store.ttl / 60
    with serve(app) as srv:
        victim, thief = srv.client(), srv.client()
        victim.post(srv.url + "/login", json={"username": username, "password": password}).raise_for_status()
        _plant(thief, [c for c in victim.cookies if c.name == REFRESH_COOKIE])
        stolen_at = clock.now()
        minutes, statuses = [], []
        victim_status, victim_reason = None, ""
        for step in range(int(duration_minutes // every_minutes) + 1):
            minute = round(step * every_minutes, 6)
            clock.advance(seconds=max(0.0, stolen_at + minute * 60 - clock.now()))
            if victim_returns_minutes is not None and victim_status is None and minute >= victim_returns_minutes:
                answer = victim.post(srv.url + "/refresh", json={})  # the victim's cookie: the one the thief spent
                victim_status = answer.status_code
                victim_reason = "" if answer.ok else answer.json().get("reason", "")
            minutes.append(minute)
            statuses.append(thief.post(srv.url + "/refresh", json={}).status_code)
    return StolenRefresh(
        tuple(minutes),
        tuple(statuses),
        victim_returns_minutes if victim_status else None,
        victim_status,
        victim_reason,
        family_minutes,
    )


@dataclass(frozen=True)
class LogoutOutcome:
    """One logout on a hybrid server: what it answered, and the status each copied credential got afterwards."""

    logout_answer: dict[str, object]
    after_logout: dict[str, int]  # "session cookie" / "refresh cookie" / "access token" -> HTTP status


def logout_ends(
    users: UserDirectory, username: str, password: str, *, clock: FrozenClock, denylist: bool = False
) -> LogoutOutcome:
    """Log in on a live ``"both"`` server, let a thief copy every credential, log out once; replay each copy."""
    app = create_app(
        "both", clock=clock, users=users, secret=DEMO_SECRET, denylist=MemoryDenylist(clock) if denylist else None
    )
    with serve(app) as srv:
        victim, thief = srv.client(), srv.client()
        token = victim.post(srv.url + "/login", json={"username": username, "password": password}).json()[
            "access_token"
        ]
        thief.cookies.update(victim.cookies)  # both cookies, each with its own Path
        answer = victim.post(srv.url + "/logout", headers=bearer(token)).json()  # cookie and token: a browser page
        after = {
            "session cookie": thief.get(srv.url + "/me").status_code,
            "refresh cookie": thief.post(srv.url + "/refresh", json={}).status_code,
            "access token": srv.client().get(srv.url + "/api/data", headers=bearer(token)).status_code,
        }
    return LogoutOutcome(answer, after)


def denylist_size_over_time(
    users: UserDirectory,
    username: str,
    password: str,
    logout_minutes: Sequence[int],
    *,
    clock: FrozenClock,
    access_ttl: int = ACCESS_TOKEN_TTL,
    duration_minutes: int = 120,
) -> DenylistGrowth:
    """Log in and out at each of ``logout_minutes`` on a live server with a denylist, purging it every minute."""
    if duration_minutes < 0 or any(not 0 <= m <= duration_minutes for m in logout_minutes):
        raise ValueError("every logout minute must lie within 0 .. duration_minutes")
    denylist = MemoryDenylist(clock)
    app = create_app("jwt", clock=clock, users=users, secret=DEMO_SECRET, access_ttl=access_ttl, denylist=denylist)
    minutes, stored, denied_total, denied = [], [], [], 0
    with serve(app) as srv:
        client = srv.client()
        for minute in range(duration_minutes + 1):
            for _ in range(list(logout_minutes).count(minute)):
                token = client.post(srv.url + "/login", json={"username": username, "password": password}).json()[
                    "access_token"
                ]
                answer = client.post(srv.url + "/logout", headers=bearer(token)).json()
                denied += bool(answer.get("token_revoked"))
            denylist.purge_expired()
            minutes.append(minute)
            stored.append(denylist.count())
            denied_total.append(denied)
            clock.advance(minutes=1)
    return DenylistGrowth(tuple(minutes), tuple(stored), tuple(denied_total))


@dataclass(frozen=True)
class RotationRace:
    """One refresh token presented by many threads at once: how each was answered, and what became of the winner."""

    outcomes: dict[str, int]  # "rotated", or the name of the exception raised -> how many threads got it (sorted)
    successor_rotates: bool  # True if the token a winner received could be rotated afterwards


def race_rotation(
    rotate: Callable[[Store, str], str], store: Store, token: str, tabs: int, switch_interval: float = 1e-6
) -> RotationRace:
    """Call ``rotate(store, token)`` from ``tabs`` threads released at once; count the outcomes, then try a winner's token.

    The interpreter is told to switch threads every ``switch_interval`` seconds meanwhile, so a check
    and an update that are not one atomic step are interleaved as often as possible.
    """
    if tabs < 2:
        raise ValueError(f"a race needs at least two threads, got {tabs}")
    start, outcomes, winners, guard = threading.Barrier(tabs), Counter[str](), [], threading.Lock()

    def tab() -> None:
        start.wait()
        try:
            successor, outcome = rotate(store, token), "rotated"
        except Exception as error:  # whatever the store raises is the outcome being counted
            successor, outcome = None, type(error).__name__
        with guard:
            outcomes[outcome] += 1
            winners.extend([successor] if successor is not None else [])

    threads = [threading.Thread(target=tab) for _ in range(tabs)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    try:
        survived = bool(winners) and rotate(store, winners[0]) is not None
    except Exception:  # refused, as a revoked family's token must be
        survived = False
    return RotationRace(dict(sorted(outcomes.items())), survived)
