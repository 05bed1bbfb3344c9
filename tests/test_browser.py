"""The cookie and script rules the course teaches, in a real headless Chromium, against helpers.attacks.Browser.

Every scenario runs twice: in the real browser (Playwright driving Chromium over real HTTPS to servers
started with ``serve()``) and in the course's model, ``helpers.attacks.Browser``, fed the same
Set-Cookie headers. The test asserts what the browser did AND that the model predicted it.

Sites: ``https://app.test:PORT`` is the app, ``http://evil.test:PORT`` the attacker's page (both on
loopback, see ``helpers.browser``); browsers tell sites apart by host name, so the two are cross-site.
Without Playwright or a Chromium these tests skip with one line; with ``CI=true`` that skip is a failure.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import CHEAP_PARAMS, DEMO_PASSWORDS
from support import require_browser

from helpers.attacks import Browser
from helpers.browser import (
    CROSS_SITE,
    LAB_COOKIES,
    AttackerSite,
    CookieLab,
    ScenarioRun,
    Seen,
    chromium,
    chromium_profile,
    compare_with_model,
    cookie_scenarios,
    load_scenario_run,
    model_cookie_scenarios,
    run_cookie_scenarios,
    scenario_table,
    site_url,
)
from helpers.server import RunningServer, serve
from helpers.users import UserDirectory
from helpers.vulnerable.session_app import COOKIE_NAME as NAIVE_COOKIE
from helpers.vulnerable.session_app import create_naive_session_app
from helpers.web import REFRESH_COOKIE, REFRESH_PATH, SESSION_COOKIE, create_app

require_browser("the browser tests")

ALICE = {"username": "alice", "password": DEMO_PASSWORDS["alice"][0]}
MALLORY = {"username": "bob", "password": DEMO_PASSWORDS["bob"][0]}  # the attacker's own account
WAIT = 10.0  # seconds for the browser to send a request: generous, on a loaded machine


class Sites:
    """Everything the module's browser talks to: the cookie lab (https and http), the attacker, two real apps."""

    def __init__(self) -> None:
        users = UserDirectory(params=CHEAP_PARAMS)
        for name, (password, role) in DEMO_PASSWORDS.items():
            users.add(name, password, role=role)
        self.lab, self.evil = CookieLab(), AttackerSite()
        self.naive_app = create_naive_session_app(users)
        self.servers: dict[str, RunningServer] = {}
        starts: dict[str, Callable[[], RunningServer]] = {
            "lab": lambda: serve(self.lab.app),
            "plain": lambda: serve(self.lab.app, https=False),
            "evil": lambda: serve(self.evil.app, https=False),
            "naive": lambda: serve(self.naive_app),
            "session": lambda: serve(create_app("session", users=users)),
            "jwt": lambda: serve(create_app("jwt", users=users)),
        }
        try:
            for key, start in starts.items():
                self.servers[key] = start()
        except BaseException:
            self.stop()
            raise
        names = {
            "lab": "app.test",
            "plain": "app.test",
            "evil": "evil.test",
            "naive": "naive.test",
            "session": "session.test",
            "jwt": "jwt.test",
        }
        self.url = {key: site_url(server, names[key]) for key, server in self.servers.items()}
        self.names = sorted(set(names.values()))
        self.trusted = [s for s in self.servers.values() if s.https]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    running = Sites()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(sites: Sites, playwright: Any) -> Iterator[Any]:
    with chromium(sites.trusted, sites.names, playwright=playwright) as launched:
        yield launched


@pytest.fixture(scope="module")
def profile(sites: Sites, playwright: Any) -> Iterator[Any]:
    """One regular profile with third-party cookies allowed (the browser setting "Allow third-party cookies")."""
    with chromium_profile(sites.trusted, sites.names, third_party_cookies=True, playwright=playwright) as context:
        context.set_default_timeout(WAIT * 1000)
        yield context


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context (its own cookie jar and storage) and one page in it."""
    context = browser.new_context()
    context.set_default_timeout(WAIT * 1000)
    try:
        yield context.new_page()
    finally:
        context.close()


def model_with_lab_cookies(sites: Sites, url: str, block_third_party_cookies: bool = False) -> Browser:
    """The course's model after receiving the lab's Set-Cookie headers from ``url``."""
    model = Browser(sites.servers["lab"].client(), block_third_party_cookies=block_third_party_cookies)
    model.receive(url, LAB_COOKIES)
    return model


def plant(page: Any, base: str) -> None:
    """Visit the lab's /plant at ``base`` so the browser stores what it accepts of LAB_COOKIES."""
    assert page.goto(base + "/plant").status == 200


def wait_for(lab: CookieLab, path: str) -> Seen:
    """The lab's record of the first request to ``path`` (fails after WAIT seconds)."""
    return lab.wait(path, WAIT)


def attacker_page(sites: Sites, name: str, body: str) -> str:
    """Publish ``body`` on evil.test as /name; return its URL."""
    sites.evil.pages[name] = f"<!doctype html><title>{name}</title><body>{body}</body>"
    return f"{sites.url['evil']}/{name}"


def auto_form(action: str, fields: dict[str, str], enctype: str = "application/x-www-form-urlencoded") -> str:
    inputs = "".join(f"<input type=hidden name='{name}' value='{value}'>" for name, value in fields.items())
    return f"<form method=post enctype='{enctype}' action='{action}'>{inputs}</form><script>document.forms[0].submit()</script>"


# --- 1. what a page's script can read ---------------------------------------------------------------


def test_a_page_script_reads_non_httponly_cookies_only(sites: Sites, page: Any) -> None:
    app = sites.url["lab"]
    plant(page, app)
    real = page.evaluate("document.cookie")
    assert real == "visible=v"  # every other lab cookie is HttpOnly (or refused)
    assert real == model_with_lab_cookies(sites, app + "/plant").document_cookie(app + "/")


def test_an_injected_script_reads_local_storage_but_not_httponly_cookies(sites: Sites, page: Any) -> None:
    from helpers.attacks import xss_steal

    app = sites.url["lab"]
    plant(page, app)
    page.evaluate("localStorage.setItem('access_token', 'eyJ.secret.token')")  # what a SPA keeps there
    injected = (
        "() => { const loot = {}; for (const k of Object.keys(localStorage)) loot['localStorage.' + k] = localStorage[k];"
        " if (document.cookie) loot['document.cookie'] = document.cookie; return loot; }"
    )
    real = page.evaluate(injected)
    assert real == {"localStorage.access_token": "eyJ.secret.token", "document.cookie": "visible=v"}
    model = model_with_lab_cookies(sites, app + "/plant")
    model.local_storage["access_token"] = "eyJ.secret.token"
    assert real == xss_steal(model, app + "/")


def test_a_script_cannot_write_over_an_httponly_cookie(sites: Sites, page: Any) -> None:
    app = sites.url["lab"]
    plant(page, app)
    page.evaluate("document.cookie = 'lax=forged; Path=/; Secure'")
    assert page.goto(app + "/after-write").status == 200
    assert dict(wait_for(sites.lab, "/after-write").cookies)["lax"] == "l"


# --- 2. SameSite, from another site -------------------------------------------------------------------

SCENARIOS = {scenario.name: scenario for scenario in CROSS_SITE}
LAX_AND_NONE = {"lax", "none", "visible", "__Host-good", "__Secure-good"}  # what rides a top-level cross-site GET
EXPECTED_CROSS_SITE = {  # third-party cookies allowed: SameSite alone decides
    "link": LAX_AND_NONE,
    "form-post": {"none"},
    "fetch": {"none"},
    "iframe": {"none"},
}
EXPECTED_BLOCKING_THIRD_PARTY = {  # Chromium's incognito default: no cookie at all on a cross-site fetch or iframe
    "link": LAX_AND_NONE,
    "form-post": {"none"},
    "fetch": set(),
    "iframe": set(),
}


def cross_site_request(sites: Sites, page: Any, scenario: str, blocking: bool) -> None:
    """Plant the lab's cookies, let evil.test make the scenario's request, compare browser, expectation and model."""
    app, chosen = sites.url["lab"], SCENARIOS[scenario]
    method, top_level = chosen.method, chosen.top_level
    plant(page, app)
    path = f"/target-{scenario}-{'blocking' if blocking else 'allowing'}"
    page.goto(attacker_page(sites, f"cross{path.replace('/', '-')}", chosen.page(app + path)))
    seen = wait_for(sites.lab, path)
    assert (seen.method, seen.fetch_site) == (method, "cross-site")
    assert seen.names == (EXPECTED_BLOCKING_THIRD_PARTY if blocking else EXPECTED_CROSS_SITE)[scenario]
    model = model_with_lab_cookies(sites, app + "/plant", block_third_party_cookies=blocking)
    predicted = {name for name, _ in model.cookie_pairs(app + path, sites.url["evil"] + "/page", method, top_level)}
    assert predicted == seen.names


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_samesite_decides_what_a_cross_site_request_carries(sites: Sites, profile: Any, scenario: str) -> None:
    profile.clear_cookies()
    page = profile.new_page()
    try:
        cross_site_request(sites, page, scenario, blocking=False)
    finally:
        page.close()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_blocking_third_party_cookies_leaves_cross_site_fetches_bare(sites: Sites, page: Any, scenario: str) -> None:
    cross_site_request(sites, page, scenario, blocking=True)


def test_a_same_site_request_carries_strict_cookies_too(sites: Sites, page: Any) -> None:
    app = sites.url["lab"]
    plant(page, app)
    page.evaluate("url => fetch(url, {method: 'POST'})", app + "/own-fetch")
    seen = wait_for(sites.lab, "/own-fetch")
    assert seen.fetch_site == "same-origin"
    assert {"strict", "lax", "none"} <= seen.names
    model = model_with_lab_cookies(sites, app + "/plant")
    assert {n for n, _ in model.cookie_pairs(app + "/own-fetch", app + "/plant", "POST")} == seen.names


# --- 3. Secure, Path and the name prefixes --------------------------------------------------------------


def test_the_browser_refuses_cookies_that_break_their_prefix(sites: Sites, page: Any) -> None:
    app = sites.url["lab"]
    plant(page, app)
    stored = {cookie["name"] for cookie in page.context.cookies()}
    assert {"__Host-good", "__Secure-good"} <= stored
    assert not {"__Host-pathed", "__Host-insecure", "__Secure-insecure"} & stored
    model = model_with_lab_cookies(sites, app + "/plant")
    assert {cookie.name for cookie in model.cookies.values()} == stored


def test_the_refresh_style_cookie_reaches_only_its_path(sites: Sites, page: Any) -> None:
    app = sites.url["lab"]
    plant(page, app)
    for path in ("/refresh", "/refresh/logout", "/logout", "/refreshed"):
        page.goto(app + path)
    model = model_with_lab_cookies(sites, app + "/plant")
    for path, carried in (("/refresh", True), ("/refresh/logout", True), ("/logout", False), ("/refreshed", False)):
        seen = wait_for(sites.lab, path)
        assert ("scoped" in seen.names) is carried, path
        assert {n for n, _ in model.cookie_pairs(app + path)} == seen.names, path


def test_secure_cookies_never_travel_over_plain_http(sites: Sites, page: Any) -> None:
    secure_site, plain_site = sites.url["lab"], sites.url["plain"]  # one host name, two ports: cookies ignore ports
    plant(page, plain_site)  # over http: every Secure cookie is refused, so nothing is stored
    assert page.context.cookies() == []
    plant(page, secure_site)
    page.goto(plain_site + "/over-http")
    assert wait_for(sites.lab, "/over-http").names == set()  # stored over https, never sent over http
    model = Browser(sites.servers["lab"].client())
    model.receive(plain_site + "/plant", LAB_COOKIES)
    assert model.cookies == {}
    model.receive(secure_site + "/plant", LAB_COOKIES)
    assert model.cookie_pairs(plain_site + "/over-http") == []


def test_loopback_counts_as_secure_for_secure_cookies(sites: Sites, page: Any) -> None:
    # Chromium (like Firefox) treats http://127.0.0.1 as a secure context: Secure cookies are set and sent there.
    plain = sites.servers["plain"].url  # http://127.0.0.1:PORT
    plant(page, plain)
    assert page.evaluate("window.isSecureContext") is True
    page.goto(plain + "/loopback")
    seen = wait_for(sites.lab, "/loopback")
    assert {"strict", "lax", "none", "__Host-good", "__Secure-good"} <= seen.names
    model = Browser(sites.servers["lab"].client())
    model.receive(plain + "/plant", LAB_COOKIES)
    assert {n for n, _ in model.cookie_pairs(plain + "/loopback")} == seen.names


def test_the_browser_trusts_only_the_pinned_servers(sites: Sites, browser: Any) -> None:
    other = serve(CookieLab().app)  # a certificate from another run's CA: not pinned
    try:
        context = browser.new_context()
        try:
            with pytest.raises(Exception, match="ERR_CERT"):
                context.new_page().goto(other.url + "/plant")
        finally:
            context.close()
    finally:
        other.stop()


# --- 4. chapter 06's CSRF attacks, naive app against hardened app --------------------------------------


def log_in_from_own_page(page: Any, base: str, credentials: dict[str, str]) -> dict[str, Any]:
    """The app's own page logs in with fetch (same origin), as its login form's script would."""
    page.goto(base + "/me")
    return page.evaluate(
        "([url, body]) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify(body)}).then(async r => ({status: r.status, body: await r.json()}))",
        [base + "/login", credentials],
    )


def own_page_get(page: Any, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return page.evaluate(
        "([url, headers]) => fetch(url, {headers}).then(async r => ({status: r.status, body: await r.json()}))",
        [url, headers or {}],
    )


def submit_from_evil(
    sites: Sites,
    page: Any,
    name: str,
    action: str,
    fields: dict[str, str],
    enctype: str = "application/x-www-form-urlencoded",
) -> int:
    """evil.test auto-submits a form to ``action``; the status of the app's answer."""
    with page.expect_response(lambda response: response.url == action) as answer:
        page.goto(attacker_page(sites, name, auto_form(action, fields, enctype)))
    return answer.value.status


def test_csrf_changes_the_email_on_the_naive_app_and_is_refused_by_the_hardened_one(sites: Sites, page: Any) -> None:
    naive = sites.url["naive"]
    assert log_in_from_own_page(page, naive, ALICE)["status"] == 200
    status = submit_from_evil(sites, page, "prize", naive + "/email", {"email": "evil@attacker.test"})
    assert (status, own_page_get(page, naive + "/me")["body"]["email"]) == (200, "evil@attacker.test")
    model = Browser(sites.servers["naive"].client())
    model.request("POST", sites.servers["naive"].url + "/login", json=ALICE)
    model_url = sites.servers["naive"].url
    assert NAIVE_COOKIE in model.cookies_for(model_url + "/email", sites.url["evil"] + "/prize", "POST", top_level=True)


def test_cross_site_logout_works_on_the_naive_app_only(sites: Sites, page: Any) -> None:
    naive, hardened = sites.url["naive"], sites.url["session"]
    assert log_in_from_own_page(page, naive, ALICE)["status"] == 200
    assert log_in_from_own_page(page, hardened, ALICE)["status"] == 200
    assert submit_from_evil(sites, page, "logout-naive", naive + "/logout", {}) == 200
    assert own_page_get(page, naive + "/me")["status"] == 401  # the victim's browser dropped its cookie
    assert submit_from_evil(sites, page, "logout-hard", hardened + "/logout", {}) == 403  # cross-site POST refused
    assert own_page_get(page, hardened + "/me")["status"] == 200  # still logged in
    model = Browser(sites.servers["session"].client())
    model.request("POST", sites.servers["session"].url + "/login", json=ALICE)
    # SameSite=Lax: the model, like the browser, keeps the session cookie off a cross-site POST.
    assert SESSION_COOKIE not in model.cookies_for(
        sites.servers["session"].url + "/logout", sites.url["evil"] + "/x", "POST", top_level=True
    )


def test_cross_site_refresh_never_carries_the_refresh_cookie(sites: Sites, page: Any) -> None:
    hardened = sites.url["jwt"]
    login = log_in_from_own_page(page, hardened, ALICE)
    assert login["status"] == 200
    refresh_cookie = [c for c in page.context.cookies() if c["name"] == REFRESH_COOKIE]
    assert [(c["path"], c["httpOnly"], c["secure"], c["sameSite"]) for c in refresh_cookie] == [
        (REFRESH_PATH, True, True, "Strict")
    ]
    assert submit_from_evil(sites, page, "refresh", hardened + REFRESH_PATH, {}) == 403
    model = Browser(sites.servers["jwt"].client())
    model.request("POST", sites.servers["jwt"].url + "/login", json=ALICE)
    assert (
        model.cookies_for(sites.servers["jwt"].url + REFRESH_PATH, sites.url["evil"] + "/x", "POST", top_level=True)
        == {}
    )
    # From the app's own page the same request rotates the token: the cookie is there, only cross-site is refused.
    rotated = page.evaluate(
        "url => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})"
        ".then(r => r.status)",
        hardened + REFRESH_PATH,
    )
    assert rotated == 200


@pytest.mark.parametrize("app", ["naive", "session"])
def test_a_cross_site_login_cannot_plant_the_attackers_session(sites: Sites, page: Any, app: str) -> None:
    base = sites.url[app]
    # A form cannot send JSON; the closest it gets is text/plain that looks like JSON.
    body = json.dumps(MALLORY)[:-1] + ', "pad": "'
    status = submit_from_evil(sites, page, f"login-form-{app}", base + "/login", {body: '"}'}, enctype="text/plain")
    # The naive app refuses it as not JSON (400); the hardened one refuses any cross-site POST first (403).
    assert status == {"naive": 400, "session": 403}[app]
    # fetch() may send JSON only after a CORS preflight, which neither app approves.
    page.goto(attacker_page(sites, f"login-fetch-{app}", ""))
    outcome = page.evaluate(
        "([url, body]) => fetch(url, {method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify(body)}).then(r => 'sent ' + r.status, e => 'blocked')",
        [base + "/login", MALLORY],
    )
    assert outcome == "blocked"
    assert page.context.cookies() == []  # no attacker session planted either way


@pytest.mark.parametrize("third_party_cookies", [True, False])
def test_the_live_comparison_table_agrees_row_by_row(playwright: Any, third_party_cookies: bool) -> None:
    table = compare_with_model(third_party_cookies=third_party_cookies, timeout=WAIT, playwright=playwright)
    assert [row[0] for row in table.rows] == ["document.cookie (script)"] + [
        f"cross-site {s.name} ({s.method})" for s in CROSS_SITE
    ]
    assert [row[2] for row in table.rows] == ["yes"] * len(table.rows)
    sent = {row[0]: row[1] for row in table.rows}
    assert sent["cross-site fetch (POST)"] == ("none" if third_party_cookies else "(none)")
    assert max(len(line) for line in str(table).splitlines()) <= 120  # fits a notebook's output width


def test_the_committed_scenario_run_still_matches_a_live_one(playwright: Any) -> None:
    # Chapter 06 shows data/browser_scenarios.json wherever no browser runs; this keeps it honest.
    live, committed = run_cookie_scenarios(WAIT, playwright=playwright), load_scenario_run()
    assert live.live and live.browser.startswith("Chromium ")
    assert live.outcomes == committed.outcomes, "re-record with: python -m helpers.browser --record"
    assert live.outcomes == model_cookie_scenarios()
    assert live.outcomes["SameSite: cross-site form POST"] == "none, unset"  # default Lax, young: rides a form POST
    assert max(len(line) for line in str(scenario_table(live.outcomes, committed.outcomes)).splitlines()) <= 120


def test_a_notebook_kernel_gets_a_live_run_too() -> None:
    # A kernel runs cells inside an asyncio loop, where Playwright's sync API refuses to start.
    async def in_a_kernel() -> ScenarioRun:
        return cookie_scenarios("auto", timeout=WAIT)

    before = threading.active_count()
    with ThreadPoolExecutor(max_workers=1) as kernel:  # a thread of its own: this one may hold the module's Playwright
        run = kernel.submit(asyncio.run, in_a_kernel()).result()
    assert run.live, run.source
    assert run.outcomes == load_scenario_run().outcomes
    assert threading.active_count() == before  # its worker thread has ended
