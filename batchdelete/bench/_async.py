"""The async side of the benchmarks: the clients, and the worker process
that drives one of them in an event loop of its own.

    python -m batchdelete.bench._worker async:NAME SETUP   # NAME a client below, or "pair:"

Each `make(name, setup)` is awaited inside the worker's loop (the clients
bind their connections to the loop of their first request) and returns a
coroutine function that performs one DELETE of a batch over a kept-alive
connection and returns the body, and a coroutine function that closes what
it opened.

  AsyncClient[T]      batchdelete.AsyncClient, transport T, retries off
  anthropic SDK async anthropic.AsyncAnthropic, retries off
  bare T              the library alone, as the sync bare rows: the same
                      headers and timeouts, redirects off, body read

Commands, one JSON line each, answered with one JSON line:
  {"op": "throughput", "inflight": K, "n": N, "warmup": W}
      W requests, then N counted, with K coroutines sharing the client
  {"op": "latency", "n": N, "warmup": W, "interval": S}
      sequential requests (a real endpoint), a pause of S seconds before each
  {"op": "pair", "transport": T, "n": N}
      AsyncClient[T] and bare T alternated request by request (sequential)
  {"op": "quit"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._clients import UnexpectedStatusError, installed, not_installed
from ._measure import failure, percentiles
from ._options import Setup

SDK = "anthropic SDK async"
#: The bare library row of each async transport.
BARE = {"aiohttp": "bare aiohttp", "httpx": "bare httpx async"}
#: No command runs longer than this (seconds): every loop is bounded.
COMMAND_TIMEOUT = 600.0

ACall = Callable[[], Awaitable[bytes]]
AClose = Callable[[], Awaitable[None]]


def layer(transport: str) -> str:
    return f"AsyncClient[{transport}]"


def rows(available: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the throughput rows: each transport through AsyncClient, then the
    SDK; the rows skipped -> why)."""
    if not installed("anthropic"):
        return [layer(t) for t in available], {SDK: not_installed("anthropic")}
    return [layer(t) for t in available] + [SDK], {}


def _checker(setup: Setup) -> Callable[[int], None]:
    expect = setup.expect

    def check(status: int) -> None:
        if status != expect:
            raise UnexpectedStatusError(f"answered {status}, expected {expect}")

    return check


async def _ours(transport: str, setup: Setup) -> tuple[ACall, AClose]:
    import batchdelete

    client = batchdelete.AsyncClient(
        transport=transport, **{**setup.client_args(), "max_retries": 0}
    )
    batch = setup.batch
    if setup.expect == 404:

        async def call_missing() -> bytes:
            try:
                await client.delete(batch)
            except batchdelete.NotFoundError:
                return b""
            raise UnexpectedStatusError("answered 2xx, expected 404")

        return call_missing, client.close

    async def call_layer() -> bytes:
        return (await client.delete(batch)).id.encode()

    return call_layer, client.close


async def _sdk(setup: Setup) -> tuple[ACall, AClose]:
    import anthropic

    options: dict[str, Any] = {}
    if setup.ca is not None:
        options["verify"] = setup.ssl_context()
    if setup.proxy is not None:
        options["proxy"] = setup.proxy
    args: dict[str, Any] = {"api_key": setup.key, "base_url": setup.url, "max_retries": 0}
    if options:
        args["http_client"] = anthropic.DefaultAsyncHttpxClient(**options)
    sdk = anthropic.AsyncAnthropic(**args)
    batch = setup.batch
    if setup.expect == 404:

        async def call_missing() -> bytes:
            try:
                await sdk.messages.batches.delete(batch)
            except anthropic.NotFoundError:
                return b""
            raise UnexpectedStatusError("answered 2xx, expected 404")

        return call_missing, sdk.close

    async def call_sdk() -> bytes:
        return (await sdk.messages.batches.delete(batch)).id.encode()

    return call_sdk, sdk.close


async def _aiohttp(setup: Setup) -> tuple[ACall, AClose]:
    import aiohttp

    full, headers, check = setup.url.rstrip("/") + setup.path, setup.headers(), _checker(setup)
    extra: dict[str, Any] = {}
    if setup.ca is not None:
        extra["ssl"] = setup.ssl_context()
    if setup.proxy is not None:
        extra["proxy"] = setup.proxy
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=60.0)
    )

    async def call_aiohttp() -> bytes:
        async with session.request(
            "DELETE", full, headers=headers, allow_redirects=False, **extra
        ) as response:
            body = await response.read()
            check(response.status)
            return body

    return call_aiohttp, session.close


async def _httpx(setup: Setup) -> tuple[ACall, AClose]:
    import httpx

    full, headers, check = setup.url.rstrip("/") + setup.path, setup.headers(), _checker(setup)
    kw: dict[str, Any] = {}
    if setup.ca is not None:
        kw["verify"] = setup.ssl_context()
    if setup.proxy is not None:
        kw["proxy"] = setup.proxy
    hx = httpx.AsyncClient(follow_redirects=False, timeout=httpx.Timeout(60.0, connect=5.0), **kw)

    async def call_httpx() -> bytes:
        r = await hx.request("DELETE", full, headers=headers)
        check(r.status_code)
        return r.content

    return call_httpx, hx.aclose


async def make(name: str, setup: Setup) -> tuple[ACall, AClose]:
    if name.startswith("AsyncClient["):
        return await _ours(name[12:-1], setup)
    if name == SDK:
        return await _sdk(setup)
    if name == "bare aiohttp":
        return await _aiohttp(setup)
    if name == "bare httpx async":
        return await _httpx(setup)
    raise ValueError(f"unknown async client {name!r}")


async def throughput(call: ACall, inflight: int, n: int, warmup: int) -> dict[str, Any]:
    """`warmup` requests, then `n` timed, with `inflight` coroutines taking
    the next request as soon as theirs is answered."""
    errors: list[str] = []
    active = peak = 0

    async def burst(total: int) -> int:
        left, done = total, 0

        async def run() -> None:
            nonlocal left, done, active, peak
            while left > 0:
                left -= 1
                active += 1
                peak = max(peak, active)
                try:
                    await call()
                except Exception as exc:  # reported, not hidden
                    errors.append(repr(exc))
                    return
                finally:
                    active -= 1
                done += 1

        await asyncio.gather(*(run() for _ in range(min(inflight, total))))
        return done

    await burst(warmup)
    peak = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    done = await burst(n)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "inflight": inflight,
        "requests": done,
        "seconds": wall,
        "rps": done / wall,
        "cpu_us": cpu / max(1, done) * 1e6,
        "peak_in_flight": peak,
        "errors": errors[:3],
    }


async def latency(call: ACall, n: int, warmup: int, interval: float) -> dict[str, Any]:
    """Sequential requests, a pause of `interval` seconds before each."""
    for _ in range(warmup):
        await asyncio.sleep(interval)
        await call()
    samples = [0] * n
    clock = time.perf_counter_ns
    cpu_start = time.process_time_ns()
    for i in range(n):
        await asyncio.sleep(interval)
        start = clock()
        await call()
        samples[i] = clock() - start
    cpu = time.process_time_ns() - cpu_start
    return {**percentiles(samples), "cpu_us": cpu / n / 1000, "n": n}


async def pair(setup: Setup, transport: str, n: int) -> dict[str, Any]:
    """AsyncClient[T] against bare T, one request each in turn, the first
    of the two alternating; the ratio of the medians."""
    ours, close_ours = await make(layer(transport), setup)
    bare, close_bare = await make(BARE[transport], setup)
    try:
        for _ in range(max(50, n // 10)):
            await ours()
            await bare()
        clock = time.perf_counter_ns
        a, b = [0] * n, [0] * n
        for i in range(n):
            first, second = (ours, bare) if i % 2 == 0 else (bare, ours)
            start = clock()
            await first()
            mid = clock()
            await second()
            end = clock()
            if i % 2 == 0:
                a[i], b[i] = mid - start, end - mid
            else:
                a[i], b[i] = end - mid, mid - start
    finally:
        await close_ours()
        await close_bare()
    ma, mb = statistics.median(a), statistics.median(b)
    return {"layer_us": ma / 1000, "bare_us": mb / 1000, "ratio": ma / mb, "n": n}


async def _answer(command: dict[str, Any], setup: Setup, call: ACall | None) -> dict[str, Any]:
    op = command["op"]
    if op == "throughput":
        assert call is not None
        return await throughput(call, command["inflight"], command["n"], command["warmup"])
    if op == "latency":
        assert call is not None
        return await latency(call, command["n"], command["warmup"], command.get("interval", 0.0))
    if op == "pair":
        return await pair(setup, command["transport"], command["n"])
    return {"error": f"unknown op {op!r}", "exit_code": None}


class Clients:
    """The clients of this worker, each made on first use (in the worker's
    loop) and kept; one that cannot be made is remembered as its failure."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.made: dict[str, tuple[ACall, AClose] | dict[str, Any]] = {}

    async def get(self, name: str) -> ACall | dict[str, Any]:
        if name not in self.made:
            try:
                self.made[name] = await make(name, self.setup)
            except Exception as exc:  # reported to the parent, for every command
                self.made[name] = failure(exc)
        found = self.made[name]
        return found if isinstance(found, dict) else found[0]

    async def close(self) -> None:
        for found in self.made.values():
            if not isinstance(found, dict):
                with contextlib.suppress(Exception):
                    await found[1]()


def serve(name: str, setup: Setup) -> None:
    """The worker's loop: one event loop for the life of the process. NAME
    "pair:" makes its own clients; "clients:" is told which in each command."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    clients = Clients(setup)
    fixed = None if name.endswith(":") else name
    try:
        if fixed is not None:  # made now, as the other workers start theirs
            loop.run_until_complete(clients.get(fixed))
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "quit":
                break
            which = command.get("client", fixed)
            call = loop.run_until_complete(clients.get(which)) if which is not None else None
            if isinstance(call, dict):
                answer = call
            else:
                try:
                    answer = loop.run_until_complete(
                        asyncio.wait_for(_answer(command, setup, call), COMMAND_TIMEOUT)
                    )
                except Exception as exc:  # one client failing does not end the run
                    answer = failure(exc)
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        loop.run_until_complete(clients.close())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
