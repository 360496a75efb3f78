"""Edges of `async_deadline` (issue 12, branch coverage): several deadlines
under one timer (a nearer one added after a later one, a later one that
leaves the timer alone), a deadline that expires while another is still
running, a block that swallows the cancellation, a cancellation from
outside after the deadline's. Deadlines already past or far away, so no
assertion depends on timing; every wait is bounded by `asyncio.wait_for`."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from batchdelete._errors import TransportTimeoutError
from batchdelete.guards import async_deadline

BOUND = 30.0  # seconds: a hang fails the test instead of holding the suite


def past() -> float:
    return time.monotonic() - 1.0


def far() -> float:
    return time.monotonic() + 3600.0


def run(coro: object) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(coro, BOUND)  # type: ignore[arg-type]

    return asyncio.run(bounded())


def test_no_deadline_is_no_limit() -> None:
    async def main() -> str:
        async with async_deadline(None):
            await asyncio.sleep(0)
        return "done"

    assert run(main()) == "done"


def test_a_past_deadline_raises_a_timeout_error() -> None:
    async def main() -> None:
        async with async_deadline(past()):
            await asyncio.sleep(BOUND * 2)

    with pytest.raises(TransportTimeoutError, match="deadline passed"):
        run(main())


def test_a_nearer_deadline_under_a_running_later_one() -> None:
    """A far deadline first (the timer is set for it), a later one (the
    timer stays), then a past one (the timer is moved): only the past one
    expires, and the others finish."""
    outcomes: dict[str, str] = {}

    async def block(name: str, deadline: float, release: asyncio.Event) -> None:
        try:
            async with async_deadline(deadline):
                await release.wait()
            outcomes[name] = "finished"
        except TransportTimeoutError:
            outcomes[name] = "timed out"

    async def main() -> None:
        release = asyncio.Event()
        first = asyncio.create_task(block("far", far(), release))
        await asyncio.sleep(0)
        later = asyncio.create_task(block("later", far() + 60.0, release))
        await asyncio.sleep(0)
        await block("past", past(), release)  # the timer fires; "far" is rescheduled
        release.set()
        await asyncio.gather(first, later)

    run(main())
    assert outcomes == {"far": "finished", "later": "finished", "past": "timed out"}


def test_a_block_that_swallows_the_cancellation_ends_normally() -> None:
    """The deadline fires; the block catches the cancellation and goes on
    awaiting, while another deadline fires (the expired entry is passed
    over); the block then returns, and no timeout is raised for it."""

    async def swallower(swallowed: asyncio.Event, resume: asyncio.Event) -> str:
        async with async_deadline(past()):
            try:
                await asyncio.sleep(BOUND * 2)
            except asyncio.CancelledError:
                swallowed.set()
                await resume.wait()
        return "returned"

    async def main() -> tuple[object, str]:
        swallowed, resume = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(swallower(swallowed, resume))
        await swallowed.wait()
        with pytest.raises(TransportTimeoutError):
            async with async_deadline(past()):  # a second firing, with the first still entered
                await asyncio.sleep(BOUND * 2)
        resume.set()
        result = await task
        return result, "second timed out"

    assert run(main()) == ("returned", "second timed out")


def test_a_cancellation_from_outside_after_the_deadline_stays_a_cancellation() -> None:
    async def victim(first: asyncio.Event) -> None:
        async with async_deadline(past()):
            try:
                await asyncio.sleep(BOUND * 2)
            except asyncio.CancelledError:
                first.set()  # the deadline's cancellation; now wait for the outside one
            await asyncio.sleep(BOUND * 2)

    async def main() -> None:
        first = asyncio.Event()
        task = asyncio.create_task(victim(first))
        await first.wait()
        task.cancel()
        # Python 3.10 has no Task.cancelling(): the two cancellations cannot be told
        # apart there, and the deadline's error wins (as async_deadline's docstring says).
        old = sys.version_info < (3, 11)
        with pytest.raises(TransportTimeoutError if old else asyncio.CancelledError):
            await task

    run(main())


def test_a_timeout_error_of_the_block_itself_is_left_as_it_is() -> None:
    async def main() -> None:
        async with async_deadline(far()):
            raise TimeoutError("the block's own")

    with pytest.raises(TimeoutError, match="the block's own") as caught:
        run(main())
    assert not isinstance(caught.value, TransportTimeoutError)
