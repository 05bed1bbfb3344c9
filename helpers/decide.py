"""From measurements to a decision: the comparison table's rows, and a strategy recommended from an app's needs.

Two halves, kept apart on purpose:

* ``Finding`` is one row of the comparison table: what a run measured for sessions and for JWTs, the
  claim the usual table makes, and whether the run bore it out (``"holds"``, ``"depends"`` or
  ``"fails"``). ``comparison_table`` prints the findings in the order of ``ROWS``, each cell wrapped
  so the table fits ``TABLE_WIDTH`` characters.
* ``recommend(needs, findings)`` turns what an app needs (``Needs``) into ``"sessions"``, ``"JWTs"``
  or ``"hybrid"`` (sessions for the browser pages, short-lived JWT access tokens with refresh tokens
  for the API). Every reason names the table row it rests on and, when findings are passed in,
  quotes what was measured for that row.

The rules, in order:

1. No API clients, no independent services, no cross-domain use: **sessions**. One HttpOnly cookie,
   logout and revocation at the next request, and the lookup costs microseconds on a local store.
2. API clients (or services, or other domains) *and* browser pages: **hybrid**.
3. API clients only, needing instant revocation, all of them able to reach one store: **sessions**
   (an opaque session ID works as a bearer credential too; a JWT denylist would cost the same lookup).
4. Otherwise: **JWTs**, short-lived and refreshed; with instant revocation, plus a caveat: a denylist
   every service consults, which is shared state again.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from .display import Table

__all__ = [
    "ROWS",
    "TABLE_WIDTH",
    "VERDICTS",
    "Finding",
    "Needs",
    "Reason",
    "Recommendation",
    "comparison_table",
    "recommend",
]

Verdict = Literal["holds", "depends", "fails"]
Strategy = Literal["sessions", "JWTs", "hybrid"]

VERDICTS: tuple[str, ...] = ("holds", "depends", "fails")
TABLE_WIDTH = 120  # characters: printed tables and reasons wrap to fit a notebook page
_COLUMN_WIDTHS = (20, 26, 26, 26, 7)  # aspect, sessions, JWTs, the usual claim, verdict: 113 with the gaps

# The usual comparison table's ten rows, plus "speed", the claim that usually travels with it.
ROWS: dict[str, str] = {
    "storage": "storage (where state lives)",
    "lookups": "database queries per request",
    "speed": "time to check a request",
    "logout": "logout speed",
    "revocation": "revocation",
    "size": "payload size",
    "scaling": "scaling (horizontal)",
    "cross_domain": "cross-domain use",
    "xss": "XSS exposure",
    "sensitive_data": "where sensitive data lives",
    "refresh": "refresh mechanism",
}


@dataclass(frozen=True)
class Finding:
    """One measured row: what the run showed for each strategy, the usual claim, and whether it held."""

    sessions: str
    jwt: str
    folklore: str
    verdict: Verdict

    def __post_init__(self) -> None:
        for name in ("sessions", "jwt", "folklore"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Finding.{name} must be a non-empty str, got {value!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def __str__(self) -> str:
        return f"sessions: {self.sessions}\nJWTs: {self.jwt}\nthe usual table says: {self.folklore}\nverdict: {self.verdict}"


def comparison_table(findings: Mapping[str, Finding]) -> Table:
    """The findings as one printable table, rows in the order of ``ROWS``; unknown row keys are refused.

    Long cells wrap onto continuation lines (the verdict stays on a finding's first line), and an empty
    line separates one finding from the next.
    """
    unknown = sorted(set(findings) - set(ROWS))
    if unknown:
        raise ValueError(f"unknown rows {unknown}; the rows are {list(ROWS)}")
    result = Table(["aspect", "sessions (measured)", "JWTs (measured)", "the usual table says", "verdict"])
    present = [key for key in ROWS if key in findings]
    for number, key in enumerate(present):
        finding = findings[key]
        cells = (ROWS[key], finding.sessions, finding.jwt, finding.folklore, finding.verdict)
        wrapped = [textwrap.wrap(cell, width) or [""] for cell, width in zip(cells, _COLUMN_WIDTHS)]
        for line in range(max(map(len, wrapped))):
            result.add(*(column[line] if line < len(column) else "" for column in wrapped))
        if number < len(present) - 1:
            result.add(*[""] * len(cells))
    return result


@dataclass(frozen=True)
class Needs:
    """What an app needs from its login state; every field is a yes/no question."""

    instant_revocation: bool = False  # logout or a ban must bite at the very next request
    independent_services: bool = False  # several services or servers check logins with no shared store
    api_clients: bool = False  # mobile, desktop or third-party programs call an API
    server_rendered: bool = False  # a browser shows pages the server renders
    cross_domain: bool = False  # the credential must be presented to other domains

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, bool):
                raise TypeError(f"Needs.{item.name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class Reason:
    """One reason for a recommendation: the rule in words, the table row behind it, and what was measured there."""

    text: str
    row: str
    evidence: str = ""  # "sessions: ... | JWTs: ..." from the findings, empty when none were given

    def __post_init__(self) -> None:
        if self.row not in ROWS:
            raise ValueError(f"unknown row {self.row!r}; the rows are {list(ROWS)}")

    def __str__(self) -> str:
        if not self.evidence:
            return f"  - {self.text}"
        cited = textwrap.fill(
            f"measured ({ROWS[self.row]}): {self.evidence}",
            TABLE_WIDTH,
            initial_indent=" " * 6,
            subsequent_indent=" " * 8,
        )
        return f"  - {self.text}\n{cited}"


@dataclass(frozen=True)
class Recommendation:
    """The strategy to use, in one line, with its reasons and its caveats."""

    strategy: Strategy
    summary: str
    reasons: tuple[Reason, ...]
    caveats: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.strategy}: {self.summary}", *map(str, self.reasons)]
        lines += [f"  ! {caveat}" for caveat in self.caveats]
        return "\n".join(lines)


def _reason(text: str, row: str, findings: Mapping[str, Finding]) -> Reason:
    finding = findings.get(row)
    evidence = f"sessions: {finding.sessions} | JWTs: {finding.jwt}" if finding else ""
    return Reason(text, row, evidence)


def recommend(needs: Needs, findings: Mapping[str, Finding] | None = None) -> Recommendation:
    """Recommend sessions, JWTs or the hybrid for ``needs``, citing the measured ``findings`` by row."""
    if not isinstance(needs, Needs):
        raise TypeError(f"recommend() expects Needs, got {type(needs).__name__}")
    found = findings or {}
    unreachable_store = needs.independent_services or needs.cross_domain  # somewhere no shared store or cookie reaches
    api = needs.api_clients or unreachable_store

    def why(text: str, row: str) -> Reason:
        return _reason(text, row, found)

    if not api:
        reasons = [
            why("the browser keeps an opaque ID in an HttpOnly cookie that page scripts cannot read", "xss"),
            why("logout deletes the row, so a copied cookie dies at once", "logout"),
            why("one lookup per request, which costs microseconds on a local store", "speed"),
        ]
        if needs.instant_revocation:
            reasons.append(why("revoking a user ends every one of their sessions at the next request", "revocation"))
        return Recommendation(
            "sessions", "a server-side session store and an HttpOnly, SameSite cookie", tuple(reasons)
        )

    if needs.server_rendered:
        reasons = [
            why("pages get the session cookie: HttpOnly, instant logout", "xss"),
            why("API clients get bearer tokens that any server with the key can verify", "scaling"),
            why("short access tokens are renewed through a refresh token, not a new login", "refresh"),
        ]
        caveats = ["two credentials to secure, and /login must know which one a client wants"]
        if needs.instant_revocation:
            caveats.append("instant revocation on the API needs a jti denylist: one lookup per API request")
        return Recommendation(
            "hybrid",
            "sessions for the web pages, short-lived JWT access tokens + refresh for the API",
            tuple(reasons),
            tuple(caveats),
        )

    if needs.instant_revocation and not unreachable_store:
        reasons = [
            why("revocation must bite at once, and deleting a session does that", "revocation"),
            why("a JWT denylist would bring back the per-request lookup sessions already make", "lookups"),
            why("every client can reach the one shared store, so sessions scale here", "scaling"),
        ]
        return Recommendation(
            "sessions",
            "opaque session IDs (cookie or bearer) checked against one shared store",
            tuple(reasons),
            ("the store is on every request's path: keep it close and replicated",),
        )

    reasons = [
        why("any server or service holding the key verifies a token without a shared store", "scaling"),
        why("no session query on the request path", "lookups"),
        why("access tokens live minutes; a rotating refresh token renews them", "refresh"),
    ]
    if needs.cross_domain:
        reasons.insert(
            1,
            why(
                "a bearer header goes to whichever domain the client calls; cookies stay with their site",
                "cross_domain",
            ),
        )
    caveats = [
        "a stolen access token outlives logout until its exp: keep it short",
        "keep the token out of localStorage",
    ]
    if needs.instant_revocation:
        caveats.append("instant revocation needs a jti denylist every service consults: shared state again")
    return Recommendation(
        "JWTs", "short-lived JWT access tokens with rotating refresh tokens", tuple(reasons), tuple(caveats)
    )
