"""The benchmarks run and their results are complete (never their timings):
`python -m benchmarks` (the developer's wrapper, what `make bench` runs)
and `batchdelete bench` (installed with the package), its refusals, its
real-endpoint mode against the emulator (directly and through a proxy),
and TLS with a CA made for the run."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import batchdelete
from batchdelete import cli
from batchdelete.bench import _async, _clients, _plot, _procs, _tls
from batchdelete.bench._options import BATCH, NEVER_EXISTS, PROXY_VARIABLES, Setup
from batchdelete.emulator import Emulator
from tests.proxyserver import ProxyProcess

ROOT = Path(__file__).resolve().parent.parent


def _transports(asynchronous: bool = False) -> list[str]:
    return [
        t.name
        for t in batchdelete.list_transports()
        if t.available and t.asynchronous == asynchronous
    ]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["bench", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.timeout(300)
@pytest.mark.slow
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
    assert results["command"] == "python -m benchmarks --quick"
    assert results["failed"] == {} and results["skipped"] == {}
    transports = _transports()
    assert {"urllib3", "httpx", "requests", "stdlib"} <= set(transports)
    expected = {_clients.FLOOR, _clients.SDK}
    for t in transports:
        expected |= {f"batchdelete[{t}]", *_clients.LIBRARY_ROWS.get(t, ())}
    assert set(results["latency"]) == expected
    for row in results["latency"].values():
        assert row["median_us"] > 0 and row["p99_us"] >= row["median_us"] and row["cpu_us"] > 0
        assert row["rounds"] == results["parameters"]["rounds"]
        assert row["ratio_to_floor"] > 0 and row["ratio_to_sdk"] > 0
    with_bare = [t for t in transports if t in _clients.LIBRARY_ROWS]
    assert set(results["layer_cost"]) == set(with_bare)
    for t in with_bare:
        assert "ratio_to_bare" in results["latency"][f"batchdelete[{t}]"]
        assert results["layer_cost"][t]["ratio"] > 0
    assert set(results["throughput"]) == set(transports)
    for levels in results["throughput"].values():
        assert [r["workers"] for r in levels] == [1, 16, 64]
        assert all(
            r["rps"] > 0 and r["errors"] == [] and r["connections_opened"] >= 1 for r in levels
        )
    assert set(results["cold_start"]) == {
        "python -c pass",
        _clients.SDK,
        *(f"batchdelete[{t}]" for t in transports),
    }
    assert all(r["ms"] > 0 and r["ratio_to_sdk"] > 0 for r in results["cold_start"].values())
    decoders = results["decode"]["results"]
    assert set(decoders) == {
        "batchdelete",
        "bare msgspec Decoder",
        "json.loads + dataclass",
        "orjson + dict",
        "pydantic v2",
        "anthropic SDK",
    }
    async_transports = _transports(asynchronous=True)
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
    check_recommendation(results, out.stdout)
    assert results["recommendation"]["transport"] in transports


def check_recommendation(results: dict[str, Any], stdout: str) -> None:
    """The last line of stdout is the recommendation the results record."""
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last == results["recommendation"]["text"]
    assert last.startswith("Recommendation: ")


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
@pytest.mark.slow
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
    assert not (tmp_path / "benchmark.png").exists()
    assert (tmp_path / "pace.md").read_text().strip() in out.stdout
    assert "Limit lowered mid-run" in out.stdout and "Pace targets" in out.stdout
    check_recommendation(results, out.stdout)
    assert results["recommendation"]["transport"] is None


@pytest.mark.slow
def test_bench_command_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The cheapest section through the command: the table on stdout, every
    figure in --json, the plot, the recommendation last."""
    path, png = tmp_path / "bench.json", tmp_path / "bench.png"
    code, out, err = _run(
        capsys, "--quick", "--only", "decode", "--json", str(path), "--plot", str(png)
    )
    assert code == 0, err
    results = json.loads(path.read_text())
    assert results["command"] == "batchdelete bench --quick --only decode"
    assert {"date", "machine", "versions", "decode", "skipped", "failed", "targets"} <= set(results)
    assert "latency" not in results and "parameters" not in results
    assert results["decode"]["results"]["batchdelete"]["ns"] > 0
    assert set(results["targets"]) == {"decode / bare msgspec Decoder"}
    assert out.startswith("batchdelete benchmarks, ") and "Decoding a delete response" in out
    check_recommendation(results, out)
    assert png.stat().st_size > 5_000
    assert f"Wrote {path}, {png}" in err


@pytest.mark.slow
def test_a_missing_library_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row whose library is not installed is skipped, never an ImportError."""
    real = _clients.installed
    monkeypatch.setattr(_clients, "installed", lambda m: m != "orjson" and real(m))
    import batchdelete.bench._decode as decode

    monkeypatch.setattr(decode, "installed", _clients.installed)
    code, out, err = _run(capsys, "--quick", "--only", "decode")
    assert code == 0, err
    assert "orjson + dict            skipped: not installed (pip install orjson)" in out
    rows, skipped = _clients.rows(["urllib3"], Setup(url="http://127.0.0.1:1"))
    assert rows[:2] == [_clients.FLOOR, "batchdelete[urllib3]"]
    monkeypatch.setattr(_clients, "installed", lambda m: m != "anthropic")
    rows, skipped = _clients.rows(["urllib3"], Setup(url="http://127.0.0.1:1"))
    assert _clients.SDK not in rows
    assert skipped == {_clients.SDK: "not installed (pip install anthropic)"}


def test_the_parser_knows_every_section() -> None:
    """The parser names the sections without importing the benchmarks."""
    from batchdelete.bench import SECTIONS
    from batchdelete.cli._parser import BENCH_SECTIONS

    assert BENCH_SECTIONS == SECTIONS


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["--base-url", "https://api.example.com"], 2, "add --yes-real-api"),
        (["--base-url", "ftp://127.0.0.1"], 2, "http:// or https://"),
        (["--base-url", "http://127.0.0.1:9", "--only", "decode"], 2, "only the latency"),
        (["--base-url", "https://api.example.com", "--yes-real-api", "--tls"], 2, "--tls"),
        (["--yes-real-api"], 2, "--yes-real-api goes with --base-url"),
        (["--requests", "5"], 2, "--requests goes with --base-url"),
        (["--only", "latency,nope"], 2, "'nope'"),
        (["--plot", "figure.gif"], 2, ".png"),
        (["--only", "pace", "--plot", "figure.png"], 2, "--plot draws"),
        (["--json", "/nonexistent/dir/r.json"], 3, "Cannot write"),
        (["--through-proxy", "--only", "latency"], 3, "HTTPS_PROXY"),
    ],
)
def test_bench_refusals(
    argv: list[str],
    code: int,
    words: str,
    no_proxy_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Checked before anything runs: one line on stderr, nothing on stdout."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    got, out, err = _run(capsys, *argv)
    assert (got, out) == (code, "")
    [line] = err.splitlines()
    assert line.startswith("batchdelete: ") and words in line


def test_bench_cannot_honour(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--plot without matplotlib, --tls without cryptography: exit 2 before
    anything runs; --base-url without a key: exit 3."""
    monkeypatch.setattr(_plot, "available", lambda: False)
    code, out, err = _run(capsys, "--plot", "figure.png")
    assert (code, out) == (2, "") and "pip install matplotlib" in err
    monkeypatch.setattr(_tls, "unavailable", lambda: "--tls needs the cryptography package")
    code, out, err = _run(capsys, "--tls", "--only", "latency")
    assert (code, out) == (2, "") and "cryptography" in err
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, out, err = _run(capsys, "--base-url", "https://api.example.com", "--yes-real-api")
    assert (code, out) == (3, "") and "ANTHROPIC_API_KEY" in err


def test_real_endpoint_request_cap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """More than 200 requests in all is refused (exit 2) before the first."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    argv = ["--base-url", "https://api.example.invalid", "--yes-real-api", "--requests", "100"]
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert "at most 200 are sent" in err and "lower --requests" in err


def _real_run(
    api: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[dict[str, Any], str]:
    path = tmp_path / "real.json"
    argv = ["--base-url", api.base_url, "--yes-real-api", "--requests", "1", "--rate", "60000"]
    code, out, err = _run(capsys, *argv, *extra, "--json", str(path))
    assert code == 0, err
    results = json.loads(path.read_text())
    planned = results["endpoint"]["planned_requests"]
    assert out.startswith(f"Sending {planned} requests to {api.base_url} (")
    assert "cannot exist, so each is answered 404 and nothing is deleted" in out.splitlines()[0]
    assert results["failed"] == {}
    sync, asynchronous = _transports(), _transports(asynchronous=True)
    rows = set(results["latency"])
    assert {f"batchdelete[{t}]" for t in sync} | {f"AsyncClient[{t}]" for t in asynchronous} <= rows
    assert {_clients.SDK, _async.SDK} <= rows and _clients.FLOOR not in rows
    assert planned == 2 * len(rows)  # one to connect, one counted, per client
    log = api.requests
    assert len(log) == planned  # no retry, nothing else
    assert Counter((r.method, r.target, r.status) for r in log) == {
        ("DELETE", f"/v1/messages/batches/{NEVER_EXISTS}", 404): planned
    }
    check_recommendation(results, out)
    return results, out


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_bench_against_the_emulator_as_a_real_endpoint(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Emulator() as api:
        kept = api.add_batch("ended").id
        monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
        results, out = _real_run(api, tmp_path, capsys)
        assert [b["id"] for b in api.batches()] == [kept]  # nothing deleted
    assert results["targets"] == {} and "Targets:" not in out
    assert results["connection"]["proxy"] is None


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_bench_through_a_proxy(
    tmp_path: Path,
    no_proxy_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--through-proxy: every client goes through the environment's proxy,
    127.0.0.1 included (NO_PROXY names it), and says so."""
    with ProxyProcess(tmp_path / "proxy") as proxy, Emulator() as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        results, out = _real_run(api, tmp_path, capsys, "--through-proxy")
        assert results["connection"]["proxy"] == proxy.url
        assert f"through the proxy {proxy.url}" in out
        # proxy.py logs a line as each connection closes: one a client at least
        end = time.monotonic() + 10
        while len(lines := proxy.wait_for(NEVER_EXISTS)) < len(results["latency"]):
            assert time.monotonic() < end, lines
            time.sleep(0.1)


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_tls_every_client(tmp_path: Path) -> None:
    """With --tls every client, sync and async, verifies the benchmark
    server against the CA made for the run (in this process: no worker)."""
    ca, cert, key = _tls.make_files(tmp_path)
    env = _procs.child_environment(through_proxy=False)
    with ExitStack() as stack:
        url = _procs.start_server(stack, (cert, key), env)
        assert url.startswith("https://127.0.0.1:")
        setup = Setup(url=url, ca=ca)
        rows, skipped = _clients.rows(_transports(), setup)
        assert skipped == {}
        for name in rows:
            call, close = _clients.make(name, setup)
            try:
                assert BATCH.encode() in call(), name
            finally:
                close()

        async def each_async() -> None:
            names, _ = _async.rows(_transports(asynchronous=True))
            for name in [*names, *_async.BARE.values()]:
                call, close = await _async.make(name, setup)
                try:
                    assert BATCH.encode() in await call(), name
                finally:
                    await close()

        asyncio.run(each_async())
        assert _procs.server_stats(url, "/__stats", ca)["requests"] >= len(rows)
