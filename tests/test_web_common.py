"""helpers.web_common: what every course app shares, and what loading it (or its users) loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from helpers.throttle import LoginThrottle
from helpers.users import UserDirectory
from helpers.web_common import authenticate, json_answer

ROOT = Path(__file__).resolve().parent.parent
CREDENTIAL_STATE = ("helpers.tokens", "helpers.sessions", "helpers.refresh", "helpers.denylist")


def loaded_after_import(module: str) -> set[str]:
    """The ``helpers`` modules a fresh interpreter has loaded once it has imported ``module``."""
    script = f"import sys, {module}; print(__import__('json').dumps(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name for name in json.loads(output.stdout) if name.startswith("helpers")}


def test_the_shared_module_loads_no_credential_state():
    loaded = loaded_after_import("helpers.web_common")
    assert "helpers.web_common" in loaded
    assert not loaded & {*CREDENTIAL_STATE, "helpers.web"}, sorted(loaded)


def test_the_signing_demo_loads_no_credential_state_and_not_the_hardened_app():
    loaded = loaded_after_import("helpers.signing")
    assert "helpers.web_common" in loaded
    assert not loaded & {*CREDENTIAL_STATE, "helpers.web"}, sorted(loaded)


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "helpers" / "vulnerable").glob("[!_]*.py")))
def test_the_vulnerable_apps_share_plumbing_but_not_the_hardened_app(module):
    loaded = loaded_after_import(f"helpers.vulnerable.{module}")
    assert "helpers.web_common" in loaded and "helpers.web" not in loaded, sorted(loaded)


@pytest.fixture
def login_app(users: UserDirectory, clock) -> Flask:
    """One route per way of calling ``authenticate``: bare (the naive apps) and throttled with a challenge."""
    app = Flask("login-test")
    throttle = LoginThrottle(clock, account_failures=2, client_failures=100)

    @app.post("/bare")
    def bare():
        user = authenticate(users)
        return json_answer(200, user=user.username)

    @app.post("/guarded")
    def guarded():
        user = authenticate(users, throttle, challenge='Bearer realm="api"')
        return json_answer(200, user=user.username)

    return app


def test_authenticate_answers_the_user_or_aborts_with_a_json_answer(login_app):
    client = login_app.test_client()
    assert client.post("/bare", json={"username": "alice", "password": "wonderland"}).json == {"user": "alice"}
    shapeless = client.post("/bare", data="alice:wonderland")
    assert shapeless.status_code == 400 and shapeless.json["reason"] == 'send JSON {"username": ..., "password": ...}'
    wrong = client.post("/bare", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json["error"] == "Invalid credentials"
    assert "WWW-Authenticate" not in wrong.headers  # a bare call names no challenge
    unknown = client.post("/bare", json={"username": "mallory", "password": "nope"})
    assert unknown.json == wrong.json  # no hint which usernames exist


def test_authenticate_sends_the_challenge_and_the_throttles_429(login_app):
    client = login_app.test_client()
    wrong = {"username": "alice", "password": "nope"}
    first = client.post("/guarded", json=wrong)
    assert first.status_code == 401 and first.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    client.post("/guarded", json=wrong)
    refused = client.post("/guarded", json={"username": "alice", "password": "wonderland"})
    assert refused.status_code == 429 and refused.json["error"] == "Too Many Requests"
    assert int(refused.headers["Retry-After"]) >= 1
