import threading

import pytest
import requests
from flask import Flask, jsonify, make_response, request

from helpers.server import port_is_free, serve


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
