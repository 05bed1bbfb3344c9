"""Several in-kernel servers behind a stand-in load balancer: what "horizontal scaling" means for auth.

``start_cluster(count, make_app)`` serves ``make_app(0) … make_app(count - 1)`` with
``helpers.server.serve``, one HTTPS server each. Whether they share a session store or keep their
own is decided by ``make_app``, which makes the difference visible: a store object shared in
memory, one database opened by every server, or a ``MemoryStore`` per server.

``cluster.client()`` returns a ``BalancedClient``: a ``requests`` session whose requests rotate
through the servers, as a round-robin load balancer would send one user's requests. Each client
starts at a different server (client ``k`` at server ``k mod count``), so a group of clients spreads
evenly, and every run routes the same request to the same server (the charts are reproducible).
``sticky=True`` pins a client to the server that answered its first request, like a balancer's
session affinity cookie. Cookies live in one jar for the whole cluster: all servers are
127.0.0.1, and cookies do not care about ports, just as they would be shared behind one host name.

``start_cluster(count, make_app, name="ch07")`` first stops the cluster started under the same name
in this process (its servers, clients and certificate folder), so re-running a notebook cell
replaces its cluster instead of leaking ports and threads. Each server keeps the promises of
``helpers.server`` (deadlines, connection cap, a ``stop()`` of about a second), and stopping a
cluster stops its servers in parallel, so it takes about as long as stopping one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from helpers.server import NamedRegistry, RunningServer, ServerLimits, serve

__all__ = ["CLUSTERS", "MAX_SERVERS", "BalancedClient", "Cluster", "start_cluster"]

MAX_SERVERS = 8  # each server is a thread and a port; more would only crowd a laptop


class BalancedClient:
    """One user's browser behind the load balancer: requests rotate through servers, or stick to one."""

    def __init__(self, urls: list[str], session: requests.Session, sticky: bool = False, start: int = 0) -> None:
        self.urls = urls
        self.session = session  # one cookie jar, whichever server answers
        self.sticky = sticky
        self._next = start % len(urls)
        self._pinned: int | None = None
        self.handled_by: list[int] = []  # which server answered each request, in order

    @property
    def last_server(self) -> int:
        """Index of the server that answered the most recent request."""
        return self.handled_by[-1]

    def _pick(self) -> int:
        if self._pinned is not None:
            return self._pinned
        index = self._next
        self._next = (index + 1) % len(self.urls)
        if self.sticky:
            self._pinned = index
        return index

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send ``method path`` to the server the balancer picks; record which one answered."""
        index = self._pick()
        response = self.session.request(method, self.urls[index] + path, **kwargs)
        self.handled_by.append(index)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """``GET path`` through the balancer."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """``POST path`` through the balancer."""
        return self.request("POST", path, **kwargs)

    def __repr__(self) -> str:
        mode = "sticky" if self.sticky else "round-robin"
        return f"<BalancedClient {mode} over {len(self.urls)} servers, {len(self.handled_by)} requests>"


class Cluster:
    """Running servers, a trust bundle for all their certificates, and clients that balance across them."""

    def __init__(self, servers: list[RunningServer], name: str | None = None) -> None:
        self.servers = servers
        self.name = name
        self._workdir = Path(tempfile.mkdtemp(prefix="auth-course-cluster-"))
        # Removed by stop(), or at the latest when the cluster is collected or the interpreter exits.
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self._workdir, ignore_errors=True)
        # Each server has its own one-run certificate authority; a client trusts exactly these.
        self.ca_bundle = self._workdir / "cluster-ca.pem"
        self.ca_bundle.write_bytes(b"".join(s.ca_file.read_bytes() for s in servers if s.ca_file is not None))
        self._clients: list[requests.Session] = []
        self._made = 0

    @property
    def size(self) -> int:
        """How many servers the cluster runs."""
        return len(self.servers)

    @property
    def urls(self) -> list[str]:
        """Each server's base URL (random ports: use them, don't print them)."""
        return [server.url for server in self.servers]

    def client(self, sticky: bool = False, start: int | None = None) -> BalancedClient:
        """A new user behind the balancer; the k-th client made starts at server k (or at ``start``)."""
        session = requests.Session()
        session.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE: trust only this cluster's CAs
        session.verify = str(self.ca_bundle)
        self._clients.append(session)
        first = self._made if start is None else start
        self._made += 1
        return BalancedClient(self.urls, session, sticky=sticky, start=first)

    def stop(self) -> None:
        """Stop every server, close every client's connections and delete the certificates."""
        for session in self._clients:
            session.close()
        self._clients.clear()
        # In parallel: each stop waits up to one poll interval of its server's loop, and for its connections.
        stoppers = [threading.Thread(target=server.stop) for server in self.servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._remove_workdir()
        if self.name is not None:
            CLUSTERS.forget(self.name, self)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = sum(server.running for server in self.servers)
        label = f" {self.name!r}" if self.name is not None else ""
        return f"<Cluster{label} of {self.size} servers, {running} running>"


CLUSTERS: NamedRegistry[Cluster] = (
    NamedRegistry()
)  # the clusters started with start_cluster(..., name=...) in this process


def start_cluster(
    count: int, make_app: Callable[[int], Any], *, name: str | None = None, limits: ServerLimits | None = None
) -> Cluster:
    """Serve ``make_app(i)`` for i in 0…count-1, each on its own HTTPS port; ``name`` replaces the cluster of that name."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SERVERS:
        raise ValueError(f"count must be a whole number of servers from 1 to {MAX_SERVERS}, got {count!r}")
    if name is None:
        return _start(count, make_app, limits, None)
    return CLUSTERS.replace(name, lambda: _start(count, make_app, limits, name))


def _start(count: int, make_app: Callable[[int], Any], limits: ServerLimits | None, name: str | None) -> Cluster:
    """Start the servers one by one; if any fails, stop those already running before re-raising."""
    servers: list[RunningServer] = []
    try:
        for index in range(count):
            servers.append(serve(make_app(index), limits=limits))
        return Cluster(servers, name=name)
    except BaseException:
        for server in servers:  # a failing make_app must not leave the earlier servers running
            server.stop()
        raise
