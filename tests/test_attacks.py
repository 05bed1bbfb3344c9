"""The attack tooling, and the browser-side attacks (XSS, CSRF, fixation, replay): naive apps fall, helpers holds."""

from __future__ import annotations

import random

import pytest

from helpers import attacks, tokens
from helpers.denylist import MemoryDenylist
from helpers.server import serve
from helpers.vulnerable.fixation import COOKIE_NAME as FIXATION_COOKIE
from helpers.vulnerable.fixation import create_fixation_app
from helpers.vulnerable.session_app import CSRF_COOKIE, create_naive_session_app
from helpers.web import SESSION_COOKIE, bearer

ALICE = {"username": "alice", "password": "wonderland"}
EVIL = "https://evil.example/prize.html"
SECRET = b"a fixed demo secret, at least 32 bytes long"


def test_tamper_keeps_header_and_signature():
    token = tokens.encode({"sub": "alice", "role": "user"}, SECRET)
    forged = attacks.tamper_claims(token, role="admin")
    assert forged.split(".")[0] == token.split(".")[0] and forged.split(".")[2] == token.split(".")[2]
    assert attacks.unverified_claims(forged) == {"sub": "alice", "role": "admin"}
    with pytest.raises(tokens.InvalidSignatureError):
        tokens.decode(forged, SECRET, algorithms=["HS256"])


def test_alg_none_tokens_cover_every_casing_and_have_no_signature():
    forged = attacks.alg_none_tokens({"sub": "x"})
    assert [attacks.segments(t)[0]["alg"] for t in forged] == list(attacks.NONE_CASINGS)
    assert all(t.endswith(".") for t in forged)


def test_sign_hs256_matches_helpers_tokens_for_long_keys():
    claims = {"sub": "alice"}
    assert tokens.decode(attacks.sign_hs256(claims, SECRET), SECRET, algorithms=["HS256"]) == claims


def test_crack_finds_a_listed_secret_and_reports_a_rate():
    token = attacks.sign_hs256({"sub": "alice"}, b"sunshine2024")
    result = attacks.crack_hs256(token, attacks.load_wordlist())
    assert result.secret == "sunshine2024" and result.guesses > 1 and result.rate > 0
    missed = attacks.crack_hs256(attacks.sign_hs256({"sub": "a"}, SECRET), ["a", "b"])
    assert missed.secret is None and missed.guesses == 2


def test_wordlist_is_a_few_thousand_unique_words():
    words = attacks.load_wordlist()
    assert 2000 <= len(words) <= 10000 and len(set(words)) == len(words)


def test_guess_rate_and_brute_force_years():
    token = attacks.sign_hs256({"sub": "alice"}, SECRET)
    assert attacks.guess_rate(token, 2000, random.Random(1)) > 1000
    assert attacks.brute_force_years(256, 1e9) > 1e60
    assert attacks.brute_force_years(1, 1.0) == pytest.approx(1 / attacks.SECONDS_PER_YEAR)


def test_attack_log_builds_a_table_in_recording_order():
    log = attacks.AttackLog()
    log.record("alg none", "naive", "accepted")
    log.record("alg none", "helpers JWT", "rejected")
    log.record("CSRF", "helpers sessions", "rejected")
    text = str(log.table())
    assert text.splitlines()[0].split() == ["attack", "naive", "helpers", "sessions", "helpers", "JWT"]
    assert text.index("alg none") < text.index("CSRF") and log.verdict("CSRF", "naive") == "-"
    with pytest.raises(ValueError):
        log.record("x", "mars", "accepted")
    assert attacks.status_verdict(204) == "accepted" and attacks.status_verdict(401) == "rejected"


# --- the browser model ---------------------------------------------------------------------------


def test_browser_parses_set_cookie_and_hides_httponly_from_script():
    browser = attacks.Browser(transport=None)  # type: ignore[arg-type]
    browser.receive(
        "https://127.0.0.1:1/login",
        [
            "__Host-session=abc; Path=/; Secure; HttpOnly; SameSite=Lax",
            "theme=dark; Path=/",
            "csrf=t0k; Path=/; Secure; SameSite=Strict",
        ],
    )
    assert browser.document_cookie("https://127.0.0.1:1/") == "csrf=t0k; theme=dark"
    assert browser.cookies_for("https://127.0.0.1:1/me") == {"__Host-session": "abc", "csrf": "t0k", "theme": "dark"}
    # cross-site: Lax only on top-level GET, Strict never; Secure never over http
    assert browser.cookies_for("https://127.0.0.1:1/x", EVIL, "POST") == {}
    assert browser.cookies_for("https://127.0.0.1:1/x", EVIL, "GET", top_level=True) == {
        "__Host-session": "abc",
        "theme": "dark",
    }
    assert browser.cookies_for("http://127.0.0.1:1/x") == browser.cookies_for(
        "https://127.0.0.1:1/x"
    )  # loopback is secure
    browser.receive("https://app.example/login", ["sid=s; Path=/; Secure; HttpOnly", "theme=dark; Path=/"])
    assert browser.cookies_for("http://app.example/x") == {"theme": "dark"}
    browser.receive("https://127.0.0.1:1/logout", ["__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly"])
    assert "__Host-session" not in browser.cookies_for("https://127.0.0.1:1/me")


def test_xss_reads_localstorage_and_script_cookies_but_not_httponly(users):
    browser = attacks.Browser(transport=None)  # type: ignore[arg-type]
    browser.local_storage["token"] = "eyJ.x.y"
    browser.memory["accessToken"] = "eyJ.a.b"
    browser.receive("https://127.0.0.1:1/", ["__Host-session=abc; Path=/; Secure; HttpOnly"])
    assert attacks.xss_steal(browser, "https://127.0.0.1:1/") == {
        "localStorage.token": "eyJ.x.y",
        "page variable accessToken": "eyJ.a.b",
    }


# --- CSRF ------------------------------------------------------------------------------------------


def _csrf_post(browser, srv, **form):
    return browser.request("POST", srv.url + "/email", initiator=EVIL, data={"email": "evil@attacker.test", **form})


def test_csrf_rides_the_naive_cookie_and_each_defence_stops_it(users):
    outcomes = {}
    for label, options in {"naive": {}, "samesite": {"samesite": "Lax"}, "token": {"csrf_token": True}}.items():
        with serve(create_naive_session_app(users, **options)) as srv:
            browser = attacks.Browser(srv.client())
            assert browser.request("POST", srv.url + "/login", json=ALICE).status_code == 200
            attack = _csrf_post(browser, srv)
            email = browser.request("GET", srv.url + "/me").json()["email"]
            outcomes[label] = (attack.status_code, email)
            if options.get("csrf_token"):  # the site's own page can read the token and use it
                token = dict(part.split("=", 1) for part in browser.document_cookie(srv.url).split("; "))[CSRF_COOKIE]
                own = browser.request(
                    "POST",
                    srv.url + "/email",
                    initiator=srv.url + "/settings",
                    data={"email": "alice@new.test", "csrf_token": token},
                )
                assert own.status_code == 200
    assert outcomes == {
        "naive": (200, "evil@attacker.test"),
        "samesite": (401, "alice@example.test"),
        "token": (403, "alice@example.test"),
    }


def test_helpers_refuses_a_cross_site_post_even_when_the_cookie_rides(served):
    srv = served("session")
    browser = attacks.Browser(srv.client())
    assert browser.request("POST", srv.url + "/login", json=ALICE).status_code == 200
    # SameSite=Lax already keeps the cookie off; force it on to prove the second layer works alone
    for cookie in browser.cookies.values():
        cookie.samesite = "None"
    answer = browser.request("POST", srv.url + "/logout", initiator=EVIL)
    assert answer.status_code == 403 and answer.json()["reason"] == "cross-site request refused (a CSRF defence)"
    assert browser.request("GET", srv.url + "/me").status_code == 200  # still logged in
    same_site = browser.request("POST", srv.url + "/logout", initiator=srv.url + "/")
    assert same_site.status_code == 200 and same_site.json()["session_deleted"] is True


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),
    ],
)
def test_helpers_csrf_guard_on_every_post(headers, status, clock, users):
    from helpers.web import create_app

    client = create_app("both", clock=clock, users=users).test_client()
    assert client.post("/login", json=ALICE, headers=headers).status_code == status
    assert client.post("/logout", headers=headers).status_code == status
    assert client.get("/me", headers=headers).status_code == 401  # GETs are never refused by the guard


# --- session fixation and replay -------------------------------------------------------------------


def test_session_fixation_naive_falls_helpers_holds(users, served):
    with serve(create_fixation_app(users)) as srv:
        attacker = srv.client()
        planted = attacker.get(srv.url + "/").cookies[FIXATION_COOKIE]
        victim = srv.client()
        victim.cookies.set(FIXATION_COOKIE, planted, domain="127.0.0.1")
        victim.post(srv.url + "/login", json=ALICE)
        assert attacker.get(srv.url + "/me").json() == {"user": "alice", "role": "user"}
    hardened = served("session")
    planted = "attacker-chosen-session-id-0123456789"
    victim = hardened.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    victim.post(hardened.url + "/login", json=ALICE)
    thief = hardened.client()
    thief.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    assert thief.get(hardened.url + "/me").status_code == 401


def test_session_replay_after_logout(users, served):
    with serve(create_naive_session_app(users)) as srv:
        client = srv.client()
        client.post(srv.url + "/login", json=ALICE)
        stolen = client.cookies["sid"]
        client.post(srv.url + "/logout")
        thief = srv.client()
        thief.cookies.set("sid", stolen, domain="127.0.0.1")
        assert thief.get(srv.url + "/me").status_code == 200
    hardened = served("session", explain_errors=True)
    client = hardened.client()
    client.post(hardened.url + "/login", json=ALICE)
    stolen = client.cookies[SESSION_COOKIE]
    client.post(hardened.url + "/logout")
    thief = hardened.client()
    thief.cookies.set(SESSION_COOKIE, stolen, domain="127.0.0.1")
    answer = thief.get(hardened.url + "/me")
    assert answer.status_code == 401 and answer.json()["reason"] == "unknown, expired or revoked session"


def test_stolen_jwt_replay_after_logout(served, clock):
    def replay(srv):
        client = srv.client()
        token = client.post(srv.url + "/login", json=ALICE).json()["access_token"]
        client.post(srv.url + "/logout", headers=bearer(token))
        return token, srv.client().get(srv.url + "/api/data", headers=bearer(token))

    _, plain = replay(served("jwt"))
    assert plain.status_code == 200  # no denylist: the token lives until exp
    _, denied = replay(served("jwt", denylist=MemoryDenylist(clock=clock), explain_errors=True))
    assert denied.status_code == 401 and denied.json()["reason"] == "Token has been revoked"


def test_stolen_jwt_dies_with_its_ttl(served, clock):
    srv = served("jwt", explain_errors=True)
    token = srv.client().post(srv.url + "/login", json=ALICE).json()["access_token"]
    thief = srv.client()
    assert thief.get(srv.url + "/api/data", headers=bearer(token)).status_code == 200
    clock.advance(minutes=15)
    answer = thief.get(srv.url + "/api/data", headers=bearer(token))
    assert answer.status_code == 401 and answer.json()["reason"] == "Signature has expired"


# --- cookie tossing, the shared-cache model, the login flood ----------------------------------------


def test_a_sibling_can_plant_a_secure_cookie_but_not_a_host_cookie():
    browser = attacks.Browser(transport=None)  # type: ignore[arg-type]
    url = "https://127.0.0.1:1"
    assert browser.plant_from_sibling(url, "__Secure-refresh", "attacker", path="/refresh")
    browser.receive(url + "/login", ["__Secure-refresh=victim; Path=/refresh; Secure; HttpOnly; SameSite=Strict"])
    assert browser.cookie_pairs(url + "/refresh") == [("__Secure-refresh", "attacker"), ("__Secure-refresh", "victim")]
    assert browser.cookies_for(url + "/refresh") == {"__Secure-refresh": "attacker"}  # what "first wins" reads
    assert not browser.plant_from_sibling(url, "__Host-session", "attacker")
    browser.receive(url + "/x", ["__Secure-refresh=; Max-Age=0; Path=/refresh; Secure"])  # the server's own deletion
    assert browser.cookie_pairs(url + "/refresh") == [("__Secure-refresh", "attacker")]  # the planted one stays


def test_browser_sends_longer_paths_first_then_older_cookies():
    browser = attacks.Browser(transport=None)  # type: ignore[arg-type]
    url = "https://127.0.0.1:1"
    browser.receive(url, ["a=1; Path=/", "b=2; Path=/refresh", "a=3; Path=/refresh"])
    browser.receive(url, ["a=4; Path=/"])  # a replaced cookie keeps its place
    assert browser.cookie_pairs(url + "/refresh/x") == [("b", "2"), ("a", "3"), ("a", "4")]


def test_a_cookie_without_samesite_rides_a_cross_site_post_for_two_minutes_only(clock):
    browser = attacks.Browser(transport=None, clock=clock)  # type: ignore[arg-type]
    url, evil = "https://app.test/email", "http://evil.test/prize"
    browser.receive(url, ["unset=u; Path=/; Secure; HttpOnly", "lax=l; Path=/; Secure; HttpOnly; SameSite=Lax"])
    assert browser.cookies_for(url, evil, "POST", top_level=True) == {"unset": "u"}  # a form: explicit Lax stays home
    assert browser.cookies_for(url, evil, "POST") == {}  # a fetch: never
    clock.advance(seconds=attacks.LAX_ALLOWING_UNSAFE_SECONDS - 1)
    browser.receive(url, ["unset=u2; Path=/; Secure; HttpOnly"])  # replacing it keeps its age
    clock.advance(seconds=1)
    assert browser.cookies_for(url, evil, "POST", top_level=True) == {}
    assert browser.cookies_for(url, evil, "GET", top_level=True) == {
        "unset": "u2",
        "lax": "l",
    }  # plain Lax from here on


def test_the_model_predicts_the_committed_real_browser_run():
    from helpers.browser import load_scenario_run, model_cookie_scenarios

    assert model_cookie_scenarios() == load_scenario_run().outcomes


def test_cookie_scenarios_fall_back_to_the_committed_run(monkeypatch):
    from helpers import browser

    committed = browser.load_scenario_run().outcomes
    assert browser.cookie_scenarios(False).note == "LIVE_BROWSER is False"
    monkeypatch.setattr(browser, "unavailable_reason", lambda: "no Chromium here")
    run = browser.cookie_scenarios("auto")
    assert (run.live, run.outcomes, run.note) == (False, committed, "no Chromium here")
    assert "committed run" in run.source and "no Chromium here" in run.source
    monkeypatch.setattr(browser, "unavailable_reason", lambda: None)
    monkeypatch.setattr(browser, "run_cookie_scenarios", lambda timeout: (_ for _ in ()).throw(TimeoutError("hung")))
    assert browser.cookie_scenarios("auto").note == "the live run failed (TimeoutError: hung)"
    with pytest.raises(TimeoutError):
        browser.cookie_scenarios(True)  # asked for a live run: its failure is not hidden
    with pytest.raises(ValueError, match="auto"):
        browser.cookie_scenarios("yes")


def _cache_headers(**headers):
    from flask import Flask, jsonify

    app = Flask("cache-test", static_folder=None)

    @app.get("/r")
    def answer():
        response = jsonify(seen=app.config.setdefault("hits", 0) + 1)
        app.config["hits"] += 1
        response.headers.update(headers)
        return response

    return app


@pytest.mark.parametrize(
    "headers, request_headers, stored",
    [
        ({}, {"Cookie": "sid=x"}, True),  # heuristic freshness for a 200; a cookie protects nothing
        ({"Cache-Control": "no-store"}, {"Cookie": "sid=x"}, False),
        ({"Cache-Control": "private"}, {}, False),
        ({"Cache-Control": "no-cache"}, {}, False),
        ({"Cache-Control": "max-age=0"}, {}, False),
        ({}, {"Authorization": "Bearer x"}, False),  # RFC 9111 §3.5
        ({"Cache-Control": "public"}, {"Authorization": "Bearer x"}, True),
        ({"Cache-Control": "s-maxage=30"}, {"Authorization": "Bearer x"}, True),
        ({"Vary": "*"}, {}, False),
    ],
)
def test_shared_cache_applies_the_rfc_9111_storage_rules(clock, headers, request_headers, stored):
    with serve(_cache_headers(**headers)) as srv:
        cache = attacks.SharedCache(srv.client(), clock)
        first = cache.get(srv.url + "/r", request_headers)
        second = cache.get(srv.url + "/r", {})
        assert first.stored is stored and first.from_cache is False
        assert second.from_cache is (
            stored
            and "Authorization" not in request_headers
            or stored
            and "public" in str(headers)
            or stored
            and "s-maxage" in str(headers)
        )


def test_shared_cache_freshness_and_vary(clock):
    with serve(_cache_headers(**{"Cache-Control": "max-age=30", "Vary": "Cookie"})) as srv:
        cache = attacks.SharedCache(srv.client(), clock, heuristic_ttl=600)
        assert cache.get(srv.url + "/r", {"Cookie": "a=1"}).body == {"seen": 1}
        assert cache.get(srv.url + "/r", {"cookie": "a=1"}).from_cache  # header names are case-insensitive
        assert cache.get(srv.url + "/r", {"Cookie": "a=2"}).body == {"seen": 2}  # another cookie: another entry
        clock.advance(seconds=31)
        assert not cache.get(srv.url + "/r", {"Cookie": "a=2"}).from_cache and len(cache) == 1


def test_shared_cache_replays_the_naive_me_to_a_stranger(users, clock):
    with serve(create_naive_session_app(users)) as srv:
        alice = srv.client()
        alice.post(srv.url + "/login", json=ALICE)
        cache = attacks.SharedCache(srv.client(), clock)
        assert cache.get(srv.url + "/me", {"Cookie": f"sid={alice.cookies['sid']}"}).stored
        stranger = cache.get(srv.url + "/me")
        assert stranger.from_cache and stranger.status == 200 and stranger.body["user"] == "alice"
        clock.advance(seconds=61)
        assert cache.get(srv.url + "/me").status == 401


def test_login_flood_holds_every_check_of_the_naive_app_at_once(users):
    gate = attacks.HeldPasswordChecks(users)
    with serve(create_naive_session_app(gate)) as srv:  # type: ignore[arg-type]
        bogus = [{"username": "alice", "password": f"guess{i}"} for i in range(8)]
        flood = attacks.login_flood(srv.url, srv.client, bogus, gate)
    assert flood.peak_checks == 8 and flood.count(401) == 8 and gate.checks == 8 and gate.inside == 0
    assert gate.get("alice").role == "user"  # everything else is the wrapped directory's


def test_guess_passwords_reports_status_and_retry_after(users):
    with serve(create_naive_session_app(users)) as srv:
        answers = attacks.guess_passwords(srv.client(), srv.url, "alice", ["a", "wonderland"])
    assert answers == [(401, None), (200, None)]


# --- the review's attacks: the naive refresh app falls, the course app holds, over HTTPS ------------

MALLORY = {"username": "mallory", "password": "a DEMO ONLY attacker password"}


@pytest.fixture
def naive_and_hardened(users, clock):
    from helpers.vulnerable.refresh_app import create_naive_refresh_app
    from helpers.web import create_app

    users.add("mallory", MALLORY["password"])
    with (
        serve(create_naive_refresh_app(users, SECRET, clock=clock)) as naive,
        serve(create_app("jwt", users=users, clock=clock, secret=SECRET)) as hardened,
    ):
        yield naive, hardened


def test_refresh_after_logout_naive_rotates_hardened_refuses(naive_and_hardened):
    naive, hardened = naive_and_hardened
    assert attacks.refresh_after_logout(naive.url, naive.client, ALICE) == (
        {"logged_out": True, "refresh_revoked": False},
        [200, 200, 200],
    )
    logout, statuses = attacks.refresh_after_logout(hardened.url, hardened.client, ALICE)
    assert logout["refresh_revoked"] is True and statuses == [401, 401, 401]


def test_cookie_tossing_naive_serves_the_attacker_hardened_refuses(naive_and_hardened):
    naive, hardened = naive_and_hardened
    assert attacks.toss_refresh_cookie(naive.url, naive.client, ALICE, MALLORY) == attacks.TossResult(
        200, "mallory", (200, 200), victim_family_alive=True, attacker_family_alive=False
    )
    assert attacks.toss_refresh_cookie(hardened.url, hardened.client, ALICE, MALLORY) == attacks.TossResult(
        400, None, (400, 200), victim_family_alive=False, attacker_family_alive=True
    )


def test_type_confusion_an_id_token_is_not_an_access_token(naive_and_hardened, clock):
    naive, hardened = naive_and_hardened
    id_token = naive.client().post(naive.url + "/login", json=ALICE).json()["id_token"]
    assert naive.client().get(naive.url + "/me", headers=bearer(id_token)).status_code == 200
    now = int(clock.now())
    same_key = tokens.encode(
        {
            "sub": "alice",
            "role": "user",
            "iss": "auth-course",
            "aud": "auth-course-api",
            "iat": now,
            "exp": now + 36_000,
            "jti": "id-1",
        },
        SECRET,
    )  # typ "JWT"
    answer = hardened.client().get(hardened.url + "/me", headers=bearer(same_key))
    assert answer.status_code == 401 and answer.json() == {"error": "Unauthorized"}
    real = hardened.client().post(hardened.url + "/login", json=ALICE).json()["access_token"]
    assert attacks.segments(real)[0]["typ"] == "at+jwt"


def test_cache_replay_needs_a_missing_no_store(users, clock, served):
    srv = served("session")
    client = srv.client()
    client.post(srv.url + "/login", json=ALICE)
    cache = attacks.SharedCache(srv.client(), clock)
    first = cache.get(srv.url + "/me", {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"})
    assert first.status == 200 and not first.stored and first.cache_control == "no-store" and len(cache) == 0
    assert cache.get(srv.url + "/me").status == 401


def test_login_flood_hardened_caps_hashing_and_throttles(users, clock, served):
    from helpers.web import create_app

    gate = attacks.HeldPasswordChecks(users)
    with serve(create_app("session", users=gate, clock=clock, hashing_limit=3)) as srv:  # type: ignore[arg-type]
        bogus = [{"username": f"user{i}", "password": "guess"} for i in range(7)]
        flood = attacks.login_flood(srv.url, srv.client, bogus, gate)
    assert flood.peak_checks == 3 and flood.count(401) == 3 and flood.count(503) == 4
    assert {flood.retry_after[i] for i, s in enumerate(flood.statuses) if s == 503} == {"1"}
    srv = served("jwt")
    answers = attacks.guess_passwords(srv.client(), srv.url, "alice", [f"guess{i}" for i in range(7)])
    assert [s for s, _ in answers] == [401] * 5 + [429] * 2 and answers[-1][1] == str(15 * 60)
    assert attacks.guess_passwords(srv.client(), srv.url, "alice", ["wonderland"])[0][0] == 429
    clock.advance(minutes=15)
    assert attacks.guess_passwords(srv.client(), srv.url, "alice", ["wonderland"])[0][0] == 200


def test_login_flood_reports_a_failed_request_instead_of_waiting(users):
    gate = attacks.HeldPasswordChecks(users)
    with serve(create_naive_session_app(users)) as srv:
        url, make_client = srv.url, srv.client
    with pytest.raises(OSError):  # the server is gone (and its CA file): every request fails at once
        attacks.login_flood(url, make_client, [ALICE, ALICE], gate, timeout=5)
