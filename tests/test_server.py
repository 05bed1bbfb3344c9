import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from flask import Flask, jsonify, make_response, request

from helpers import server
from helpers.server import HOST, SERVERS, ServerLimits, port_is_free, serve


def make_app() -> Flask:
    app = Flask("probe")

    @app.get("/set")
    def set_cookie():
        response = make_response(jsonify(ok=True))
        response.set_cookie("__Host-probe", "v1", secure=True, httponly=True, samesite="Lax", path="/")
        return response

    @app.get("/echo")
    def echo():
        return jsonify(cookies=dict(request.cookies), scheme=request.scheme)

    return app


def test_https_round_trip_with_secure_cookie():
    with serve(make_app()) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        client = srv.client()
        assert client.get(srv.url + "/set").json() == {"ok": True}
        echoed = client.get(srv.url + "/echo").json()
        assert echoed == {"cookies": {"__Host-probe": "v1"}, "scheme": "https"}


def test_clients_verify_the_certificate_rather_than_skipping_checks():
    with serve(make_app()) as srv:
        assert srv.client().verify == str(srv.ca_file)
        stranger = requests.Session()
        stranger.trust_env = False  # system CA bundle only: our throwaway CA is not in it
        with pytest.raises(requests.exceptions.SSLError):
            stranger.get(srv.url + "/echo")
        stranger.close()


def test_plain_http_never_sends_secure_cookies():
    with serve(make_app(), https=False) as srv:
        assert srv.url.startswith("http://")
        client = srv.client()
        client.get(srv.url + "/set")
        assert client.get(srv.url + "/echo").json()["cookies"] == {}


def test_serving_again_and_again_leaks_no_threads_or_ports():
    baseline = threading.active_count()
    ports = []
    for _ in range(5):
        with serve(make_app()) as srv:
            client = srv.client()
            assert client.get(srv.url + "/echo").status_code == 200
            ports.append(srv.port)
        assert not srv.running
    assert threading.active_count() == baseline
    assert all(port_is_free(port) for port in ports)


def test_stop_is_idempotent_and_removes_the_certificates():
    srv = serve(make_app())
    ca = srv.ca_file
    assert ca is not None and ca.exists()
    srv.stop()
    srv.stop()
    assert not ca.exists()
    assert "stopped" in repr(srv)


def test_the_server_private_key_never_stays_on_disk():
    # A kernel killed before stop() leaves the run's folder behind: it must hold public certificates only.
    with serve(make_app()) as srv:
        assert sorted(path.name for path in srv.ca_file.parent.iterdir()) == ["ca.pem", "server.pem"]
        assert srv.client().get(srv.url + "/").status_code in (200, 404)


# --- One bad client cannot stall the server: attacks over real TCP and TLS ---------------------------------

FAST = ServerLimits(handshake_timeout=1.0, idle_timeout=1.0, request_deadline=1.0, linger_timeout=1.0)
PROMPT = 1.0  # seconds: a normal request and stop() must each finish within this, whatever else is connected


def tls_connection(srv, handshake: bool = True) -> ssl.SSLSocket:
    """A raw TLS connection to ``srv`` that trusts its CA; the handshake done unless told otherwise."""
    context = ssl.create_default_context(cafile=str(srv.ca_file))
    raw = socket.create_connection((HOST, srv.port), timeout=5)
    return context.wrap_socket(raw, server_hostname=HOST, do_handshake_on_connect=handshake)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True if the server ends the connection (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass  # a response, if any, then EOF
    except TimeoutError:
        return False
    except OSError:
        pass  # reset or TLS error: closed too
    return True


def assert_answers_promptly(srv, beside: str) -> None:
    """A normal request gets its 200 within PROMPT seconds."""
    client = srv.client()
    start = time.monotonic()
    status = client.get(srv.url + "/echo", timeout=5).status_code
    elapsed = time.monotonic() - start
    assert status == 200 and elapsed < PROMPT, f"beside {beside}, a normal request took {elapsed:.2f} s ({status})"


def assert_stops_promptly(srv, connections: list[socket.socket]) -> None:
    """``stop()`` returns within about a second while ``connections`` are still open, and frees the port."""
    start = time.monotonic()
    srv.stop()
    elapsed = time.monotonic() - start
    for sock in connections:
        sock.close()
    assert elapsed < PROMPT + 0.5, f"stop() took {elapsed:.2f} s"
    assert port_is_free(srv.port)


@pytest.fixture
def no_thread_left():
    """Fails the test if a thread started during it is still alive shortly after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - before == set(), "a server or connection thread outlived stop()"


def test_a_silent_tcp_connection_delays_no_one_and_stop_returns_promptly(no_thread_left):
    srv = serve(make_app())
    silent = [socket.create_connection((HOST, srv.port)) for _ in range(5)]  # connect, never say hello
    assert_answers_promptly(srv, beside="5 silent TCP connections")
    assert_stops_promptly(srv, silent)


def test_a_silent_tcp_connection_is_dropped_at_the_handshake_deadline():
    with serve(make_app(), limits=FAST) as srv:
        silent = socket.create_connection((HOST, srv.port))
        start = time.monotonic()
        assert closed_by_server(silent, within=3.0)
        assert 0.8 < time.monotonic() - start < 2.5
        silent.close()


def test_a_client_that_completes_tls_and_sends_nothing_is_closed_after_the_idle_timeout(no_thread_left):
    srv = serve(make_app(), limits=FAST)
    idle = [tls_connection(srv) for _ in range(5)]
    assert_answers_promptly(srv, beside="5 idle TLS connections")
    start = time.monotonic()
    assert all(closed_by_server(sock, within=3.0) for sock in idle)
    assert time.monotonic() - start < 2.5
    assert_stops_promptly(srv, idle)


def test_trickling_clients_are_cut_off_at_the_request_deadline_not_per_read(no_thread_left):
    # One byte every 0.2 s would never trip a per-read timeout; a whole-request deadline cuts them all off.
    srv = serve(make_app(), limits=FAST)
    tricklers = [tls_connection(srv) for _ in range(40)]
    request = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    open_at: dict[int, float] = {}
    start = time.monotonic()
    for offset in range(len(request)):
        for index, sock in enumerate(tricklers):
            if index in open_at:
                continue
            try:
                sock.sendall(request[offset : offset + 1])
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and not sock.recv(1024):
                    open_at[index] = time.monotonic() - start
            except OSError:
                open_at[index] = time.monotonic() - start
        if len(open_at) == len(tricklers) or time.monotonic() - start > 4.0:
            break
        if offset == 2:
            assert_answers_promptly(srv, beside="40 trickling connections")
        time.sleep(0.2)
    assert len(open_at) == len(tricklers), f"{len(tricklers) - len(open_at)} trickling connections were never cut off"
    assert max(open_at.values()) < 3.5
    assert_stops_promptly(srv, tricklers)


def test_a_body_trickled_past_the_deadline_is_a_400_not_a_500_or_a_hang():
    app = Flask("body")

    @app.post("/upload")
    def upload():
        return jsonify(size=len(request.get_data()))

    with serve(app, limits=FAST) as srv:
        sock = tls_connection(srv)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        sock.settimeout(5)
        start = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:40]
        assert time.monotonic() - start < 2.5
        sock.close()


def upload_answer(header_fields: bytes, body: bytes) -> bytes:
    """The first bytes of the answer to ``POST /upload`` sent by hand with these header fields and body."""
    app = make_app()

    @app.post("/upload")
    def upload():
        return jsonify(size=len(request.get_data()))

    with serve(app, limits=FAST) as srv:
        sock = tls_connection(srv)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header_fields + b"\r\n" + body)
        sock.settimeout(5)
        answer = sock.recv(4096)
        sock.close()
    return answer


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhello\r\n",  # a first chunk, then nothing: cut off at the deadline
        b"zz\r\nhello\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
        b"5\r\nhelloXX0\r\n\r\n",  # a chunk without its terminating newline
    ],
)
def test_a_malformed_or_cut_off_chunked_body_is_a_400_not_a_500(body, capfd):
    answer = upload_answer(b"Transfer-Encoding: chunked\r\n", body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:40]
    assert "Traceback" not in capfd.readouterr().err, "a bad body must not reach the notebook as a logged 500"


@pytest.mark.parametrize(
    ("lengths", "status"),
    [
        (["5"], b"200"),
        (["5", "5"], b"200"),  # the same value twice is one length
        (["5", "3"], b"400"),
        (["5, 3"], b"400"),
        (["abc"], b"400"),
        (["-1"], b"400"),
        (["\u00b2"], b"400"),  # a digit to str.isdigit, not to HTTP
    ],
)
def test_content_lengths_that_disagree_or_are_not_numbers_are_a_400(lengths, status):
    fields = "".join(f"Content-Length: {value}\r\n" for value in lengths).encode("latin-1")
    answer = upload_answer(fields, b"hello")
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:40]


def test_idle_connections_after_a_response_are_closed_too(no_thread_left):
    # Every response closes its connection: a client hoping to keep it alive gets an EOF, not a slot held open.
    srv = serve(make_app(), limits=FAST)
    kept = [tls_connection(srv) for _ in range(20)]
    for sock in kept:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    assert all(closed_by_server(sock, within=3.0) for sock in kept)
    assert_answers_promptly(srv, beside="20 connections that hoped for keep-alive")
    assert_stops_promptly(srv, kept)


def test_a_flood_past_the_cap_evicts_connections_that_have_not_started_a_request(no_thread_left):
    srv = serve(make_app(), limits=ServerLimits(max_connections=8))
    flood = [socket.create_connection((HOST, srv.port)) for _ in range(30)]
    time.sleep(0.2)  # let the accept loop take them all
    assert_answers_promptly(srv, beside="30 silent connections past a cap of 8")
    assert srv.evicted >= 30 - 8 and srv.refused == 0
    assert_stops_promptly(srv, flood)


def test_past_the_cap_with_every_slot_mid_request_a_newcomer_is_reset_at_once(no_thread_left):
    srv = serve(make_app(), limits=ServerLimits(max_connections=4, request_deadline=1.0))
    busy = [tls_connection(srv) for _ in range(4)]
    for sock in busy:
        sock.sendall(b"GET /echo HTTP/1.1\r\n")  # a request started, never finished
    time.sleep(0.2)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        srv.client().get(srv.url + "/echo", timeout=5)
    assert time.monotonic() - start < PROMPT, "a refusal must be immediate, not a timeout"
    assert srv.refused >= 1
    assert all(closed_by_server(sock, within=3.0) for sock in busy)  # their deadline frees the slots
    assert_answers_promptly(srv, beside="4 connections cut off at their deadline")
    assert_stops_promptly(srv, busy)


def test_stop_returns_promptly_whatever_the_clients_are_doing(no_thread_left):
    srv = serve(make_app())  # default deadlines: seconds longer than stop() may take
    silent = socket.create_connection((HOST, srv.port))
    handshaking = tls_connection(srv, handshake=False)
    idle = tls_connection(srv)
    started = tls_connection(srv)
    started.sendall(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc")
    time.sleep(0.2)
    assert_stops_promptly(srv, [silent, handshaking, idle, started])


def test_an_oversized_header_is_answered_431_not_reset_while_the_client_still_sends():
    # The server stops reading at 64 kB and answers; the client is still writing its 1 MB header.
    # Closing with unread bytes would reset the connection and destroy the answer (SSLEOFError on the
    # client under load); the server discards the rest of the request, then closes.
    with serve(make_app()) as srv:
        sock = tls_connection(srv)
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: s=" + b"A" * 100_000)
        readable, _, _ = select.select([sock], [], [], 5)
        assert readable, "the server should answer once the header line is over its limit"
        time.sleep(0.3)  # the answer is sent; a server that closed now would already have reset the connection
        for _ in range(16):
            sock.sendall(b"A" * 65536)  # the rest arrives after the answer: discarded, not reset
        sock.sendall(b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 431"), answer[:40]
        sock.close()


def test_responses_advertise_no_server_software():
    with serve(make_app()) as srv:
        client = srv.client()
        assert "Server" not in client.get(srv.url + "/echo").headers
        too_long = client.get(srv.url + "/echo", headers={"Cookie": "s=" + "A" * 70_000})
        assert too_long.status_code == 431 and "Server" not in too_long.headers


@pytest.mark.parametrize(
    "field, value",
    [
        ("request_deadline", 0),
        ("idle_timeout", -1.0),
        ("linger_timeout", True),
        ("max_connections", 0),
        ("max_connections", 2.5),
    ],
)
def test_limits_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        ServerLimits(**{field: value})


# --- Re-running a cell: a named server replaces its predecessor --------------------------------------------


def test_serving_again_under_a_name_stops_the_previous_server(no_thread_left):
    first = serve(make_app(), name="chapter")
    second = serve(make_app(), name="chapter")
    assert not first.running and port_is_free(first.port)
    assert second.running and SERVERS.names() == ["chapter"]
    assert second.client().get(second.url + "/echo").status_code == 200
    second.stop()
    assert SERVERS.names() == []


def test_re_running_a_named_cell_leaks_no_threads_or_ports(no_thread_left):
    ports = []
    for _ in range(5):
        srv = serve(make_app(), name="cell")  # what re-running `srv = serve(app, name=...)` does
        assert srv.client().get(srv.url + "/echo").status_code == 200
        ports.append(srv.port)
    assert all(port_is_free(port) for port in ports[:-1])
    srv.stop()
    assert port_is_free(ports[-1])


def test_unnamed_servers_and_other_names_are_left_alone():
    with serve(make_app()) as plain, serve(make_app(), name="a") as a, serve(make_app(), name="b") as b:
        with serve(make_app()) as other:
            assert plain.running and a.running and b.running and other.running
        assert SERVERS.names() == ["a", "b"]
    assert SERVERS.names() == []


def test_a_stopped_named_server_does_not_stop_its_successor():
    old = serve(make_app(), name="x")
    new = serve(make_app(), name="x")
    old.stop()  # already stopped by the replacement: a no-op, and the name still belongs to `new`
    assert new.running and SERVERS.names() == ["x"]
    new.stop()


def test_a_client_that_never_reads_its_response_is_dropped_after_the_write_timeout(no_thread_left):
    app = make_app()
    big = b"x" * 64 * 1024 * 1024  # far more than the socket buffers hold

    @app.get("/big")
    def download():
        return big

    srv = serve(app, limits=ServerLimits(write_timeout=0.5, linger_timeout=0.5))
    sock = tls_connection(srv)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(2.0)  # never reading: the server's write waits, then gives up
    assert_answers_promptly(srv, beside="a client that does not read its response")
    received = 0
    sock.settimeout(5)
    try:
        while chunk := sock.recv(1024 * 1024):
            received += len(chunk)
    except OSError:
        pass  # a reset ends it too
    assert received < len(big), "the server should have dropped the client that stopped reading"
    assert_stops_promptly(srv, [sock])


def test_a_process_that_exits_without_stop_leaves_no_certificate_folder(tmp_path):
    # A kernel shut down with its servers still running: the interpreter's exit removes their folders.
    script = "from flask import Flask; from helpers.server import serve; print(serve(Flask('x')).ca_file.parent)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    folder = Path(done.stdout.strip())
    assert folder.name.startswith("auth-course-server-") and not folder.exists()


def test_a_killed_process_s_certificate_folder_is_removed_by_the_next_server(tmp_path):
    # SIGKILL (a kernel killed on a timeout) runs no exit handler; the next serve() in any process sweeps up.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    script = (
        "import os; from flask import Flask; from helpers.server import serve; "
        "print(serve(Flask('x')).ca_file.parent, flush=True); os.kill(os.getpid(), 9)"
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    orphan = Path(killed.stdout.strip())
    assert killed.returncode != 0 and orphan.exists() and orphan.parent == tmp_path
    assert server._remove_orphaned_workdirs(str(tmp_path)) == 1
    assert not orphan.exists()


def test_the_sweep_leaves_folders_of_live_processes_alone(tmp_path):
    mine = tmp_path / f"{server.WORKDIR_PREFIX}{os.getpid()}-abc"
    mine.mkdir()
    assert server._remove_orphaned_workdirs(str(tmp_path)) == 0 and mine.exists()


def test_an_exception_escaping_a_wsgi_app_is_a_500_with_nothing_on_stderr(capfd):
    def broken(environ, start_response):
        raise RuntimeError("a bug in a bare WSGI app, with no Flask error handler in front of it")

    with serve(broken) as srv:
        answer = srv.client().get(srv.url + "/")
    assert answer.status_code == 500
    assert "RuntimeError" not in answer.text
    assert capfd.readouterr().err == ""
