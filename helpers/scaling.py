"""The experiments of chapter 07 (scaling): each returns plain rows that a chart or a CSV can take.

* ``success_by_servers`` — log users in behind a round-robin balancer over 1…N servers and count how
  many of their requests are recognised, for each way of keeping auth state (``Setup``).
* ``store_calls_per_request`` — which store methods the session app calls on each authenticated request.
* ``check_costs`` — ``get`` and ``touch`` timed on each store: a bare lookup, and what a request pays.
* ``write_load`` — what gets and touches change in a backend, read from the backend's own write counter.
* ``end_to_end`` — K concurrent clients against one server per setup: latency and throughput.
* ``token_sizes`` — how an access token grows with its claims, per algorithm.
* ``most_claims_that_fit`` — the most permission strings a token can carry within a byte limit.
* ``bytes_per_session`` — what one stored session costs in each store.
* ``running`` — one setup's cluster of servers, for an experiment written out in a notebook.
* ``request_latencies`` — one kind of request timed, one after another, in milliseconds.
* ``save_rows`` / ``load_rows`` — CSV files under ``data/results/`` for a full run, and reading them
  back so a saved run can be charted without measuring again.

Every experiment stops its servers and closes its stores, even when a request fails.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from helpers import tokens
from helpers.bench import Measurement, measure
from helpers.clock import Clock, FrozenClock
from helpers.cluster import BalancedClient, Cluster, start_cluster
from helpers.load import LoadResult, run_load
from helpers.server import serve
from helpers.sessions import MemoryStore, SessionStore, SQLiteStore
from helpers.users import UserDirectory
from helpers.web import SESSION_COOKIE, bearer, create_app

__all__ = [
    "STORE_METHODS",
    "Setup",
    "bytes_per_session",
    "check_costs",
    "counting_calls",
    "end_to_end",
    "load_rows",
    "login",
    "most_claims_that_fit",
    "request_latencies",
    "running",
    "save_rows",
    "standard_setups",
    "store_calls_per_request",
    "success_by_servers",
    "token_claims",
    "token_sizes",
    "write_load",
]

Row = dict[str, Any]
STORE_METHODS = ("create", "get", "lookup", "touch", "delete", "revoke_all", "set_role", "purge_expired")
StoreFactory = Callable[[int], SessionStore]  # server index -> the store that server uses


@dataclass(frozen=True)
class Setup:
    """One way of keeping auth state across servers: a store per server (or none: JWT), sticky or not."""

    name: str
    make_store: StoreFactory | None  # None: the JWT strategy, which keeps no session state
    sticky: bool = False
    # A browser drops the session cookie when a server that does not know it answers 401 (the
    # course's app clears it). A client that keeps re-sending its cookie shows the bare odds: 1/N.
    resend_cookie: bool = False

    @property
    def strategy(self) -> Literal["session", "jwt"]:
        """``"session"`` or ``"jwt"``, the ``create_app`` strategy this setup runs."""
        return "jwt" if self.make_store is None else "session"


def standard_setups(
    clock: Clock, workdir: Path, redis_url: str | None = None, postgres_url: str | None = None
) -> list[Setup]:
    """The chapter's setups: own in-memory stores (as a browser sees them, and re-sending the cookie), sticky,
    shared SQLite file, shared Redis and PostgreSQL (when their URLs are given), and JWT."""
    tag = secrets.token_hex(4)  # keeps runs apart on a shared Redis or PostgreSQL
    setups = [
        Setup("in-memory, own store per server", lambda i: MemoryStore(clock=clock)),
        Setup("in-memory, own store, cookie re-sent", lambda i: MemoryStore(clock=clock), resend_cookie=True),
        Setup("in-memory, sticky balancer", lambda i: MemoryStore(clock=clock), sticky=True),
        Setup("SQLite file, shared", lambda i: SQLiteStore(workdir / f"sessions-{tag}.db", clock=clock)),
    ]
    # The database clients are imported only when asked for, so SQLite-only use needs neither.
    if redis_url is not None:
        from helpers.redis_sessions import RedisStore

        setups.append(Setup("Redis, shared", lambda i: RedisStore(redis_url, clock=clock, prefix=f"scaling-{tag}:")))
    if postgres_url is not None:
        from helpers.postgres_sessions import PostgresStore

        setups.append(
            Setup("PostgreSQL, shared", lambda i: PostgresStore(postgres_url, clock=clock, table=f"sessions_{tag}"))
        )
    setups.append(Setup("JWT (HS256), no server state", None))
    return setups


@contextlib.contextmanager
def running(setup: Setup, servers: int, clock: Clock, users: UserDirectory) -> Iterator[Cluster]:
    """A cluster of ``servers`` running ``setup``; stores closed and servers stopped on the way out."""
    stores: list[SessionStore] = []
    secret = secrets.token_bytes(32)  # every JWT server shares the signing key, as a real deployment would

    def make_app(index: int) -> Any:
        store = None
        if setup.make_store is not None:
            store = setup.make_store(index)
            stores.append(store)
        return create_app(setup.strategy, store=store, clock=clock, secret=secret, users=users)

    try:
        with start_cluster(servers, make_app) as cluster:
            yield cluster
    finally:
        for store in stores:
            store.close()


def login(client: BalancedClient, username: str, password: str) -> dict[str, str]:
    """Log in through the balancer; the headers later requests need (a bearer token, or none: the cookie)."""
    response = client.post("/login", json={"username": username, "password": password})
    if response.status_code != 200:
        raise RuntimeError(f"login as {username!r} failed with {response.status_code}: {response.text[:200]}")
    token = response.json().get("access_token")
    return bearer(token) if token else {}


def success_by_servers(
    setups: Sequence[Setup],
    server_counts: Sequence[int],
    users: UserDirectory,
    credentials: Sequence[tuple[str, str]],
    requests_per_user: int,
    clock: Clock,
    progress: Callable[[str], None] | None = print,
) -> list[Row]:
    """For each setup and server count: log every user in, send ``GET /me`` repeatedly, count the 200s.

    Each setup runs one cluster of the largest size; a cluster of N is a balancer over its first N
    servers (the others get no request), which spares starting and stopping a cluster per size.
    """
    rows: list[Row] = []
    for setup in setups:
        with running(setup, max(server_counts), clock, users) as cluster:
            for servers in server_counts:
                ok = sent = 0
                for user, (username, password) in enumerate(credentials):
                    # User k starts at server k, as cluster.client() would number them in a fresh cluster.
                    session = cluster.client().session
                    client = BalancedClient(cluster.urls[:servers], session, sticky=setup.sticky, start=user)
                    headers = login(client, username, password)
                    kept = client.session.cookies.get(SESSION_COOKIE) if setup.resend_cookie else None
                    for _ in range(requests_per_user):
                        cookies = {SESSION_COOKIE: kept} if kept else None
                        ok += client.get("/me", headers=headers, cookies=cookies).status_code == 200
                        sent += 1
                rows.append(
                    {"setup": setup.name, "servers": servers, "requests": sent, "ok": ok, "success_rate": ok / sent}
                )
        if progress is not None:
            rates = ", ".join(f"{row['servers']}: {row['success_rate']:.0%}" for row in rows[-len(server_counts) :])
            progress(f"{setup.name:<34} {rates}")
    return rows


def request_latencies(
    send: Callable[[], int], count: int, timer: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Send ``count`` requests one after another with ``send`` (which returns the status); each one's latency in ms."""
    latencies: list[float] = []
    for _ in range(count):
        started = timer()
        status = send()
        latencies.append((timer() - started) * 1000)
        if not 200 <= status < 300:
            raise RuntimeError(f"a timed request was answered {status}")
    return latencies


def end_to_end(
    setups: Sequence[Setup],
    client_counts: Sequence[int],
    users: UserDirectory,
    credentials: tuple[str, str],
    requests_per_point: int,
    clock: Clock,
    progress: Callable[[str], None] | None = print,
) -> list[Row]:
    """One server per setup; K clients share ``requests_per_point`` authenticated ``GET /me``; latency and throughput."""
    for clients in client_counts:
        if requests_per_point % clients:
            raise ValueError(f"requests_per_point ({requests_per_point}) must split evenly over {clients} clients")
    rows: list[Row] = []
    for setup in setups:
        with running(setup, 1, clock, users) as cluster:

            def make_sender(k: int) -> Callable[[], tuple[int, int]]:
                client = cluster.client()
                headers = login(client, *credentials)
                return lambda: (client.get("/me", headers=headers).status_code, client.last_server)

            for clients in client_counts:
                result: LoadResult = run_load(make_sender, clients, requests_per_point // clients, progress=None)
                q1, median, q3 = result.latency_ms()
                rows.append(
                    {
                        "setup": setup.name,
                        "clients": clients,
                        "requests": result.requests,
                        "success_rate": result.success_rate,
                        "latency_q1_ms": q1,
                        "latency_median_ms": median,
                        "latency_q3_ms": q3,
                        "throughput_rps": result.throughput,
                    }
                )
        if progress is not None:
            progress(f"{setup.name:<34} {len(client_counts)} client counts × {requests_per_point} requests each: done")
    return rows


@contextlib.contextmanager
def counting_calls(store: SessionStore, names: Sequence[str] = STORE_METHODS) -> Iterator[Counter[str]]:
    """Count calls to ``store``'s public methods (those of ``names`` it has), from any thread, while the block runs."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    names = [name for name in names if hasattr(store, name)]

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                counts[name] += 1
            return method(*args, **kwargs)

        return call

    for name in names:
        setattr(store, name, counted(name, getattr(store, name)))  # an instance attribute shadows the method
    try:
        yield counts
    finally:
        for name in names:
            delattr(store, name)  # the class's own method shows through again


def store_calls_per_request(
    store: SessionStore,
    users: UserDirectory,
    credentials: tuple[str, str],
    requests: int,
    clock: FrozenClock,
    seconds_between: float = 1.0,
) -> Row:
    """Log in to a session app on ``store`` over HTTPS, send ``requests`` ``GET /me``: the store calls they made,
    and how many of the requests wrote to the store (by its backend's write counter)."""
    read, unit = _write_counter(store)
    writing = 0
    with serve(create_app("session", store=store, clock=clock, users=users)) as server:
        client = server.client()
        response = client.post(server.url + "/login", json={"username": credentials[0], "password": credentials[1]})
        if response.status_code != 200:
            raise RuntimeError(f"login as {credentials[0]!r} failed with {response.status_code}")
        with counting_calls(store) as counts:
            for _ in range(requests):
                clock.advance(seconds=seconds_between)
                before = read()
                if client.get(server.url + "/me").status_code != 200:
                    raise RuntimeError("an authenticated GET /me was refused")
                writing += read() > before
    return {"requests": requests, "calls": dict(sorted(counts.items())), "requests_that_wrote": writing, "unit": unit}


def check_costs(
    stores: Mapping[str, Callable[[], SessionStore]],
    sessions: int,
    clock: FrozenClock,
    repeat: int = 15,
    progress: Callable[[str], None] | None = print,
    warmup: int = 10,
) -> list[Measurement]:
    """Fill each store with ``sessions`` sessions; time ``get`` and ``touch`` on one, the clock 1 ms on per call.

    The clock moves so that every ``touch`` slides the deadline to a new value, as a request a moment
    later would: a backend cannot skip a write that changes nothing. ``warmup`` untimed calls come
    first (a few suffice: a touch that waits for the disk takes milliseconds each). Each store is
    emptied and closed after.
    """
    rows: list[Measurement] = []
    for name, make_store in stores.items():
        if progress is not None:
            progress(f"  {name}: {sessions:,} sessions, then get and touch timed")
        store = make_store()
        try:
            probe = store.create_many([f"user{i}" for i in range(sessions)])[sessions // 2]
            for method in (store.get, store.touch):

                def call(method: Callable[[str], Any] = method, probe: str = probe) -> Any:
                    clock.advance(seconds=0.001)
                    return method(probe)

                rows.append(measure(call, name=f"{name} {method.__name__}", repeat=repeat, warmup=warmup))
        finally:
            store.clear()  # a shared store outlives this process: leave it as it was found
            store.close()
    return rows


def _scalar(connection: Any, query: str) -> Any:
    """The one value a one-row, one-column query returns."""
    row = connection.execute(query).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {query!r}")
    return row[0]


def _write_counter(store: SessionStore) -> tuple[Callable[[], int], str]:
    """A reading of ``store``'s backend that grows with every write, and what it counts."""
    if isinstance(store, SQLiteStore):
        return (lambda: store.connection.total_changes), "rows changed"
    kind = type(store).__name__  # by name: the database clients are imported only for their own stores
    if kind == "RedisStore":
        from helpers.redis_sessions import RedisStore

        client = cast(RedisStore, store).client
        # Redis counts the write commands since its last save; the course's Redis never saves.
        return (lambda: int(client.info("persistence")["rdb_changes_since_last_save"])), "write commands"
    if kind == "PostgresStore":
        from helpers.postgres_sessions import PostgresStore

        connection = cast(PostgresStore, store).connection
        wal = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"
        return (lambda: int(_scalar(connection, wal))), "WAL bytes"
    raise TypeError(f"no write counter for {kind}: SQLiteStore, RedisStore and PostgresStore have one")


def write_load(store: SessionStore, calls: int, clock: FrozenClock, seconds_between: float = 1.0) -> list[Row]:
    """``calls`` gets, then ``calls`` touches on one live session, one request-gap apart: what each wrote."""
    read, unit = _write_counter(store)
    session_id = store.create("write-load")
    rows: list[Row] = []
    try:
        for method in (store.get, store.touch):
            wrote = total = 0
            for _ in range(calls):
                clock.advance(seconds=seconds_between)
                before = read()
                if method(session_id) is None:
                    raise RuntimeError(f"{method.__name__} lost the session")
                change = read() - before
                wrote += change > 0
                total += change
            rows.append(
                {"method": method.__name__, "calls": calls, "calls_that_wrote": wrote, "written": total, "unit": unit}
            )
    finally:
        store.delete(session_id)
    return rows


def token_claims(permissions: int) -> dict[str, Any]:
    """An access token's usual claims plus ``permissions`` permission strings such as ``orders:read:region-042``."""
    return {
        "sub": "alice",
        "role": "user",
        "iss": "auth-course",
        "aud": "auth-course-api",
        "iat": 1_700_000_000,
        "exp": 1_700_000_900,
        "jti": "0" * 32,
        "permissions": [f"orders:read:region-{n:03d}" for n in range(permissions)],
    }


def token_sizes(claim_counts: Sequence[int], algorithms: Sequence[str], keys: dict[str, Any]) -> list[Row]:
    """Length in bytes of an access token carrying the usual claims plus ``n`` permission strings."""
    rows: list[Row] = []
    for count in claim_counts:
        claims = token_claims(count)
        for algorithm in algorithms:
            token = tokens.encode(claims, keys[algorithm], algorithm=algorithm)
            rows.append({"claims": count, "algorithm": algorithm, "bytes": len(token)})
    return rows


def most_claims_that_fit(limit: int, algorithm: str, key: Any, overhead: int = 0) -> int:
    """The most permission strings a ``token_sizes`` token carries in ``limit - overhead`` bytes (-1: not even none)."""
    fits = lambda n: token_sizes([n], [algorithm], {algorithm: key})[0]["bytes"] + overhead <= limit  # noqa: E731
    if not fits(0):
        return -1
    low, high = 0, 1
    while fits(high):  # double until one does not fit, then bisect: a token grows with every claim
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _sqlite_bytes(store: SQLiteStore) -> int:
    conn = store.connection
    return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]


def bytes_per_session(
    sessions: int, redis_url: str | None = None, postgres_url: str | None = None, clock: Clock | None = None
) -> list[Row]:
    """Bytes each store grows by per stored session (IDs hashed, one short data field), measured by filling it."""
    clock = clock or FrozenClock()
    user_ids = [f"user{n:07d}" for n in range(sessions)]
    data = {"theme": "dark"}
    rows: list[Row] = []

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        memory = MemoryStore(clock=clock)
        memory.create_many(user_ids, data=data)
        rows.append(
            {"store": "MemoryStore (Python dict)", "bytes": (tracemalloc.get_traced_memory()[0] - before) / sessions}
        )
    finally:
        tracemalloc.stop()
    del memory

    with (
        tempfile.TemporaryDirectory(prefix="auth-course-size-") as folder,
        SQLiteStore(Path(folder) / "size.db", clock=clock) as sqlite,
    ):
        before = _sqlite_bytes(sqlite)
        sqlite.create_many(user_ids, data=data)
        rows.append({"store": "SQLite file", "bytes": (_sqlite_bytes(sqlite) - before) / sessions})

    if redis_url is not None:
        from helpers.redis_sessions import RedisStore

        with RedisStore(redis_url, clock=clock, prefix=f"size-{secrets.token_hex(4)}:") as redis_store:
            used = lambda: redis_store.client.info("memory")["used_memory"]  # noqa: E731
            before = used()
            redis_store.create_many(user_ids, data=data)
            rows.append({"store": "Redis", "bytes": (used() - before) / sessions})
            redis_store.clear()  # leave an external Redis as it was
    if postgres_url is not None:
        from helpers.postgres_sessions import PostgresStore

        table = f"size_{secrets.token_hex(4)}"
        with PostgresStore(postgres_url, clock=clock, table=table) as pg:
            size = f"SELECT pg_total_relation_size('{table}')"  # the table's name is ours, not user input
            before = _scalar(pg.connection, size)
            pg.create_many(user_ids, data=data)
            pg.connection.execute(f"VACUUM ANALYZE {table}")
            rows.append({"store": "PostgreSQL", "bytes": (_scalar(pg.connection, size) - before) / sessions})
            pg.connection.execute(f"DROP TABLE {table}")
    rows.append({"store": "JWT (nothing stored)", "bytes": 0.0})
    return rows


def save_rows(rows: Sequence[Row], folder: str | os.PathLike[str], name: str) -> Path:
    """Write ``rows`` to ``folder/name.csv`` (the folder is created); the path written."""
    path = Path(folder) / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def load_rows(folder: str | os.PathLike[str], name: str) -> list[Row]:
    """Read back what ``save_rows`` wrote; numbers come back as int or float."""
    path = Path(folder) / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"no saved run at {path}: run the notebook with RESULTS_DIR set to write one")
    with path.open(newline="", encoding="utf-8") as handle:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
