"""The jobs around deletion, with blocking calls: wait for a batch to end,
cancel-then-delete one (`_jobs.delete_flow`), many on threads."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._args import WORKSPACE_HEADER
from ._client import Client
from ._errors import BatchDeleteError, ConfigurationError
from ._ids import check_batch_id, check_batch_ids, check_workspace_id
from ._jobs import (
    DEFAULT_WAIT_TIMEOUT,
    BatchRunningError,
    CancelTimeoutError,
    Op,
    Outcome,
    Step,
    StoppedError,
    delete_flow,
    drive,
    wait_flow,
)
from ._journal import Journal, open_journal
from ._models import MessageBatch
from ._pace import PACE, Limiter
from ._progress import Progress, Tally
from ._prune import check_prune_filters, parse_duration, parse_moment, select_for_prune

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ._base import BaseClient

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_CONCURRENCY",
    "BatchRunningError",
    "CancelTimeoutError",
    "Outcome",
    "Progress",
    "StoppedError",
    "check_concurrency",
    "check_prune_filters",
    "delete_batch",
    "delete_many",
    "failed",
    "parse_duration",
    "parse_moment",
    "run_many",
    "select_for_prune",
    "wait_until_ended",
    "workspace_of",
]

MAX_CONCURRENCY = 64


def workspace_of(client: BaseClient) -> str | None:
    """The workspace the client's requests name (`anthropic-workspace-id`,
    from its `workspace_id=`, a profile, ANTHROPIC_CUSTOM_HEADERS or
    `default_headers`), None when they name none. A `workspace_id=` given
    to the client must be a workspace id (`WORKSPACE_ID_PATTERN`): else
    `InvalidWorkspaceIdError` (a `ConfigurationError`), before any request."""
    given = client._args.get("workspace_id")
    if given is not None:
        check_workspace_id(given)
    return client._headers.get(WORKSPACE_HEADER)


def _doer(
    client: Client,
    betas: Iterable[str] | None,
    sleep: Callable[[float], None],
    stop: threading.Event | None,
) -> Callable[[Step], Any]:
    """How each step of a job is done with blocking calls."""

    def do(step: Step) -> Any:
        if isinstance(step, Op):
            if step.kind == "delete":
                return client.with_raw_response.delete(step.batch_id, betas=betas)
            if step.kind == "retrieve":
                return client.retrieve(step.batch_id, betas=betas)
            if step.kind == "cancel":
                return client.cancel(step.batch_id, betas=betas)
            return client._confirm_batches_route(betas)
        if stop is None:
            sleep(step.seconds)
            return False
        return stop.wait(step.seconds) or stop.is_set()

    return do


def wait_until_ended(
    client: Client,
    batch_id: str,
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll_interval: float = 0.5,
    max_poll_interval: float = 10.0,
    betas: Iterable[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> MessageBatch:
    """Poll the batch, backing off, until it has ended; at most `timeout` s.
    Setting `stop` ends the wait at once with `StoppedError`."""
    job = wait_flow(batch_id, timeout, poll_interval, max_poll_interval)
    batch: MessageBatch = drive(job, _doer(client, betas, sleep, stop))
    return batch


def delete_batch(
    client: Client,
    batch_id: str,
    *,
    force: bool = False,
    missing_ok: bool = False,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    betas: Iterable[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> Outcome:
    """Delete one batch. With `force`, a running batch is canceled, waited
    for (at most `wait_timeout` s) and then deleted; with `missing_ok`, a
    batch that does not exist counts as done, once the client has proved
    that the batches route exists (a 404 from a wrong base URL is a
    `ConfigurationError`, never "already gone"). Other failures raise.

    Only a batch id (`BATCH_ID_PATTERN`) is accepted; anything else raises
    `InvalidBatchIdError` (a ValueError) before any request; so is only a
    workspace id as the client's `workspace_id=` (`workspace_of`). The
    outcome's `workspace` is the one the requests named."""
    check_batch_id(batch_id)
    workspace = workspace_of(client)
    job = delete_flow(
        batch_id,
        force=force,
        missing_ok=missing_ok,
        wait_timeout=wait_timeout,
        workspace=workspace,
    )
    outcome: Outcome = drive(job, _doer(client, betas, sleep, stop))
    return outcome


def check_concurrency(concurrency: object) -> int:
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not (1 <= concurrency <= MAX_CONCURRENCY)
    ):
        raise ConfigurationError(
            f"concurrency must be an int from 1 to {MAX_CONCURRENCY}, got {concurrency!r}."
        )
    return concurrency


def failed(
    batch_id: str, exc: BatchDeleteError, started: float, workspace: str | None = None
) -> Outcome:
    """The outcome of a batch whose deletion (in `workspace`) raised `exc`."""
    return Outcome(
        batch_id,
        "failed",
        attempts=getattr(exc, "attempts", 0),
        request_id=getattr(exc, "request_id", None),
        elapsed=time.monotonic() - started,
        error=exc,
        workspace=workspace,
    )


def delete_many(
    client: Client,
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
    """Delete every batch on threads, at most `concurrency` requests in
    flight; one failure never stops the others. Outcomes come in the order
    they finish (also passed to `on_outcome` as they do, and the run's
    `Progress` to `on_progress` after each). On KeyboardInterrupt, batches
    not started are dropped, those under way finish (a wait for a turn or
    for a canceled batch ends at once, as failed with `StoppedError`), and
    the interrupt is raised again.

    One limiter paces the whole run by what the server says (`_pace.py`):
    the rate-limit headers set the pace before any 429; a 429 pauses every
    worker for its `retry-after`, and is not counted against the batch's
    retries; 429s and 5xx answers halve the requests in flight, successes
    grow them back to `concurrency`.

    Every id is checked before the first request (`InvalidBatchIdError`, a
    ValueError, names the first bad one) and duplicates are deleted once;
    a `str` or `bytes` instead of a list of ids is a `TypeError`.

    `journal` (a path, opened and closed here, or an open `Journal`) makes
    the run resumable: each finished outcome is recorded in it before
    `on_outcome` sees it, and the batches it already records as deleted or
    missing are skipped: no request, and no outcome (the statuses stay
    "deleted", "missing", "failed"; the skipped ones are the ids left
    without one, and `Journal.pending(ids)` tells beforehand which will be
    sent). Failed ones are tried again. A journal that cannot be read is a
    `ConfigurationError` before any request; one that cannot be written
    raises its `OSError` once the batches under way have finished.

    Each outcome (and journal line) carries the client's workspace
    (`workspace_of`; None when its requests name none), and only what the
    journal records as done in that same workspace is skipped: a batch done
    in another workspace is tried again."""
    check_concurrency(concurrency)
    ids = check_batch_ids(batch_ids)
    workspace = workspace_of(client)
    log, owned = open_journal(journal)
    try:
        todo = ids if log is None else log.pending(ids, workspace=workspace)
        return run_many(
            client,
            todo,
            Limiter(concurrency),
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


def run_many(
    client: Client,
    ids: Iterable[str],
    limiter: Limiter,
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
    """`delete_many` on checked ids, which may be a lazy stream (a listing):
    it is read only as workers free up, and its own requests, made in this
    thread, are paced by `limiter` too. An error from the stream stops the
    reading; the batches under way finish and are reported, then it is
    raised. Without `keep`, the outcomes go to the callbacks only (the list
    returned is empty), so that memory does not grow with the run."""
    from concurrent.futures import ThreadPoolExecutor, wait

    workspace = workspace_of(client)  # checked before the stream is read
    stop = threading.Event()  # set on Ctrl-C: forced waits end at once
    one = _deleter(
        client,
        limiter,
        stop,
        workspace,
        force=force,
        missing_ok=missing_ok,
        wait_timeout=wait_timeout,
        betas=None if betas is None else list(betas),
    )
    collect = _Collector(Tally(total, limiter), keep, journal, on_outcome, on_progress)
    ceiling = limiter.pacer.ceiling
    pool = ThreadPoolExecutor(max_workers=ceiling, thread_name_prefix="batchdelete")
    pending: set[Future[Outcome]] = set()
    turn = PACE.set(limiter)  # a listing read below is paced with the rest
    try:
        broken = _submit_all(pool, one, ids, ceiling, pending, collect)
        while pending:
            _collect_some(pending, collect)
        if broken is not None:
            raise broken
    except KeyboardInterrupt:
        stop.set()
        limiter.stop()
        for future in pending:
            future.cancel()
        done, _ = wait(pending)
        collect(done)
        raise
    finally:
        PACE.reset(turn)
        pool.shutdown(wait=True, cancel_futures=True)
    return collect.outcomes


def _deleter(
    client: Client,
    limiter: Limiter,
    stop: threading.Event,
    workspace: str | None,
    *,
    force: bool,
    missing_ok: bool,
    wait_timeout: float,
    betas: list[str] | None,
) -> Callable[[str], Outcome]:
    """What a worker thread does with one id: `delete_batch`, paced by
    `limiter`, a failure turned into its outcome (in `workspace`)."""

    def one(batch_id: str) -> Outcome:
        started = time.monotonic()
        turn = PACE.set(limiter)
        try:
            return delete_batch(
                client,
                batch_id,
                force=force,
                missing_ok=missing_ok,
                wait_timeout=wait_timeout,
                betas=betas,
                stop=stop,
            )
        except BatchDeleteError as exc:
            return failed(batch_id, exc, started, workspace)
        finally:
            PACE.reset(turn)

    return one


class _Collector:
    """Hands each finished outcome on, in this order: the list returned (if
    kept), the journal, `on_outcome`, then the run's progress to
    `on_progress`."""

    def __init__(
        self,
        tally: Tally,
        keep: bool,
        journal: Journal | None,
        on_outcome: Callable[[Outcome], None] | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.outcomes: list[Outcome] = []
        self._tally = tally
        self._keep = keep
        self._journal = journal
        self._on_outcome = on_outcome
        self._on_progress = on_progress

    def __call__(self, done: Iterable[Future[Outcome]]) -> None:
        for future in done:
            if not future.cancelled():
                self._hand_on(future.result())

    def _hand_on(self, outcome: Outcome) -> None:
        if self._keep:
            self.outcomes.append(outcome)
        if self._journal is not None:
            self._journal.record(outcome)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        progress = self._tally.add(outcome)
        if self._on_progress is not None:
            self._on_progress(progress)


def _submit_all(
    pool: ThreadPoolExecutor,
    one: Callable[[str], Outcome],
    ids: Iterable[str],
    ceiling: int,
    pending: set[Future[Outcome]],
    collect: _Collector,
) -> Exception | None:
    """Submit every id, reading the next only when fewer than `ceiling` are
    in flight. `pending` is updated in place, so that an interrupt sees what
    is under way. The error that broke the stream of ids, if one did (the
    batches already submitted are left to finish)."""
    source = iter(ids)
    while True:
        try:
            batch_id = next(source, None)
        except Exception as exc:  # the listing failed: finish what is under way
            return exc
        if batch_id is None:
            return None
        pending.add(pool.submit(one, batch_id))
        if len(pending) >= ceiling:
            _collect_some(pending, collect)


def _collect_some(pending: set[Future[Outcome]], collect: _Collector) -> None:
    """Wait for at least one of `pending` to finish; take the finished ones
    out of it, then collect them."""
    from concurrent.futures import FIRST_COMPLETED, wait

    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    pending.difference_update(done)
    collect(done)
