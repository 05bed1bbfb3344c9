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
next to what ``helpers.attacks.Browser`` predicts. ``COOKIE_SCENARIOS`` are chapter 06's cookie lessons
(HttpOnly, SameSite, a path-scoped cookie, the name prefixes): ``run_cookie_scenarios()`` plays them in
Chromium, ``model_cookie_scenarios()`` asks the model, and ``cookie_scenarios("auto")`` runs Chromium when
one is found and otherwise reads the run committed in ``data/browser_scenarios.json`` (``python -m
helpers.browser --record`` rewrites it). Playwright is imported only when a browser starts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask, Response, request

from . import DATA_DIR
from .attacks import Browser
from .clock import Clock
from .display import Table
from .server import HOST, RunningServer, serve

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_CANDIDATES",
    "CHROMIUM_PATHS",
    "COOKIE_SCENARIOS",
    "CROSS_SITE",
    "LAB_COOKIES",
    "SAMESITE_COOKIES",
    "SCENARIO_COOKIES",
    "SCENARIO_RESULTS",
    "AttackerSite",
    "CookieLab",
    "CrossSite",
    "ScenarioRun",
    "Seen",
    "chromium",
    "chromium_profile",
    "compare_with_model",
    "cookie_scenarios",
    "find_chromium",
    "load_scenario_run",
    "model_cookie_scenarios",
    "run_cookie_scenarios",
    "save_scenario_run",
    "scenario_table",
    "site_url",
    "spki_pin",
    "unavailable_reason",
]

# Headless, no sandbox (containers run as root), and nothing that phones home: in a closed network
# Chromium's background connections are refused and slow every launch.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)
CHROMIUM_CANDIDATES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
)
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
    with (
        socket.create_connection((HOST, server.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
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
def chromium(
    trusted: Sequence[RunningServer] = (),
    names: Sequence[str] = (),
    *,
    executable: str | None = None,
    playwright: Any | None = None,
) -> Iterator[Any]:
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
def chromium_profile(
    trusted: Sequence[RunningServer] = (),
    names: Sequence[str] = (),
    *,
    third_party_cookies: bool = True,
    executable: str | None = None,
    playwright: Any | None = None,
) -> Iterator[Any]:
    """Like ``chromium`` but one regular profile (a Playwright ``BrowserContext``) in a temporary folder.

    ``third_party_cookies=True`` is the setting "Allow third-party cookies" (``cookie_controls_mode`` 0): SameSite
    then decides alone what a cross-site fetch or iframe carries. False blocks them, as a fresh profile of
    Debian's Chromium 156 does by default.
    """
    options = _launch_options(trusted, names, executable)
    with tempfile.TemporaryDirectory(prefix="auth-course-browser-") as profile, _playwright(playwright) as running:
        (Path(profile) / "Default").mkdir()
        preferences = {
            "profile": {
                "cookie_controls_mode": 0 if third_party_cookies else 1,
                "block_third_party_cookies": not third_party_cookies,
            }
        }
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
        seen = Seen(
            request.method,
            request.path,
            _cookie_pairs(request.headers.get("Cookie", "")),
            request.headers.get("Sec-Fetch-Site"),
        )
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
    CrossSite(
        "link", "GET", True, "<a id=go href='{url}'>prize</a><script>document.getElementById('go').click()</script>"
    ),
    CrossSite(
        "form-post",
        "POST",
        True,
        "<form method=post action='{url}'><input type=hidden name=email "
        "value='evil@attacker.test'></form><script>document.forms[0].submit()</script>",
    ),
    CrossSite(
        "fetch",
        "POST",
        False,
        "<script>fetch('{url}', {{method: 'POST', credentials: 'include', mode: 'no-cors'}})</script>",
    ),
    CrossSite("iframe", "GET", False, "<iframe src='{url}'></iframe>"),
)


def _names(pairs: Sequence[tuple[str, str]] | set[str]) -> str:
    names = sorted(pairs if isinstance(pairs, set) else {name for name, _ in pairs})
    return ", ".join(names) or "(none)"


def compare_with_model(
    third_party_cookies: bool = True, timeout: float = 10.0, *, playwright: Any | None = None
) -> Table:
    """Plant ``LAB_COOKIES`` in a real Chromium, make each ``CROSS_SITE`` request from evil.test: what it sent vs the model.

    Starts its own servers and browser and stops them before returning. One row for what a page's
    script reads (``document.cookie``), then one per cross-site request: the cookie names the browser
    sent, and "yes" if ``helpers.attacks.Browser`` predicted exactly those (else "no, predicted ...").
    """
    lab, evil = CookieLab(), AttackerSite()
    table = Table(["request", "Chromium sent", "model agrees"])
    with (
        serve(lab.app) as lab_server,
        serve(evil.app, https=False) as evil_server,
        chromium_profile(
            [lab_server], ["app.test", "evil.test"], third_party_cookies=third_party_cookies, playwright=playwright
        ) as context,
    ):
        context.set_default_timeout(timeout * 1000)
        app, attacker = site_url(lab_server, "app.test"), site_url(evil_server, "evil.test")
        page = context.new_page()
        page.goto(app + "/plant")
        model = Browser(lab_server.client(), block_third_party_cookies=not third_party_cookies)
        model.receive(app + "/plant", lab.cookies)
        real, predicted = page.evaluate("document.cookie"), model.document_cookie(app + "/")
        table.add(
            "document.cookie (script)", real or "(none)", "yes" if real == predicted else f"no, predicted {predicted}"
        )
        for scenario in CROSS_SITE:
            path = f"/target-{scenario.name}"
            evil.pages[scenario.name] = scenario.page(app + path)
            page.goto(f"{attacker}/{scenario.name}")
            seen = lab.wait(path, timeout)
            expected = {
                n for n, _ in model.cookie_pairs(app + path, attacker + "/", scenario.method, scenario.top_level)
            }
            agrees = "yes" if seen.names == expected else f"no, predicted {_names(expected)}"
            table.add(f"cross-site {scenario.name} ({scenario.method})", _names(seen.names), agrees)
    return table


# --- chapter 06's cookie lessons, live or as committed ------------------------------------------------

SCENARIO_RESULTS = DATA_DIR / "browser_scenarios.json"
# The lab's cookies plus one set without SameSite: browsers default it to Lax, and Chromium lets it ride a
# top-level cross-site POST for its first two minutes (helpers.attacks.LAX_ALLOWING_UNSAFE_SECONDS).
SCENARIO_COOKIES: tuple[str, ...] = (*LAB_COOKIES, "unset=u; Path=/; Secure; HttpOnly")
SAMESITE_COOKIES = ("strict", "lax", "none", "unset")  # one cookie per SameSite value, all Secure and HttpOnly
COOKIE_SCENARIOS: tuple[str, ...] = (
    "HttpOnly: names document.cookie shows",
    "SameSite: cross-site link (GET)",
    "SameSite: cross-site form POST",
    "SameSite: cross-site fetch POST",
    "SameSite: same-site fetch POST",
    "Path=/refresh: a request to /refresh",
    "Path=/refresh: a request to /logout",
    "__Host- cookies the browser kept",
    "__Secure- cookies the browser kept",
)
_SCENARIO_REQUESTS = ("link", "form-post", "fetch")  # the CROSS_SITE ways the SameSite rows use


@dataclass(frozen=True)
class ScenarioRun:
    """What a real browser did in each of ``COOKIE_SCENARIOS``, and where that came from (a live run or the committed one)."""

    outcomes: dict[str, str]
    browser: str  # e.g. "Chromium 156.0.8078.108"
    live: bool
    note: str = ""  # why the committed run is shown, when it is

    @property
    def source(self) -> str:
        """Which run this is, and why not a live one (it names a browser version, so notebooks don't compare it)."""
        if self.live:
            return f"real browser column: a live run in {self.browser}, just now"
        return f"real browser column: the committed run ({self.browser})\nno live run: {self.note}"


def _shown(names: set[str], among: Sequence[str] | None = None) -> str:
    """Sorted cookie names (only those ``among`` the watched ones, if given), or "(none)"."""
    chosen = names if among is None else names & set(among)
    return ", ".join(sorted(chosen)) or "(none)"


def _cookie_names(header: str) -> set[str]:
    return {name for name, _ in _cookie_pairs(header)}


def _outcomes(readable: set[str], kept: set[str], sent: Mapping[str, set[str]]) -> dict[str, str]:
    """The scenario rows from what a page's script read, which cookies were kept, and what each request carried."""
    rows = [_shown(readable)]
    rows += [_shown(sent[way], SAMESITE_COOKIES) for way in (*_SCENARIO_REQUESTS, "same-site")]
    rows += [_shown(sent[path], ("scoped",)) for path in ("/refresh", "/logout")]
    rows += [_shown({name for name in kept if name.startswith(prefix)}) for prefix in ("__Host-", "__Secure-")]
    return dict(zip(COOKIE_SCENARIOS, rows, strict=True))


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_cookie_scenarios(timeout: float = 10.0, *, playwright: Any | None = None) -> ScenarioRun:
    """Play ``COOKIE_SCENARIOS`` in a real Chromium (third-party cookies allowed, so SameSite alone decides).

    Starts the cookie lab (https://app.test), an attacker's site (http://evil.test) and a fresh profile,
    and stops all three before returning. Raises ``RuntimeError`` when no browser can run here. In a
    notebook, where an asyncio loop runs and Playwright's sync API refuses to start, it runs on a worker
    thread that has ended when this returns.
    """
    if playwright is None and _event_loop_running():
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium") as worker:
            return worker.submit(_play_cookie_scenarios, timeout).result()
    return _play_cookie_scenarios(timeout, playwright)


def _play_cookie_scenarios(timeout: float, playwright: Any | None = None) -> ScenarioRun:
    lab, evil = CookieLab(SCENARIO_COOKIES), AttackerSite()
    with (
        serve(lab.app) as lab_server,
        serve(evil.app, https=False) as evil_server,
        chromium_profile([lab_server], ["app.test", "evil.test"], playwright=playwright) as context,
    ):
        context.set_default_timeout(timeout * 1000)
        app, attacker = site_url(lab_server, "app.test"), site_url(evil_server, "evil.test")
        page = context.new_page()
        page.goto(app + "/plant")
        readable = _cookie_names(page.evaluate("document.cookie"))
        kept = {cookie["name"] for cookie in context.cookies()}
        sent: dict[str, set[str]] = {}
        for way in (s for s in CROSS_SITE if s.name in _SCENARIO_REQUESTS):
            evil.pages[way.name] = way.page(f"{app}/cross-{way.name}")
            page.goto(f"{attacker}/{way.name}")
            sent[way.name] = lab.wait(f"/cross-{way.name}", timeout).names
        page.goto(app + "/own-page")
        page.evaluate("url => fetch(url, {method: 'POST'})", app + "/own-fetch")
        sent["same-site"] = lab.wait("/own-fetch", timeout).names
        for path in ("/refresh", "/logout"):
            page.goto(app + path)
            sent[path] = lab.wait(path, timeout).names
        version = context.browser.version if context.browser is not None else "version unknown"
    return ScenarioRun(_outcomes(readable, kept, sent), f"Chromium {version}", live=True)


def model_cookie_scenarios(
    app: str = "https://app.test", attacker: str = "http://evil.test", *, clock: Clock | None = None
) -> dict[str, str]:
    """What ``helpers.attacks.Browser`` predicts for each of ``COOKIE_SCENARIOS`` (no server, no browser: its rules alone)."""
    with requests.Session() as unused:  # the model sends nothing here: receive and cookie_pairs only
        model = Browser(unused, clock=clock)
        model.receive(app + "/plant", SCENARIO_COOKIES)
        readable = _cookie_names(model.document_cookie(app + "/"))
        kept = {cookie.name for cookie in model.cookies.values()}
        sent = {
            way.name: {
                n for n, _ in model.cookie_pairs(f"{app}/cross-{way.name}", attacker + "/", way.method, way.top_level)
            }
            for way in CROSS_SITE
            if way.name in _SCENARIO_REQUESTS
        }
        sent["same-site"] = {n for n, _ in model.cookie_pairs(app + "/own-fetch", app + "/own-page", "POST")}
        for path in ("/refresh", "/logout"):
            sent[path] = {n for n, _ in model.cookie_pairs(app + path)}
    return _outcomes(readable, kept, sent)


def save_scenario_run(run: ScenarioRun, path: str | Path = SCENARIO_RESULTS) -> None:
    """Write a live run's outcomes as the committed run (``python -m helpers.browser --record``)."""
    document = {
        "_comment": "What a real Chromium did in helpers.browser.COOKIE_SCENARIOS; rewritten by "
        "`python -m helpers.browser --record`, checked against a live run by tests/test_browser.py.",
        "browser": run.browser,
        "outcomes": run.outcomes,
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_scenario_run(path: str | Path = SCENARIO_RESULTS, note: str = "") -> ScenarioRun:
    """The committed run, with ``note`` saying why it is shown instead of a live one."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    outcomes = {str(k): str(v) for k, v in document["outcomes"].items()}
    if list(outcomes) != list(COOKIE_SCENARIOS):
        raise ValueError(f"{path} holds other scenarios than COOKIE_SCENARIOS: re-record it")
    return ScenarioRun(outcomes, str(document["browser"]), live=False, note=note)


def cookie_scenarios(
    live: bool | str = "auto", path: str | Path = SCENARIO_RESULTS, timeout: float = 10.0
) -> ScenarioRun:
    """A live run when ``live`` is True (or "auto" and a browser is found), else the committed run at ``path``.

    With "auto", a live run that fails (a browser that crashes or hangs) also falls back, and says why.
    """
    if live not in (True, False, "auto"):
        raise ValueError(f'live must be True, False or "auto", not {live!r}')
    if live is True:
        return run_cookie_scenarios(timeout)
    reason = "LIVE_BROWSER is False" if live is False else unavailable_reason()
    if reason is None:
        try:
            return run_cookie_scenarios(timeout)
        except Exception as error:  # noqa: BLE001  (Playwright's errors have no common base worth naming here)
            reason = f"the live run failed ({type(error).__name__}: {str(error).splitlines()[0][:80]})"
    return load_scenario_run(path, reason)


def scenario_table(observed: Mapping[str, str], predicted: Mapping[str, str]) -> Table:
    """One row per scenario: what the real browser did, what the model predicted, and whether they agree."""
    table = Table(["scenario", "real browser", "model", "agree"])
    for scenario in COOKIE_SCENARIOS:
        table.add(
            scenario,
            observed[scenario],
            predicted[scenario],
            "yes" if observed[scenario] == predicted[scenario] else "NO",
        )
    return table


def main(argv: Sequence[str] = ()) -> int:
    """Run the scenarios live and print the table; with ``--record`` also write them as the committed run."""
    run = run_cookie_scenarios()
    print(scenario_table(run.outcomes, model_cookie_scenarios()))
    print(run.source)
    if "--record" in argv:
        save_scenario_run(run)
        print("recorded in", SCENARIO_RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
