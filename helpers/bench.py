"""Micro-benchmarks that report a median and spread, never a single lucky number.

``measure(fn)`` warms ``fn`` up, picks a loop count so each sample lasts about ``sample_seconds``,
takes ``repeat`` samples and reports the median and interquartile range in microseconds per call.
Run ``python -m helpers.bench`` for the course's headline tables (JWT verification against session
lookups on this machine, the per-request cost of each strategy) and its performance targets, each a
ratio against a baseline timed round-robin beside it in the same run; ``--quick`` stays under a minute.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests
    from flask import Flask

    from .clock import Clock
    from .sessions import SessionStore
    from .tokens import PrivateKey, PublicKey


@dataclass(frozen=True)
class Measurement:
    """Microseconds per call: the median of the samples and their interquartile range."""

    name: str
    median_us: float
    q1_us: float
    q3_us: float
    calls_per_sample: int
    samples: int

    @property
    def iqr_us(self) -> float:
        """Spread of the middle half of the samples, in µs."""
        return self.q3_us - self.q1_us

    def ratio_to(self, other: Measurement) -> float:
        """How many times slower this is than ``other`` (below 1: faster)."""
        return self.median_us / other.median_us


def _sample(fn: Callable[[], object], calls: int, timer: Callable[[], float]) -> float:
    start = timer()
    for _ in range(calls):
        fn()
    return (timer() - start) / calls


def _calls_per_sample(fn: Callable[[], object], sample_seconds: float, timer: Callable[[], float]) -> int:
    """Double the loop count until one sample of ``fn`` lasts at least ``sample_seconds``."""
    calls = 1
    while calls < 1_000_000 and _sample(fn, calls, timer) * calls < sample_seconds:
        calls *= 2
    return calls


def _summary(name: str, per_call_us: list[float], calls: int) -> Measurement:
    q1, median, q3 = statistics.quantiles(sorted(per_call_us), n=4, method="inclusive")
    return Measurement(name, median, q1, q3, calls, len(per_call_us))


def measure(
    fn: Callable[[], object],
    name: str = "",
    repeat: int = 15,
    warmup: int = 50,
    sample_seconds: float = 0.005,
    timer: Callable[[], float] = time.perf_counter,
) -> Measurement:
    """Time ``fn()``: warm up, calibrate calls per sample, then return median and IQR in µs per call."""
    if repeat < 3:
        raise ValueError(f"repeat must be at least 3 to give an interquartile range, got {repeat}")
    for _ in range(warmup):
        fn()
    calls = _calls_per_sample(fn, sample_seconds, timer)
    per_call = [_sample(fn, calls, timer) * 1e6 for _ in range(repeat)]
    return _summary(name or getattr(fn, "__name__", "fn"), per_call, calls)


def compare(
    fns: Mapping[str, Callable[[], object]],
    rounds: int = 15,
    warmup: int = 20,
    sample_seconds: float = 0.005,
    timer: Callable[[], float] = time.perf_counter,
) -> dict[str, Measurement]:
    """Time several functions side by side, round-robin: each round takes one sample of each, in alternating order.

    A load that comes and goes during the run then slows every function alike, so ratios between
    them hold better than when each is timed in its own stretch. Returns a Measurement per name.
    """
    if rounds < 3:
        raise ValueError(f"rounds must be at least 3 to give an interquartile range, got {rounds}")
    calls: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        calls[name] = _calls_per_sample(fn, sample_seconds, timer)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for round_number in range(rounds):
        for name in order if round_number % 2 == 0 else reversed(order):
            samples[name].append(_sample(fns[name], calls[name], timer) * 1e6)
    return {name: _summary(name, per_call, calls[name]) for name, per_call in samples.items()}


def format_table(rows: list[Measurement], baseline: Measurement | None = None, baseline_label: str = "") -> str:
    """A fixed-width table of measurements, with a ratio column against ``baseline`` when given."""
    width = max(len(row.name) for row in rows) + 2
    header = f"{'what':<{width}}{'median µs':>11}{'IQR µs':>9}"
    if baseline is not None:
        header += f"{'× ' + baseline_label:>16}"
    lines = [header, "-" * len(header)]
    for row in rows:
        line = f"{row.name:<{width}}{row.median_us:>11.2f}{row.iqr_us:>9.2f}"
        if baseline is not None:
            line += f"{row.ratio_to(baseline):>16.2f}"
        lines.append(line)
    return "\n".join(lines)


# --- the course's headline benchmark: verifying a JWT versus looking up a session ---------------

FULL_SESSION_COUNTS = (1_000, 100_000, 1_000_000)
QUICK_SESSION_COUNTS = (1_000, 100_000)
SHARED_SESSION_COUNTS = (1_000, 100_000)  # filling Redis or PostgreSQL with a million takes minutes
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
TARGET_SAMPLE_SECONDS = 0.02  # longer than a scheduler time slice, so a sample rarely ends mid-preemption
TARGET_SESSION_COUNTS = (100_000, 1_000_000)  # table sizes of the SQLiteStore.get target (--quick: the first)
TARGET_TOKENS = 16  # distinct tokens the signature-floor targets take in turn
_ISSUER, _AUDIENCE = "auth-course", "auth-course-api"  # the benchmark tokens' iss and aud, checked by every decode


def _claims(now: int) -> dict[str, object]:
    return {
        "sub": "alice",
        "role": "user",
        "iss": _ISSUER,
        "aud": _AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "0" * 32,
    }


def token_benchmarks(repeat: int = 15) -> tuple[list[Measurement], dict[str, float]]:
    """Decode with full claim checks in ``helpers.tokens`` and PyJWT for each algorithm, plus the raw HMAC floor.

    Returns the measurements and, per algorithm, the ratio helpers ÷ PyJWT.
    """
    import hashlib
    import hmac
    import time

    from . import tokens
    from .keys import demo_private_key

    now = int(time.time())
    claims = _claims(now)
    secret = hashlib.sha256(b"demo-only benchmark secret").digest()
    keys: dict[str, tuple[bytes | PrivateKey, bytes | PublicKey]] = {"HS256": (secret, secret)}
    for algorithm in ASYMMETRIC_ALGORITHMS:
        private = demo_private_key(algorithm)
        keys[algorithm] = (private, private.public_key())
    rows: list[Measurement] = []
    ratios: dict[str, float] = {}
    for algorithm, (signing_key, verifying_key) in keys.items():
        ours, theirs = _decode_benchmarks(
            tokens.encode(claims, signing_key, algorithm=algorithm), verifying_key, algorithm, repeat
        )
        rows += [ours, theirs]
        ratios[algorithm] = ours.ratio_to(theirs)
    signing_input = tokens.encode(claims, secret).rsplit(".", 1)[0].encode()
    rows.append(
        measure(
            lambda: hmac.new(secret, signing_input, "sha256").digest(),
            name="raw HMAC-SHA256 (the floor)",
            repeat=repeat,
        )
    )
    return rows, ratios


def _decode_benchmarks(
    token: str, verifying_key: bytes | PublicKey, algorithm: str, repeat: int
) -> tuple[Measurement, Measurement]:
    """``token`` decoded with full claim checks by ``helpers.tokens``, then by PyJWT."""
    import jwt

    from . import tokens

    ours = measure(
        lambda: tokens.decode(token, verifying_key, algorithms=[algorithm], audience=_AUDIENCE, issuer=_ISSUER),
        name=f"{algorithm} decode, helpers.tokens",
        repeat=repeat,
    )
    theirs = measure(
        lambda: jwt.decode(token, verifying_key, algorithms=[algorithm], audience=_AUDIENCE, issuer=_ISSUER),
        name=f"{algorithm} decode, PyJWT",
        repeat=repeat,
    )
    return ours, theirs


def lookup_benchmark(store: SessionStore, name: str, sessions: int, repeat: int = 15) -> Measurement:
    """Fill ``store`` with ``sessions`` sessions, then time ``get`` on one of them (SHA-256 of the ID included)."""
    ids = store.create_many([f"user{i}" for i in range(sessions)])
    probe = ids[len(ids) // 2]
    return measure(lambda: store.get(probe), name=f"{name} get, {sessions:,} sessions", repeat=repeat)


def session_lookup_benchmarks(
    counts: tuple[int, ...] = FULL_SESSION_COUNTS,
    repeat: int = 15,
    progress: bool = True,
    stores: Mapping[str, Callable[[], SessionStore]] | None = None,
) -> list[Measurement]:
    """``get`` on a known session in each store (default: ``MemoryStore`` and ``SQLiteStore``) holding each number of sessions."""
    from .sessions import MemoryStore, SQLiteStore

    if stores is None:
        stores = {"MemoryStore": MemoryStore, "SQLiteStore :memory:": lambda: SQLiteStore(":memory:")}
    rows: list[Measurement] = []
    for count in counts:
        for name, make_store in stores.items():
            if progress:
                print(f"  filling {name} with {count:,} sessions ...", flush=True)
            store = make_store()
            try:
                rows.append(lookup_benchmark(store, name, count, repeat=repeat))
            finally:
                store.clear()  # a shared store outlives this process: leave it as it was found
                store.close()
    return rows


def shared_stores(
    redis_url: str, postgres_url: str, clock: Clock | None = None
) -> dict[str, Callable[[], SessionStore]]:
    """Makers of a Redis and a PostgreSQL store on the given servers, under names kept for benchmarks."""
    from .postgres_sessions import PostgresStore
    from .redis_sessions import RedisStore

    return {
        "RedisStore": lambda: RedisStore(redis_url, clock=clock, prefix="auth-course-bench:"),
        "PostgresStore": lambda: PostgresStore(postgres_url, clock=clock, table="auth_course_bench"),
    }


# --- what remembering a login costs per request, by strategy ----------------------------------

STRATEGIES = ("no auth", "jwt", "session")
LAYERS = {
    "app": "the Flask app alone, called through WSGI",
    "http": "whole request over HTTP through helpers.server (a TCP connection per request)",
    "https": "whole request over HTTPS through helpers.server (a TCP connection and TLS handshake per request)",
}


@dataclass(frozen=True)
class StrategyCost:
    """One strategy's time per request in one layer, against the no-auth app timed beside it."""

    layer: str  # a key of LAYERS: "app", "http" or "https"
    strategy: str  # one of STRATEGIES
    median_us: float
    q1_us: float
    q3_us: float
    ratio: float  # median ÷ the no-auth median in the same layer (1.0 for "no auth" itself)
    overhead_us: float  # median − the no-auth median in the same layer
    # Over http/https: the median µs the app itself took inside the server, timed around its WSGI call.
    # The rest of the request (connect, handshake, headers, threads) is the server's and the client's.
    in_server_app_us: float | None = None

    @property
    def iqr_us(self) -> float:
        """Spread of the middle half of the samples, in µs."""
        return self.q3_us - self.q1_us


def _no_auth_app() -> Flask:
    """The baseline: the same ``GET /api/data`` answer as the course's app, with no credential checked."""
    from flask import Flask, jsonify

    app = Flask("helpers.bench.no_auth", static_folder=None)
    app.get("/api/data")(lambda: jsonify(data=[1, 2, 3], owner="alice", via="none"))
    return app


def _strategy_apps() -> dict[str, tuple[Flask, dict[str, str]]]:
    """Each strategy's app, logged in as alice: the app and the request headers that carry her credential."""
    from .web import SESSION_COOKIE, auth_config, bearer, create_app, issue_access_token

    jwt_app = create_app("jwt")
    session_app = create_app("session")
    token = issue_access_token(auth_config(jwt_app), "alice", "user")
    session_id = auth_config(session_app).store.create("alice", role="user")
    return {
        "no auth": (_no_auth_app(), {}),
        "jwt": (jwt_app, bearer(token)),
        "session": (session_app, {"Cookie": f"{SESSION_COOKIE}={session_id}"}),
    }


def _wsgi_caller(app: Flask, headers: dict[str, str]) -> Callable[[], object]:
    """A function that runs one ``GET /api/data`` through ``app``'s WSGI interface and checks it answered 200."""
    import io

    from werkzeug.datastructures import Headers
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/api/data", base_url="https://localhost", headers=Headers(headers)).get_environ()
    statuses: list[str] = []

    def write(data: bytes) -> None:
        raise RuntimeError("the app wrote its body through WSGI's write(); this caller reads the returned body only")

    def start_response(status: str, response_headers: object, exc_info: object = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return write

    def call() -> object:
        body = app({**environ, "wsgi.input": io.BytesIO()}, start_response)
        data = b"".join(body)
        if statuses.pop() != "200 OK":
            raise RuntimeError(f"the benchmark request was refused: {data!r}")
        return data

    return call


class _TimedApp:
    """A WSGI app that runs ``app`` and keeps how long each call took, in µs (``times_us``)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.times_us: list[float] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start = time.perf_counter()
        body = self.app(environ, start_response)  # a Flask answer is rendered by now: only its bytes are left
        self.times_us.append((time.perf_counter() - start) * 1e6)
        return body


def _server_callers(
    apps: Mapping[str, tuple[Flask, dict[str, str]]], https: bool, stack: contextlib.ExitStack
) -> tuple[dict[str, Callable[[], object]], dict[str, _TimedApp]]:
    """Serve each app with ``helpers.server.serve``: a ``requests`` caller per app, and each app's timings inside."""
    from http.cookiejar import DefaultCookiePolicy

    from .server import serve

    callers: dict[str, Callable[[], object]] = {}
    timed_apps: dict[str, _TimedApp] = {}
    for strategy, (app, headers) in apps.items():
        timed_apps[strategy] = _TimedApp(app)
        server = stack.enter_context(serve(timed_apps[strategy], https=https))
        client = server.client()
        client.cookies.set_policy(
            DefaultCookiePolicy(allowed_domains=[])
        )  # the credential travels in ``headers`` alone
        url = server.url + "/api/data"

        def call(client: requests.Session = client, url: str = url, headers: dict[str, str] = headers) -> object:
            response = client.get(url, headers=headers, timeout=10)
            response.raise_for_status()
            return response.content

        callers[strategy] = call
    return callers, timed_apps


def strategy_costs(
    rounds: int = 9, sample_seconds: float = 0.01, layers: tuple[str, ...] = tuple(LAYERS)
) -> list[StrategyCost]:
    """Time one authenticated ``GET /api/data`` per strategy in each layer, side by side; rows with ratios.

    Strategies: "no auth" (a bare Flask app with the same answer), "jwt" and "session" (``create_app``,
    logged in as alice: a Bearer access token, a session cookie on an in-memory SQLite store). Layers
    (``LAYERS``): "app" calls each app through WSGI with a prepared request; "http" and "https" send
    whole requests with ``requests`` to ``helpers.server.serve``, which closes every connection (as
    Werkzeug does), so each request pays a TCP connect, and over HTTPS a TLS handshake. Within a layer the strategies are timed
    round-robin (``compare``) for ``rounds`` rounds of samples of about ``sample_seconds`` each;
    ``rounds=9`` takes about two seconds. Returns one ``StrategyCost`` per (layer, strategy), in the
    order of ``layers`` then ``STRATEGIES``, each with its median, quartiles, ``ratio`` (× no auth in
    that layer) and ``overhead_us`` (µs over no auth in that layer); over http and https also
    ``in_server_app_us``, the app's own time per request inside the server.
    """
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; choose from {list(LAYERS)}")
    apps = _strategy_apps()
    rows: list[StrategyCost] = []
    with contextlib.ExitStack() as stack:
        for layer in layers:
            timed_apps: dict[str, _TimedApp] = {}
            if layer == "app":
                callers = {strategy: _wsgi_caller(app, headers) for strategy, (app, headers) in apps.items()}
            else:
                callers, timed_apps = _server_callers(apps, layer == "https", stack)
            timed = compare(callers, rounds=rounds, warmup=10, sample_seconds=sample_seconds)
            base = timed["no auth"].median_us
            rows += [
                StrategyCost(
                    layer,
                    strategy,
                    m.median_us,
                    m.q1_us,
                    m.q3_us,
                    m.median_us / base,
                    m.median_us - base,
                    statistics.median(timed_apps[strategy].times_us) if timed_apps else None,
                )
                for strategy, m in timed.items()
            ]
    return rows


def format_strategy_costs(rows: list[StrategyCost]) -> str:
    """A fixed-width table of ``strategy_costs`` rows: µs per request, spread, × no auth and µs over it."""
    header = f"{'layer':<12}{'strategy':<10}{'median µs':>11}{'IQR µs':>9}{'× no auth':>11}{'+µs':>9}"
    header += f"{'app µs in server':>18}"
    lines = [header, "-" * len(header)]
    for row in rows:
        in_server = "" if row.in_server_app_us is None else f"{row.in_server_app_us:.1f}"
        lines.append(
            f"{row.layer:<12}{row.strategy:<10}{row.median_us:>11.1f}{row.iqr_us:>9.1f}"
            f"{row.ratio:>11.2f}{row.overhead_us:>+9.1f}{in_server:>18}"
        )
    return "\n".join(lines)


# --- the targets: each a ratio against a baseline timed beside it, in this run -------------------


@dataclass(frozen=True)
class Target:
    """One performance target: ``measured`` (a ratio from this run) must be at most ``limit``."""

    name: str
    measured: float
    limit: float
    baseline: str  # what the ratio divides by, with its median in µs

    @property
    def holds(self) -> bool:
        """True when the measured ratio is within the limit."""
        return self.measured <= self.limit


def signature_floor_targets(rounds: int = 25) -> list[Target]:
    """``helpers.tokens.decode`` (every claim check on) against the bare signature check of its algorithm.

    The floor for HS256 is one HMAC, computed as ``tokens`` does (``hmac.new(...).digest()``); for RS256,
    ES256 and EdDSA the ``cryptography`` verify call on the same signing input (ES256's signature
    already in DER, as ``cryptography`` wants it).
    Both take the next of ``TARGET_TOKENS`` tokens in turn, one header and a jti each, as one issuer's
    traffic looks: what ``decode`` remembers between tokens (the parsed header, the prepared key) is
    reused, and nothing it might remember about one token is.
    """
    import hashlib

    from .keys import demo_private_key

    claims = _claims(int(time.time()))
    secret = hashlib.sha256(b"demo-only benchmark secret").digest()
    limits = {"HS256": 6.0, "RS256": 1.3, "ES256": 1.15, "EdDSA": 1.15}
    results: list[Target] = []
    for algorithm, limit in limits.items():
        private = secret if algorithm == "HS256" else demo_private_key(algorithm)
        results.append(_signature_floor_target(algorithm, private, claims, limit, rounds))
    return results


def _signature_floor_target(
    algorithm: str, private: bytes | PrivateKey, claims: dict[str, object], limit: float, rounds: int
) -> Target:
    """One ``signature_floor_targets`` row: ``algorithm``'s decode against its bare check, keyed by ``private``."""
    import base64
    import hmac
    import itertools

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from . import tokens

    public = private if isinstance(private, bytes) else private.public_key()
    issued = [tokens.encode({**claims, "jti": f"{n:032x}"}, private, algorithm=algorithm) for n in range(TARGET_TOKENS)]
    checked: list[tuple[bytes, bytes]] = []  # what the floor checks: each token's signing input and signature
    for token in issued:
        head, _, signature_text = token.rpartition(".")
        signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
        if algorithm == "ES256":
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            signature = encode_dss_signature(r, s)
        checked.append((head.encode(), signature))
    next_token, next_checked = itertools.cycle(issued).__next__, itertools.cycle(checked).__next__
    # The key's type picks the bare check: an HMAC secret, then RS256's, ES256's and EdDSA's public keys.
    if isinstance(public, bytes):

        def floor() -> object:
            signing_input, signature = next_checked()
            return hmac.compare_digest(hmac.new(public, signing_input, "sha256").digest(), signature)
    elif isinstance(public, rsa.RSAPublicKey):

        def floor() -> object:
            signing_input, signature = next_checked()
            return public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(public, ec.EllipticCurvePublicKey):

        def floor() -> object:
            signing_input, signature = next_checked()
            return public.verify(signature, signing_input, ec.ECDSA(hashes.SHA256()))
    else:

        def floor() -> object:
            signing_input, signature = next_checked()
            return public.verify(signature, signing_input)

    timed = compare(
        {
            "decode": lambda: tokens.decode(
                next_token(), public, algorithms=[algorithm], audience=_AUDIENCE, issuer=_ISSUER
            ),
            "floor": floor,
        },
        rounds=rounds,
        sample_seconds=TARGET_SAMPLE_SECONDS,
    )
    return Target(
        f"{algorithm} decode ÷ its signature check",
        timed["decode"].ratio_to(timed["floor"]),
        limit,
        f"bare {algorithm} verify, {timed['floor'].median_us:.2f} µs",
    )


def sqlite_lookup_target(sessions: int, rounds: int = 25) -> Target:
    """``SQLiteStore.get`` against a bare ``sqlite3`` primary-key query on the same table (SHA-256 of the ID in both)."""
    import hashlib

    from .sessions import SQLiteStore

    store = SQLiteStore(":memory:")
    try:
        ids = store.create_many([f"user{i}" for i in range(sessions)])
        probe = ids[len(ids) // 2]
        cursor = store.connection.cursor()
        query = (
            "SELECT user_id, role, data, created_at, expires_at, absolute_expires_at, ttl FROM sessions WHERE id = ?"
        )

        def bare() -> object:
            return cursor.execute(query, (hashlib.sha256(probe.encode()).hexdigest(),)).fetchone()

        timed = compare(
            {"get": lambda: store.get(probe), "bare": bare}, rounds=rounds, sample_seconds=TARGET_SAMPLE_SECONDS
        )
    finally:
        store.close()
    return Target(
        f"SQLiteStore.get ÷ bare query, {sessions:,} sessions",
        timed["get"].ratio_to(timed["bare"]),
        1.2,
        f"sqlite3 point query + SHA-256, {timed['bare'].median_us:.2f} µs",
    )


def strategy_targets(rows: list[StrategyCost]) -> list[Target]:
    """The request-level targets read off ``strategy_costs`` rows: session ≤ 1.15×, JWT ≤ 1.10× no auth per layer."""
    by_key = {(row.layer, row.strategy): row for row in rows}
    results: list[Target] = []
    for layer in dict.fromkeys(row.layer for row in rows):
        base = by_key[(layer, "no auth")]
        if layer == "app":
            session, jwt_row = by_key[(layer, "session")], by_key[(layer, "jwt")]
            results.append(
                Target(
                    "app alone: session overhead ÷ JWT overhead",
                    session.overhead_us / jwt_row.overhead_us if jwt_row.overhead_us > 0 else float("inf"),
                    1.0,
                    f"JWT overhead {jwt_row.overhead_us:.1f} µs over no auth {base.median_us:.1f} µs",
                )
            )
            continue
        for strategy, limit in (("session", 1.15), ("jwt", 1.10)):
            results.append(
                Target(
                    f"{layer} whole request: {strategy} ÷ no auth",
                    by_key[(layer, strategy)].ratio,
                    limit,
                    f"no auth over {layer}, {base.median_us:.0f} µs",
                )
            )
    return results


def format_targets(results: list[Target]) -> str:
    """A fixed-width table of targets: measured ratio, limit, whether it holds, and the baseline used."""
    width = max(len(t.name) for t in results) + 2
    header = f"{'target':<{width}}{'ratio':>7}{'limit':>7}  holds  baseline"
    lines = [header, "-" * len(header)]
    for t in results:
        lines.append(
            f"{t.name:<{width}}{t.measured:>7.2f}{t.limit:>7.2f}  {'yes' if t.holds else 'NO ':<5}  {t.baseline}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the headline table: JWT decode vs PyJWT, the HMAC floor, and session lookups by store size."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=main.__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, stores up to 100k sessions")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="also Redis and PostgreSQL lookups (embedded servers, or REDIS_URL / DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    repeat = 7 if args.quick else 25
    print("Decoding an access token with full claim checks (exp, nbf, iat, iss, aud):", flush=True)
    token_rows, ratios = token_benchmarks(repeat=repeat)
    floor = token_rows[-1]
    print(format_table(token_rows, baseline=floor, baseline_label="HMAC floor"))
    print()
    for algorithm, ratio in ratios.items():
        print(f"{algorithm}: helpers.tokens takes {ratio:.2f}× PyJWT's time")
    print("\nLooking up a session by ID (SHA-256 of the ID included):", flush=True)
    lookup_rows = session_lookup_benchmarks(QUICK_SESSION_COUNTS if args.quick else FULL_SESSION_COUNTS, repeat=repeat)
    if args.shared:
        from .databases import start_postgres, start_redis

        print("Over a connection to a shared store (the network round trip included):", flush=True)
        with start_redis() as redis_server, start_postgres() as postgres_server:
            print(f"  {redis_server.description}; {postgres_server.description}", flush=True)
            stores = shared_stores(redis_server.url, postgres_server.url)
            lookup_rows += session_lookup_benchmarks(SHARED_SESSION_COUNTS, repeat=repeat, stores=stores)
    pyjwt_hs256 = next(row for row in token_rows if row.name == "HS256 decode, PyJWT")
    print(format_table(lookup_rows, baseline=pyjwt_hs256, baseline_label="PyJWT HS256"))
    print()
    print(format_table(lookup_rows, baseline=floor, baseline_label="HMAC floor"))
    print("\nOne GET /api/data per strategy, timed round-robin in each layer:", flush=True)
    for layer, description in LAYERS.items():
        print(f"  {layer}: {description}")
    rounds = 21 if args.quick else 61  # round-robin rounds of the targets: more than ``repeat``, ratios are the point
    cost_rows = strategy_costs(rounds=rounds, sample_seconds=TARGET_SAMPLE_SECONDS)
    print(format_strategy_costs(cost_rows))
    print("\nTargets, each a ratio against a baseline timed beside it in this run:", flush=True)
    results = strategy_targets(cost_rows)
    results += [sqlite_lookup_target(count, rounds=rounds) for count in TARGET_SESSION_COUNTS[: 1 if args.quick else 2]]
    results += signature_floor_targets(rounds=rounds)
    print(format_targets(results))
    print(f"{sum(t.holds for t in results)} of {len(results)} targets hold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
