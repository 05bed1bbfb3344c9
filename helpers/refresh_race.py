"""The multi-tab refresh race: tabs sharing one refresh cookie, measured over HTTPS, and its two fixes.

Every tab of a single-page app keeps its own access token in memory, but the browser gives them one
cookie jar, so they share one refresh cookie. When the access token expires (or a laptop wakes up),
several tabs find out at once and each sends ``POST /refresh`` before any answer has come back: they
all present the *same* refresh token. Under strict rotation with reuse detection (``helpers.refresh``)
one of them wins and every other one is a reuse, which revokes the login: a false "theft" logout.

``race_tabs`` reproduces it against a live server: each tab is a thread with its own ``requests``
client, holding a copy of the one refresh cookie; a barrier releases them together after each has
seen its access token refused, and no tab sees another's answer, so every tab presents the same
token: the case of tabs whose refreshes all leave before the first answer comes back. That is the
set-up, not a measurement of how often browsers do it; it gives the same outcome on every run.
Two fixes are measured the same way:

* a server-side grace period (``RefreshTokenStore(grace_period=...)``): the token spent last, presented
  again within the period, gets the same successor back;
* client-side single-flight (``SingleFlight``): the tabs share one lock (a browser's Web Locks API or
  a BroadcastChannel), one tab refreshes and the others take its result, so the server sees one
  refresh and the strict rule never fires.

``thief_window`` measures what each fix costs: how long after the user's refresh a thief holding a
copy of the token just spent can still use it undetected.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from .clock import FrozenClock
from .web import REFRESH_COOKIE, bearer

__all__ = ["RaceOutcome", "SingleFlight", "ThiefReplay", "false_logout_rate", "race_tabs", "thief_window"]

REQUEST_TIMEOUT = 10.0  # seconds; a tab that gets no answer fails the run instead of hanging it
CHECKED_PATH = "/api/data"  # the API route every tab calls with its access token


@dataclass(frozen=True)
class RaceOutcome:
    """One race: how many tabs, what the server saw, and whether the login survived it."""

    tabs: int
    refresh_requests: int  # POST /refresh the tabs sent between them
    refresh_statuses: tuple[int, ...]  # their answers, sorted
    tabs_served: int  # tabs whose retried API call got 200 after the race
    logged_out: bool  # the login could not refresh any more after the race: every tab must log in again


class SingleFlight:
    """One refresh at a time for tabs that share a cookie jar; the tabs that waited take its result.

    ``refresh(client, seen)`` is called by a tab whose access token ``seen`` was refused. If another
    tab has already replaced that token, the caller gets the new one without a request; otherwise it
    refreshes, under the lock, and publishes the new access token and refresh cookie to the others.
    """

    def __init__(self, url: str, access_token: str) -> None:
        """Tabs of the app at ``url``, whose current access token is ``access_token``."""
        self.url = url
        self._lock = threading.Lock()
        self._access_token = access_token
        self._refresh_cookie: str | None = None
        self.statuses: list[int] = []  # the answers to the POST /refresh actually sent

    def refresh(self, client: requests.Session, seen: str) -> str | None:
        """A newer access token than ``seen`` (None if the refresh was refused); refreshes only if nobody has."""
        with self._lock:
            if self._access_token != seen:
                if self._refresh_cookie is not None:  # the shared jar: this tab now holds the new cookie too
                    _set_refresh_cookie(client, self._refresh_cookie)
                return self._access_token
            answer = client.post(self.url + "/refresh", json={}, timeout=REQUEST_TIMEOUT)
            self.statuses.append(answer.status_code)
            if answer.status_code != 200:
                return None
            self._access_token = answer.json()["access_token"]
            self._refresh_cookie = client.cookies.get(REFRESH_COOKIE)
            return self._access_token


def _set_refresh_cookie(client: requests.Session, value: str | None) -> None:
    """Put ``value`` in ``client``'s jar as the one refresh cookie (replacing any older one)."""
    if value is None:
        raise RuntimeError("the login set no refresh cookie")
    client.cookies.clear()
    client.cookies.set(REFRESH_COOKIE, value, domain="127.0.0.1", path="/refresh", secure=True)


def _login(new_client: Callable[[], requests.Session], url: str, username: str, password: str) -> requests.Session:
    """A client logged in for tokens (access token + refresh cookie)."""
    client = new_client()
    answer = client.post(
        url + "/login",
        json={"username": username, "password": password, "credentials": ["token"]},
        timeout=REQUEST_TIMEOUT,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"login failed with {answer.status_code}")
    client.access_token = answer.json()["access_token"]  # type: ignore[attr-defined]
    return client


def race_tabs(
    url: str,
    new_client: Callable[[], requests.Session],
    clock: FrozenClock,
    tabs: int,
    *,
    username: str,
    password: str,
    access_ttl: float,
    single_flight: bool = False,
) -> RaceOutcome:
    """Log in, let the access token expire, and have ``tabs`` tabs refresh at once; report what happened."""
    if tabs < 1:
        raise ValueError(f"tabs must be at least 1, got {tabs}")
    login = _login(new_client, url, username, password)
    access_token, cookie = login.access_token, login.cookies.get(REFRESH_COOKIE)  # type: ignore[attr-defined]
    clock.advance(seconds=access_ttl + 1)  # every tab's copy of the access token has expired
    flight = SingleFlight(url, access_token) if single_flight else None
    barrier = threading.Barrier(tabs, timeout=REQUEST_TIMEOUT)
    clients = [new_client() for _ in range(tabs)]
    statuses: list[int] = []
    served: list[bool] = []
    refreshed: list[requests.Session] = []  # tabs that got a new access token, and with it the newest cookie
    lock = threading.Lock()

    def tab(client: requests.Session) -> None:
        _set_refresh_cookie(client, cookie)
        refused = client.get(url + CHECKED_PATH, headers=bearer(access_token), timeout=REQUEST_TIMEOUT)
        barrier.wait()  # every tab has seen its 401 and still holds the same refresh cookie
        if flight is not None:
            fresh = flight.refresh(client, access_token)
        else:
            answer = client.post(url + "/refresh", json={}, timeout=REQUEST_TIMEOUT)
            with lock:
                statuses.append(answer.status_code)
            fresh = answer.json()["access_token"] if answer.status_code == 200 else None
        ok = (
            refused.status_code == 401
            and fresh is not None
            and client.get(url + CHECKED_PATH, headers=bearer(fresh), timeout=REQUEST_TIMEOUT).status_code == 200
        )
        with lock:
            served.append(ok)
            if fresh is not None:
                refreshed.append(client)

    _run_threads([functools.partial(tab, c) for c in clients])
    if flight is not None:
        statuses = flight.statuses
    # Does the login survive? The cookie a successful refresh handed out must still refresh (a loser's
    # spent copy would prove nothing, and on a strict server would itself be a reuse).
    survived = (
        bool(refreshed) and refreshed[0].post(url + "/refresh", json={}, timeout=REQUEST_TIMEOUT).status_code == 200
    )
    return RaceOutcome(tabs, len(statuses), tuple(sorted(statuses)), sum(served), not survived)


def _run_threads(jobs: Sequence[Callable[[], None]]) -> None:
    """Run every job in its own thread and wait for all; re-raise the first failure."""
    errors: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 (handed back to the caller below)
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT * 3)
    if errors:
        raise errors[0]


def false_logout_rate(outcomes: Sequence[RaceOutcome]) -> float:
    """The share of races after which the login was gone (0.0 to 1.0)."""
    if not outcomes:
        raise ValueError("no races to rate")
    return sum(outcome.logged_out for outcome in outcomes) / len(outcomes)


@dataclass(frozen=True)
class ThiefReplay:
    """A thief's replay of the token the user just spent, ``delay`` seconds after the user's refresh."""

    delay: float
    status: int  # the thief's POST /refresh: 200 means new tokens for the thief
    user_still_logged_in: bool  # 401 for the user afterwards means the theft was detected (family revoked)

    @property
    def outcome(self) -> str:
        """What the replay got, and whether anyone noticed: tokens or a 401, the theft detected or not."""
        if self.status == 200:
            return "tokens, unnoticed" if self.user_still_logged_in else "tokens, user logged out"
        return "401" if self.user_still_logged_in else "401, theft detected"


def thief_window(
    url: str,
    new_client: Callable[[], requests.Session],
    clock: FrozenClock,
    delays: Sequence[float],
    *,
    username: str,
    password: str,
) -> list[ThiefReplay]:
    """For each delay: a fresh login, the user refreshes, the thief replays the spent token ``delay`` s later."""
    replays = []
    for delay in delays:
        user = _login(new_client, url, username, password)
        thief = new_client()
        _set_refresh_cookie(thief, user.cookies.get(REFRESH_COOKIE))  # copied before the user's refresh
        user.post(url + "/refresh", json={}, timeout=REQUEST_TIMEOUT)
        clock.advance(seconds=delay)
        stolen = thief.post(url + "/refresh", json={}, timeout=REQUEST_TIMEOUT)
        clock.advance(seconds=3600)  # well past any grace period: the user's next refresh is judged strictly
        still = user.post(url + "/refresh", json={}, timeout=REQUEST_TIMEOUT).status_code == 200
        replays.append(ThiefReplay(delay, stolen.status_code, still))
    return replays
