"""The async side of the benchmarks: the clients, and the worker process
that drives one of them in an event loop of its own.

    python -m benchmarks.worker async:NAME URL      # NAME a client below, or "pair:"

Each `make(name, url)` is awaited inside the worker's loop (the clients
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
  {"op": "pair", "transport": T, "n": N}
      AsyncClient[T] and bare T alternated request by request (sequential)
  {"op": "quit"}
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.clients import API_KEY, BATCH, HEADERS, PATH

SDK = "anthropic SDK async"
#: The bare library row of each async transport.
BARE = {"aiohttp": "bare aiohttp", "httpx": "bare httpx async"}
#: No command runs longer than this (seconds): every loop is bounded.
COMMAND_TIMEOUT = 600.0

ACall = Callable[[], Awaitable[bytes]]
AClose = Callable[[], Awaitable[None]]


def available_transports() -> list[str]:
    """The built-in async transports whose modules load, in registry order."""
    import batchdelete

    return [
        t.name
        for t in batchdelete.list_transports()
        if t.available and t.builtin and t.asynchronous
    ]


def layer(transport: str) -> str:
    return f"AsyncClient[{transport}]"


def names(available: list[str]) -> list[str]:
    """The throughput rows: each transport through AsyncClient, then the SDK."""
    return [layer(t) for t in available] + [SDK]


async def make(name: str, url: str) -> tuple[ACall, AClose]:
    full = url + PATH
    if name.startswith("AsyncClient["):
        import batchdelete

        client = batchdelete.AsyncClient(
            api_key=API_KEY, base_url=url, transport=name[12:-1], max_retries=0
        )

        async def call_layer() -> bytes:
            return (await client.delete(BATCH)).id.encode()

        return call_layer, client.close
    if name == SDK:
        import anthropic

        sdk = anthropic.AsyncAnthropic(api_key=API_KEY, base_url=url, max_retries=0)

        async def call_sdk() -> bytes:
            return (await sdk.messages.batches.delete(BATCH)).id.encode()

        return call_sdk, sdk.close
    if name == "bare aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=60.0)
        )

        async def call_aiohttp() -> bytes:
            async with session.request(
                "DELETE", full, headers=HEADERS, allow_redirects=False
            ) as response:
                return await response.read()

        return call_aiohttp, session.close
    if name == "bare httpx async":
        import httpx

        hx = httpx.AsyncClient(follow_redirects=False, timeout=httpx.Timeout(60.0, connect=5.0))

        async def call_httpx() -> bytes:
            return (await hx.request("DELETE", full, headers=HEADERS)).content

        return call_httpx, hx.aclose
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


async def pair(url: str, transport: str, n: int) -> dict[str, Any]:
    """AsyncClient[T] against bare T, one request each in turn, the first
    of the two alternating; the ratio of the medians."""
    ours, close_ours = await make(layer(transport), url)
    bare, close_bare = await make(BARE[transport], url)
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


async def _answer(command: dict[str, Any], url: str, call: ACall | None) -> dict[str, Any]:
    op = command["op"]
    if op == "throughput":
        assert call is not None
        return await throughput(call, command["inflight"], command["n"], command["warmup"])
    if op == "pair":
        return await pair(url, command["transport"], command["n"])
    return {"error": f"unknown op {op!r}"}


def serve(name: str, url: str) -> None:
    """The worker's loop: one event loop for the life of the process."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    call: ACall | None = None
    close: AClose | None = None
    try:
        if name != "pair:":
            call, close = loop.run_until_complete(make(name, url))
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "quit":
                break
            answer = loop.run_until_complete(
                asyncio.wait_for(_answer(command, url, call), COMMAND_TIMEOUT)
            )
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        if close is not None:
            loop.run_until_complete(close())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
