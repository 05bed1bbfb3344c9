"""A small load driver: K client threads, a fixed number of requests each, every request recorded.

``run_load(make_sender, clients=K, requests_per_client=N)`` calls ``make_sender(k)`` once per client
(log in, pick a server: set-up that is not timed) to get a ``send()`` function, then releases all K
threads at once; each calls ``send()`` N times. ``send()`` returns ``(status, server)``; the driver
times it and keeps a ``RequestRecord`` per request. ``LoadResult`` turns the records into the
numbers the chapter charts: success rate, latency median and quartiles, throughput.

Progress is printed from the calling thread at each quarter of the requests, so a long run shows
it is alive and a short one prints the same line every time.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoadResult", "RequestRecord", "run_load"]

Sender = Callable[[], tuple[int, int]]  # one request: (HTTP status, index of the server that answered)


@dataclass(frozen=True)
class RequestRecord:
    """One request of a load run: who sent it, what came back, how long it took, which server answered."""

    client: int
    status: int
    latency_s: float
    server: int


@dataclass(frozen=True)
class LoadResult:
    """Every request of one run, and the wall-clock time the run took."""

    records: tuple[RequestRecord, ...]
    wall_seconds: float
    clients: int

    @property
    def requests(self) -> int:
        """How many requests were sent."""
        return len(self.records)

    @property
    def success_rate(self) -> float:
        """Share of requests answered 200, from 0 to 1."""
        return sum(r.status == 200 for r in self.records) / len(self.records) if self.records else 0.0

    @property
    def statuses(self) -> dict[int, int]:
        """How many responses had each status code."""
        return dict(sorted(Counter(r.status for r in self.records).items()))

    def latency_ms(self) -> tuple[float, float, float]:
        """First quartile, median and third quartile of request latency, in milliseconds."""
        latencies = [r.latency_s * 1000 for r in self.records]
        if len(latencies) < 2:
            value = latencies[0] if latencies else float("nan")
            return value, value, value
        q1, median, q3 = statistics.quantiles(latencies, n=4, method="inclusive")
        return q1, median, q3

    @property
    def throughput(self) -> float:
        """Requests completed per second of wall-clock time."""
        return len(self.records) / self.wall_seconds if self.wall_seconds > 0 else 0.0


def run_load(
    make_sender: Callable[[int], Sender],
    clients: int,
    requests_per_client: int,
    progress: Callable[[str], None] | None = print,
    timer: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Run ``clients`` threads sending ``requests_per_client`` requests each; record every request."""
    for name, value in (("clients", clients), ("requests_per_client", requests_per_client)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    senders = [make_sender(k) for k in range(clients)]  # set-up (logins) happens here, untimed
    per_client: list[list[RequestRecord]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def work(k: int) -> None:
        barrier.wait()
        try:
            for _ in range(requests_per_client):
                started = timer()
                status, server = senders[k]()
                per_client[k].append(RequestRecord(k, status, timer() - started, server))
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,), name=f"load-client-{k}") for k in range(clients)]
    for thread in threads:
        thread.start()
    total = clients * requests_per_client
    marks = [total * q // 4 for q in (1, 2, 3, 4)]
    barrier.wait()
    started = timer()
    shown = 0
    while shown < len(marks):
        done = sum(len(records) for records in per_client)
        while shown < len(marks) and done >= marks[shown]:
            shown += 1
            if progress is not None:
                progress(
                    f"  {clients} client{'s' if clients > 1 else ''} × {requests_per_client} requests: {25 * shown}%"
                )
        if shown < len(marks):
            if errors or not any(thread.is_alive() for thread in threads):
                break
            time.sleep(0.005)
    for thread in threads:
        thread.join()
    wall = timer() - started
    if errors:
        raise errors[0]
    records = tuple(record for client_records in per_client for record in client_records)
    return LoadResult(records, wall, clients)
