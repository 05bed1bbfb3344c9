"""Several servers behind a round-robin or sticky balancer, over real HTTPS."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from helpers.cluster import CLUSTERS, MAX_SERVERS, start_cluster
from helpers.server import HOST, port_is_free
from helpers.sessions import MemoryStore, SQLiteStore
from helpers.web import bearer, create_app

LOGIN = {"username": "alice", "password": "wonderland"}


def test_round_robin_visits_every_server_in_turn_from_a_per_client_start(clock, users):
    with start_cluster(3, lambda i: create_app("session", clock=clock, users=users)) as cluster:
        first, second = cluster.client(), cluster.client()
        for _ in range(4):
            first.get("/me")
            second.get("/me")
        assert first.handled_by == [0, 1, 2, 0]
        assert second.handled_by == [1, 2, 0, 1]


def test_own_stores_recognise_a_session_only_on_the_server_that_made_it(clock, users):
    with start_cluster(
        2, lambda i: create_app("session", store=MemoryStore(clock=clock), clock=clock, users=users)
    ) as cluster:
        client = cluster.client()
        assert client.post("/login", json=LOGIN).status_code == 200  # answered by server 0
        assert [client.get("/me").status_code for _ in range(4)] == [401, 401, 401, 401]
        # The 401 cleared the cookie: once a stranger server answers, the session is gone for good.


def test_sticky_clients_stay_on_their_first_server(clock, users):
    with start_cluster(
        3, lambda i: create_app("session", store=MemoryStore(clock=clock), clock=clock, users=users)
    ) as cluster:
        client = cluster.client(sticky=True, start=2)
        client.post("/login", json=LOGIN)
        assert [client.get("/me").status_code for _ in range(5)] == [200] * 5
        assert set(client.handled_by) == {2}


def test_a_shared_store_file_serves_every_server(clock, users, tmp_path, closing):
    stores = [closing(SQLiteStore(tmp_path / "shared.db", clock=clock)) for _ in range(3)]
    with start_cluster(3, lambda i: create_app("session", store=stores[i], clock=clock, users=users)) as cluster:
        client = cluster.client()
        client.post("/login", json=LOGIN)
        assert [client.get("/me").status_code for _ in range(6)] == [200] * 6
        assert sorted(set(client.handled_by)) == [0, 1, 2]


def test_jwt_servers_sharing_a_key_all_accept_the_token(clock, users):
    secret = b"k" * 32
    with start_cluster(4, lambda i: create_app("jwt", clock=clock, users=users, secret=secret)) as cluster:
        client = cluster.client()
        token = client.post("/login", json=LOGIN).json()["access_token"]
        statuses = [client.get("/me", headers=bearer(token)).status_code for _ in range(4)]
        assert statuses == [200] * 4


def test_stop_frees_every_port_and_clients_trust_only_the_cluster(clock, users):
    cluster = start_cluster(2, lambda i: create_app("session", clock=clock, users=users))
    ports = [server.port for server in cluster.servers]
    assert cluster.client().session.trust_env is False
    cluster.stop()
    assert all(port_is_free(port) for port in ports)
    assert "0 running" in repr(cluster)


def test_a_failing_app_factory_stops_the_servers_already_started(clock, users):
    baseline = threading.active_count()
    started = []

    def make_app(index):
        if index == 2:
            raise RuntimeError("no third app")
        app = create_app("session", clock=clock, users=users)
        started.append(app)
        return app

    with pytest.raises(RuntimeError, match="no third app"):
        start_cluster(3, make_app)
    assert len(started) == 2
    assert threading.active_count() == baseline, "the two servers started before the failure must be stopped"


@pytest.mark.parametrize("count", [0, MAX_SERVERS + 1, 1.5, True, "2"])
def test_server_count_is_checked(count):
    with pytest.raises(ValueError, match="whole number of servers"):
        start_cluster(count, lambda i: None)


def test_starting_a_cluster_again_under_a_name_stops_the_previous_one(clock, users):
    make_app = lambda i: create_app("session", clock=clock, users=users)  # noqa: E731
    baseline = set(threading.enumerate())
    first = start_cluster(2, make_app, name="chapter")
    first_ports, first_bundle = [server.port for server in first.servers], first.ca_bundle
    second = start_cluster(3, make_app, name="chapter")  # what re-running the cell does
    assert all(port_is_free(port) for port in first_ports) and not first_bundle.exists()
    assert "0 running" in repr(first) and CLUSTERS.names() == ["chapter"]
    assert [second.client().get("/me").status_code for _ in range(3)] == [401] * 3
    second.stop()
    assert CLUSTERS.names() == []
    assert set(threading.enumerate()) == baseline


def test_a_failing_start_under_a_name_leaves_nothing_running_or_registered(clock, users):
    baseline = set(threading.enumerate())
    previous = start_cluster(1, lambda i: create_app("session", clock=clock, users=users), name="chapter")

    def make_app(index):
        if index == 1:
            raise RuntimeError("no second app")
        return create_app("session", clock=clock, users=users)

    with pytest.raises(RuntimeError, match="no second app"):
        start_cluster(2, make_app, name="chapter")
    assert not any(server.running for server in previous.servers) and CLUSTERS.names() == []
    assert set(threading.enumerate()) == baseline


def test_a_cluster_stops_promptly_with_a_silent_connection_on_every_server(clock, users):
    baseline = set(threading.enumerate())
    cluster = start_cluster(4, lambda i: create_app("jwt", clock=clock, users=users, secret=b"k" * 32))
    silent = [socket.create_connection((HOST, server.port)) for server in cluster.servers]
    assert cluster.client().post("/login", json=LOGIN).status_code == 200
    start = time.monotonic()
    cluster.stop()
    elapsed = time.monotonic() - start
    for sock in silent:
        sock.close()
    assert elapsed < 1.5, f"stopping the cluster took {elapsed:.2f} s"
    assert set(threading.enumerate()) == baseline
