"""What a run prints: the table of every section that ran, the targets (as
ratios from the one run, never timed tests), and the recommendation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _async, _pace_table

__all__ = ["recommend", "table", "targets"]


def _latency(results: dict[str, Any]) -> list[str]:
    real = results.get("endpoint")
    if real:
        title = (
            f"Latency against {real['base_url']}: sequential deletes of {real['batch_id']}, "
            f"each answered {real['expect']} (median of {real['requests_per_client']} a client):"
        )
    else:
        title = "Latency, sequential deletes with keep-alive (median over rounds):"
    head = (
        f"  {'client':<22}{'median':>9}{'p90':>9}{'p99':>9}{'CPU':>8}"
        f"{'x floor':>9}{'x bare':>8}{'x SDK':>7}"
    )
    lines = ["", title, head, "  " + "-" * (len(head) - 2)]
    for name, r in results["latency"].items():
        floor = f"{r['ratio_to_floor']:.2f}" if "ratio_to_floor" in r else ""
        bare = f"{r['ratio_to_bare']:.2f}" if "ratio_to_bare" in r else ""
        sdk = f"{r['ratio_to_sdk']:.2f}" if "ratio_to_sdk" in r else ""
        lines.append(
            f"  {name:<22}{r['median_us']:>7.0f}us{r['p90_us']:>7.0f}us{r['p99_us']:>7.0f}us"
            f"{r['cpu_us']:>6.0f}us{floor:>9}{bare:>8}{sdk:>7}"
        )
    return lines


def _async_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Async throughput, N requests in flight on one client, a process each"
        " (median req/s; x SDK at the same N, per round; client CPU a request):",
    ]
    for name, rows in results["async_throughput"].items():
        cells = ", ".join(
            f"{r['inflight']}: {r['rps']:.0f} req/s"
            + (f" x{r['ratio_to_sdk']:.2f}" if "ratio_to_sdk" in r else "")
            + f" {r['cpu_us']:.0f}us"
            for r in rows
        )
        lines.append(f"  {name:<22}{cells}")
    if not results["async_throughput"]:
        lines.append("  (no async transport available)")
    lines += ["", "Async layer cost, AsyncClient[T] / bare T, alternating in one process:"]
    for t, r in results.get("async_layer_cost", {}).items():
        lines.append(
            f"  {t:<10} {r['ratio']:.3f}  ({r['layer_us']:.0f} us vs {r['bare_us']:.0f} us;"
            f" rounds: {', '.join(map(str, r['ratios']))})"
        )
    return lines


def _heading(results: dict[str, Any]) -> list[str]:
    """The run's title, how every client connected, and the server floor."""
    lines = [f"batchdelete benchmarks, {results['date']}, {results['command']}"]
    how = results.get("connection", {})
    notes = [
        text
        for on, text in (
            (how.get("tls"), "over TLS (a CA made for the run)"),
            (how.get("proxy"), f"through the proxy {how.get('proxy')}"),
        )
        if on
    ]
    if notes:
        lines.append("Every client " + " and ".join(notes) + ".")
    if "server_floor_us" in results:
        lines += [
            "",
            f"Server floor (raw-socket round trip, server included): "
            f"{results['server_floor_us']:.0f} us",
        ]
    return lines


def _layer_cost(results: dict[str, Any]) -> list[str]:
    lines = ["", "Layer cost, batchdelete[T] / bare T, alternating in one process:"]
    for t, r in results["layer_cost"].items():
        lines.append(f"  {t:<10} {r['ratio']:.3f}  (rounds: {', '.join(map(str, r['ratios']))})")
    return lines


def _throughput(results: dict[str, Any]) -> list[str]:
    lines = ["", "Throughput, one Client shared by N threads:"]
    for t, rows in results["throughput"].items():
        cells = ", ".join(
            f"{r['workers']}: {r['rps']:.0f} req/s, {r['connections_opened']} conn" for r in rows
        )
        lines.append(f"  {t:<10} {cells}")
    return lines


def _cold_start(results: dict[str, Any]) -> list[str]:
    lines = ["", "Cold start to the first completed delete (fresh process):"]
    for name, r in results["cold_start"].items():
        sdk = f"  x SDK {r['ratio_to_sdk']:.2f}" if "ratio_to_sdk" in r else ""
        lines.append(f"  {name:<22}{r['ms']:>7.0f} ms{sdk}")
    return lines


def _decode(results: dict[str, Any]) -> list[str]:
    lines = ["", "Decoding a delete response:"]
    for name, r in results["decode"]["results"].items():
        lines.append(f"  {name:<24}{r['ns']:>7.0f} ns  x bare {r['ratio_to_bare']:.2f}")
    for name, why in results["decode"]["skipped"].items():
        lines.append(f"  {name:<24} skipped: {why}")
    return lines


def _pace(results: dict[str, Any]) -> list[str]:
    return ["", _pace_table.table(results["pace"])]


def _skipped(results: dict[str, Any]) -> list[str]:
    return ["", "Skipped:"] + [f"  {name}: {why}" for name, why in results["skipped"].items()]


def _failed(results: dict[str, Any]) -> list[str]:
    lines = ["", "Failed (left out of the figures):"]
    for section, rows in results["failed"].items():
        lines += [f"  {section}: {name}: {why}" for name, why in rows.items()]
    return lines


def _targets(results: dict[str, Any]) -> list[str]:
    lines = ["", "Targets:"]
    for name, t in results["targets"].items():
        lines.append(f"  {'met ' if t['met'] else 'MISS'} {name}: {t['value']:.3f} ({t['goal']})")
    return lines


# After the heading, in this order: the key of each section in the results, and
# how it is written; a section that did not run (or, for the last three, is
# empty) is left out.
_SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("latency", _latency),
    ("layer_cost", _layer_cost),
    ("throughput", _throughput),
    ("async_throughput", _async_lines),
    ("cold_start", _cold_start),
    ("decode", _decode),
    ("pace", _pace),
)
_IF_NOT_EMPTY: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("skipped", _skipped),
    ("failed", _failed),
    ("targets", _targets),
)


def table(results: dict[str, Any]) -> str:
    lines = _heading(results)
    for key, write in _SECTIONS:
        if key in results:
            lines += write(results)
    for key, write in _IF_NOT_EMPTY:
        if results.get(key):
            lines += write(results)
    return "\n".join(lines)


def _target(value: float, goal: str, met: bool) -> dict[str, Any]:
    return {"value": value, "goal": goal, "met": met}


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The targets, each a ratio from this run, for the sections that ran
    (on the local server only)."""
    found: dict[str, Any] = {}
    if results.get("endpoint"):
        return found
    lat = results.get("latency", {})
    ours = {k: v for k, v in lat.items() if k.startswith("batchdelete[")}
    if results.get("layer_cost"):
        worst_layer = max(r["ratio"] for r in results["layer_cost"].values())
        found["layer cost, worst transport / bare library"] = _target(
            worst_layer, "<= 1.10", worst_layer <= 1.10
        )
    decoded = results.get("decode", {}).get("results", {})
    if "batchdelete" in decoded:
        ratio = decoded["batchdelete"]["ratio_to_bare"]
        found["decode / bare msgspec Decoder"] = _target(ratio, "<= 1.2", ratio <= 1.2)
    if ours and all("ratio_to_sdk" in r for r in ours.values()):
        fastest = min(r["ratio_to_sdk"] for r in ours.values())
        slowest = max(r["ratio_to_sdk"] for r in ours.values())
        found["SDK latency / fastest transport"] = _target(1 / fastest, ">= 4", 1 / fastest >= 4)
        found["slowest transport / SDK latency"] = _target(slowest, "< 1", slowest < 1)
    cold = [
        v["ratio_to_sdk"]
        for k, v in results.get("cold_start", {}).items()
        if k.startswith("batchdelete[") and "ratio_to_sdk" in v
    ]
    if cold:
        found["cold start, best transport / SDK"] = _target(min(cold), "<= 0.25", min(cold) <= 0.25)
    at_64 = [
        row["ratio_to_sdk"]
        for name, rows in results.get("async_throughput", {}).items()
        if name != _async.SDK
        for row in rows
        if row["inflight"] == 64 and "ratio_to_sdk" in row
    ]
    if at_64:
        found["async throughput at 64 in flight, fastest transport / SDK"] = _target(
            max(at_64), ">= 5", max(at_64) >= 5
        )
    if results.get("async_layer_cost"):
        worst = max(r["ratio"] for r in results["async_layer_cost"].values())
        found["async layer cost, worst transport / bare library"] = _target(
            worst, "<= 1.10", worst <= 1.10
        )
    return found


def recommend(results: dict[str, Any], automatic: str | None) -> dict[str, Any]:
    """The transport to use here and why: the fastest median latency among
    the transports that passed (`automatic`: what Client() picks here)."""
    lat = results.get("latency")
    found: dict[str, Any] = {"transport": None, "asynchronous": None, "automatic": automatic}
    if lat is None:
        found["text"] = (
            "Recommendation: none: the latency section, which compares the transports, "
            "did not run (batchdelete bench --only latency)."
        )
        return found
    ours = {n[12:-1]: r for n, r in lat.items() if n.startswith("batchdelete[")}
    if not ours:
        found["text"] = "Recommendation: none: no transport completed the run (see Failed)."
        return found
    best, row = min(ours.items(), key=lambda item: item[1]["median_us"])
    how = (
        "the automatic choice here"
        if best == automatic
        else f'Client(transport="{best}") or BATCHDELETE_TRANSPORT={best}'
    )
    why = (
        f"the fastest median latency of the {len(ours)} transport"
        f"{'s' if len(ours) > 1 else ''} that passed ({row['median_us']:.0f} us a delete"
    )
    if row.get("ratio_to_sdk"):
        why += f", {1 / row['ratio_to_sdk']:.1f}x faster than the official SDK"
    text = f"Recommendation: use the {best} transport ({how}): {why})"
    found["transport"] = best
    rows = results.get("async_throughput", {})
    tops = {
        name[12:-1]: max(r, key=lambda x: x["inflight"])
        for name, r in rows.items()
        if name.startswith("AsyncClient[") and r
    }
    if tops:
        name, top = max(tops.items(), key=lambda item: item[1]["rps"])
        sdk = f", {top['ratio_to_sdk']:.1f}x the SDK" if top.get("ratio_to_sdk") else ""
        text += (
            f"; for many requests in flight, AsyncClient with {name} "
            f"({top['rps']:.0f} req/s at {top['inflight']} in flight{sdk})"
        )
        found["asynchronous"] = name
    async_lat = {n[12:-1]: r for n, r in lat.items() if n.startswith("AsyncClient[")}
    if async_lat and not tops:
        name, r = min(async_lat.items(), key=lambda item: item[1]["median_us"])
        text += f"; async: AsyncClient with {name} ({r['median_us']:.0f} us a delete)"
        found["asynchronous"] = name
    found["text"] = text + "."
    return found
