"""Three ways to end every access token of a user before it expires, with their costs counted.

An access token is checked without a lookup: that is the point of a JWT, and the reason "log out
of every device" is hard with one. The three answers, as verifiers that differ in one step:

* ``ShortTtlOnly``: do nothing to access tokens. Revoke the refresh families (``helpers.refresh``)
  and let every access token die at its ``exp``. No state, no lookup; the exposure is the lifetime.
* ``DenylistEverywhere``: remember the ``jti`` of every token issued, and at "log out everywhere"
  deny each of the user's live ones (``helpers.denylist``). One lookup per request; the state grows
  with tokens issued and tokens denied, each kept until its ``exp``.
* ``TokenVersions``: a per-user counter. Tokens carry it as the claim ``ver``; "log out everywhere"
  adds one, and a token whose ``ver`` is not the user's current one is refused. One lookup per
  request; the state is one small number per user, whatever the number of logouts.

The verifiers are the course app's token check (signature, ``typ: at+jwt``, audience, issuer,
``exp``) plus the mechanism's own step, and they count their lookups, so a notebook can print the
price of each beside what it buys. ``ShortTtlOnly`` alone keeps the request path stateless.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from . import tokens
from .clock import Clock, FrozenClock
from .denylist import MemoryDenylist

__all__ = [
    "DenylistEverywhere",
    "LogoutEverywhere",
    "ShortTtlOnly",
    "StolenTokenReplay",
    "TokenVersionStore",
    "TokenVersions",
    "replay_after_logout_everywhere",
]

ACCESS_TOKEN_TYPE = "at+jwt"
NUMBER_BYTES = 8  # a stored expiry time or counter, as a 64-bit number
JTI_BYTES = 16  # random bytes in a jti (22 characters once encoded)


class LogoutEverywhere:
    """A verifier with a "log out everywhere" for one user; subclasses add the mechanism's step."""

    name = "base"

    def __init__(
        self,
        key: bytes,
        clock: Clock,
        access_ttl: float = 900,
        *,
        issuer: str = "auth-course",
        audience: str = "auth-course-api",
    ) -> None:
        """Sign and check with the HMAC ``key`` on ``clock``; access tokens live ``access_ttl`` seconds."""
        self.key, self.clock, self.access_ttl = key, clock, access_ttl
        self.issuer, self.audience = issuer, audience
        self._lock = threading.Lock()

    @property
    def lookups(self) -> int:
        """Store lookups made by ``verify`` so far (the state on the request path): none without a store."""
        return 0

    def issue(self, user: str) -> str:
        """Sign an ``at+jwt`` access token for ``user`` (with the mechanism's extra claims)."""
        now = self.clock.now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user,
            "iat": int(now),
            "exp": int(now + self.access_ttl),
            "jti": secrets.token_urlsafe(JTI_BYTES),
        }
        claims.update(self._issued(user, claims))
        return tokens.encode(claims, self.key, algorithm="HS256", headers={"typ": ACCESS_TOKEN_TYPE})

    def verify(self, token: str) -> bool:
        """True if ``token`` is a valid access token of this issuer that the mechanism has not ended."""
        try:
            claims = tokens.decode(
                token,
                self.key,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                clock=self.clock,
                typ=ACCESS_TOKEN_TYPE,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except tokens.InvalidTokenError:
            return False
        return self._still_valid(claims)

    def logout_everywhere(self, user: str) -> None:
        """End every access token of ``user`` issued so far, as far as this mechanism can."""

    def state_bytes(self) -> int:
        """Bytes the mechanism keeps right now (keys and numbers, no overhead counted)."""
        return 0

    def _issued(self, user: str, claims: dict[str, Any]) -> dict[str, Any]:
        """Extra claims for a new token (and any record of it); none by default."""
        return {}

    def _still_valid(self, claims: dict[str, Any]) -> bool:
        """The mechanism's check after the signature and claims passed; nothing to check by default."""
        return True


class ShortTtlOnly(LogoutEverywhere):
    """Nothing is kept and nothing is looked up: a token lives until its ``exp``, logout or not."""

    name = "short TTL only"


class DenylistEverywhere(LogoutEverywhere):
    """Every issued ``jti`` is recorded; logging out everywhere denies the user's live ones."""

    name = "jti denylist"

    def __init__(self, key: bytes, clock: Clock, access_ttl: float = 900, **kwargs: str) -> None:
        """As ``LogoutEverywhere``, with an in-memory denylist and a record of issued tokens."""
        super().__init__(key, clock, access_ttl, **kwargs)
        self.denylist = MemoryDenylist(clock)
        self._issued_jtis: dict[str, dict[str, float]] = {}  # user -> {jti: exp} of the tokens issued
        self._swept_at: float | None = None  # when expired records were last dropped (once per clock tick)

    @property
    def lookups(self) -> int:
        """The denylist's own count: one per ``verify`` that reached it."""
        return self.denylist.lookups

    def _issued(self, user: str, claims: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._forget_expired()
            self._issued_jtis.setdefault(user, {})[claims["jti"]] = claims["exp"]
        return {}

    def _forget_expired(self) -> None:
        now = self.clock.now()
        if now == self._swept_at:
            return  # nothing has expired since the last sweep
        self._swept_at = now
        for user, jtis in list(self._issued_jtis.items()):
            for jti in [j for j, exp in jtis.items() if exp <= now]:
                del jtis[jti]
            if not jtis:
                del self._issued_jtis[user]

    def logout_everywhere(self, user: str) -> None:
        """Deny every live token issued to ``user``."""
        with self._lock:
            self._forget_expired()
            live = self._issued_jtis.pop(user, {})
        for jti, exp in live.items():
            self.denylist.deny(jti, exp)

    def _still_valid(self, claims: dict[str, Any]) -> bool:
        return not self.denylist.is_denied(claims["jti"])

    def state_bytes(self) -> int:
        """The issue record and the denied entries, each a jti and an expiry time."""
        self.denylist.purge_expired()
        with self._lock:
            self._forget_expired()
            recorded = sum(
                len(user) + sum(len(j) + NUMBER_BYTES for j in jtis) for user, jtis in self._issued_jtis.items()
            )
        denied_entry = len(secrets.token_urlsafe(JTI_BYTES)) + NUMBER_BYTES
        return recorded + self.denylist.count() * denied_entry


class TokenVersionStore:
    """A per-user token version: ``current`` is looked up on every request, ``bump`` ends older tokens."""

    def __init__(self) -> None:
        """An empty store: every user is at version 0 until bumped."""
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def current(self, user: str) -> int:
        """The version a token of ``user`` must carry (0 for a user never bumped); one counted lookup."""
        with self._lock:
            self.lookups += 1
            return self._versions.get(user, 0)

    def peek(self, user: str) -> int:
        """The version, without counting a lookup (for issuing, which happens at login or refresh)."""
        with self._lock:
            return self._versions.get(user, 0)

    def bump(self, user: str) -> int:
        """Add one to ``user``'s version, ending every token issued before; the new version."""
        with self._lock:
            self._versions[user] = self._versions.get(user, 0) + 1
            return self._versions[user]

    def state_bytes(self) -> int:
        """One user name and one number per user ever bumped (the entry is never needed to expire)."""
        with self._lock:
            return sum(len(user) + NUMBER_BYTES for user in self._versions)


class TokenVersions(LogoutEverywhere):
    """Tokens carry ``ver``; a token whose ``ver`` is not its user's current version is refused."""

    name = "token version"

    def __init__(self, key: bytes, clock: Clock, access_ttl: float = 900, **kwargs: str) -> None:
        """As ``LogoutEverywhere``, with a ``TokenVersionStore``."""
        super().__init__(key, clock, access_ttl, **kwargs)
        self.versions = TokenVersionStore()

    @property
    def lookups(self) -> int:
        """The version store's own count: one per ``verify`` that reached it."""
        return self.versions.lookups

    def _issued(self, user: str, claims: dict[str, Any]) -> dict[str, Any]:
        return {"ver": self.versions.peek(user)}

    def logout_everywhere(self, user: str) -> None:
        """Bump ``user``'s version."""
        self.versions.bump(user)

    def _still_valid(self, claims: dict[str, Any]) -> bool:
        version = claims.get("ver")
        return type(version) is int and version == self.versions.current(claims["sub"])

    def state_bytes(self) -> int:
        """The version store's bytes."""
        return self.versions.state_bytes()


@dataclass(frozen=True)
class StolenTokenReplay:
    """A token stolen at the moment of "log out everywhere", replayed once a minute."""

    accepted: tuple[bool, ...]  # replay i happened i minutes after the logout

    @property
    def minutes_working(self) -> int:
        """Minutes after the logout during which the stolen token still worked."""
        return max((i + 1 for i, ok in enumerate(self.accepted) if ok), default=0)


def replay_after_logout_everywhere(
    verifier: LogoutEverywhere, clock: FrozenClock, user: str, minutes: int
) -> StolenTokenReplay:
    """Steal a fresh token of ``user``, log them out everywhere, replay it every minute for ``minutes`` minutes.

    ``verifier`` must run on ``clock``, which this advances by ``minutes`` minutes.
    """
    stolen = verifier.issue(user)  # stolen at the last moment: the worst case for a lifetime
    verifier.logout_everywhere(user)
    accepted = []
    for _ in range(minutes):
        accepted.append(verifier.verify(stolen))
        clock.advance(minutes=1)
    return StolenTokenReplay(tuple(accepted))
