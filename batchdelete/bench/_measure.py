"""What a worker process measures with one sync client: sequential latency,
the layer's cost over its bare library, threads sharing the client."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from . import _clients
from ._options import Setup

__all__ = ["failure", "latency", "pair", "percentiles", "throughput"]


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1000

    return {"median_us": statistics.median(ordered) / 1000, "p90_us": at(0.9), "p99_us": at(0.99)}


def failure(exc: BaseException) -> dict[str, Any]:
    """A worker's answer for a client that failed: the error on one line,
    and for one of batchdelete's errors the command line's exit code."""
    from .._errors import BatchDeleteError

    code = None
    if isinstance(exc, BatchDeleteError):
        from ..cli._exits import exit_code_for

        code = exit_code_for(exc)
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return {"error": text[:300], "exit_code": code}


def latency(call: _clients.Call, n: int, warmup: int, interval: float = 0.0) -> dict[str, Any]:
    """`warmup` requests, then `n` timed one after the other; with
    `interval`, a pause of that many seconds before each (a rate limit)."""
    samples = [0] * n
    clock = time.perf_counter_ns
    if interval:
        for _ in range(warmup):
            time.sleep(interval)
            call()
        cpu_start = time.process_time_ns()
        for i in range(n):
            time.sleep(interval)
            start = clock()
            call()
            samples[i] = clock() - start
    else:
        for _ in range(warmup):
            call()
        cpu_start = time.process_time_ns()
        for i in range(n):
            start = clock()
            call()
            samples[i] = clock() - start
    cpu = time.process_time_ns() - cpu_start
    return {**percentiles(samples), "cpu_us": cpu / n / 1000, "n": n}


def pair(setup: Setup, transport: str, n: int) -> dict[str, Any]:
    """batchdelete[T] and bare T, one request each in turn in this process;
    the ratio of the medians."""
    layer, close_layer = _clients.make(f"batchdelete[{transport}]", setup)
    bare, close_bare = _clients.make(_clients.LIBRARY_ROWS[transport][0], setup)
    try:
        for _ in range(max(50, n // 10)):
            layer()
            bare()
        clock = time.perf_counter_ns
        a, b = [0] * n, [0] * n
        for i in range(n):
            start = clock()
            layer()
            mid = clock()
            bare()
            a[i], b[i] = mid - start, clock() - mid
    finally:
        close_layer()
        close_bare()
    ma, mb = statistics.median(a), statistics.median(b)
    return {"layer_us": ma / 1000, "bare_us": mb / 1000, "ratio": ma / mb, "n": n}


def throughput(call: _clients.Call, workers: int, n: int) -> dict[str, Any]:
    errors: list[str] = []
    barrier = threading.Barrier(workers + 1)

    def run() -> None:
        barrier.wait()
        try:
            for _ in range(n):
                call()
        except Exception as exc:  # reported, not hidden
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - start
    return {
        "workers": workers,
        "requests": workers * n,
        "seconds": wall,
        "rps": workers * n / wall,
        "errors": errors[:3],
    }
