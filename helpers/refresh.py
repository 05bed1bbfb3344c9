"""Refresh tokens with rotation and reuse detection: how a short-lived access token gets renewed safely.

A login starts a *family*. Its first refresh token, and every one after it, is 256 random bits
from ``secrets`` (like a session ID), and the store keeps only ``sha256(token)``. Every store
follows one contract, ``RefreshTokenStore``:

* ``issue`` starts a family and returns its first token.
* ``rotate`` spends a token: it is marked *used* and a successor in the same family is returned,
  in one atomic step. A token works once.
* Presenting a token that was already used is *reuse*: either the legitimate client or a thief
  holds a copy, and the server cannot tell which, so the whole family is revoked — the thief's
  copy and the user's newest token alike — and ``RefreshTokenReuseError`` is raised (OAuth 2.0
  Security BCP, RFC 9700 §4.14.2). The user logs in again; the thief cannot.
* ``family_id(token)`` names the login a token belongs to, and ``revoke_family_id`` ends it by that
  name: an access token carries it (claim ``sid``), so a logout that sees only the access token can
  still end the refresh family. The ID is 128 random bits; naming a family lets you end it, never
  use it.
* Unknown, expired, revoked or malformed tokens raise ``InvalidRefreshTokenError``. Both errors
  are ``RefreshTokenError``s with a ``code`` and a message a client can show.

Lifetime: a family dies ``ttl`` (default 7 days) after the login that started it, and rotation
never extends it: every token of the family expires at the same fixed moment. This is the
tutorials' "7-day refresh token" taken literally. A sliding window (each rotation buys another
``ttl``) would let whoever keeps refreshing — a stolen token that is never replayed, say — stay
logged in forever; a fixed deadline makes everyone show a password once a week. (A sliding idle
window *capped* at the family's deadline would differ only if the idle window were shorter than
``ttl``; with one ``ttl`` for both, the cap always wins, so the course keeps the simpler rule.)

Concurrency: two ``rotate`` calls with the same token race, and exactly one wins; the other finds
the token used and is treated as reuse, which revokes the family, the winner's new token included.
That is the secure answer — the server cannot tell a double-click from a thief racing the user —
so a real client must serialise its refreshes (one in flight at a time, shared by every tab).

Grace period (opt-in, ``grace_period=`` seconds, default 0: the strict rule above). Browser tabs
that share one refresh cookie and refresh together present the same token several times within a
moment, and the strict rule logs the user out for it. With a grace period, the token spent last in
its family, presented again within ``grace_period`` seconds of being spent, gets the *same* successor
back instead of revoking the family. The price is a window: a thief replaying that token within the
grace period is not detected either, and receives the live successor. The successor is kept in
this process's memory for the grace period only (a live credential: never logged, never stored), so
the grace applies to rotations served by one process; a fleet would need a shared cache.

Like the session stores, ``count`` reports rows *stored* (used, revoked and expired tokens
included) until ``purge_expired`` removes the dead families. Storage is not the same as state.
Two rules keep it bounded without a scheduled job, and neither ever forgets a spent token of a
living family (a forgotten one would answer "unknown" instead of "reuse", and a thief who had
rotated past it would never be caught):

* ``issue`` and ``rotate`` purge expired families by themselves, at most once per
  ``purge_interval`` seconds of the store's clock (see ``helpers.storage``).
* A family rotates at most ``max_rotations_per_family`` times (1024 by default), so it never holds
  more than that many tokens plus one. The rotation that would go past the limit ends the family
  instead: it is revoked, the token is refused ("login too old"), and the user logs in again.
  An honest client rotates about once per access-token lifetime: 672 times in a 7-day family at
  one per 15 minutes, under the limit. A client that rotates much faster, a thief in a hurry
  included, reaches the limit early and ends the login.

Backends: ``MemoryRefreshStore`` (teaching only) and ``SQLiteRefreshStore`` (the embedded
default; its tables can share a file with ``SQLiteStore``'s sessions). A backend implements the
``_``-prefixed storage methods; validation, token generation, hashing, the verdict on a presented
token and the error messages live once in the base class.
"""

from __future__ import annotations

import abc
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

from helpers.clock import Clock
from helpers.credentials import MAX_CREDENTIAL_LENGTH, hash_credential, hash_presented, new_credential, well_formed
from helpers.storage import ClockedStore, SQLiteBacked, check_duration, check_name

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_MAX_ROTATIONS_PER_FAMILY",
    "DEFAULT_REFRESH_TTL",
    "MAX_REFRESH_TOKEN_LENGTH",
    "InvalidRefreshTokenError",
    "MemoryRefreshStore",
    "RefreshFamily",
    "RefreshTokenError",
    "RefreshTokenReuseError",
    "RefreshTokenStore",
    "RotationResult",
    "SQLiteRefreshStore",
    "hash_refresh_token",
    "new_refresh_token",
]

DEFAULT_REFRESH_TTL = 7 * 24 * 3600.0  # the tutorials' 7-day refresh token, counted from login
MAX_REFRESH_TOKEN_LENGTH = MAX_CREDENTIAL_LENGTH  # a longer presented token is garbage, refused before hashing
# Rotations one family may make before it ends. A family lives DEFAULT_REFRESH_TTL (7 days) and an honest
# client rotates about once per access-token lifetime (15 minutes): 7 * 24 * 4 = 672 rotations. 1024 leaves
# room for clients that refresh early (at two thirds of the lifetime: 1008) and bounds a family at 1025 rows.
# A store with a longer ttl or shorter access tokens needs a higher cap, or its users log in again sooner.
DEFAULT_MAX_ROTATIONS_PER_FAMILY = 1024
DEFAULT_GRACE_PERIOD = 0.0  # seconds a just-spent token still gets its successor back; 0: strict rotation
FAMILY_ID_BYTES = 16  # 128 random bits: a family ID names a login and must not be guessable either

# Why a family was revoked, as stored, and how the error message says it.
_REVOKED_BY_CALL = "revoked"
_REVOKED_FOR_REUSE = "reuse"
_REVOKED_WITH_USER = "user"
_REVOKED_AT_CAP = "rotations"
_REVOCATION_WORDING = {
    _REVOKED_BY_CALL: "refresh token has been revoked (logged out); log in again",
    _REVOKED_FOR_REUSE: "refresh token was revoked after reuse of a token of the same login was detected; log in again",
    _REVOKED_WITH_USER: "refresh token was revoked with every other refresh token of this user; log in again",
    _REVOKED_AT_CAP: "login too old: its refresh token has rotated as often as one login may; log in again",
}

# The verdicts a backend returns for a presented token.
_ROTATED, _UNKNOWN, _EXPIRED, _REUSED, _REVOKED = "rotated", "unknown", "expired", "reused", "revoked"
_EXHAUSTED = "exhausted"  # live, but another rotation would pass max_rotations_per_family
# The verdicts that revoke a live family, and the reason stored with it.
_REVOKING_VERDICTS = {_REUSED: _REVOKED_FOR_REUSE, _EXHAUSTED: _REVOKED_AT_CAP}


# A refresh token is an opaque credential (helpers.credentials), as a session ID is: 256 random bits,
# stored as its SHA-256.
new_refresh_token = new_credential
hash_refresh_token = hash_credential


# --- errors and results ----------------------------------------------------------------------------


class RefreshTokenError(Exception):
    """A refresh token was refused; ``code`` says why in one word, the message in a sentence."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidRefreshTokenError(RefreshTokenError):
    """The token is malformed, unknown, expired or revoked (``code`` is one of those words)."""


class RefreshTokenReuseError(RefreshTokenError):
    """An already-used token was presented: its whole family has now been revoked."""

    code = "reused"

    def __init__(self, message: str, family_id: str, user_id: str) -> None:
        super().__init__(message)
        # Kept so the server can log or alert: somebody holds a copy of this user's token.
        self.family_id, self.user_id = family_id, user_id


@dataclass(frozen=True)
class RotationResult:
    """What a successful ``rotate`` returns: the successor token and whose login it belongs to."""

    token: str = field(repr=False)  # the new refresh token, a live credential: kept out of repr and logs
    user_id: str
    role: str  # the role at login; a server should re-read the user's current role
    family_id: str
    expires_at: float  # the family's fixed deadline, epoch seconds (for a cookie's Max-Age)


@dataclass(frozen=True)
class RefreshFamily:
    """A snapshot of one live login's refresh-token family, for notebooks and admin pages."""

    family_id: str
    user_id: str
    role: str
    created_at: float
    expires_at: float
    tokens_issued: int  # 1 + the number of rotations so far


class _Grace(NamedTuple):
    """A rotation remembered for the grace period: when the token was spent and what it was given."""

    spent_at: float
    result: RotationResult


class _Family(NamedTuple):
    """How a backend hands a family's row to the base class."""

    family_id: str
    user_id: str
    role: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None
    tokens_issued: int = 1  # also each token's sequence number: the newest token has this one


def _verdict(family: _Family, used_at: float | None, now: float, max_rotations: int) -> str:
    """Judge a presented token of ``family``; backends call this inside their lock or transaction."""
    if now >= family.expires_at:
        return _EXPIRED  # the whole family is dead anyway; nothing to learn from a replay
    if used_at is not None:
        # Checked before "revoked": a replayed token is suspicious whether or not the family is
        # already revoked, and every loser of a race then gets the same answer.
        return _REUSED
    if family.revoked_at is not None:
        return _REVOKED
    if family.tokens_issued > max_rotations:  # tokens_issued - 1 rotations so far: none left
        return _EXHAUSTED
    return _ROTATED


# --- the contract ------------------------------------------------------------------------------------


class RefreshTokenStore(ClockedStore):
    """The contract every refresh-token backend meets; see the module docstring for the rules."""

    def __init__(
        self,
        clock: Clock | None = None,
        ttl: float = DEFAULT_REFRESH_TTL,
        *,
        max_rotations_per_family: int = DEFAULT_MAX_ROTATIONS_PER_FAMILY,
        grace_period: float = DEFAULT_GRACE_PERIOD,
    ) -> None:
        """``clock`` decides expiry (default: the system clock); ``ttl`` is a family's lifetime from login;
        ``max_rotations_per_family`` how many rotations end a family (its spent tokens are all kept until
        then); ``grace_period`` how many seconds the token spent last may be presented again for the same
        successor (0: never)."""
        super().__init__(clock)
        self.ttl = check_duration("ttl", ttl)
        if isinstance(grace_period, bool) or not isinstance(grace_period, (int, float)):
            raise TypeError(f"grace_period must be a number of seconds, got {type(grace_period).__name__}")
        if not 0 <= grace_period < self.ttl:
            raise ValueError(f"grace_period must be at least 0 and shorter than ttl, got {grace_period}")
        self.grace_period = float(grace_period)
        # old token hash -> its rotation, for the tokens spent within the last grace_period seconds.
        # One lock makes "look up the grace, else rotate, then remember" one step within this process.
        self._grace: dict[str, _Grace] = {}
        self._grace_lock = threading.RLock()  # reentrant: a rotation that detects reuse forgets its family's grace
        if isinstance(max_rotations_per_family, bool) or not isinstance(max_rotations_per_family, int):
            raise TypeError(f"max_rotations_per_family must be an int, got {type(max_rotations_per_family).__name__}")
        if max_rotations_per_family < 1:
            raise ValueError(f"max_rotations_per_family must be at least 1, got {max_rotations_per_family}")
        self.max_rotations_per_family = max_rotations_per_family

    def issue(self, user_id: str, role: str = "user") -> str:
        """Start a new family (one login) for ``user_id`` and return its first refresh token."""
        check_name("user_id", user_id)
        check_name("role", role)
        now = self.clock.now()
        self._purge_if_due(now)
        token = new_refresh_token()
        # The family ID names a login in logs, notebooks and access tokens (their ``sid``); it is not
        # a credential, but random so that nobody can name (and so revoke) another user's login.
        family = _Family(secrets.token_hex(FAMILY_ID_BYTES), user_id, role, now, now + self.ttl)
        self._insert_family(family, hash_refresh_token(token), now)
        return token

    def rotate(self, token: str) -> RotationResult:
        """Spend ``token`` and return its successor; raise ``RefreshTokenReuseError`` or ``InvalidRefreshTokenError``."""
        old_hash = hash_presented(token)
        if old_hash is None:
            raise InvalidRefreshTokenError("malformed refresh token", "malformed")
        if not self.grace_period:
            return self._rotate_strictly(old_hash)
        with self._grace_lock:
            now = self.clock.now()
            for spent_hash in [h for h, g in self._grace.items() if now - g.spent_at >= self.grace_period]:
                del self._grace[spent_hash]
            remembered = self._grace.get(old_hash)
            if remembered is not None and now < remembered.result.expires_at:
                return remembered.result
            result = self._rotate_strictly(old_hash)
            # Only the token spent last in a family has a grace: its predecessor's successor is spent now.
            for spent_hash in [h for h, g in self._grace.items() if g.result.family_id == result.family_id]:
                del self._grace[spent_hash]
            self._grace[old_hash] = _Grace(now, result)
            return result

    def _forget_grace(self, family_id: str | None = None, user_id: str | None = None) -> None:
        """Drop remembered rotations of a family or a user that has just been revoked."""
        with self._grace_lock:
            for spent_hash in [
                h for h, g in self._grace.items() if g.result.family_id == family_id or g.result.user_id == user_id
            ]:
                del self._grace[spent_hash]

    def _rotate_strictly(self, old_hash: str) -> RotationResult:
        """Rotate by the strict rule: a spent token is reuse and revokes its family."""
        new_token = new_refresh_token()
        now = self.clock.now()
        verdict, family = self._rotate(old_hash, hash_refresh_token(new_token), now)
        # Purged after the verdict, so the token in hand is still judged "expired", not "unknown".
        self._purge_if_due(now)
        if verdict == _ROTATED:
            assert family is not None
            return RotationResult(new_token, family.user_id, family.role, family.family_id, family.expires_at)
        if verdict in _REVOKING_VERDICTS:
            assert family is not None
            if self.grace_period:
                self._forget_grace(family_id=family.family_id)
        if verdict == _REUSED:
            assert family is not None
            raise RefreshTokenReuseError(
                "refresh token reuse detected: this token was already used, so every refresh token of "
                "this login has been revoked; log in again",
                family.family_id,
                family.user_id,
            )
        if verdict in (_REVOKED, _EXHAUSTED):  # an exhausted family was revoked just now, with its reason
            assert family is not None and family.revoked_reason is not None
            raise InvalidRefreshTokenError(_REVOCATION_WORDING[family.revoked_reason], "revoked")
        if verdict == _EXPIRED:
            raise InvalidRefreshTokenError("refresh token has expired; log in again", "expired")
        raise InvalidRefreshTokenError("unknown refresh token", "unknown")

    def family_id(self, token: str) -> str | None:
        """The ID of the family a stored token (live or spent) belongs to; None if unknown or malformed."""
        token_hash = hash_presented(token)
        return None if token_hash is None else self._family_of(token_hash)

    def revoke_family(self, token: str) -> bool:
        """Revoke the family ``token`` belongs to (logout); True if a live family was revoked."""
        family_id = self.family_id(token)
        return family_id is not None and self.revoke_family_id(family_id)

    def revoke_family_id(self, family_id: str) -> bool:
        """Revoke the family with this ID (logout, given an access token's ``sid``); True if it was live."""
        if not well_formed(family_id, max_length=2 * FAMILY_ID_BYTES):
            return False  # arrives inside a client's token: garbage is answered, never raised on
        if self.grace_period:
            self._forget_grace(family_id=family_id)
        return self._revoke_family_id(family_id, self.clock.now())

    def revoke_user(self, user_id: str) -> int:
        """Revoke every live family of ``user_id`` ("log out everywhere"); how many were revoked."""
        check_name("user_id", user_id)
        if self.grace_period:
            self._forget_grace(user_id=user_id)
        return self._revoke_user(user_id, self.clock.now())

    def active_families(self, user_id: str | None = None) -> list[RefreshFamily]:
        """The live (unexpired, unrevoked) families, of one user or of all, oldest first."""
        if user_id is not None:
            check_name("user_id", user_id)
        families = self._active_families(user_id, self.clock.now())
        return sorted(families, key=lambda f: (f.created_at, f.family_id))

    # purge_expired (here: whole expired families, counted in tokens), close and the context
    # manager come from ClockedStore.

    @abc.abstractmethod
    def count(self) -> int:
        """Refresh tokens currently stored, *including* used, revoked and expired ones not yet purged."""

    # -- what a backend implements; tokens arrive already hashed and validated, ``now`` already read --

    @abc.abstractmethod
    def _insert_family(self, family: _Family, token_hash: str, now: float) -> None:
        """Store a new family and its first, unused token."""

    @abc.abstractmethod
    def _rotate(self, old_hash: str, new_hash: str, now: float) -> tuple[str, _Family | None]:
        """Atomically judge the token with ``_verdict``; if rotated, mark it used and add ``new_hash`` as token
        number ``tokens_issued + 1``; if reused or exhausted, revoke the family (the reason from
        ``_REVOKING_VERDICTS``) unless already revoked, adding nothing. Return (verdict, family)."""

    @abc.abstractmethod
    def _family_of(self, token_hash: str) -> str | None:
        """The family ID of the stored token with this hash, or None."""

    @abc.abstractmethod
    def _revoke_family_id(self, family_id: str, now: float) -> bool:
        """Revoke this family (reason ``"revoked"``) if it is live; True if it was."""

    @abc.abstractmethod
    def _revoke_user(self, user_id: str, now: float) -> int:
        """Revoke the user's live families; how many."""

    @abc.abstractmethod
    def _active_families(self, user_id: str | None, now: float) -> list[RefreshFamily]:
        """The live families (all users when ``user_id`` is None), in any order."""

    @abc.abstractmethod
    def _purge_expired(self, now: float) -> int:
        """Remove every family with ``expires_at <= now`` and its tokens; how many tokens."""


# --- in memory -----------------------------------------------------------------------------------------


class _Token(NamedTuple):
    """How MemoryRefreshStore keeps one token: immutable, so marking it used swaps in a new entry."""

    family_id: str
    issued_at: float
    used_at: float | None


class MemoryRefreshStore(RefreshTokenStore):
    """Refresh-token families in Python dicts under one lock. For teaching only (gone on restart)."""

    def __init__(
        self,
        clock: Clock | None = None,
        ttl: float = DEFAULT_REFRESH_TTL,
        *,
        max_rotations_per_family: int = DEFAULT_MAX_ROTATIONS_PER_FAMILY,
        grace_period: float = DEFAULT_GRACE_PERIOD,
    ) -> None:
        """An empty in-memory store; see ``RefreshTokenStore`` for the arguments."""
        super().__init__(clock, ttl, max_rotations_per_family=max_rotations_per_family, grace_period=grace_period)
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}  # family_id -> family
        self._tokens: dict[str, _Token] = {}  # token hash -> token
        self._family_tokens: dict[str, list[str]] = {}  # family_id -> its token hashes, for purging
        self._by_user: dict[str, set[str]] = {}  # user_id -> family_ids, so revoke_user need not scan

    def _live(self, family: _Family, now: float) -> bool:
        return family.revoked_at is None and now < family.expires_at

    def _insert_family(self, family: _Family, token_hash: str, now: float) -> None:
        with self._lock:
            self._families[family.family_id] = family
            self._tokens[token_hash] = _Token(family.family_id, now, None)
            self._family_tokens[family.family_id] = [token_hash]
            self._by_user.setdefault(family.user_id, set()).add(family.family_id)

    def _rotate(self, old_hash: str, new_hash: str, now: float) -> tuple[str, _Family | None]:
        # One lock around read, judge and write: that is what makes "exactly one winner" true.
        with self._lock:
            token = self._tokens.get(old_hash)
            if token is None:
                return _UNKNOWN, None
            family = self._families[token.family_id]
            verdict = _verdict(family, token.used_at, now, self.max_rotations_per_family)
            if verdict == _ROTATED:
                family = family._replace(tokens_issued=family.tokens_issued + 1)
                self._families[family.family_id] = family
                self._tokens[old_hash] = token._replace(used_at=now)
                self._tokens[new_hash] = _Token(family.family_id, now, None)
                self._family_tokens[family.family_id].append(new_hash)
            elif verdict in _REVOKING_VERDICTS and family.revoked_at is None:
                family = family._replace(revoked_at=now, revoked_reason=_REVOKING_VERDICTS[verdict])
                self._families[family.family_id] = family
            return verdict, family

    def _family_of(self, token_hash: str) -> str | None:
        with self._lock:
            token = self._tokens.get(token_hash)
        return None if token is None else token.family_id

    def _revoke_family_id(self, family_id: str, now: float) -> bool:
        with self._lock:
            family = self._families.get(family_id)
            if family is None or not self._live(family, now):
                return False
            self._families[family_id] = family._replace(revoked_at=now, revoked_reason=_REVOKED_BY_CALL)
            return True

    def _revoke_user(self, user_id: str, now: float) -> int:
        with self._lock:
            revoked = 0
            for family_id in self._by_user.get(user_id, ()):
                family = self._families[family_id]
                if self._live(family, now):
                    self._families[family_id] = family._replace(revoked_at=now, revoked_reason=_REVOKED_WITH_USER)
                    revoked += 1
            return revoked

    def _active_families(self, user_id: str | None, now: float) -> list[RefreshFamily]:
        with self._lock:
            ids = self._families if user_id is None else self._by_user.get(user_id, ())
            return [
                RefreshFamily(f.family_id, f.user_id, f.role, f.created_at, f.expires_at, f.tokens_issued)
                for f in (self._families[family_id] for family_id in ids)
                if self._live(f, now)
            ]

    def _purge_expired(self, now: float) -> int:
        with self._lock:
            removed = 0
            for family in [f for f in self._families.values() if f.expires_at <= now]:
                del self._families[family.family_id]
                for token_hash in self._family_tokens.pop(family.family_id):
                    del self._tokens[token_hash]
                    removed += 1
                ids = self._by_user[family.user_id]
                ids.discard(family.family_id)
                if not ids:
                    del self._by_user[family.user_id]
            return removed

    def count(self) -> int:
        """Refresh tokens currently stored, *including* used, revoked and expired ones not yet purged."""
        with self._lock:
            return len(self._tokens)

    def __repr__(self) -> str:
        return f"MemoryRefreshStore(clock={self.clock!r}, tokens={self.count()})"


# --- SQLite ------------------------------------------------------------------------------------------------


_SCHEMA = """
CREATE TABLE IF NOT EXISTS refresh_families (
    id             TEXT PRIMARY KEY,  -- random family ID: names a login, is not a credential
    user_id        TEXT NOT NULL,
    role           TEXT NOT NULL,     -- the role at login
    created_at     REAL NOT NULL,
    expires_at     REAL NOT NULL,     -- fixed at login; rotation never moves it
    revoked_at     REAL,              -- NULL while live
    revoked_reason TEXT,              -- 'revoked' (logout), 'reuse', 'user' or 'rotations' (the cap)
    tokens_issued  INTEGER NOT NULL DEFAULT 1  -- 1 + rotations; the newest token's seq
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_families_user_id ON refresh_families (user_id);
CREATE INDEX IF NOT EXISTS refresh_families_expires_at ON refresh_families (expires_at);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id        TEXT PRIMARY KEY,       -- sha256(refresh token) as hex; never the token itself
    family_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    used_at   REAL,                   -- NULL until rotated; a second use is reuse
    seq       INTEGER NOT NULL        -- 1 for the login's token, +1 per rotation: the issue order
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_family_seq ON refresh_tokens (family_id, seq);
"""
# No foreign key from refresh_tokens to refresh_families: SQLite ignores them unless every
# connection opts in, and purge_expired deletes both sides in one transaction anyway.

_FAMILY_COLUMNS = "f.id, f.user_id, f.role, f.created_at, f.expires_at, f.revoked_at, f.revoked_reason, f.tokens_issued"
_SELECT_BY_TOKEN = (
    f"SELECT {_FAMILY_COLUMNS}, t.used_at FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
    " WHERE t.id = ?"
)
_INSERT_TOKEN = "INSERT INTO refresh_tokens (id, family_id, issued_at, used_at, seq) VALUES (?, ?, ?, NULL, ?)"
_LIVE = "revoked_at IS NULL AND expires_at > ?"  # a family that can still rotate


class SQLiteRefreshStore(SQLiteBacked, RefreshTokenStore):
    """Refresh-token families in two SQLite tables, durable across restarts when given a file.

    One connection shared by all threads behind a lock, like ``SQLiteStore`` (whose docstring
    explains why). ``rotate`` also runs inside ``BEGIN IMMEDIATE``, so two *processes* on one file
    cannot both spend the same token either. The tables may live in the same file as the sessions.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        clock: Clock | None = None,
        ttl: float = DEFAULT_REFRESH_TTL,
        *,
        max_rotations_per_family: int = DEFAULT_MAX_ROTATIONS_PER_FAMILY,
        grace_period: float = DEFAULT_GRACE_PERIOD,
    ) -> None:
        """Open (creating if needed) the refresh tables at ``path``; see ``RefreshTokenStore`` for the rest."""
        super().__init__(clock, ttl, max_rotations_per_family=max_rotations_per_family, grace_period=grace_period)
        self._open(path, _SCHEMA)  # the settings every store shares: see helpers.storage.open_sqlite

    def _insert_family(self, family: _Family, token_hash: str, now: float) -> None:
        def work() -> None:
            self._conn.execute(
                "INSERT INTO refresh_families (id, user_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (family.family_id, family.user_id, family.role, family.created_at, family.expires_at),
            )
            self._conn.execute(_INSERT_TOKEN, (token_hash, family.family_id, now, family.tokens_issued))

        self._transaction(work)

    def _rotate(self, old_hash: str, new_hash: str, now: float) -> tuple[str, _Family | None]:
        def work() -> tuple[str, _Family | None]:
            rows = self._conn.execute(_SELECT_BY_TOKEN, (old_hash,)).fetchall()
            if not rows:
                return _UNKNOWN, None
            *columns, used_at = rows[0]
            family = _Family(*columns)
            verdict = _verdict(family, used_at, now, self.max_rotations_per_family)
            if verdict == _ROTATED:
                family = family._replace(tokens_issued=family.tokens_issued + 1)
                seq = family.tokens_issued
                self._conn.execute("UPDATE refresh_tokens SET used_at = ? WHERE id = ?", (now, old_hash))
                self._conn.execute(
                    "UPDATE refresh_families SET tokens_issued = ? WHERE id = ?", (seq, family.family_id)
                )
                self._conn.execute(_INSERT_TOKEN, (new_hash, family.family_id, now, seq))
            elif verdict in _REVOKING_VERDICTS and family.revoked_at is None:
                reason = _REVOKING_VERDICTS[verdict]
                family = family._replace(revoked_at=now, revoked_reason=reason)
                self._conn.execute(
                    "UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE id = ?",
                    (now, reason, family.family_id),
                )
            return verdict, family

        return self._transaction(work)

    def _family_of(self, token_hash: str) -> str | None:
        with self._lock:
            rows = self._conn.execute("SELECT family_id FROM refresh_tokens WHERE id = ?", (token_hash,)).fetchall()
        return rows[0][0] if rows else None

    def _revoke_family_id(self, family_id: str, now: float) -> bool:
        return (
            self._write(
                f"UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND {_LIVE}",
                (now, _REVOKED_BY_CALL, family_id, now),
            )
            > 0
        )

    def _revoke_user(self, user_id: str, now: float) -> int:
        return self._write(
            f"UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND {_LIVE}",
            (now, _REVOKED_WITH_USER, user_id, now),
        )

    def _active_families(self, user_id: str | None, now: float) -> list[RefreshFamily]:
        where, params = (_LIVE, (now,)) if user_id is None else (f"user_id = ? AND {_LIVE}", (user_id, now))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, user_id, role, created_at, expires_at, tokens_issued FROM refresh_families WHERE {where}",
                params,
            ).fetchall()
        return [RefreshFamily(*row) for row in rows]

    def _purge_expired(self, now: float) -> int:
        def work() -> int:
            removed = self._conn.execute(
                "DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM refresh_families WHERE expires_at <= ?)",
                (now,),
            ).rowcount
            self._conn.execute("DELETE FROM refresh_families WHERE expires_at <= ?", (now,))
            return removed

        return self._transaction(work)

    def count(self) -> int:
        """Refresh tokens currently stored, *including* used, revoked and expired ones not yet purged."""
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM refresh_tokens").fetchone()[0]
