"""python -m benchmarks [--quick] [--out DIR] [--no-plot] [--only pace]

Decoding, latency, layer cost, throughput and cold start of every transport,
against the bare libraries, a raw-socket floor and the official SDK. All on
127.0.0.1, every loop bounded. Prints a table; writes results.json and
benchmark.png to --out.

Method: the server runs in its own process. Each latency client runs in its
own process; rounds interleave the clients so drift hits all alike; figures
are medians over rounds and ratios are taken within a round. The layer's
cost over its library is measured inside one process, alternating the two
request by request, as the median of per-round ratios.

The async side (benchmarks/async_bench.py): throughput of each async
transport through AsyncClient and of the SDK's AsyncAnthropic with 1, 16
and 64 requests in flight, each client in its own process and event loop,
rounds interleaving the clients, ratios to the SDK taken within a round;
and the cost of AsyncClient over its bare library, alternating the two in
one process as above.

The pace section (benchmarks/pace.py): bulk deletion at the emulator's
rate limit, sync and async, a limit lowered mid-run, and the run without
the shared limiter; also written to pace.md (pace.json alone with --only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import async_bench, clients, coldstart, decode, pace

ROOT = Path(__file__).resolve().parent.parent


class Settings:
    def __init__(self, quick: bool) -> None:
        self.rounds = 3 if quick else 7
        self.requests = 150 if quick else 1500
        self.warmup = 30 if quick else 200
        self.pair_requests = 150 if quick else 1500
        self.throughput_workers = (1, 16, 64)
        self.throughput_requests = 2000 if not quick else 128  # per level, all workers
        self.cold_rounds = 2 if quick else 7
        self.decode_rounds = 3 if quick else 9
        self.decode_n = 2000 if quick else 50_000
        self.async_inflight = (1, 16, 64)
        self.async_requests = 300 if quick else 3000  # per measurement
        self.async_rounds = 3 if quick else 5  # the SDK's 3000 take ~10 s a level


class Worker:
    def __init__(self, name: str, url: str, stack: ExitStack) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", name, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        stack.callback(self.quit)

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.proc.args[3]!r} died")
        return json.loads(line)  # type: ignore[no-any-return]

    def quit(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_server(stack: ExitStack) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )

    def stop() -> None:
        assert proc.stdin
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    stack.callback(stop)
    assert proc.stdout
    port = int(proc.stdout.readline().split()[1])
    return f"http://127.0.0.1:{port}"


def server_stats(url: str, path: str) -> dict[str, int]:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        method = "POST" if path == "/__reset" else "GET"
        sock.sendall(f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode())
        data = b""
        while b"}" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


def available_transports() -> list[str]:
    import batchdelete

    return [
        t.name
        for t in batchdelete.list_transports()
        if t.available and t.builtin and not t.asynchronous
    ]


def latency(url: str, names: list[str], s: Settings, stack: ExitStack) -> dict[str, Any]:
    workers = {name: Worker(name, url, stack) for name in names}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(s.rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            rounds[name].append(workers[name].ask(op="latency", n=s.requests, warmup=s.warmup))
    floor = "floor (raw socket)"
    out: dict[str, Any] = {}
    for name in names:
        rs = rounds[name]
        row = {
            k: statistics.median(x[k] for x in rs)
            for k in ("median_us", "p90_us", "p99_us", "cpu_us")
        }
        row["ratio_to_floor"] = statistics.median(
            x["median_us"] / f["median_us"] for x, f in zip(rs, rounds[floor], strict=True)
        )
        row["ratio_to_sdk"] = statistics.median(
            x["median_us"] / f["median_us"]
            for x, f in zip(rs, rounds["anthropic SDK"], strict=True)
        )
        library = name[12:-1] if name.startswith("batchdelete[") else None
        bare = clients.LIBRARY_ROWS.get(library or "", (None,))[0]
        if bare in rounds:
            row["ratio_to_bare"] = statistics.median(
                x["median_us"] / f["median_us"] for x, f in zip(rs, rounds[bare], strict=True)
            )
        row["rounds"] = len(rs)
        out[name] = row
    for worker in workers.values():
        worker.quit()
    return out


def layer_cost(url: str, transports: list[str], s: Settings, stack: ExitStack) -> dict[str, Any]:
    out: dict[str, Any] = {}
    worker = Worker("pair:", url, stack)
    for t in transports:
        rounds = [worker.ask(op="pair", transport=t, n=s.pair_requests) for _ in range(s.rounds)]
        out[t] = {
            "ratio": statistics.median(r["ratio"] for r in rounds),
            "ratios": [round(r["ratio"], 4) for r in rounds],
            "layer_us": statistics.median(r["layer_us"] for r in rounds),
            "bare_us": statistics.median(r["bare_us"] for r in rounds),
        }
    worker.quit()
    return out


def throughput(url: str, transports: list[str], s: Settings, stack: ExitStack) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in transports:
        rows = []
        for workers in s.throughput_workers:
            worker = Worker(f"batchdelete[{t}]", url, stack)
            worker.ask(op="latency", n=1, warmup=0)  # connected before the count
            server_stats(url, "/__reset")
            per_worker = max(1, s.throughput_requests // workers)
            result = worker.ask(op="throughput", workers=workers, n=per_worker)
            result["connections_opened"] = server_stats(url, "/__stats")["connections"] - 1
            worker.quit()
            rows.append(result)
        out[t] = rows
    return out


def async_throughput(
    url: str, transports: list[str], s: Settings, stack: ExitStack
) -> dict[str, Any]:
    """Each client in a process of its own; every round measures every
    client at every in-flight count, the clients' order alternating."""
    if not transports:
        return {}
    names = async_bench.names(transports)
    workers = {name: Worker("async:" + name, url, stack) for name in names}
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {k: [] for k in s.async_inflight} for name in names
    }
    step = 0
    for _ in range(s.async_rounds):
        for k in s.async_inflight:
            order = names if step % 2 == 0 else names[::-1]
            step += 1
            for name in order:
                server_stats(url, "/__reset")
                warmup = max(2 * k, s.async_requests // 10)
                result = workers[name].ask(
                    op="throughput", inflight=k, n=s.async_requests, warmup=warmup
                )
                stats = server_stats(url, "/__stats")
                result["connections_opened"] = stats["connections"] - 1
                result["served"] = stats["requests"] - warmup
                runs[name][k].append(result)
    for worker in workers.values():
        worker.quit()
    out: dict[str, Any] = {}
    for name in names:
        rows = []
        for k in s.async_inflight:
            rs, sdk = runs[name][k], runs[async_bench.SDK][k]
            rows.append(
                {
                    "inflight": k,
                    "rps": statistics.median(r["rps"] for r in rs),
                    "rps_rounds": [round(r["rps"], 1) for r in rs],
                    "ratio_to_sdk": statistics.median(
                        r["rps"] / f["rps"] for r, f in zip(rs, sdk, strict=True)
                    ),
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
        out[name] = rows
    return out


def async_layer_cost(
    url: str, transports: list[str], s: Settings, stack: ExitStack
) -> dict[str, Any]:
    """AsyncClient[T] / bare T per request, alternating in one process;
    the rounds interleave the transports."""
    if not transports:
        return {}
    worker = Worker("async:pair:", url, stack)
    rounds: dict[str, list[dict[str, Any]]] = {t: [] for t in transports}
    for r in range(s.async_rounds):
        for t in transports if r % 2 == 0 else transports[::-1]:
            rounds[t].append(worker.ask(op="pair", transport=t, n=s.pair_requests))
    worker.quit()
    return {
        t: {
            "bare": async_bench.BARE[t],
            "ratio": statistics.median(r["ratio"] for r in rs),
            "ratios": [round(r["ratio"], 4) for r in rs],
            "layer_us": statistics.median(r["layer_us"] for r in rs),
            "bare_us": statistics.median(r["bare_us"] for r in rs),
        }
        for t, rs in rounds.items()
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in (
        "batchdelete",
        "urllib3",
        "httpx",
        "aiohttp",
        "requests",
        "anthropic",
        "httpx2",
        "msgspec",
        "pluggy",
        "orjson",
        "pydantic",
        "matplotlib",
    ):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def table(results: dict[str, Any]) -> str:
    lines = [f"batchdelete benchmarks, {results['date']}, {results['command']}", ""]
    lines.append(
        f"Server floor (raw-socket round trip, server included): "
        f"{results['server_floor_us']:.0f} us"
    )
    lines.append("")
    lines.append("Latency, sequential deletes with keep-alive (median over rounds):")
    head = (
        f"  {'client':<22}{'median':>9}{'p90':>9}{'p99':>9}{'CPU':>8}"
        f"{'x floor':>9}{'x bare':>8}{'x SDK':>7}"
    )
    lines += [head, "  " + "-" * (len(head) - 2)]
    for name, r in results["latency"].items():
        bare = f"{r['ratio_to_bare']:.2f}" if "ratio_to_bare" in r else ""
        lines.append(
            f"  {name:<22}{r['median_us']:>7.0f}us{r['p90_us']:>7.0f}us{r['p99_us']:>7.0f}us"
            f"{r['cpu_us']:>6.0f}us{r['ratio_to_floor']:>9.2f}{bare:>8}{r['ratio_to_sdk']:>7.2f}"
        )
    lines += ["", "Layer cost, batchdelete[T] / bare T, alternating in one process:"]
    for t, r in results["layer_cost"].items():
        lines.append(f"  {t:<10} {r['ratio']:.3f}  (rounds: {', '.join(map(str, r['ratios']))})")
    lines += ["", "Throughput, one Client shared by N threads:"]
    for t, rows in results["throughput"].items():
        cells = ", ".join(
            f"{r['workers']}: {r['rps']:.0f} req/s, {r['connections_opened']} conn" for r in rows
        )
        lines.append(f"  {t:<10} {cells}")
    lines += [
        "",
        "Async throughput, N requests in flight on one client, a process each"
        " (median req/s; x SDK at the same N, per round; client CPU a request):",
    ]
    for name, rows in results["async_throughput"].items():
        cells = ", ".join(
            f"{r['inflight']}: {r['rps']:.0f} req/s x{r['ratio_to_sdk']:.2f} {r['cpu_us']:.0f}us"
            for r in rows
        )
        lines.append(f"  {name:<22}{cells}")
    if not results["async_throughput"]:
        lines.append("  (no async transport available)")
    lines += ["", "Async layer cost, AsyncClient[T] / bare T, alternating in one process:"]
    for t, r in results["async_layer_cost"].items():
        lines.append(
            f"  {t:<10} {r['ratio']:.3f}  ({r['layer_us']:.0f} us vs {r['bare_us']:.0f} us;"
            f" rounds: {', '.join(map(str, r['ratios']))})"
        )
    lines += ["", "Cold start to the first completed delete (fresh process):"]
    for name, r in results["cold_start"].items():
        lines.append(f"  {name:<22}{r['ms']:>7.0f} ms  x SDK {r['ratio_to_sdk']:.2f}")
    lines += ["", "Decoding a delete response:"]
    for name, r in results["decode"]["results"].items():
        lines.append(f"  {name:<24}{r['ns']:>7.0f} ns  x bare {r['ratio_to_bare']:.2f}")
    for name, why in results["decode"]["skipped"].items():
        lines.append(f"  {name:<24} skipped: {why}")
    if "pace" in results:
        lines += ["", pace.table(results["pace"])]
    lines += ["", "Targets:"]
    for name, t in results["targets"].items():
        lines.append(f"  {'met ' if t['met'] else 'MISS'} {name}: {t['value']:.3f} ({t['goal']})")
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    lat = results["latency"]
    ours = {k: v for k, v in lat.items() if k.startswith("batchdelete[")}
    fastest = min(ours.values(), key=lambda r: r["ratio_to_sdk"])
    worst_layer = max(r["ratio"] for r in results["layer_cost"].values())
    cold = results["cold_start"]
    best_cold = min(v["ratio_to_sdk"] for k, v in cold.items() if k.startswith("batchdelete["))
    decode_ratio = results["decode"]["results"]["batchdelete"]["ratio_to_bare"]
    slowest = max(r["ratio_to_sdk"] for r in ours.values())
    found = {
        "layer cost, worst transport / bare library": {
            "value": worst_layer,
            "goal": "<= 1.10",
            "met": worst_layer <= 1.10,
        },
        "decode / bare msgspec Decoder": {
            "value": decode_ratio,
            "goal": "<= 1.2",
            "met": decode_ratio <= 1.2,
        },
        "SDK latency / fastest transport": {
            "value": 1 / fastest["ratio_to_sdk"],
            "goal": ">= 4",
            "met": 1 / fastest["ratio_to_sdk"] >= 4,
        },
        "slowest transport / SDK latency": {"value": slowest, "goal": "< 1", "met": slowest < 1},
        "cold start, best transport / SDK": {
            "value": best_cold,
            "goal": "<= 0.25",
            "met": best_cold <= 0.25,
        },
    }
    if results["async_throughput"]:
        at_64 = [
            row["ratio_to_sdk"]
            for name, rows in results["async_throughput"].items()
            if name != async_bench.SDK
            for row in rows
            if row["inflight"] == 64
        ]
        worst_async = max(r["ratio"] for r in results["async_layer_cost"].values())
        found["async throughput at 64 in flight, fastest transport / SDK"] = {
            "value": max(at_64),
            "goal": ">= 5",
            "met": max(at_64) >= 5,
        }
        found["async layer cost, worst transport / bare library"] = {
            "value": worst_async,
            "goal": "<= 1.10",
            "met": worst_async <= 1.10,
        }
    return found


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    lat = results["latency"]
    dec = results["decode"]["results"]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(19, 5.5), gridspec_kw={"width_ratios": [3, 2, 2]})
    names = list(lat)[::-1]
    colors = [
        "#c0392b"
        if n.startswith("batchdelete[")
        else "#7f8c8d"
        if n == "anthropic SDK"
        else "#2c7fb8"
        for n in names
    ]
    a.barh(names, [lat[n]["median_us"] for n in names], color=colors)
    a.errorbar(
        [lat[n]["median_us"] for n in names],
        names,
        xerr=[[0] * len(names), [lat[n]["p90_us"] - lat[n]["median_us"] for n in names]],
        fmt="none",
        ecolor="black",
        capsize=3,
        lw=1,
    )
    for y, n in enumerate(names):
        a.text(lat[n]["p90_us"], y, f"  {lat[n]['median_us']:.0f}", va="center", fontsize=8)
    a.set_xlabel("microseconds per delete (median; whisker to p90)")
    a.set_title("Latency on loopback, keep-alive (red: batchdelete)")
    dnames = list(dec)[::-1]
    b.barh(
        dnames,
        [dec[n]["ns"] for n in dnames],
        color=["#c0392b" if n == "batchdelete" else "#2c7fb8" for n in dnames],
    )
    for y, n in enumerate(dnames):
        b.text(dec[n]["ns"], y, f" {dec[n]['ns']:.0f}", va="center", fontsize=8)
    b.set_xscale("log")
    b.set_xlabel("nanoseconds per decode (log scale)")
    b.set_title("Decoding the delete response")
    async_panel(c, results["async_throughput"])
    fig.suptitle(f"batchdelete benchmarks, {results['date']} ({results['machine']['python']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def async_panel(ax: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Grouped bars: requests/s of each async client at each in-flight count."""
    ax.set_title("Async throughput, one client each (grey: the SDK)")
    if not rows:
        ax.text(0.5, 0.5, "no async transport available", ha="center", va="center")
        ax.set_axis_off()
        return
    names = list(rows)
    levels = [r["inflight"] for r in rows[names[0]]]
    width = 0.8 / len(names)
    palette = ["#c0392b", "#e67e22", "#8e44ad", "#16a085"]
    for i, name in enumerate(names):
        color = "#7f8c8d" if name == async_bench.SDK else palette[i % len(palette)]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(levels))]
        heights = [r["rps"] for r in rows[name]]
        ax.bar(xs, heights, width, label=name, color=color)
        for x, h in zip(xs, heights, strict=True):
            ax.text(x, h, f"{h:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(levels)), [f"{k} in flight" for k in levels])
    ax.set_ylabel("requests/s (median over rounds)")
    ax.legend(fontsize=8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run, well under a minute")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--only", choices=["pace"], help="run this section alone")
    args = parser.parse_args(argv)
    s = Settings(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    transports = available_transports()
    async_transports = async_bench.available_transports()
    names = clients.names(transports)
    with ExitStack() as stack:
        url = start_server(stack)
        results: dict[str, Any] = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "command": "python -m benchmarks"
            + (" --quick" if args.quick else "")
            + (f" --only {args.only}" if args.only else ""),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "versions": versions(),
            "parameters": vars(s),
        }
        if args.only == "pace":
            return pace.alone(results, args.quick, args.out)
        results["decode"] = decode.run(s.decode_rounds, s.decode_n)
        results["latency"] = latency(url, names, s, stack)
        # The raw-socket client is the floor: the server's own cost plus the kernel's.
        results["server_floor_us"] = results["latency"]["floor (raw socket)"]["median_us"]
        results["layer_cost"] = layer_cost(url, transports, s, stack)
        results["throughput"] = throughput(url, transports, s, stack)
        results["async_throughput"] = async_throughput(url, async_transports, s, stack)
        results["async_layer_cost"] = async_layer_cost(url, async_transports, s, stack)
        results["cold_start"] = coldstart.run(url, transports, s.cold_rounds)
    results["pace"] = pace.run(args.quick)
    pace.write_table(results["pace"], args.out)
    results["targets"] = targets(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plotted = not args.no_plot and plot(results, args.out / "benchmark.png")
    print(table(results))
    print(
        f"\nWrote {args.out / 'results.json'}"
        + (f" and {args.out / 'benchmark.png'}" if plotted else "")
        + f" in {results['seconds']} s."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
