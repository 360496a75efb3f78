"""The async clients in the sync test suites.

The contract, hostile-server, options, TLS and secrets suites are written
once, with blocking calls, and run against every sync transport and every
async one. For an async transport a test gets a `BlockingClient`: an
`AsyncClient` seen through a blocking facade, every coroutine of it run on
ONE event loop for the whole session (an anyio blocking portal in its own
thread; the `portal` fixture of tests/conftest.py). So the same test, the
same real loopback server and the same assertions exercise both drivers,
and an async transport is held to exactly the sync contract.

Client kinds (the `client_kind` fixture): the sync transport names
("urllib3", "httpx", "requests", "stdlib") and "async-<name>" for each
available built-in async transport ("async-aiohttp", "async-httpx").

What the facade changes, and nothing else: a coroutine method becomes a
blocking call (bounded by `CALL_LIMIT`, so that a hang fails the test
with a message instead of eating the whole session), `list()` becomes a
lazy blocking iterator, the SDK-shaped resources (`messages.batches`,
`beta.messages.batches`, `with_raw_response`) are wrapped the same way,
and `with` maps onto `async with`. Every other attribute, set or read,
is the AsyncClient's own (`transport`, `_headers`, `_sleep`, `_random`,
...). A test that needs the event loop itself (tasks, cancellation) runs a
coroutine with `BlockingClient.run`, handing it `.aclient`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

import batchdelete as bd
from batchdelete._async_resources import AsyncBatches, AsyncRawBatches, _AsyncBeta, _AsyncMessages

__all__ = [
    "ALL_KINDS",
    "ASYNC_KINDS",
    "CALL_LIMIT",
    "SYNC_KINDS",
    "BlockingClient",
    "is_async",
    "open_client",
    "record_sleeps",
    "run_blocking",
    "session_portal",
    "transport_of",
]

T = TypeVar("T")
ASYNC_PREFIX = "async-"
#: The longest a blocking call into the event loop may take. The suites'
#: slowest legitimate call is well under it (deadlines of at most 10 s).
CALL_LIMIT = 45.0

_INFOS = [t for t in bd.list_transports() if t.builtin]
SYNC_KINDS = [t.name for t in _INFOS if not t.asynchronous]
ASYNC_KINDS = [ASYNC_PREFIX + t.name for t in _INFOS if t.asynchronous and t.available]
ALL_KINDS = SYNC_KINDS + ASYNC_KINDS
#: Built-in async transports that did not load, and why (shown in pytest's header).
ASYNC_UNAVAILABLE = {t.name: t.reason for t in _INFOS if t.asynchronous and not t.available}
#: The resource objects of AsyncClient whose coroutines the facade blocks on.
_RESOURCES = (AsyncBatches, AsyncRawBatches, _AsyncMessages, _AsyncBeta)


def is_async(kind: str) -> bool:
    return kind.startswith(ASYNC_PREFIX)


def transport_of(kind: str) -> str:
    """The transport name a client kind is built with ("async-httpx" -> "httpx")."""
    return kind[len(ASYNC_PREFIX) :] if is_async(kind) else kind


@contextmanager
def session_portal() -> Iterator[BlockingPortal]:
    """One asyncio event loop in a thread, for every async client of a run."""
    with start_blocking_portal(backend="asyncio") as portal:
        yield portal


def run_blocking(portal: BlockingPortal, func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`await func(*args)` on the portal's loop, at most `CALL_LIMIT` seconds.

    A call still running then is cancelled and fails the test by name; so
    is one interrupted here (pytest-timeout, ^C), rather than left running
    in the loop that the next tests share.
    """
    future = portal.start_task_soon(func, *args)
    try:
        return future.result(CALL_LIMIT)
    except TimeoutError:
        if future.done():  # the coroutine's own TimeoutError
            raise
        future.cancel()
        name = getattr(func, "__qualname__", repr(func))
        raise AssertionError(
            f"{name} did not finish in {CALL_LIMIT:g} s on the event loop (cancelled)"
        ) from None
    except BaseException:
        future.cancel()
        raise


class _Blocking:
    """A blocking view of one async object (see the module docstring)."""

    def __init__(self, target: Any, portal: BlockingPortal) -> None:
        object.__setattr__(self, "_bd_target", target)
        object.__setattr__(self, "_bd_portal", portal)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._bd_target, name)
        if inspect.isasyncgenfunction(value):
            return functools.partial(self._iterate, value)
        if inspect.iscoroutinefunction(value):
            return functools.partial(self._block, value)
        if isinstance(value, _RESOURCES):
            return _Blocking(value, self._bd_portal)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._bd_target, name, value)

    def __repr__(self) -> str:
        return repr(self._bd_target)

    def __str__(self) -> str:
        return str(self._bd_target)

    def _block(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return run_blocking(self._bd_portal, functools.partial(method, *args, **kwargs))

    def _iterate(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The async iterator `method(...)`, one blocking step per item, as
        lazy as the sync client's generator (a page is fetched when needed)."""
        agen = method(*args, **kwargs)

        async def step() -> tuple[bool, Any]:
            try:
                return True, await agen.__anext__()
            except StopAsyncIteration:
                return False, None

        def iterate() -> Iterator[Any]:
            try:
                while True:
                    more, item = run_blocking(self._bd_portal, step)
                    if not more:
                        return
                    yield item
            finally:
                run_blocking(self._bd_portal, agen.aclose)

        return iterate()


class BlockingClient(_Blocking):
    """An `AsyncClient` driven through the session's event loop, with the
    blocking surface of `Client` (see the module docstring)."""

    @property
    def aclient(self) -> bd.AsyncClient:
        """The AsyncClient itself, for coroutines run with `run`."""
        client: bd.AsyncClient = self._bd_target
        return client

    @property
    def portal(self) -> BlockingPortal:
        portal: BlockingPortal = self._bd_portal
        return portal

    def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`await func(*args)` on the client's event loop, bounded in time."""
        return run_blocking(self._bd_portal, func, *args)

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_client(kind: str, portal: Callable[[], BlockingPortal], **kwargs: Any) -> Any:
    """A `Client` of a sync kind, or a `BlockingClient` over an `AsyncClient`
    of an async one; `transport` defaults to the kind's transport (pass
    `transport=None` for the environment's or the automatic choice).

    `portal` is called only for an async kind, so that a run of sync
    clients never starts an event loop. The AsyncClient is built here, in
    the calling thread and outside the loop, as a program may build it: its
    transport must bind to the loop of its first call, not of its making.
    """
    kwargs.setdefault("transport", transport_of(kind))
    if not is_async(kind):
        return bd.Client(**kwargs)
    running = portal()
    return BlockingClient(bd.AsyncClient(**kwargs), running)


def record_sleeps(client: Any) -> list[float]:
    """Retry waits of `client` (either kind), recorded instead of slept."""
    slept: list[float] = []
    if isinstance(client, BlockingClient):

        async def asleep(seconds: float) -> None:
            slept.append(float(seconds))

        client._sleep = asleep
    else:

        def sleep(seconds: float) -> None:
            slept.append(float(seconds))

        client._sleep = sleep
    return slept
