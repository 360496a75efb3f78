"""The jobs around deletion, awaited: `_workflows.py`'s twins for
`AsyncClient`. The decisions are `_jobs.delete_flow`'s; only the steps and
the concurrency (tasks instead of threads) are written here."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ._async_client import AsyncClient
from ._errors import BatchDeleteError
from ._ids import check_batch_id, check_batch_ids
from ._jobs import DEFAULT_WAIT_TIMEOUT, Op, Outcome, Step, adrive, delete_flow, wait_flow
from ._journal import Journal, open_journal
from ._models import MessageBatch
from ._workflows import check_concurrency, failed

__all__ = ["adelete_batch", "adelete_many", "await_until_ended"]


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
            return await client._confirm_batches_route()
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
    job = delete_flow(batch_id, force=force, missing_ok=missing_ok, wait_timeout=wait_timeout)
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
    journal: str | os.PathLike[str] | Journal | None = None,
) -> list[Outcome]:
    """`delete_many` with tasks: `concurrency` batches in flight (at most
    64), outcomes in the order they finish; one failure never stops the
    others. Cancelling the call (a task group torn down, Ctrl-C under
    `asyncio.run`) cancels the deletions under way, waits for them to end
    and leaves no task behind; an exception from `on_outcome` does the
    same and is raised. A cancelled request may have reached the API
    already: its batch has no outcome, and may be gone (run again with
    `missing_ok=True` to finish).

    `journal`: as for `delete_many` (done ones skipped without an outcome,
    failed ones tried again, each outcome recorded before `on_outcome`; an
    `OSError` writing it ends the run as an exception from `on_outcome`
    does); a cancelled batch has no line, so the next run tries it again."""
    check_concurrency(concurrency)
    ids = check_batch_ids(batch_ids)
    log, owned = open_journal(journal)
    try:
        if log is not None:
            ids = log.pending(ids)
        return await _adelete_many(
            client, ids, concurrency, force, missing_ok, wait_timeout, betas, on_outcome, log
        )
    finally:
        if owned and log is not None:
            log.close()


async def _adelete_many(
    client: AsyncClient,
    ids: list[str],
    concurrency: int,
    force: bool,
    missing_ok: bool,
    wait_timeout: float,
    betas: Iterable[str] | None,
    on_outcome: Callable[[Outcome], None] | None,
    journal: Journal | None,
) -> list[Outcome]:
    beta_list = None if betas is None else list(betas)
    do = _doer(client, beta_list)
    queue = iter(ids)
    outcomes: list[Outcome] = []

    async def worker() -> None:
        for batch_id in queue:  # one shared iterator: each id taken once
            started = time.monotonic()
            job = delete_flow(
                batch_id, force=force, missing_ok=missing_ok, wait_timeout=wait_timeout
            )
            try:
                outcome: Outcome = await adrive(job, do)
            except BatchDeleteError as exc:
                outcome = failed(batch_id, exc, started)
            outcomes.append(outcome)
            if journal is not None:
                journal.record(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(ids)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return outcomes
