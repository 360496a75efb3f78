"""The sections measured against the benchmark server (or a real endpoint),
each client in worker processes: latency, the layer's cost, throughput with
threads, and the async side.

Method: each latency client runs in its own process; rounds interleave the
clients so drift hits all alike; figures are medians over rounds and ratios
are taken within a round. The layer's cost over its library is measured
inside one process, alternating the two request by request, as the median
of per-round ratios. A client that fails is reported (`Run.failed`) and
left out of the rest of the run; the others carry on.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from . import _async, _clients
from ._options import Settings, Setup
from ._procs import Worker, WorkerDiedError, server_stats
from ._progress import Progress

__all__ = [
    "Run",
    "async_layer_cost",
    "async_throughput",
    "latency",
    "layer_cost",
    "layer_transports",
    "throughput",
]


@dataclass
class Run:
    """What every section of one run shares."""

    setup: Setup
    settings: Settings
    stack: ExitStack
    env: dict[str, str]
    progress: Progress
    #: section -> client -> why it failed
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    #: client -> the exit code its failure maps to (batchdelete's clients)
    exit_codes: dict[str, int] = field(default_factory=dict)

    def worker(self, name: str) -> Worker:
        return Worker(name, self.setup, self.stack, self.env)

    def ask(self, worker: Worker, **command: Any) -> dict[str, Any]:
        try:
            return worker.ask(**command)
        except WorkerDiedError as exc:
            return {"error": str(exc), "exit_code": None}

    def fail(self, section: str, name: str, answer: dict[str, Any]) -> None:
        self.failed.setdefault(section, {})[name] = answer["error"]
        if answer.get("exit_code") is not None:
            self.exit_codes[name] = answer["exit_code"]

    def is_failed(self, name: str) -> bool:
        return any(name in rows for rows in self.failed.values())

    def working(self, transports: Iterable[str], row: str = "batchdelete[{}]") -> list[str]:
        """The transports whose client has not failed yet."""
        return [t for t in transports if not self.is_failed(row.format(t))]


def _ratio(rs: list[dict[str, Any]], ref: list[dict[str, Any]] | None, key: str) -> float | None:
    if not ref or len(ref) != len(rs) or not all(f[key] for f in ref):
        return None
    value: float = statistics.median(x[key] / f[key] for x, f in zip(rs, ref, strict=True))
    return value


def latency(
    run: Run,
    names: list[str],
    *,
    interval: float = 0.0,
    section: str = "latency",
    shared: bool = False,
) -> dict[str, Any]:
    """Sequential deletes, each client in its own process (with `shared`,
    the sync clients in one and the async ones in another: a real
    endpoint), the rounds interleaving the clients. Async clients are named
    "async:<row>"; their rows drop the prefix."""
    workers = _latency_workers(run, names, shared)
    rounds = _latency_rounds(run, names, workers, interval, section, shared)
    done = {
        name.removeprefix("async:"): rs
        for name, rs in rounds.items()
        if not run.is_failed(name.removeprefix("async:"))
    }
    return {name: _latency_row(name, rs, done) for name, rs in done.items()}


def _latency_workers(run: Run, names: list[str], shared: bool) -> dict[str, Worker]:
    """The worker process of each client: its own, or with `shared`, one
    for the sync clients and one for the async ones."""
    if not shared:
        return {name: run.worker(name) for name in names}
    pools = {
        kind: run.worker(kind)
        for kind in ("clients:", "async:clients:")
        if any(n.startswith("async:") == (kind != "clients:") for n in names)
    }
    return {n: pools["async:clients:" if n.startswith("async:") else "clients:"] for n in names}


def _latency_rounds(
    run: Run,
    names: list[str],
    workers: dict[str, Worker],
    interval: float,
    section: str,
    shared: bool,
) -> dict[str, list[dict[str, Any]]]:
    """Each client's answer in each round, the order reversed every other
    round; a client that fails is left out from then on. The workers are
    done with at the end."""
    s = run.settings
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(s.rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            label = name.removeprefix("async:")
            if run.is_failed(label):
                continue
            run.progress.step(f"{section}: {label}, round {r + 1}/{s.rounds}")
            command: dict[str, Any] = {"n": s.requests, "warmup": s.warmup, "interval": interval}
            if shared:
                command["client"] = label
            answer = run.ask(workers[name], op="latency", **command)
            if "error" in answer:
                run.fail(section, label, answer)
                if not shared:
                    workers[name].quit()
            else:
                rounds[name].append(answer)
    for worker in workers.values():
        worker.quit()
    return rounds


def _latency_row(
    name: str, rs: list[dict[str, Any]], done: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """A client's medians over its rounds, and its ratios (round by round)
    to the floor, the SDK and its bare library, where they ran."""
    row: dict[str, Any] = {
        k: statistics.median(x[k] for x in rs) for k in ("median_us", "p90_us", "p99_us", "cpu_us")
    }
    for key, ref in (("ratio_to_floor", _clients.FLOOR), ("ratio_to_sdk", _clients.SDK)):
        value = _ratio(rs, done.get(ref), "median_us")
        if value is not None:
            row[key] = value
    library = name[12:-1] if name.startswith("batchdelete[") else None
    bare = _clients.LIBRARY_ROWS.get(library or "", (None,))[0]
    value = _ratio(rs, done.get(bare or ""), "median_us")
    if value is not None:
        row["ratio_to_bare"] = value
    row["rounds"] = len(rs)
    return row


def layer_transports(transports: list[str]) -> list[str]:
    """The transports whose bare library row can run here."""
    return [
        t
        for t in transports
        if t in _clients.LIBRARY_ROWS
        and _clients.installed(_clients.NEEDS.get(_clients.LIBRARY_ROWS[t][0], "json"))
    ]


def layer_cost(run: Run, transports: list[str]) -> dict[str, Any]:
    s = run.settings
    out: dict[str, Any] = {}
    worker = run.worker("pair:")
    for t in run.working(layer_transports(transports)):
        rounds = []
        for r in range(s.rounds):
            run.progress.step(f"layer cost: {t}, round {r + 1}/{s.rounds}")
            answer = run.ask(worker, op="pair", transport=t, n=s.pair_requests)
            if "error" in answer:
                run.fail("layer_cost", t, answer)
                break
            rounds.append(answer)
        else:
            out[t] = {
                "ratio": statistics.median(r["ratio"] for r in rounds),
                "ratios": [round(r["ratio"], 4) for r in rounds],
                "layer_us": statistics.median(r["layer_us"] for r in rounds),
                "bare_us": statistics.median(r["bare_us"] for r in rounds),
            }
    worker.quit()
    return out


def throughput(run: Run, transports: list[str]) -> dict[str, Any]:
    s = run.settings
    url, ca = run.setup.url, run.setup.ca
    out: dict[str, Any] = {}
    for t in run.working(transports):
        rows = []
        for workers in s.throughput_workers:
            run.progress.step(f"throughput: {t}, {workers} threads")
            worker = run.worker(f"batchdelete[{t}]")
            first = run.ask(worker, op="latency", n=1, warmup=0)  # connected before the count
            server_stats(url, "/__reset", ca)
            per_worker = max(1, s.throughput_requests // workers)
            result = (
                first
                if "error" in first
                else run.ask(worker, op="throughput", workers=workers, n=per_worker)
            )
            worker.quit()
            if "error" in result:
                run.fail("throughput", t, result)
                break
            result["connections_opened"] = server_stats(url, "/__stats", ca)["connections"] - 1
            rows.append(result)
        else:
            out[t] = rows
    return out


def async_throughput(run: Run, transports: list[str]) -> dict[str, Any]:
    """Each client in a process of its own; every round measures every
    client at every in-flight count, the clients' order alternating."""
    if not transports:
        return {}
    s = run.settings
    url, ca = run.setup.url, run.setup.ca
    names, _ = _async.rows(transports)
    workers = {name: run.worker("async:" + name) for name in names}
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {k: [] for k in s.async_inflight} for name in names
    }
    step = 0
    for r in range(s.async_rounds):
        for k in s.async_inflight:
            order = names if step % 2 == 0 else names[::-1]
            step += 1
            for name in order:
                if run.is_failed(name):
                    continue
                run.progress.step(f"async: {name}, {k} in flight, round {r + 1}/{s.async_rounds}")
                server_stats(url, "/__reset", ca)
                warmup = max(2 * k, s.async_requests // 10)
                result = run.ask(
                    workers[name], op="throughput", inflight=k, n=s.async_requests, warmup=warmup
                )
                if "error" not in result and result.get("errors"):
                    # A request failed (its coroutine stopped): not a measurement.
                    failures = "; ".join(result["errors"])
                    result = {"error": f"requests failed: {failures}", "exit_code": None}
                if "error" in result:
                    run.fail("async_throughput", name, result)
                    workers[name].quit()
                    continue
                stats = server_stats(url, "/__stats", ca)
                result["connections_opened"] = stats["connections"] - 1
                result["served"] = stats["requests"] - warmup
                runs[name][k].append(result)
    for worker in workers.values():
        worker.quit()
    out: dict[str, Any] = {}
    sdk_ok = _async.SDK in names and not run.is_failed(_async.SDK)
    for name in names:
        if run.is_failed(name):
            continue
        rows = []
        for k in s.async_inflight:
            rs = runs[name][k]
            row: dict[str, Any] = {
                "inflight": k,
                "rps": statistics.median(r["rps"] for r in rs),
                "rps_rounds": [round(r["rps"], 1) for r in rs],
            }
            if sdk_ok:
                row["ratio_to_sdk"] = _ratio(rs, runs[_async.SDK][k], "rps")
            row.update(
                {
                    "cpu_us": statistics.median(r["cpu_us"] for r in rs),
                    "peak_in_flight": max(r["peak_in_flight"] for r in rs),
                    # new ones, warm-up included: the pool kept from the last
                    # measurement is reused (batchdelete: 10 a host; SDK: 1000)
                    "connections_opened": [r["connections_opened"] for r in rs],
                    "requests": rs[0]["requests"],
                    "served_as_counted": all(r["served"] == r["requests"] for r in rs),
                    "errors": [e for r in rs for e in r["errors"]][:3],
                    "rounds": len(rs),
                }
            )
            rows.append(row)
        out[name] = rows
    return out


def async_layer_cost(run: Run, transports: list[str]) -> dict[str, Any]:
    """AsyncClient[T] / bare T per request, alternating in one process;
    the rounds interleave the transports."""
    transports = run.working([t for t in transports if t in _async.BARE], "AsyncClient[{}]")
    if not transports:
        return {}
    s = run.settings
    worker = run.worker("async:pair:")
    rounds: dict[str, list[dict[str, Any]]] = {t: [] for t in transports}
    for r in range(s.async_rounds):
        for t in transports if r % 2 == 0 else transports[::-1]:
            if t in run.failed.get("async_layer_cost", {}):
                continue
            run.progress.step(f"async layer cost: {t}, round {r + 1}/{s.async_rounds}")
            answer = run.ask(worker, op="pair", transport=t, n=s.pair_requests)
            if "error" in answer:
                run.fail("async_layer_cost", t, answer)
            else:
                rounds[t].append(answer)
    worker.quit()
    return {
        t: {
            "bare": _async.BARE[t],
            "ratio": statistics.median(r["ratio"] for r in rs),
            "ratios": [round(r["ratio"], 4) for r in rs],
            "layer_us": statistics.median(r["layer_us"] for r in rs),
            "bare_us": statistics.median(r["bare_us"] for r in rs),
        }
        for t, rs in rounds.items()
        if t not in run.failed.get("async_layer_cost", {})
    }
