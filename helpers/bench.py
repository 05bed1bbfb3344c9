"""Micro-benchmarks that report a median and spread, never a single lucky number.

``measure(fn)`` warms ``fn`` up, picks a loop count so each sample lasts about ``sample_seconds``,
takes ``repeat`` samples and reports the median and interquartile range in microseconds per call.
Run ``python -m helpers.bench`` for the course's headline table (JWT verification against session
lookups on this machine); ``--quick`` keeps it to a few seconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock
    from .sessions import SessionStore


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
    calls = 1
    while calls < 1_000_000 and _sample(fn, calls, timer) * calls < sample_seconds:
        calls *= 2
    per_call = sorted(_sample(fn, calls, timer) * 1e6 for _ in range(repeat))
    q1, median, q3 = statistics.quantiles(per_call, n=4, method="inclusive")
    return Measurement(name or getattr(fn, "__name__", "fn"), median, q1, q3, calls, repeat)


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


def _claims(now: int) -> dict[str, object]:
    return {"sub": "alice", "role": "user", "iss": "auth-course", "aud": "auth-course-api",
            "iat": now, "nbf": now, "exp": now + 900, "jti": "0" * 32}


def token_benchmarks(repeat: int = 15) -> tuple[list[Measurement], dict[str, float]]:
    """Decode with full claim checks in ``helpers.tokens`` and PyJWT for each algorithm, plus the raw HMAC floor.

    Returns the measurements and, per algorithm, the ratio helpers ÷ PyJWT.
    """
    import hashlib
    import hmac
    import time

    import jwt

    from . import tokens
    from .keys import demo_private_key

    now = int(time.time())
    claims = _claims(now)
    checks = {"audience": "auth-course-api", "issuer": "auth-course"}
    secret = hashlib.sha256(b"demo-only benchmark secret").digest()
    keys: dict[str, tuple[object, object]] = {"HS256": (secret, secret)}
    for algorithm in ASYMMETRIC_ALGORITHMS:
        private = demo_private_key(algorithm)
        keys[algorithm] = (private, private.public_key())
    rows: list[Measurement] = []
    ratios: dict[str, float] = {}
    for algorithm, (signing_key, verifying_key) in keys.items():
        token = tokens.encode(claims, signing_key, algorithm=algorithm)
        ours = measure(lambda: tokens.decode(token, verifying_key, algorithms=[algorithm], **checks),
                       name=f"{algorithm} decode, helpers.tokens", repeat=repeat)
        theirs = measure(lambda: jwt.decode(token, verifying_key, algorithms=[algorithm], **checks),
                         name=f"{algorithm} decode, PyJWT", repeat=repeat)
        rows += [ours, theirs]
        ratios[algorithm] = ours.ratio_to(theirs)
    signing_input = tokens.encode(claims, secret).rsplit(".", 1)[0].encode()
    rows.append(measure(lambda: hmac.digest(secret, signing_input, "sha256"), name="raw HMAC-SHA256 (the floor)", repeat=repeat))
    return rows, ratios


def lookup_benchmark(store: SessionStore, name: str, sessions: int, repeat: int = 15) -> Measurement:
    """Fill ``store`` with ``sessions`` sessions, then time ``get`` on one of them (SHA-256 of the ID included)."""
    ids = store.create_many([f"user{i}" for i in range(sessions)])
    probe = ids[len(ids) // 2]
    return measure(lambda: store.get(probe), name=f"{name} get, {sessions:,} sessions", repeat=repeat)


def session_lookup_benchmarks(counts: tuple[int, ...] = FULL_SESSION_COUNTS, repeat: int = 15,
                              progress: bool = True,
                              stores: Mapping[str, Callable[[], SessionStore]] | None = None) -> list[Measurement]:
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


def shared_stores(redis_url: str, postgres_url: str, clock: Clock | None = None) -> dict[str, Callable[[], SessionStore]]:
    """Makers of a Redis and a PostgreSQL store on the given servers, under names kept for benchmarks."""
    from .postgres_sessions import PostgresStore
    from .redis_sessions import RedisStore

    return {
        "RedisStore": lambda: RedisStore(redis_url, clock=clock, prefix="auth-course-bench:"),
        "PostgresStore": lambda: PostgresStore(postgres_url, clock=clock, table="auth_course_bench"),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the headline table: JWT decode vs PyJWT, the HMAC floor, and session lookups by store size."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=main.__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, stores up to 100k sessions")
    parser.add_argument("--shared", action="store_true",
                        help="also Redis and PostgreSQL lookups (embedded servers, or REDIS_URL / DATABASE_URL)")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
