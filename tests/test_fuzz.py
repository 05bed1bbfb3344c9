"""Fuzz the hardened app: thousands of mutated cookies and tokens, no 500s, no accepts, huge inputs refused cheaply.

The bulk goes through ``app.test_client()`` (the real app, routes and crypto, without sockets); a smaller
sample goes over the real HTTPS server. Mutations come from a seeded ``random.Random`` so a failure replays.
"""

from __future__ import annotations

import base64
import random
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from helpers import tokens
from helpers.web import REFRESH_COOKIE, SESSION_COOKIE, create_app

SEED = 6
PER_STRATEGY = 3400  # three strategies x 3400 = 10,200 mutants through the test client, plus 300 over HTTPS
SECRET = b"fuzzing demo secret, at least 32 bytes long!"
ALICE = {"username": "alice", "password": "wonderland"}
ONE_MB = 1024 * 1024


def _bit_flip(rng: random.Random, s: str) -> str:
    data = bytearray(s.encode("latin-1", "replace"))
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return data.decode("latin-1")


def _char_swap(rng: random.Random, s: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/"
    i = rng.randrange(len(s))
    return s[:i] + rng.choice([c for c in alphabet if c != s[i]]) + s[i + 1 :]


def _truncate(rng: random.Random, s: str) -> str:
    return s[: rng.randrange(len(s))]


def _reencode(rng: random.Random, s: str) -> str:
    choice = rng.randrange(6)
    if choice == 0:  # standard alphabet instead of url-safe
        return s.replace("-", "+").replace("_", "/") + ("+" if "-" not in s and "_" not in s else "")
    if choice == 1:  # padded base64url segments
        return ".".join(part + "=" * (-len(part) % 4 or 4) for part in s.split("."))
    if choice == 2:  # percent-encoded
        return urllib.parse.quote(s, safe="") + "%2E"
    if choice == 3:  # base64 of the whole thing
        return base64.b64encode(s.encode()).decode()
    if choice == 4:  # whitespace and case games
        return s.swapcase()
    return " " + s + "\t"


def _swap_segments(rng: random.Random, s: str) -> str:
    parts = s.split(".")
    if len(parts) < 2:
        return s[len(s) // 2 :] + s[: len(s) // 2]
    i, j = rng.sample(range(len(parts)), 2)
    parts[i], parts[j] = parts[j], parts[i]
    return ".".join(parts) + ("." + parts[0] if rng.random() < 0.3 else "")


def _huge(rng: random.Random, s: str) -> str:
    return s + rng.choice(["A", ".", "eyJ"]) * rng.choice([4097, 20000, 70000])


MUTATIONS: tuple[Callable[[random.Random, str], str], ...] = (
    _bit_flip,
    _bit_flip,
    _char_swap,
    _char_swap,
    _truncate,
    _reencode,
    _swap_segments,
    _huge,
)


def mutants(rng: random.Random, valid: str, count: int) -> Iterator[str]:
    """``count`` mutations of ``valid``, each different from it (stacked 1-2 deep)."""
    made = 0
    while made < count:
        m = valid
        for _ in range(rng.randint(1, 2)):
            m = rng.choice(MUTATIONS)(rng, m) or "x"
        if m != valid and m.strip() != valid:
            made += 1
            yield m


def _cookie_safe(value: str) -> str:
    # A Cookie header can't carry control characters or ';' unquoted; the browser would not send them either.
    return "".join(ch if 0x20 < ord(ch) < 0x7F and ch not in ';,"\\' else "%" for ch in value)


def _header_safe(value: str) -> str:
    return "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in value)


@pytest.fixture
def counter() -> Counter:
    return Counter()


def _fuzz_app(strategy: str, clock, users, rng: random.Random, count: int, counter: Counter) -> None:
    app = create_app(strategy, clock=clock, users=users, secret=SECRET, explain_errors=True)  # reasons counted below
    client = app.test_client()
    login = client.post("/login", json=ALICE)
    assert login.status_code == 200
    targets = []
    if strategy in ("session", "both"):
        targets.append(("cookie", SESSION_COOKIE, client.get_cookie(SESSION_COOKIE).value, "/me"))
    if strategy in ("jwt", "both"):
        targets.append(("bearer", None, login.get_json()["access_token"], "/api/data"))
        targets.append(("cookie", REFRESH_COOKIE, client.get_cookie(REFRESH_COOKIE, path="/refresh").value, "/refresh"))
    for kind, name, valid, path in targets:
        attacker = app.test_client(use_cookies=False)  # sends exactly the Cookie header given (no jar)
        for mutant in mutants(rng, valid, -(-count // len(targets))):
            if kind == "bearer":
                response = attacker.get(path, headers={"Authorization": "Bearer " + _header_safe(mutant)})
            elif path == "/refresh":
                response = attacker.post(path, json={}, headers={"Cookie": f"{name}={_cookie_safe(mutant)}"})
            else:
                response = attacker.get(path, headers={"Cookie": f"{name}={_cookie_safe(mutant)}"})
            counter[response.status_code] += 1
            counter["reason: " + response.get_json()["reason"]] += 1
            assert response.status_code != 500, (strategy, kind, mutant[:200])
            assert response.status_code in (400, 401), (strategy, kind, response.status_code, mutant[:200])
            assert response.is_json and response.get_json()["error"]
    # the mutants really reached the credential checks (a test client's cookie jar could silently drop them)
    missing = counter["reason: no session cookie"] + counter["reason: no refresh cookie; log in first"]
    assert missing < 0.05 * sum(n for key, n in counter.items() if isinstance(key, int)), dict(counter)


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_fuzzed_credentials_are_all_rejected_without_errors(strategy, clock, users, counter):
    start = time.perf_counter()
    _fuzz_app(strategy, clock, users, random.Random(f"{SEED}-{strategy}"), PER_STRATEGY, counter)
    statuses = {key: n for key, n in counter.items() if isinstance(key, int)}
    assert sum(statuses.values()) >= PER_STRATEGY - 3
    assert counter[500] == 0 and set(statuses) <= {400, 401}
    print(f"{strategy}: {sum(statuses.values())} mutants in {time.perf_counter() - start:.1f} s, statuses {statuses}")


def test_fuzz_over_the_real_https_server(served):
    rng = random.Random(SEED)
    for strategy in ("session", "jwt"):
        srv = served(strategy, secret=SECRET)
        login = srv.client().post(srv.url + "/login", json=ALICE)
        valid = login.json()["access_token"] if strategy == "jwt" else login.cookies[SESSION_COOKIE]
        attacker = srv.client()
        for mutant in mutants(rng, valid, 150):
            if strategy == "jwt":
                response = attacker.get(
                    srv.url + "/api/data", headers={"Authorization": "Bearer " + _header_safe(mutant)}
                )
            else:
                response = attacker.get(srv.url + "/me", headers={"Cookie": f"{SESSION_COOKIE}={_cookie_safe(mutant)}"})
            # 431 comes from the HTTP server itself when a header line exceeds its limit: refused before the app
            assert response.status_code in (400, 401, 431), (strategy, response.status_code, mutant[:200])


@pytest.mark.parametrize("strategy", ["session", "jwt", "both"])
def test_a_one_megabyte_credential_is_refused_before_parsing(strategy, clock, users, monkeypatch):
    calls = Counter()
    # Every base64 segment, whichever path reads it, ends in _b64decode_standard.
    real_decode, real_b64 = tokens.decode, tokens._b64decode_standard
    monkeypatch.setattr(tokens, "decode", lambda *a, **k: calls.update(["decode"]) or real_decode(*a, **k))
    monkeypatch.setattr(tokens, "_b64decode_standard", lambda *a, **k: calls.update(["b64"]) or real_b64(*a, **k))
    app = create_app(
        strategy, clock=clock, users=users, secret=SECRET, explain_errors=True
    )  # the reasons say where it stopped
    store = app.extensions["auth_course"].store
    touched = Counter()
    real_touch = store.touch
    monkeypatch.setattr(store, "touch", lambda sid: touched.update(["touch"]) or real_touch(sid))
    client = app.test_client(use_cookies=False)  # a cookie jar would replace the Cookie header we send
    huge_token = "eyJhbGciOiJIUzI1NiJ9." + "A" * ONE_MB + ".sig"
    huge_cookie = "A" * ONE_MB
    if strategy in ("jwt", "both"):
        answer = client.get("/api/data", headers={"Authorization": "Bearer " + huge_token})
        assert answer.status_code == 401 and answer.get_json()["reason"] == "token too long"
        refresh = client.post("/refresh", json={}, headers={"Cookie": f"{REFRESH_COOKIE}={huge_cookie}"})
        assert refresh.status_code == 401 and refresh.get_json()["reason"] == "refresh cookie too long"
    if strategy in ("session", "both"):
        answer = client.get("/me", headers={"Cookie": f"{SESSION_COOKIE}={huge_cookie}"})
        assert answer.status_code == 401 and answer.get_json()["reason"] == "session cookie too long"
    logout = client.post(
        "/logout", headers={"Authorization": "Bearer " + huge_token, "Cookie": f"{SESSION_COOKIE}={huge_cookie}"}
    )
    assert logout.status_code == 200
    assert calls == Counter() and touched == Counter(), "a 1 MB credential reached the decoder or the store"
    # and the decoder itself refuses it from its length alone, before touching base64
    with pytest.raises(tokens.DecodeError, match="longer than"):
        real_decode(huge_token, SECRET, algorithms=["HS256"])
    assert calls["b64"] == 0
