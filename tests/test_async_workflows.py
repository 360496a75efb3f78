"""The async workflows (`adelete_batch`, `adelete_many`, `await_until_ended`)
on the emulator, through every async built-in transport: the same decisions
as the sync ones (test_workflows.py, test_mistakes.py), plus what tasks add:
many requests really in flight at once, and cancellation (a task cancelled,
a scope that times out, an `on_outcome` that raises) that leaves no task and
no half-used connection behind. Also the `async_batch_client` fixture, under
anyio's plugin and, when installed, pytest-asyncio's auto mode.

Every wait is bounded; all traffic is on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

import batchdelete as bd
from batchdelete._registry import ASYNC_AUTO_ORDER
from batchdelete.emulator import Emulator, Fault
from batchdelete.emulator._server import Handler
from tests.test_mistakes import BAD_IDS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ASYNC_TRANSPORTS = [
    t.name for t in bd.list_transports() if t.builtin and t.asynchronous and t.available
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # AsyncClient is asyncio's


@pytest.fixture(params=ASYNC_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_for(
    api: Emulator, transport: str, base_url: str | None = None, **kwargs: object
) -> bd.AsyncClient:
    return bd.AsyncClient(
        api_key=api.api_key,
        base_url=base_url or api.base_url,
        transport=transport,
        max_retry_wait=5,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
async def client(batch_emulator: Emulator, transport: str) -> AsyncIterator[bd.AsyncClient]:
    async with client_for(batch_emulator, transport) as c:
        yield c


def routes(api: Emulator) -> list[str | None]:
    return [r.route for r in api.requests]


# -- what the emulator sees at once ---------------------------------------------------


@dataclass
class Watch:
    """Requests being handled and connections open on the emulator, now and at most."""

    in_flight: int = 0
    peak: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def watch(api: Emulator) -> Watch:
    """Count, on the server side, what `api` handles at once (from its next
    connection on): each request from its head read to its answer sent
    (a fault's delay included), each connection until the server closes it."""
    seen = Watch()

    class Watched(Handler):
        def handle(self) -> None:
            with seen.lock:
                seen.connections += 1
            try:
                super().handle()
            finally:
                with seen.lock:
                    seen.connections -= 1

        def _handle(self) -> None:
            with seen.lock:
                seen.in_flight += 1
                seen.peak = max(seen.peak, seen.in_flight)
            try:
                super()._handle()
            finally:
                with seen.lock:
                    seen.in_flight -= 1

    api._server.RequestHandlerClass = Watched  # the emulator's own server, in tests only
    return seen


async def until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait (without blocking the loop) until `condition()`, at most `limit` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {limit} s")
        await asyncio.sleep(0.01)


def other_tasks() -> set[asyncio.Task[Any]]:
    """The tasks of the loop but this one: under anyio's plugin, its runner's."""
    return asyncio.all_tasks() - {asyncio.current_task()}


def status_of(api: Emulator, batch_id: str) -> str | None:
    """The batch's processing status on the emulator; None once deleted."""
    batch = api.batch(batch_id)
    return None if batch is None else str(batch["processing_status"])


# -- one batch --------------------------------------------------------------------------


async def test_ended_batch_is_deleted(batch_emulator: Emulator, client: bd.AsyncClient) -> None:
    done = batch_emulator.add_batch("ended")
    outcome = await bd.adelete_batch(client, done.id)
    assert (outcome.status, outcome.canceled, outcome.attempts) == ("deleted", False, 1)
    assert outcome.request_id and outcome.request_id.startswith("req_")
    assert batch_emulator.batch(done.id) is None
    assert routes(batch_emulator) == ["delete"]


@pytest.mark.batch_emulator(cancel_time=30)
@pytest.mark.parametrize("status", ["in_progress", "canceling"])
async def test_running_batch_without_force(
    batch_emulator: Emulator, client: bd.AsyncClient, status: str
) -> None:
    running = batch_emulator.add_batch(status)
    with pytest.raises(bd.BatchRunningError) as info:
        await bd.adelete_batch(client, running.id)
    assert isinstance(info.value, bd.BadRequestError)
    assert status in str(info.value) and "force" in str(info.value)
    assert status_of(batch_emulator, running.id) == status  # untouched
    assert routes(batch_emulator) == ["delete", "retrieve"]


@pytest.mark.batch_emulator(frozen=False, cancel_time=0.3)
async def test_force_cancels_waits_and_deletes(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    running = batch_emulator.add_batch("in_progress")
    started = time.monotonic()
    outcome = await bd.adelete_batch(client, running.id, force=True, wait_timeout=10)
    assert (outcome.status, outcome.canceled) == ("deleted", True)
    assert 0.3 <= outcome.elapsed <= time.monotonic() - started < 5
    assert batch_emulator.batch(running.id) is None
    # refused, running, cancel; canceling right after it, ended after one wait (0.5 s)
    assert routes(batch_emulator) == ["delete", "retrieve", "cancel", *["retrieve"] * 2, "delete"]


async def test_force_on_a_canceling_batch_does_not_cancel_again(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    canceling = batch_emulator.add_batch("canceling")
    outcome = await bd.adelete_batch(client, canceling.id, force=True)
    assert (outcome.status, outcome.canceled) == ("deleted", False)
    assert "cancel" not in routes(batch_emulator)


@pytest.mark.batch_emulator(cancel_time=3600)
async def test_force_that_times_out(batch_emulator: Emulator, client: bd.AsyncClient) -> None:
    running = batch_emulator.add_batch("in_progress")
    started = time.monotonic()
    with pytest.raises(bd.CancelTimeoutError, match="still canceling"):
        await bd.adelete_batch(client, running.id, force=True, wait_timeout=0.2)
    assert time.monotonic() - started < 5
    assert status_of(batch_emulator, running.id) == "canceling"


@pytest.mark.batch_emulator(frozen=False, cancel_time=0.2)
async def test_await_until_ended(batch_emulator: Emulator, client: bd.AsyncClient) -> None:
    canceling = batch_emulator.add_batch("canceling")
    batch = await bd.await_until_ended(client, canceling.id, timeout=5, poll_interval=0.05)
    assert batch.processing_status == "ended" and batch.request_counts.canceled == 1
    assert set(routes(batch_emulator)) == {"retrieve"}


@pytest.mark.batch_emulator(cancel_time=3600)
async def test_cancelling_a_forced_wait_ends_it_at_once(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    runner_tasks = other_tasks()
    running = batch_emulator.add_batch("in_progress").id
    task = asyncio.ensure_future(bd.adelete_batch(client, running, force=True, wait_timeout=300))
    await until(lambda: routes(batch_emulator).count("retrieve") == 2)  # waiting now
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1
    assert other_tasks() == runner_tasks
    assert status_of(batch_emulator, running) == "canceling"  # not deleted
    batch_emulator.clock.advance(3600)  # the cancel is done: the client still works
    outcome = await bd.adelete_batch(client, running, force=True)
    assert (outcome.status, outcome.canceled) == ("deleted", False)


# -- "gone" is proved once per client -------------------------------------------------


async def test_missing_ok_proves_the_route_once_per_client(
    batch_emulator: Emulator, transport: str
) -> None:
    present = batch_emulator.add_batch("ended").id
    missing = [f"msgbatch_gone{i}" for i in range(8)]
    for n in (1, 2):  # two clients: one probe each, however many ids and tasks
        async with client_for(batch_emulator, transport) as client:
            outcomes = await bd.adelete_many(
                client, [present, *missing], missing_ok=True, concurrency=9
            )
            again = await bd.adelete_batch(client, "msgbatch_gone9", missing_ok=True)
        statuses = {o.id: o.status for o in outcomes}
        assert statuses == {present: "deleted" if n == 1 else "missing"} | dict.fromkeys(
            missing, "missing"
        )
        assert again.status == "missing" and again.ok
        probes = [r.target for r in batch_emulator.requests if r.method == "GET"]
        assert probes == ["/v1/messages/batches?limit=1"] * n
    with pytest.raises(bd.NotFoundError):  # without missing_ok a 404 is an error
        async with client_for(batch_emulator, transport) as client:
            await bd.adelete_batch(client, "msgbatch_gone")


async def test_missing_ok_on_a_v1_base_url_is_a_configuration_error(
    batch_emulator: Emulator, transport: str
) -> None:
    ids = [batch_emulator.add_batch("ended").id for _ in range(3)]
    with pytest.warns(UserWarning, match="ends in /v1"):
        client = client_for(batch_emulator, transport, batch_emulator.base_url + "/v1")
    async with client:
        with pytest.raises(bd.ConfigurationError) as info:
            await bd.adelete_batch(client, ids[0], missing_ok=True)
        outcomes = await bd.adelete_many(client, ids, missing_ok=True, concurrency=3)
    assert "nothing was deleted" in str(info.value) and "/v1" in str(info.value)
    assert [o.status for o in outcomes] == ["failed"] * 3  # no "missing", no "deleted"
    assert all(isinstance(o.error, bd.ConfigurationError) for o in outcomes)
    assert len(batch_emulator.batches()) == 3
    probes = [r.target for r in batch_emulator.requests if r.method == "GET"]
    assert probes == ["/v1/v1/messages/batches?limit=1"]  # remembered, not probed per id


# -- what is refused before any request -----------------------------------------------


async def test_what_is_not_a_batch_id_is_refused_before_any_request(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    runner_tasks = other_tasks()
    real = batch_emulator.add_batch("ended").id
    for bad in BAD_IDS:
        with pytest.raises(bd.InvalidBatchIdError) as info:
            await bd.adelete_batch(client, bad, missing_ok=True, force=True)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError) and info.value.batch_id == bad
        with pytest.raises(bd.InvalidBatchIdError):
            await bd.adelete_many(client, [real, bad], missing_ok=True)  # type: ignore[list-item]
    for text in ("msgbatch_abc", b"msgbatch_abc"):
        with pytest.raises(TypeError, match=r"\[batch_id\]"):
            await bd.adelete_many(client, text)  # type: ignore[arg-type]
    for concurrency in (0, 65, 1.5, True):
        with pytest.raises(bd.ConfigurationError, match="concurrency"):
            await bd.adelete_many(client, [real], concurrency=concurrency)  # type: ignore[arg-type]
    assert batch_emulator.requests == []  # the good id was not deleted either
    assert other_tasks() == runner_tasks


# -- many at once ---------------------------------------------------------------------


@pytest.mark.slow
async def test_many_are_in_flight_at_once(batch_emulator: Emulator, transport: str) -> None:
    ids = [batch_emulator.add_batch("ended").id for _ in range(200)]
    seen = watch(batch_emulator)
    batch_emulator.inject(delay=0.5, route="delete", times=None)  # answers overlap, even when busy
    # max_connections: 64 connections to the one origin (10 by default)
    async with client_for(batch_emulator, transport, max_connections=64) as client:
        outcomes = await bd.adelete_many(client, ids, concurrency=64)
    assert sorted(o.id for o in outcomes) == sorted(ids)
    assert all((o.status, o.attempts, o.canceled) == ("deleted", 1, False) for o in outcomes)
    assert batch_emulator.batches() == []
    assert len(batch_emulator.requests) == 200
    assert seen.peak >= 32, f"at most {seen.peak} requests in flight at once"


@pytest.mark.slow
async def test_waiting_for_a_pooled_connection_is_not_a_connect_timeout(
    batch_emulator: Emulator, transport: str
) -> None:
    """More tasks than connections (64 vs the default 10): the others wait
    for a free one within the deadline, and the connect timeout (0.3 s)
    bounds connecting only, as in every sync transport. (aiohttp counts the
    pool wait in its `connect` timeout: its transport uses `sock_connect`.)"""
    ids = [batch_emulator.add_batch("ended").id for _ in range(64)]
    batch_emulator.inject(delay=0.5, route="delete", times=None)
    timeout = bd.Timeout(connect=0.3, read=10)
    async with client_for(batch_emulator, transport, timeout=timeout, max_retries=0) as client:
        outcomes = await bd.adelete_many(client, ids, concurrency=64)
    failed = [o.error for o in outcomes if not o.ok]
    assert failed == [] and len(outcomes) == 64
    assert batch_emulator.batches() == []


async def test_duplicates_are_deleted_once(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    a, b = (batch_emulator.add_batch("ended").id for _ in range(2))
    outcomes = await bd.adelete_many(client, [a, b, a, a, b], concurrency=4)
    assert sorted(o.id for o in outcomes) == sorted([a, b])
    assert routes(batch_emulator) == ["delete", "delete"]


async def test_one_failure_never_stops_the_others(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    ended = [batch_emulator.add_batch("ended").id for _ in range(8)]
    running = batch_emulator.add_batch("in_progress").id
    # the running batch's check of its status fails, without a retry
    batch_emulator.inject(
        status=500, headers=(("x-should-retry", "false"),), route="retrieve", times=None
    )
    seen: list[bd.Outcome] = []
    ids = [*ended[:4], "msgbatch_missing", running, *ended[4:]]
    outcomes = await bd.adelete_many(client, ids, concurrency=4, on_outcome=seen.append)
    assert seen == outcomes and len(outcomes) == 10
    by_id = {o.id: o for o in outcomes}
    assert all(by_id[i].status == "deleted" for i in ended)
    assert isinstance(by_id["msgbatch_missing"].error, bd.NotFoundError)
    assert isinstance(by_id[running].error, bd.InternalServerError)
    assert by_id[running].status == "failed" and by_id[running].attempts == 1
    assert [b["id"] for b in batch_emulator.batches()] == [running]


async def test_an_exception_from_on_outcome_cancels_the_rest(
    batch_emulator: Emulator, client: bd.AsyncClient
) -> None:
    runner_tasks = other_tasks()
    ids = [batch_emulator.add_batch("ended").id for _ in range(12)]
    batch_emulator.inject(route="delete")  # the first delete: answered at once
    batch_emulator.inject(delay=10, route="delete", times=None)  # the others: slowly
    boom = RuntimeError("the caller's callback failed")
    seen: list[bd.Outcome] = []

    def on_outcome(outcome: bd.Outcome) -> None:
        seen.append(outcome)
        raise boom

    started = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        await bd.adelete_many(client, ids, concurrency=4, on_outcome=on_outcome)
    assert info.value is boom
    assert time.monotonic() - started < 5  # not the others' 10 s
    assert [o.status for o in seen] == ["deleted"]
    assert other_tasks() == runner_tasks


# -- cancellation in the middle -------------------------------------------------------


@pytest.mark.parametrize("how", ["task", "task group"])
@pytest.mark.slow
async def test_cancelled_in_the_middle(batch_emulator: Emulator, transport: str, how: str) -> None:
    before = asyncio.all_tasks()  # this test's and the runner's
    ids = [batch_emulator.add_batch("ended").id for _ in range(24)]
    seen = watch(batch_emulator)
    # The run's first request goes alone, answered at once on a connection
    # the emulator then closes (none is reused); the next ones are slow.
    closing = (("connection", "close"),)
    batch_emulator.inject(Fault(status=200, headers=closing, route="delete", times=1))
    batch_emulator.inject(Fault(delay=1.0, route="delete", times=None))
    left: list[set[asyncio.Task[Any]]] = []

    async def delete_16(client: bd.AsyncClient) -> None:
        try:
            await bd.adelete_many(client, ids[:16], concurrency=8)
        finally:  # checked at once, before the loop runs anything else
            left.append(asyncio.all_tasks() - before - {asyncio.current_task()})

    async with client_for(batch_emulator, transport) as client:
        if how == "task":  # a task cancelled by its owner
            task = asyncio.ensure_future(delete_16(client))
            await until(lambda: seen.in_flight == 8)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:  # a task group torn down
            async with anyio.create_task_group() as group:
                group.start_soon(delete_16, client)
                await until(lambda: seen.in_flight == 8)
                started = time.monotonic()
                group.cancel_scope.cancel()
        assert time.monotonic() - started < 0.5  # not waiting for the slow answers
        assert left == [set()]  # no worker left behind
        # The 8 connections that carried the cancelled requests were closed by
        # the client, not pooled half-read: once the emulator has written its
        # late answers, it finds each of them closed (a pooled one would stay).
        await until(lambda: seen.connections == 0 and seen.in_flight == 0)
        batch_emulator.clear_faults()
        # The client still works, and no late answer is read as a new one.
        one = await bd.adelete_batch(client, ids[16])
        rest = await bd.adelete_many(client, ids[17:], concurrency=7)
        assert seen.connections > 0  # the watch does see the connections a pool keeps
    await until(lambda: seen.connections == 0)  # and close() closes them
    assert (one.status, one.attempts) == ("deleted", 1)
    assert [(o.status, o.attempts) for o in rest] == [("deleted", 1)] * 7
    assert all(batch_emulator.batch(i) is None for i in ids[16:])
    deletes = [r.target.rsplit("/", 1)[1] for r in batch_emulator.requests]
    assert sorted(deletes[-8:]) == sorted(ids[16:])  # one request each, after the 8 late ones


# -- the async_batch_client fixture ---------------------------------------------------


async def test_the_async_batch_client_fixture(
    batch_emulator: Emulator, async_batch_client: bd.AsyncClient
) -> None:
    first = next(name for name in ASYNC_AUTO_ORDER if name in ASYNC_TRANSPORTS)
    assert async_batch_client.transport.name == first  # the automatic order
    assert async_batch_client.base_url == batch_emulator.base_url
    assert async_batch_client._max_retry_wait == 5
    done = batch_emulator.add_batch("ended")
    outcome = await bd.adelete_batch(async_batch_client, done.id)
    assert outcome.status == "deleted" and batch_emulator.batch(done.id) is None


INNER_TEST = """
import asyncio

import pytest

import batchdelete

seen = []

{setup}
async def test_uses_the_fixture(batch_emulator, async_batch_client):
    seen.append(async_batch_client)
    done = batch_emulator.add_batch("ended")
    outcome = await batchdelete.adelete_batch(async_batch_client, done.id)
    assert outcome.status == "deleted" and batch_emulator.batch(done.id) is None


def test_it_was_closed_at_teardown():
    [client] = seen
    with pytest.raises(batchdelete.ConfigurationError, match="is closed"):
        asyncio.run(client.delete("msgbatch_abc"))
"""

ANYIO_SETUP = """
@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio"""


#: The inner run needs neither a cache nor hypothesis's plugin (seconds to load).
INNER_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run_inner_pytest(tmp_path: Path, setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_inner.py"
    test.write_text(INNER_TEST.format(setup=setup))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *INNER_OPTIONS, *args, str(test)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "runner",
    [
        "anyio",
        pytest.param(
            "pytest-asyncio",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("pytest_asyncio") is None,
                reason="pytest-asyncio is not installed",
            ),
        ),
    ],
)
@pytest.mark.slow
def test_the_fixture_in_a_users_suite(tmp_path: Path, runner: str) -> None:
    if runner == "anyio":
        result = run_inner_pytest(tmp_path, ANYIO_SETUP)
    else:  # auto mode: no marker (anyio's plugin is loaded too, as for most users)
        result = run_inner_pytest(tmp_path, "", "-o", "asyncio_mode=auto")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in result.stdout
    assert "Unclosed" not in output  # aiohttp's word for a session left open
