"""Run a WSGI app inside this Python process (the Jupyter kernel), over real HTTPS, and stop it cleanly.

``serve(app)`` starts a threaded Werkzeug server on 127.0.0.1 and a free port, with a throwaway
certificate authority and server certificate made by ``cryptography`` for this run only. Clients
verify the server against that authority (never ``verify=False``), so ``Secure`` cookies travel
exactly as they would in production. The server is quiet: no access log reaches the notebook.

One bad client cannot stall it. A browser tab's preconnect, a port scanner or a learner's slow
script shares the machine with the notebook, so the server promises, with the defaults of
``ServerLimits``:

* the accept loop only accepts: each connection gets its own thread, which does the TLS handshake
  under a deadline (5 s), so a client that connects and sends nothing delays nobody else;
* a connection may wait 5 s for its request to start (``idle_timeout``), and once it starts, the
  request line, headers and body must all arrive within 10 s (``request_deadline``): a deadline
  for the whole request, not a timeout per read, so trickling one byte at a time does not help;
  a body cut off by the deadline reaches the app as a truncated body (a 400), never a hang, and so
  does a malformed chunked body (Werkzeug's own reader raises an error that apps turn into a 500);
  a client that stops reading the response is dropped once a write waits 10 s (``write_timeout``);
* at most 64 connections are open at once (``max_connections``); a newcomer past the cap first
  evicts the oldest connection that has not started a request (handshaking or idle), and is
  refused (the socket reset at once, before any TLS) only when every slot is busy with a request;
* every response closes its connection (Werkzeug's own rule: ``http.server`` cannot drain a body
  safely before a next request), after a bounded "lingering close": the server reads and discards
  what the client is still sending for up to 2 s, so a client whose request was refused early
  (an oversized header answered 431) reads that answer instead of a reset;
* ``stop()`` returns within about a second whatever the clients are doing: it closes the listening
  socket, then shuts down every open connection, then waits for their threads;
* no ``Server`` header at all, rather than a made-up value: a hardened server does not advertise
  its software and versions, and a fixed string would tell a client nothing it needs.

``serve(app, name="ch04")`` first stops the running server that was started in this process under
the same name: re-running a notebook cell replaces its server instead of leaking a port and threads.
The only state kept between calls is that registry, ``SERVERS`` (``SERVERS.names()`` lists it);
``serve(app)`` without a name is not registered and runs until its ``stop()``.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.exceptions import BadRequest
from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler

__all__ = ["HOST", "SERVERS", "NamedRegistry", "RunningServer", "ServerLimits", "port_is_free", "serve"]

HOST = "127.0.0.1"  # not "localhost": Python's cookie jar mishandles cookies for dotless host names
ACCEPT_POLL_INTERVAL = 0.05  # seconds: how soon the accept loop notices stop()
STOP_GRACE = 1.0  # seconds stop() waits for connection threads once their sockets are shut down


@dataclass(frozen=True)
class ServerLimits:
    """How long and how many: the deadlines and the connection cap that keep one client from stalling the server."""

    handshake_timeout: float = 5.0  # TCP accept -> TLS handshake done
    idle_timeout: float = 5.0  # connection ready -> first byte of the request
    request_deadline: float = 10.0  # first byte -> request line, headers and body all read
    write_timeout: float = 10.0  # each write of the response to a client that does not read
    linger_timeout: float = 2.0  # after the response: discard what the client still sends
    max_connections: int = 64  # open at once; a notebook's own clients need a handful

    def __post_init__(self) -> None:
        for field in ("handshake_timeout", "idle_timeout", "request_deadline", "write_timeout", "linger_timeout"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{field} must be a positive number of seconds, got {value!r}")
        if (
            isinstance(self.max_connections, bool)
            or not isinstance(self.max_connections, int)
            or self.max_connections < 1
        ):
            raise ValueError(f"max_connections must be a whole number of at least 1, got {self.max_connections!r}")


def _shutdown_tcp(sock: socket.socket, how: int) -> None:
    """Shut down the TCP connection under ``sock``, bypassing any TLS layer (thread-safe, never raises)."""
    # ssl.SSLSocket.shutdown() drops its TLS state first, which races a thread still using it;
    # the plain socket method acts on the file descriptor alone and wakes a blocked reader.
    try:
        socket.socket.shutdown(sock, how)
    except OSError:
        pass


class _Connection:
    """One accepted connection: its socket (TLS-wrapped once the handshake starts) and whether it is mid-request."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.busy = False  # True from a request's first byte until its response is written


class _DeadlineReader(io.RawIOBase):
    """The read side of a connection, with one deadline for the whole request instead of a timeout per read."""

    def __init__(self, connection: _Connection, limits: ServerLimits) -> None:
        super().__init__()
        self._connection = connection
        self._limits = limits
        self._deadline = time.monotonic() + limits.idle_timeout
        self._in_body = False

    def readable(self) -> bool:
        return True

    def await_request(self) -> None:
        """Start waiting for a request: ``idle_timeout`` for its first byte."""
        self._deadline = time.monotonic() + self._limits.idle_timeout
        self._in_body = False

    def start_body(self) -> None:
        """Headers are parsed: past the deadline the body now ends (the app answers 400) rather than raising."""
        self._in_body = True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError("the request deadline has passed")
            self._connection.sock.settimeout(remaining)
            count = self._connection.sock.recv_into(buffer)
        except TimeoutError:
            if self._in_body:
                return 0  # Werkzeug's LimitedStream turns a short body into 400 Bad Request
            raise  # http.server closes the connection quietly on a timeout while reading headers
        if count and not self._connection.busy:
            self._connection.busy = True
            self._deadline = time.monotonic() + self._limits.request_deadline
        return count


class _DeadlineWriter(io.BufferedIOBase):
    """The write side of a connection: each write must be taken by the client within ``write_timeout``."""

    def __init__(self, sock: socket.socket, limits: ServerLimits) -> None:
        super().__init__()
        self._sock = sock
        self._timeout = limits.write_timeout

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.settimeout(self._timeout)
        self._sock.sendall(data)
        return memoryview(data).nbytes


class _StrictDechunkedInput(DechunkedInput):
    """Werkzeug's reader of chunked bodies, turning a malformed or cut-off body into a 400 instead of a 500."""

    def readinto(self, buffer: Any) -> int:
        try:
            return super().readinto(buffer)
        except OSError as error:  # Werkzeug raises OSError, which an app can only answer with 500
            raise BadRequest("The chunked request body is malformed or incomplete.") from error


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with deadlines on reads and writes, no access log and no ``Server`` header."""

    server: _Server
    request: _Connection  # the server hands over its bookkeeping record; the socket is ``request.sock``
    rfile: io.BufferedReader

    def setup(self) -> None:
        self.connection = self.request.sock
        # Headers and body leave in separate small TLS records: with Nagle's algorithm on, the second
        # waits for the client's delayed ACK (~15 ms a request on loopback).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = _DeadlineReader(self.request, self.server.limits)
        self.rfile = io.BufferedReader(self._reader)
        self.wfile = _DeadlineWriter(self.connection, self.server.limits)

    def handle_one_request(self) -> None:
        self._reader.await_request()
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request() and self._body_length_is_clear()
        self._reader.start_body()
        return parsed

    def _body_length_is_clear(self) -> bool:
        """Answer 400 when Content-Length values disagree or are not a number (RFC 9112 §6.3).

        Werkzeug would take the last of several values and read a bad one as 0: the body's end would
        then be the server's guess, where a proxy in front of it may have guessed otherwise.
        """
        values = {value.strip() for field in self.headers.get_all("Content-Length", []) for value in field.split(",")}
        if len(values) > 1 or not all(value.isascii() and value.isdigit() for value in values):
            self.send_error(400, "Conflicting or invalid Content-Length")
            return False
        return True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if isinstance(environ["wsgi.input"], DechunkedInput):
            environ["wsgi.input"] = _StrictDechunkedInput(self.rfile)
        return environ

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler.send_response minus the Server header: no software or versions advertised.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class _Server(ThreadedWSGIServer):
    """Werkzeug's threaded server, with the TLS handshake, deadlines and a connection cap handled per connection."""

    daemon_threads = True  # connection threads are tracked and joined by close_connections(), not socketserver

    def __init__(self, app: Callable[..., Any], tls: ssl.SSLContext | None, limits: ServerLimits) -> None:
        # Given the TLS context, Werkzeug would wrap the listening socket, and accept() would then do
        # every handshake on the one accepting thread, with no deadline. Each connection's thread does its own.
        super().__init__(HOST, 0, app, handler=_Handler, ssl_context=None)
        self.ssl_context = tls  # read by the handler to report the https scheme
        self.limits = limits
        self.refused = 0  # connections reset at once because every slot was busy with a request
        self.evicted = 0  # connections closed before their request started, to make room for a newcomer
        self._lock = threading.Lock()
        self._open: dict[_Connection, None] = {}  # counted against the cap, oldest first
        self._connection_threads: set[threading.Thread] = set()  # live ones, and finished ones until the next accept
        self._closing = False

    def process_request(self, request: Any, client_address: Any) -> None:
        connection = _Connection(request)
        with self._lock:
            admitted = not self._closing and (len(self._open) < self.limits.max_connections or self._evict_one())
            if admitted:
                self._open[connection] = None
                # A finished thread stays listed until here, so stop() also joins one that is just exiting.
                self._connection_threads = {thread for thread in self._connection_threads if thread.is_alive()}
                thread = threading.Thread(
                    target=self._serve_connection,
                    args=(connection, client_address),
                    name="auth-course-connection",
                    daemon=True,
                )
                self._connection_threads.add(thread)
                thread.start()
        if not admitted:
            self.refused += 1
            # Reset at once, before any TLS: nothing is read, nothing waits, the client learns it now.
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.close()

    def _evict_one(self) -> bool:
        """Close the oldest connection that has not started a request (lock held); False if all are mid-request."""
        for connection in self._open:
            if not connection.busy:
                del self._open[connection]
                _shutdown_tcp(connection.sock, socket.SHUT_RDWR)
                self.evicted += 1
                return True
        return False

    def _serve_connection(self, connection: _Connection, client_address: Any) -> None:
        """One connection's whole life, on its own thread: handshake, one request, lingering close."""
        answered = False
        try:
            if self.ssl_context is not None and not self._handshake(connection):
                return
            answered = True
            # The handler gets the bookkeeping record, not the bare socket socketserver's stubs expect.
            self.finish_request(connection, client_address)  # type: ignore[arg-type]
        except Exception:
            self.handle_error(connection, client_address)
        finally:
            connection.busy = False  # lingering: evictable, and still shut down by stop()
            self._close(connection, linger=answered)
            with self._lock:
                self._open.pop(connection, None)

    def _handshake(self, connection: _Connection) -> bool:
        """Do the TLS handshake within ``handshake_timeout`` (CPython applies it to the whole handshake)."""
        assert self.ssl_context is not None
        with self._lock:  # wrapping replaces the socket object; stop() and eviction must see the new one
            if self._closing:
                return False
            connection.sock.settimeout(self.limits.handshake_timeout)
            connection.sock = self.ssl_context.wrap_socket(
                connection.sock, server_side=True, do_handshake_on_connect=False
            )
        try:
            connection.sock.do_handshake()
        except (OSError, ValueError):  # timeouts, resets, TLS alerts, or a socket shut down by stop()
            return False
        return True

    def _close(self, connection: _Connection, linger: bool) -> None:
        """Send FIN; after a response, discard what the client still sends for up to ``linger_timeout``; close."""
        # Closing with unread bytes makes the kernel send a reset, which can destroy the response
        # before the client reads it (a 431 for a 200 kB header arrived as SSLEOFError on the client).
        sock = connection.sock
        _shutdown_tcp(sock, socket.SHUT_WR)
        deadline = time.monotonic() + (self.limits.linger_timeout if linger else 0.0)
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                if not socket.socket.recv(sock, 65536):  # raw bytes: what is discarded needs no decrypting
                    break
        except OSError:
            pass
        sock.close()

    def close_connections(self, grace: float) -> None:
        """Refuse new connections, shut down every open one, and wait up to ``grace`` seconds for their threads."""
        with self._lock:
            self._closing = True
            for connection in self._open:
                _shutdown_tcp(connection.sock, socket.SHUT_RDWR)
            threads = list(self._connection_threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-request is not the notebook's problem: no traceback

    def log(self, type: str, message: str, *args: Any) -> None:
        # Werkzeug's "Error on request" traceback for an exception that escaped the app: the client already
        # has its 500, and stderr would land in whatever notebook cell is running.
        pass


def _issue_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """Write a one-run CA and a server certificate for 127.0.0.1; return (ca, cert, key) paths."""
    now = dt.datetime.now(dt.timezone.utc)
    valid_from, valid_to = now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth-course throwaway CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


class _Stoppable(Protocol):
    def stop(self) -> None: ...


Running = TypeVar("Running", bound=_Stoppable)


class NamedRegistry(Generic[Running]):
    """Running things by name: starting one under a name first stops the one already running under it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: stopping the previous one calls forget() on this thread
        self._running: dict[str, Running] = {}

    def replace(self, name: str, start: Callable[[], Running]) -> Running:
        """Stop what runs under ``name``, then ``start()`` a new one and keep it under that name."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        with self._lock:
            previous = self._running.pop(name, None)
            if previous is not None:
                previous.stop()
            started = start()
            self._running[name] = started
            return started

    def forget(self, name: str, item: Running) -> None:
        """Drop ``name`` if ``item`` is still what runs under it (called by ``item.stop()``)."""
        with self._lock:
            if self._running.get(name) is item:
                del self._running[name]

    def names(self) -> list[str]:
        """The names that have something running, sorted."""
        with self._lock:
            return sorted(self._running)


WORKDIR_PREFIX = "auth-course-server-"  # + the owning process's ID, so a later run can tell orphans apart


def _remove_orphaned_workdirs(temp_root: str | None = None) -> int:
    """Delete certificate folders this user's dead processes left behind (a killed kernel runs no exit handler)."""
    removed = 0
    if os.name != "posix":
        return removed  # os.kill(pid, 0) probes only on POSIX (on Windows it would end the process)
    root = Path(temp_root or tempfile.gettempdir())
    for folder in root.glob(f"{WORKDIR_PREFIX}*-*"):
        owner = folder.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or _process_alive(int(owner)):
            continue
        try:
            if folder.stat().st_uid != os.getuid():
                continue  # another user's folder: not ours to judge
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    """True if a process with this ID exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class RunningServer:
    """A handle on a server started by ``serve``: its ``url``, ready clients, and ``stop()``."""

    def __init__(
        self,
        app: Callable[..., Any],
        https: bool = True,
        *,
        limits: ServerLimits | None = None,
        name: str | None = None,
    ) -> None:
        self.app = app
        self.https = https
        self.name = name
        self.limits = limits if limits is not None else ServerLimits()
        _remove_orphaned_workdirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
        tls = None
        self.ca_file: Path | None = None
        try:
            if https:
                self.ca_file, cert, key = _issue_certificates(self._workdir)
                tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                tls.minimum_version = ssl.TLSVersion.TLSv1_2
                tls.load_cert_chain(cert, key)
                key.unlink()  # loaded: the private key need not outlive this line on disk
            self._server = _Server(app, tls, self.limits)
        except BaseException:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise
        # The folder goes with stop(), or at the latest when the server object is collected or the
        # interpreter exits (a kernel shut down without stop()); the running server keeps it alive until then.
        self._remove_workdir = weakref.finalize(self._server, shutil.rmtree, self._workdir, ignore_errors=True)
        self.port: int = self._server.port
        self.url = f"{'https' if https else 'http'}://{HOST}:{self.port}"
        self._clients: list[requests.Session] = []
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": ACCEPT_POLL_INTERVAL},
            name="auth-course-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """True until ``stop()`` has finished."""
        return self._thread.is_alive()

    @property
    def refused(self) -> int:
        """Connections reset on arrival because ``max_connections`` were all busy with requests."""
        return self._server.refused

    @property
    def evicted(self) -> int:
        """Connections closed before their request started, to make room for a newcomer past the cap."""
        return self._server.evicted

    def client(self) -> requests.Session:
        """A new ``requests.Session`` with its own cookie jar, trusting only this run's certificate authority."""
        session = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE and proxy variables: requests lets them override ``verify``,
        # and traffic to the kernel's own server must never leave the machine through a proxy.
        session.trust_env = False
        if self.ca_file is not None:
            session.verify = str(self.ca_file)
        self._clients.append(session)
        return session

    def stop(self) -> None:
        """Stop accepting, shut down every open connection, free the port and delete the certificates (about a second at most)."""
        if self._thread.is_alive():
            self._server.shutdown()  # the accept loop ends within ACCEPT_POLL_INTERVAL
            self._thread.join()
        self._server.server_close()
        self._server.close_connections(STOP_GRACE)
        for session in self._clients:
            session.close()
        self._clients.clear()
        self._remove_workdir()
        if self.name is not None:
            SERVERS.forget(self.name, self)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        label = f" {self.name!r}" if self.name is not None else ""
        return f"<RunningServer{label} {'https' if self.https else 'http'} on {HOST}, {state}>"


SERVERS: NamedRegistry[RunningServer] = NamedRegistry()  # the servers started with serve(..., name=...) in this process


def serve(
    app: Callable[..., Any], https: bool = True, *, name: str | None = None, limits: ServerLimits | None = None
) -> RunningServer:
    """Start ``app`` on 127.0.0.1 and a free port in a background thread; ``name`` replaces the server of that name."""
    if name is None:
        return RunningServer(app, https=https, limits=limits)
    return SERVERS.replace(name, lambda: RunningServer(app, https=https, limits=limits, name=name))


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port`` (tests use it to prove a stopped server let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0
