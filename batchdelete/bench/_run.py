"""One run: the sections asked for, against a benchmark server started for
the run on 127.0.0.1 (plain or TLS, direct or through the proxy), or
against a real endpoint (`_real.py`); the results as one dict."""

from __future__ import annotations

import os
import platform
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError, mask_userinfo
from .._options import bypasses_proxy
from .._transport import is_loopback_host
from ..cli._exits import EXIT_CONNECTION
from . import _async, _clients, _coldstart, _decode, _pace, _real, _tls
from ._options import Options, Settings, Setup
from ._procs import child_environment, start_server
from ._progress import Progress
from ._report import recommend, targets
from ._sections import (
    Run,
    async_layer_cost,
    async_throughput,
    latency,
    layer_cost,
    layer_transports,
    throughput,
)

__all__ = ["environment_proxy", "run", "transports"]

SERVER_SECTIONS = ("latency", "layer", "throughput", "async", "coldstart")
VERSIONS = (
    "batchdelete",
    "urllib3",
    "httpx",
    "aiohttp",
    "requests",
    "pycurl",
    "anthropic",
    "httpx2",
    "msgspec",
    "pluggy",
    "orjson",
    "pydantic",
    "matplotlib",
)


def transports() -> tuple[list[str], list[str], dict[str, str]]:
    """(the sync transports available here, the async ones, the rows of
    those not installed -> why), in the registry's order."""
    from .._registry import list_transports

    sync: list[str] = []
    asynchronous: list[str] = []
    skipped: dict[str, str] = {}
    for t in list_transports():
        row = f"AsyncClient[{t.name}]" if t.asynchronous else f"batchdelete[{t.name}]"
        if t.available:
            (asynchronous if t.asynchronous else sync).append(t.name)
        else:
            skipped[row] = "not installed" + (f" ({t.install})" if t.install else "")
    return sync, asynchronous, skipped


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for dist in VERSIONS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def environment_proxy(url: str) -> str:
    """The proxy the environment names for `url` (--through-proxy); a
    ConfigurationError when there is none, or when NO_PROXY exempts a host
    that is not loopback (nothing would go through the proxy)."""
    found = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    proxy = found.get(parts.scheme) or found.get("all")
    if not proxy:
        raise ConfigurationError(
            f"--through-proxy measures the proxy the environment names, and none is set for "
            f"{parts.scheme}:// URLs: set HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY), or leave "
            "--through-proxy out."
        )
    host = parts.hostname or ""
    if not is_loopback_host(host) and bypasses_proxy(host, parts.port, found.get("no", "")):
        raise ConfigurationError(
            f"NO_PROXY exempts {host}: no request would go through the proxy. Leave "
            "--through-proxy out, or take the host out of NO_PROXY."
        )
    return proxy if "://" in proxy else "http://" + proxy


def _automatic() -> str | None:
    """The transport `Client()` picks here (the environment included)."""
    import batchdelete

    try:
        with batchdelete.Client(api_key="sk-ant-bench") as client:
            return client.transport.name
    except batchdelete.BatchDeleteError:
        return None


def _header(options: Options) -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": options.label,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "versions": versions(),
    }


def _plan(run_: Run, sections: tuple[str, ...], rows: dict[str, list[str]]) -> None:
    s, p = run_.settings, run_.progress
    sync, asynchronous = rows["sync"], rows["async"]
    steps = {
        "decode": 1,
        "latency": s.rounds * len(rows["latency"]),
        "layer": s.rounds * len(layer_transports(sync)),
        "throughput": len(sync) * len(s.throughput_workers),
        "async": s.async_rounds * len(s.async_inflight) * len(rows["async_names"])
        + s.async_rounds * len([t for t in asynchronous if t in _async.BARE]),
        "coldstart": s.cold_rounds * len(rows["cold"]),
        "pace": _pace.STEPS,
    }
    p.plan(sum(steps[name] for name in sections))


def _setup(stack: ExitStack, options: Options, server: bool, env: dict[str, str]) -> Setup:
    """Where the clients connect: the benchmark server if a section needs it
    (started on `stack`; over TLS with a CA made for the run with --tls;
    through the environment's proxy with --through-proxy)."""
    ca, files = None, None
    if options.tls and server:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="batchdelete-bench-"))
        ca, cert, key = _tls.make_files(Path(tmp))
        files = (cert, key)
    url = start_server(stack, files, env) if server else "http://127.0.0.1"
    proxy = environment_proxy(url) if options.through_proxy and server else None
    return Setup(url=url, ca=ca, proxy=proxy)


def _measure(
    results: dict[str, Any],
    run_: Run,
    sections: tuple[str, ...],
    found: tuple[list[str], list[str]],
    names: list[str],
    cold: dict[str, str],
) -> None:
    """Run each of the local sections chosen, in order, into `results`."""
    s, progress = run_.settings, run_.progress
    sync, asynchronous = found
    if "decode" in sections:
        progress.step("decode")
        results["decode"] = _decode.run(s.decode_rounds, s.decode_n)
    if "latency" in sections:
        results["latency"] = latency(run_, names)
        # The raw-socket client is the floor: the server's own cost plus the kernel's.
        if _clients.FLOOR in results["latency"]:
            results["server_floor_us"] = results["latency"][_clients.FLOOR]["median_us"]
    if "layer" in sections:
        results["layer_cost"] = layer_cost(run_, sync)
    if "throughput" in sections:
        results["throughput"] = throughput(run_, sync)
    if "async" in sections:
        results["async_throughput"] = async_throughput(run_, asynchronous)
        results["async_layer_cost"] = async_layer_cost(run_, asynchronous)
    if "coldstart" in sections:
        failed: dict[str, str] = {}
        keep = {k: v for k, v in cold.items() if not run_.is_failed(k)}
        results["cold_start"] = _coldstart.run(keep, s.cold_rounds, run_.env, progress, failed)
        if failed:
            run_.failed["cold_start"] = failed


def _local(
    results: dict[str, Any],
    options: Options,
    found: tuple[list[str], list[str]],
    skipped: dict[str, str],
    progress: Progress,
) -> Run:
    sections = options.sections
    s = Settings(options.quick)
    sync, asynchronous = found
    server = any(name in sections for name in SERVER_SECTIONS)
    if server:
        results["parameters"] = vars(s)
    env = child_environment(options.through_proxy)
    with ExitStack() as stack:
        setup = _setup(stack, options, server, env)
        results["connection"] = {
            "endpoint": "a benchmark server on 127.0.0.1" if server else None,
            "tls": setup.ca is not None,
            "proxy": mask_userinfo(setup.proxy) if setup.proxy else None,
        }
        run_ = Run(setup, s, stack, env, progress)
        names, skipped_rows = _clients.rows(sync, setup)
        async_names, async_skipped = _async.rows(asynchronous)
        cold, cold_skipped = _coldstart.programs(sync, setup)
        if "latency" in sections:
            skipped.update(skipped_rows)
        if "async" in sections:
            skipped.update(async_skipped)
        if "coldstart" in sections:
            skipped.update({f"cold start: {k}": v for k, v in cold_skipped.items()})
        rows = {"sync": sync, "async": asynchronous, "latency": names}
        _plan(run_, sections, {**rows, "async_names": async_names, "cold": list(cold)})
        _measure(results, run_, sections, found, names, cold)
    if "pace" in sections:
        results["pace"] = _pace.run(options.quick, progress.step)
    return run_


def run(
    options: Options, progress: Progress, plan: _real.Plan | None = None
) -> tuple[dict[str, Any], int | None]:
    """The results, and None, or the exit code of the failures when no
    transport of batchdelete passed the latency section."""
    started = time.perf_counter()
    sync, asynchronous, skipped = transports()
    results = _header(options)
    if options.base_url is not None:
        plan = plan or _real.make_plan(options, sync, asynchronous)
        proxy = environment_proxy(options.base_url) if options.through_proxy else None
        run_ = _real.run(results, options, plan, proxy, progress)
        skipped.update(plan.skipped)
    else:
        run_ = _local(results, options, (sync, asynchronous), skipped, progress)
    results["skipped"] = skipped
    results["failed"] = run_.failed
    results["targets"] = targets(results)
    results["recommendation"] = recommend(results, _automatic())
    results["seconds"] = round(time.perf_counter() - started, 1)
    worst = None
    if "latency" in results and not any(k.startswith("batchdelete[") for k in results["latency"]):
        codes = [c for name, c in run_.exit_codes.items() if name.startswith("batchdelete[")]
        worst = max(codes, default=EXIT_CONNECTION)
    return results, worst
