"""The deadline of async code: `async_deadline` (public as
`batchdelete.guards.async_deadline`), every deadline of an event loop under
one timer."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from ._errors import TransportTimeoutError

__all__ = ["async_deadline"]

_EXPIRED = "The attempt's deadline passed before the response was read."


class _Deadline:
    __slots__ = ("cancelling", "deadline", "expired", "task")

    def __init__(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.expired = False
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        self.cancelling = cancelling() if cancelling is not None else 0


class _Watch:
    """Every deadline of one event loop under one timer, set for the
    earliest: a request costs a set insertion, not a timer of its own."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.entries: set[_Deadline] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.wake = float("inf")  # on time.monotonic()'s clock

    def add(self, entry: _Deadline) -> None:
        self.entries.add(entry)
        if entry.deadline < self.wake:
            self._schedule(entry.deadline)

    def _schedule(self, deadline: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.wake = deadline
        when = self.loop.time() + (deadline - time.monotonic())
        self.timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.timer, self.wake = None, float("inf")
        now = time.monotonic()
        earliest = float("inf")
        for entry in list(self.entries):
            if entry.expired:
                continue
            if entry.deadline <= now:
                entry.expired = True
                entry.task.cancel()
            else:
                earliest = min(earliest, entry.deadline)
        if earliest < float("inf"):
            self._schedule(earliest)


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()


class async_deadline:  # used like a function: `async with async_deadline(t):`
    """Cancel the block at `deadline` (a `time.monotonic()` value) and raise
    `TransportTimeoutError` instead; None: no limit. A cancellation from
    outside stays a cancellation, and a `TimeoutError` the block raises
    itself is left as it is (the rules of `asyncio.timeout`). Before Python
    3.11 (no `Task.cancelling()`), an outside cancellation that arrives
    after the deadline fired, in a block that swallowed the deadline's own
    cancellation, cannot be told apart and is raised as the deadline.

    All the deadlines of an event loop share one timer, set for the earliest
    of them (a request's deadline is usually later than those already
    running, so entering costs a set insertion, not a timer): in a request
    of a few hundred microseconds, `asyncio.timeout` per request costs
    about 8 % on this machine."""

    __slots__ = ("_deadline", "_entry", "_watch")

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline
        self._entry: _Deadline | None = None
        self._watch: _Watch | None = None

    async def __aenter__(self) -> None:
        if self._deadline is None:
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None, "async_deadline needs a task"
        watch = _watches.get(loop)
        if watch is None:
            watch = _watches[loop] = _Watch(loop)
        self._watch, self._entry = watch, _Deadline(task, self._deadline)
        watch.add(self._entry)

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        entry, watch = self._entry, self._watch
        if entry is None or watch is None:
            return
        watch.entries.discard(entry)
        if not entry.expired:
            return
        uncancel = getattr(entry.task, "uncancel", None)
        outside = uncancel() > entry.cancelling if uncancel is not None else False
        if isinstance(exc, asyncio.CancelledError) and not outside:
            raise TransportTimeoutError(_EXPIRED) from exc
