"""One benchmark client in a process of its own, driven over stdin/stdout.

    python -m benchmarks.worker NAME URL
    python -m benchmarks.worker async:NAME URL     (benchmarks/async_bench.py)

Reads one JSON command per line and answers one JSON line:
  {"op": "latency", "n": N, "warmup": W}   sequential requests; percentiles, CPU
  {"op": "pair", "transport": T, "n": N}   batchdelete[T] and bare T alternated
                                           request by request in this process
  {"op": "throughput", "workers": W, "n": N}  W threads sharing the client
  {"op": "quit"}
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from typing import Any

from benchmarks import clients


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1000

    return {"median_us": statistics.median(ordered) / 1000, "p90_us": at(0.9), "p99_us": at(0.99)}


def latency(call: clients.Call, n: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        call()
    samples = [0] * n
    clock = time.perf_counter_ns
    cpu_start = time.process_time_ns()
    for i in range(n):
        start = clock()
        call()
        samples[i] = clock() - start
    cpu = time.process_time_ns() - cpu_start
    return {**percentiles(samples), "cpu_us": cpu / n / 1000, "n": n}


def pair(url: str, transport: str, n: int) -> dict[str, Any]:
    layer, close_layer = clients.make(f"batchdelete[{transport}]", url)
    bare, close_bare = clients.make(clients.LIBRARY_ROWS[transport][0], url)
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
    close_layer()
    close_bare()
    ma, mb = statistics.median(a), statistics.median(b)
    return {"layer_us": ma / 1000, "bare_us": mb / 1000, "ratio": ma / mb, "n": n}


def throughput(call: clients.Call, workers: int, n: int) -> dict[str, Any]:
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


def main() -> None:
    name, url = sys.argv[1], sys.argv[2]
    if name.startswith("async:"):  # an async client, in an event loop of its own
        from benchmarks import async_bench

        async_bench.serve(name[6:], url)
        return
    call, close = clients.make(name, url) if not name.startswith("pair:") else (None, None)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        if op == "latency":
            assert call is not None
            answer = latency(call, command["n"], command["warmup"])
        elif op == "pair":
            answer = pair(url, command["transport"], command["n"])
        elif op == "throughput":
            assert call is not None
            answer = throughput(call, command["workers"], command["n"])
        else:
            answer = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    if close is not None:
        close()


if __name__ == "__main__":
    main()
