"""Run a WSGI app inside this Python process (the Jupyter kernel), over real HTTPS, and stop it cleanly.

``serve(app)`` starts a threaded Werkzeug server on 127.0.0.1 and a free port, with a throwaway
certificate authority and server certificate made by ``cryptography`` for this run only. Clients
verify the server against that authority (never ``verify=False``), so ``Secure`` cookies travel
exactly as they would in production. The server is quiet: no access log reaches the notebook.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

HOST = "127.0.0.1"  # not "localhost": Python's cookie jar mishandles cookies for dotless host names
IDLE_CONNECTION_TIMEOUT = 5.0  # seconds a kept-alive connection may sit idle before its thread ends


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log: a notebook shows traffic on purpose, not by accident."""

    timeout = IDLE_CONNECTION_TIMEOUT

    def setup(self) -> None:
        super().setup()
        # The handler writes headers and body in separate small TLS records; with Nagle's algorithm
        # on, the second waits for the client's delayed ACK (~15 ms a request on loopback).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadedWSGIServer):
    """A threaded server that does not print tracebacks when a client hangs up mid-request."""

    def handle_error(self, request: Any, client_address: Any) -> None:
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
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
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
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
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


class RunningServer:
    """A handle on a server started by ``serve``: its ``url``, ready clients, and ``stop()``."""

    def __init__(self, app: Callable[..., Any], https: bool = True) -> None:
        self.app = app
        self.https = https
        self._workdir = Path(tempfile.mkdtemp(prefix="auth-course-server-"))
        ssl_context = None
        self.ca_file: Path | None = None
        if https:
            self.ca_file, cert, key = _issue_certificates(self._workdir)
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
            ssl_context.load_cert_chain(cert, key)
            key.unlink()  # loaded: the private key need not outlive this line on disk
        self._server = _QuietServer(HOST, 0, app, handler=_QuietHandler, ssl_context=ssl_context)
        self.port: int = self._server.port
        self.url = f"{'https' if https else 'http'}://{HOST}:{self.port}"
        self._clients: list[requests.Session] = []
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"auth-course-server-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """True until ``stop()`` has finished."""
        return self._thread.is_alive()

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
        """Stop serving, close every client's connections, free the port and delete the certificates."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        for session in self._clients:
            session.close()  # ends kept-alive connections so their handler threads exit now
        self._clients.clear()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningServer {'https' if self.https else 'http'} on {HOST}, {state}>"


def serve(app: Callable[..., Any], https: bool = True) -> RunningServer:
    """Start ``app`` on 127.0.0.1 and a free port in a background thread; use as a context manager or call ``stop()``."""
    return RunningServer(app, https=https)


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port`` (tests use it to prove a stopped server let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0
