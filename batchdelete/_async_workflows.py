"""The jobs around deletion, awaited: `_workflows.py`'s twins for
`AsyncClient`. The decisions are `_jobs.delete_flow`'s; only the steps and
the concurrency (tasks instead of threads) are written here."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from ._async_client import AsyncClient
from ._errors import BatchDeleteError
from ._ids import check_batch_id, check_batch_ids
from ._jobs import DEFAULT_WAIT_TIMEOUT, Op, Outcome, Step, adrive, delete_flow, wait_flow
from ._journal import Journal, open_journal
from ._models import MessageBatch
from ._pace import PACE, AsyncLimiter
from ._progress import Progress, Tally
from ._workflows import check_concurrency, failed, workspace_of

__all__ = ["adelete_batch", "adelete_many", "arun_many", "await_until_ended"]


def _doer(client: AsyncClient, betas: Iterable[str] | None) -> Callable[[Step], Awaitable[Any]]:
    """How each step of a job is awaited. A wait ends early only by
    cancellation (the task's own), never by a flag."""

    async def do(step: Step) -> Any:
        if isinstance(step, Op):
            if step.kind == "delete":
                return await client.with_raw_response.delete(step.batch_id, betas=betas)
            if step.kind == "retrieve":
                return await client.retrieve(step.batch_id, betas=betas)
            if step.kind == "cancel":
                return await client.cancel(step.batch_id, betas=betas)
            return await client._confirm_batches_route(betas)
        await asyncio.sleep(step.seconds)
        return False

    return do


async def await_until_ended(
    client: AsyncClient,
    batch_id: str,
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll_interval: float = 0.5,
    max_poll_interval: float = 10.0,
    betas: Iterable[str] | None = None,
) -> MessageBatch:
    """`wait_until_ended`, awaited; cancel the task to stop waiting."""
    job = wait_flow(batch_id, timeout, poll_interval, max_poll_interval)
    batch: MessageBatch = await adrive(job, _doer(client, betas))
    return batch


async def adelete_batch(
    client: AsyncClient,
    batch_id: str,
    *,
    force: bool = False,
    missing_ok: bool = False,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    betas: Iterable[str] | None = None,
) -> Outcome:
    """`delete_batch`, awaited: the same checks, proof and outcomes."""
    check_batch_id(batch_id)
    workspace = workspace_of(client)
    job = delete_flow(
        batch_id,
        force=force,
        missing_ok=missing_ok,
        wait_timeout=wait_timeout,
        workspace=workspace,
    )
    outcome: Outcome = await adrive(job, _doer(client, betas))
    return outcome


async def adelete_many(
    client: AsyncClient,
    batch_ids: Iterable[str],
    *,
    concurrency: int = 4,
    force: bool = False,
    missing_ok: bool = False,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    betas: Iterable[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    journal: str | os.PathLike[str] | Journal | None = None,
) -> list[Outcome]:
    """`delete_many` with tasks: at most `concurrency` requests in flight
    (at most 64), paced by one limiter for the run as `delete_many` is,
    outcomes in the order they finish, `on_progress` after each; one
    failure never stops the others. Cancelling the call (a task group torn
    down, Ctrl-C under `asyncio.run`) cancels the deletions under way,
    waits for them to end and leaves no task behind; an exception from
    `on_outcome` or `on_progress` does the same and is raised. A cancelled
    request may have reached the API already: its batch has no outcome,
    and may be gone (run again with `missing_ok=True` to finish).

    `journal`: as for `delete_many` (done ones skipped without an outcome,
    only those done in the client's workspace; failed ones tried again,
    each outcome recorded before `on_outcome`; an
    `OSError` writing it ends the run as an exception from `on_outcome`
    does); a cancelled batch has no line, so the next run tries it again."""
    check_concurrency(concurrency)
    ids = check_batch_ids(batch_ids)
    workspace = workspace_of(client)
    log, owned = open_journal(journal)
    try:
        todo = ids if log is None else log.pending(ids, workspace=workspace)
        return await arun_many(
            client,
            todo,
            AsyncLimiter(concurrency),
            total=len(todo),
            force=force,
            missing_ok=missing_ok,
            wait_timeout=wait_timeout,
            betas=betas,
            on_outcome=on_outcome,
            on_progress=on_progress,
            journal=log,
        )
    finally:
        if owned and log is not None:
            log.close()


async def arun_many(
    client: AsyncClient,
    ids: Iterable[str] | AsyncIterator[str],
    limiter: AsyncLimiter,
    *,
    total: int | None,
    force: bool,
    missing_ok: bool,
    wait_timeout: float,
    betas: Iterable[str] | None,
    on_outcome: Callable[[Outcome], None] | None,
    on_progress: Callable[[Progress], None] | None,
    journal: Journal | None,
    keep: bool = True,
) -> list[Outcome]:
    """`adelete_many` on checked ids, which may be a lazy stream (an async
    listing, read by one worker at a time as they free up, its requests
    paced by `limiter` too). `run_many`'s rules for an error from the
    stream and for `keep`."""
    beta_list = None if betas is None else list(betas)
    workspace = workspace_of(client)  # checked before the stream is read
    do = _doer(client, beta_list)
    tally = Tally(total, limiter)
    outcomes: list[Outcome] = []
    broken: list[Exception] = []
    take = _taker(ids, broken)

    async def worker() -> None:
        PACE.set(limiter)  # this task's own context
        while (batch_id := await take()) is not None:
            started = time.monotonic()
            job = delete_flow(
                batch_id,
                force=force,
                missing_ok=missing_ok,
                wait_timeout=wait_timeout,
                workspace=workspace,
            )
            try:
                outcome: Outcome = await adrive(job, do)
            except BatchDeleteError as exc:
                outcome = failed(batch_id, exc, started, workspace)
            if keep:
                outcomes.append(outcome)
            if journal is not None:
                journal.record(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
            progress = tally.add(outcome)
            if on_progress is not None:
                on_progress(progress)

    count = limiter.pacer.ceiling if total is None else min(limiter.pacer.ceiling, total)
    workers = [asyncio.ensure_future(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        limiter.stop()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    if broken:
        raise broken[0]
    return outcomes


def _taker(
    ids: Iterable[str] | AsyncIterator[str], broken: list[Exception]
) -> Callable[[], Awaitable[str | None]]:
    """The next id for a worker, None at the end: one shared iterator, each
    id taken once; an async one read under a lock (an async generator
    cannot be resumed by two tasks at once). An error reading it ends the
    stream for every worker and is kept in `broken`."""
    if not isinstance(ids, AsyncIterator):
        queue = iter(ids)

        async def take_sync() -> str | None:
            return next(queue, None)

        return take_sync
    lock = asyncio.Lock()
    stream = ids

    async def take() -> str | None:
        async with lock:
            if broken:
                return None
            try:
                return await anext(stream, None)
            except Exception as exc:  # the listing failed: the others finish
                broken.append(exc)
                return None

    return take
