"""The benchmark suite runs and its results are complete (never its timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import batchdelete

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_quick_benchmark_results_are_complete(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=280,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    transports = ["urllib3", "httpx", "requests"]
    expected = {"floor (raw socket)", "anthropic SDK"}
    for t in transports:
        expected |= {f"batchdelete[{t}]", f"bare {t}", f"default {t}"}
    expected |= {"batchdelete[stdlib]", "bare http.client"}
    assert set(results["latency"]) == expected
    transports.append("stdlib")
    for row in results["latency"].values():
        assert row["median_us"] > 0 and row["p99_us"] >= row["median_us"] and row["cpu_us"] > 0
        assert row["rounds"] == results["parameters"]["rounds"]
    for t in transports:
        assert "ratio_to_bare" in results["latency"][f"batchdelete[{t}]"]
        assert results["layer_cost"][t]["ratio"] > 0
        levels = results["throughput"][t]
        assert [r["workers"] for r in levels] == [1, 16, 64]
        assert all(
            r["rps"] > 0 and r["errors"] == [] and r["connections_opened"] >= 1 for r in levels
        )
        assert results["cold_start"][f"batchdelete[{t}]"]["ms"] > 0
    assert results["cold_start"]["anthropic SDK"]["ms"] > 0
    decoders = results["decode"]["results"]
    assert {"batchdelete", "bare msgspec Decoder", "json.loads + dataclass"} <= set(decoders)
    assert set(decoders) | set(results["decode"]["skipped"]) >= {
        "orjson + dict",
        "pydantic v2",
        "anthropic SDK",
    }
    async_transports = [
        t.name
        for t in batchdelete.list_transports()
        if t.available and t.builtin and t.asynchronous
    ]
    assert set(async_transports) == set(results["async_layer_cost"])
    rows = [f"AsyncClient[{t}]" for t in async_transports]
    assert set(results["async_throughput"]) == (
        set(rows) | {"anthropic SDK async"} if rows else set()
    )
    for levels in results["async_throughput"].values():
        assert [r["inflight"] for r in levels] == [1, 16, 64]
        for r in levels:
            assert r["rps"] > 0 and r["cpu_us"] > 0 and r["errors"] == []
            assert r["rounds"] == results["parameters"]["async_rounds"] == len(r["rps_rounds"])
            assert r["requests"] == results["parameters"]["async_requests"]
            assert r["peak_in_flight"] == r["inflight"] and r["served_as_counted"]
            assert r["ratio_to_sdk"] > 0
    for t in async_transports:
        cost = results["async_layer_cost"][t]
        assert cost["ratio"] > 0 and cost["layer_us"] > 0 and cost["bare_us"] > 0
        assert len(cost["ratios"]) == results["parameters"]["async_rounds"]
    async_targets = {
        "async throughput at 64 in flight, fastest transport / SDK",
        "async layer cost, worst transport / bare library",
    }
    assert len(results["targets"]) == 5 + (len(async_targets) if async_transports else 0)
    assert async_targets <= set(results["targets"]) or not async_transports
    assert all(isinstance(t["met"], bool) for t in results["targets"].values())
    assert (tmp_path / "benchmark.png").stat().st_size > 10_000
    assert "Targets:" in out.stdout and "Latency" in out.stdout
    assert "Async throughput" in out.stdout and "Async layer cost" in out.stdout
    check_pace(results["pace"])
    assert "Pace at the emulator's rate limit" in out.stdout
    assert (tmp_path / "pace.md").read_text().startswith("Pace at the emulator's rate limit")


def check_pace(pace: dict[str, Any]) -> None:
    """The pace section's runs are all there and every paced run deleted
    every batch (its pace and 429 share are timings: not checked)."""
    p = pace["parameters"]
    assert [(r["mode"], r["burst"]) for r in pace["target"]] == [
        ("sync", p["burst"]),
        ("async", p["burst"]),
        ("sync", None),
        ("async", None),
    ]
    for r in [*pace["target"], *pace["change"]]:
        assert r["all_deleted"] and r["failed"] == 0 and r["left_on_server"] == 0
        assert r["requests"] >= r["batches"] and 0 <= r["rate_limited"] <= r["requests"]
        assert r["succeeded"] == r["batches"] and 0 < r["share_of_allowed"] <= 1.5
    assert [r["mode"] for r in pace["change"]] == ["sync", "async"]
    for r in pace["change"]:
        assert r["changed_at_s"] is not None and r["pace_before"] > 0 and r["pace_after"] > 0
        assert len(r["windows"]) >= 2 and r["new_limit"] == p["new_limit"]
    base = pace["baseline"]
    assert base["batches"] == p["batches"] and base["rate_limited"] <= base["requests"]
    assert base["deleted"] + base["failed"] + base["not_started"] == p["batches"]
    assert len(pace["targets"]) == 6
    assert all(isinstance(t["met"], bool) for t in pace["targets"].values())


@pytest.mark.timeout(120)
def test_quick_pace_section_alone(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "pace", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=100,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "pace.json").read_text())
    assert results["command"] == "python -m benchmarks --quick --only pace"
    assert set(results) >= {"date", "machine", "versions", "pace", "seconds"}
    check_pace(results["pace"])
    assert not (tmp_path / "results.json").exists()  # the whole suite's, left alone
    assert (tmp_path / "pace.md").read_text().strip() in out.stdout
    assert "Limit lowered mid-run" in out.stdout and "Pace targets" in out.stdout
