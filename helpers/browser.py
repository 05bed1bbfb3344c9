"""A real Chromium, driven by Playwright, against the course's in-kernel servers: the cookie rules as a browser enforces them.

``helpers.attacks.Browser`` is a model of a browser's cookie rules; this module runs the real thing so
the two can be compared. ``chromium(...)`` launches a headless Chromium (Debian's ``/usr/bin/chromium``
or another found by ``find_chromium``; Playwright's own downloads are never needed) that:

* trusts exactly the servers it is given and nothing else: each server's public key is pinned with
  ``--ignore-certificate-errors-spki-list``, so a page on another certificate still fails, while the
  pinned ones load as ordinary ``https`` pages (a secure context, ``Secure`` cookies and all);
* resolves made-up site names to loopback (``--host-resolver-rules``): ``https://app.test:PORT`` is the
  app, ``http://evil.test:PORT`` a different site on the same machine. Browsers compare sites by host
  name, never by port, so two ports of 127.0.0.1 would be one site; two names are two sites;
* keeps Chromium's own background traffic off (no updates, sync or component downloads) and starts
  from a fresh profile that is deleted afterwards.

The ``Browser`` that ``chromium(...)`` gives makes incognito contexts, where Chromium blocks third-party
cookies; ``chromium_profile(...)`` gives one regular profile with third-party cookies allowed or blocked. ``CookieLab`` is a Flask app that sets a fixed list of cookies (``LAB_COOKIES``)
and records every cookie each request carried; ``AttackerSite`` serves whatever pages a test or
chapter writes into it; ``CROSS_SITE`` are the ways a page on another site makes a request (link,
form POST, fetch, iframe). ``compare_with_model()`` runs them all and tabulates what Chromium sent
next to what ``helpers.attacks.Browser`` predicts. Playwright is imported only when a browser starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask, Response, request

from .attacks import Browser
from .display import Table
from .server import HOST, RunningServer, serve

__all__ = [
    "CHROMIUM_ARGS", "CHROMIUM_CANDIDATES", "CHROMIUM_PATHS", "CROSS_SITE", "LAB_COOKIES", "AttackerSite", "CookieLab", "CrossSite", "Seen",
    "chromium", "chromium_profile", "compare_with_model",
    "find_chromium", "site_url", "spki_pin", "unavailable_reason",
]

# Headless, no sandbox (containers run as root), and nothing that phones home: in a closed network
# Chromium's background connections are refused and slow every launch.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
)
CHROMIUM_CANDIDATES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                                        "microsoft-edge")
# Where Chrome, Chromium and Edge install themselves off PATH (macOS, Windows): the places Playwright's channels look.
CHROMIUM_PATHS: tuple[str, ...] = (
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
)


def find_chromium() -> str | None:
    """The path of an installed Chromium-based browser (``$CHROMIUM``, then the usual names on PATH and folders), or None."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return chosen if os.path.exists(chosen) else shutil.which(chosen)
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return next((path for path in CHROMIUM_PATHS if os.path.exists(path)), None)


def unavailable_reason() -> str | None:
    """Why no real browser can run here, in one line (None when Playwright and a Chromium are both present)."""
    try:
        import playwright.sync_api  # noqa: F401  (imported only to see that it is installed)
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-test.txt)"
    if find_chromium() is None:
        return "no Chromium, Chrome or Edge found (Debian: apt-get install chromium; or set CHROMIUM=/path/to/browser)"
    return None


def spki_pin(server: RunningServer) -> str:
    """Base64 SHA-256 of the public key ``server`` presents, fetched over a TLS connection verified against its CA."""
    if server.ca_file is None:
        raise ValueError("an http server has no certificate to pin")
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with socket.create_connection((HOST, server.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server sent no certificate")
    public = x509.load_der_x509_certificate(der).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def site_url(server: RunningServer, name: str) -> str:
    """``server``'s URL with its host replaced by ``name`` (a site name that ``chromium(names=...)`` maps to loopback)."""
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{name}:{server.port}"


def _launch_options(trusted: Sequence[RunningServer], names: Sequence[str], executable: str | None) -> dict[str, Any]:
    path = executable or find_chromium()
    if path is None:
        raise RuntimeError(unavailable_reason() or "no browser found")
    args = list(CHROMIUM_ARGS)
    pins = [spki_pin(server) for server in trusted]
    if pins:
        args.append("--ignore-certificate-errors-spki-list=" + ",".join(pins))
    if names:
        args.append("--host-resolver-rules=" + ", ".join(f"MAP {name} {HOST}" for name in names))
    return {"executable_path": path, "headless": True, "args": args}


@contextmanager
def _playwright(given: Any | None) -> Iterator[Any]:
    """``given`` (one thread may run only one Playwright at a time), or a new one stopped afterwards."""
    if given is not None:
        yield given
        return
    from playwright.sync_api import sync_playwright  # optional: only the browser tests and live cells need it

    with sync_playwright() as started:
        yield started


@contextmanager
def chromium(trusted: Sequence[RunningServer] = (), names: Sequence[str] = (), *,
             executable: str | None = None, playwright: Any | None = None) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``) trusting only ``trusted``'s keys, with each of ``names`` on loopback.

    Its ``new_context()`` profiles are incognito ones, where Chromium blocks third-party cookies.
    """
    options = _launch_options(trusted, names, executable)
    with _playwright(playwright) as running:
        browser = running.chromium.launch(**options)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_profile(trusted: Sequence[RunningServer] = (), names: Sequence[str] = (), *,
                     third_party_cookies: bool = True, executable: str | None = None,
                     playwright: Any | None = None) -> Iterator[Any]:
    """Like ``chromium`` but one regular profile (a Playwright ``BrowserContext``) in a temporary folder.

    ``third_party_cookies=True`` is the setting "Allow third-party cookies" (``cookie_controls_mode`` 0): SameSite
    then decides alone what a cross-site fetch or iframe carries. False blocks them, as a fresh profile of
    Debian's Chromium 156 does by default.
    """
    options = _launch_options(trusted, names, executable)
    with tempfile.TemporaryDirectory(prefix="auth-course-browser-") as profile, _playwright(playwright) as running:
        (Path(profile) / "Default").mkdir()
        preferences = {"profile": {"cookie_controls_mode": 0 if third_party_cookies else 1,
                                   "block_third_party_cookies": not third_party_cookies}}
        (Path(profile) / "Default" / "Preferences").write_text(json.dumps(preferences), encoding="utf-8")
        context = running.chromium.launch_persistent_context(profile, **options)
        try:
            yield context
        finally:
            context.close()


# --- the cookie lab: one app that sets every kind of cookie and records what comes back ----------------

# Each Set-Cookie header exactly as sent, so the model (helpers.attacks.Browser.receive) reads the same bytes.
LAB_COOKIES: tuple[str, ...] = (
    "strict=s; Path=/; Secure; HttpOnly; SameSite=Strict",
    "lax=l; Path=/; Secure; HttpOnly; SameSite=Lax",
    "none=n; Path=/; Secure; HttpOnly; SameSite=None",
    "visible=v; Path=/; Secure; SameSite=Lax",  # not HttpOnly: a page's script can read it
    "scoped=r; Path=/refresh; Secure; HttpOnly; SameSite=Strict",  # like __Secure-refresh: only under /refresh
    "__Host-good=h; Path=/; Secure; HttpOnly; SameSite=Lax",
    "__Host-pathed=x; Path=/refresh; Secure; HttpOnly; SameSite=Lax",  # __Host- demands Path=/: refused
    "__Host-insecure=x; Path=/; HttpOnly; SameSite=Lax",  # __Host- demands Secure: refused
    "__Secure-good=g; Path=/; Secure; HttpOnly; SameSite=Lax",
    "__Secure-insecure=x; Path=/; HttpOnly; SameSite=Lax",  # __Secure- demands Secure: refused
)


@dataclass(frozen=True)
class Seen:
    """One request the lab received: method, path, the cookies it carried (in order) and its Sec-Fetch-Site."""

    method: str
    path: str
    cookies: tuple[tuple[str, str], ...]
    fetch_site: str | None

    @property
    def names(self) -> set[str]:
        """The cookie names this request carried."""
        return {name for name, _ in self.cookies}


def _cookie_pairs(header: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            pairs.append((name, value))
    return tuple(pairs)


class CookieLab:
    """A Flask app: ``GET /plant`` sets ``LAB_COOKIES``; every other path answers a small page and records a ``Seen``."""

    def __init__(self, cookies: Sequence[str] = LAB_COOKIES) -> None:
        self.cookies = tuple(cookies)
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self.app = Flask("helpers.browser.cookie_lab")
        self.app.add_url_rule("/plant", "plant", self._plant)
        self.app.add_url_rule("/", "record_root", self._record, methods=["GET", "POST"])
        self.app.add_url_rule("/<path:path>", "record", self._record, methods=["GET", "POST"])

    def _plant(self) -> Response:
        response = Response("<!doctype html><title>planted</title><p>planted</p>", mimetype="text/html")
        for header in self.cookies:
            response.headers.add("Set-Cookie", header)
        return response

    def _record(self, path: str = "") -> Response:
        seen = Seen(request.method, request.path, _cookie_pairs(request.headers.get("Cookie", "")),
                    request.headers.get("Sec-Fetch-Site"))
        with self._lock:
            self._seen.append(seen)
        return Response("<!doctype html><title>seen</title><p>seen</p>", mimetype="text/html")

    def seen(self, path: str | None = None) -> list[Seen]:
        """The requests recorded so far (only those to ``path`` if given), oldest first."""
        with self._lock:
            return [s for s in self._seen if path is None or s.path == path]

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._seen.clear()

    def wait(self, path: str, timeout: float = 10.0) -> Seen:
        """The first request recorded to ``path``, waiting up to ``timeout`` seconds for the browser to send it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.seen(path)
            if seen:
                return seen[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the browser never requested {path} within {timeout} s")
            time.sleep(0.02)


class AttackerSite:
    """A Flask app serving ``pages[name]`` at ``/name``: the pages of another site (evil.test) that a test writes."""

    def __init__(self, pages: Mapping[str, str] | None = None) -> None:
        self.pages: dict[str, str] = dict(pages or {})
        self.app = Flask("helpers.browser.attacker_site")
        self.app.add_url_rule("/<name>", "page", self._page)

    def _page(self, name: str) -> Response:
        if name not in self.pages:
            return Response("not found", status=404, mimetype="text/plain")
        return Response(self.pages[name], mimetype="text/html")


@dataclass(frozen=True)
class CrossSite:
    """One way a page on another site makes the browser request a URL, and how the model is told about it."""

    name: str
    method: str
    top_level: bool  # a navigation of the whole tab (link, form) rather than a fetch or frame inside the page
    template: str  # the attacker's HTML, with {url} for the target

    def page(self, url: str) -> str:
        """The attacker's HTML aimed at ``url``."""
        return self.template.format(url=url)


CROSS_SITE: tuple[CrossSite, ...] = (
    CrossSite("link", "GET", True, "<a id=go href='{url}'>prize</a><script>document.getElementById('go').click()</script>"),
    CrossSite("form-post", "POST", True, "<form method=post action='{url}'><input type=hidden name=email "
                                         "value='evil@attacker.test'></form><script>document.forms[0].submit()</script>"),
    CrossSite("fetch", "POST", False,
              "<script>fetch('{url}', {{method: 'POST', credentials: 'include', mode: 'no-cors'}})</script>"),
    CrossSite("iframe", "GET", False, "<iframe src='{url}'></iframe>"),
)


def _names(pairs: Sequence[tuple[str, str]] | set[str]) -> str:
    names = sorted(pairs if isinstance(pairs, set) else {name for name, _ in pairs})
    return ", ".join(names) or "(none)"


def compare_with_model(third_party_cookies: bool = True, timeout: float = 10.0, *, playwright: Any | None = None) -> Table:
    """Plant ``LAB_COOKIES`` in a real Chromium, make each ``CROSS_SITE`` request from evil.test: what it sent vs the model.

    Starts its own servers and browser and stops them before returning. One row for what a page's
    script reads (``document.cookie``), then one per cross-site request: the cookie names the browser
    sent, and "yes" if ``helpers.attacks.Browser`` predicted exactly those (else "no, predicted ...").
    """
    lab, evil = CookieLab(), AttackerSite()
    table = Table(["request", "Chromium sent", "model agrees"])
    with serve(lab.app) as lab_server, serve(evil.app, https=False) as evil_server, \
            chromium_profile([lab_server], ["app.test", "evil.test"], third_party_cookies=third_party_cookies,
                             playwright=playwright) as context:
        context.set_default_timeout(timeout * 1000)
        app, attacker = site_url(lab_server, "app.test"), site_url(evil_server, "evil.test")
        page = context.new_page()
        page.goto(app + "/plant")
        model = Browser(lab_server.client(), block_third_party_cookies=not third_party_cookies)
        model.receive(app + "/plant", lab.cookies)
        real, predicted = page.evaluate("document.cookie"), model.document_cookie(app + "/")
        table.add("document.cookie (script)", real or "(none)", "yes" if real == predicted else f"no, predicted {predicted}")
        for scenario in CROSS_SITE:
            path = f"/target-{scenario.name}"
            evil.pages[scenario.name] = scenario.page(app + path)
            page.goto(f"{attacker}/{scenario.name}")
            seen = lab.wait(path, timeout)
            expected = {n for n, _ in model.cookie_pairs(app + path, attacker + "/", scenario.method, scenario.top_level)}
            agrees = "yes" if seen.names == expected else f"no, predicted {_names(expected)}"
            table.add(f"cross-site {scenario.name} ({scenario.method})", _names(seen.names), agrees)
    return table
