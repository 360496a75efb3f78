"""The jobs around deletion: cancel-then-delete, many at once, pruning."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ._client import Client
from ._errors import (
    APITimeoutError,
    BadRequestError,
    BatchDeleteError,
    ConfigurationError,
    NotFoundError,
)
from ._ids import check_batch_id, check_batch_ids
from ._models import MessageBatch

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "BatchRunningError",
    "CancelTimeoutError",
    "Outcome",
    "StoppedError",
    "check_prune_filters",
    "delete_batch",
    "delete_many",
    "parse_duration",
    "parse_moment",
    "select_for_prune",
    "wait_until_ended",
]

DEFAULT_WAIT_TIMEOUT = 300.0
MAX_CONCURRENCY = 64


class BatchRunningError(BadRequestError):
    """The batch is still in progress or canceling, and force was not asked for."""


class CancelTimeoutError(APITimeoutError):
    """A canceled batch did not end within the wait timeout."""


class StoppedError(BatchDeleteError):
    """The work was stopped (Ctrl-C in a bulk run) while waiting for a batch."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one batch: `status` is "deleted", "missing" (it was
    already gone and that was allowed) or "failed" (see `error`)."""

    id: str
    status: str
    canceled: bool = False
    attempts: int = 0
    request_id: str | None = None
    elapsed: float = 0.0
    error: BatchDeleteError | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


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
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        batch = client.retrieve(batch_id, betas=betas)
        if not batch.running:
            return batch
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CancelTimeoutError(
                f"Batch {batch_id} is still {batch.processing_status} after waiting "
                f"{timeout:g} s for it to end; wait longer (--wait-timeout) or try again later."
            )
        if stop is None:
            sleep(min(interval, remaining))
        elif stop.wait(min(interval, remaining)) or stop.is_set():
            raise StoppedError(
                f"Stopped while waiting for batch {batch_id} to end; it is "
                f"{batch.processing_status} and was not deleted."
            )
        interval = min(interval * 2, max_poll_interval)


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
    `InvalidBatchIdError` (a ValueError) before any request."""
    check_batch_id(batch_id)
    started = time.monotonic()
    canceled = False
    try:
        try:
            result = client.with_raw_response.delete(batch_id, betas=betas)
        except BadRequestError as refused:
            batch = client.retrieve(batch_id, betas=betas)
            if not batch.running:
                # It ended since (or the 400 had another cause): one more try says which.
                result = client.with_raw_response.delete(batch_id, betas=betas)
                return Outcome(
                    batch_id,
                    "deleted",
                    False,
                    result.attempts,
                    result.request_id,
                    time.monotonic() - started,
                )
            if not force:
                raise BatchRunningError(
                    f"Batch {batch_id} is still {batch.processing_status} and cannot be "
                    "deleted yet. Cancel it first, or use force=True (--force on the "
                    "command line) to cancel, wait and delete.",
                    status_code=refused.status_code,
                    body=refused.body,
                    headers=refused.headers,
                    error_type=refused.error_type,
                    api_message=refused.api_message,
                    request_id=refused.request_id,
                    attempts=refused.attempts,
                ) from refused
            if batch.processing_status == "in_progress":
                client.cancel(batch_id, betas=betas)
                canceled = True
            wait_until_ended(
                client, batch_id, timeout=wait_timeout, betas=betas, sleep=sleep, stop=stop
            )
            result = client.with_raw_response.delete(batch_id, betas=betas)
    except NotFoundError as missing:
        if not missing_ok:
            raise
        client._confirm_batches_route()
        return Outcome(
            batch_id,
            "missing",
            canceled,
            missing.attempts,
            missing.request_id,
            time.monotonic() - started,
        )
    return Outcome(
        batch_id,
        "deleted",
        canceled,
        result.attempts,
        result.request_id,
        time.monotonic() - started,
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
) -> list[Outcome]:
    """Delete every batch, `concurrency` at a time; one failure never stops
    the others. Outcomes come in the order they finish (also passed to
    `on_outcome` as they do). On KeyboardInterrupt, batches not started are
    dropped, those under way finish, and the interrupt is raised again.

    Every id is checked before the first request (`InvalidBatchIdError`, a
    ValueError, names the first bad one) and duplicates are deleted once;
    a `str` or `bytes` instead of a list of ids is a `TypeError`."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not (1 <= concurrency <= MAX_CONCURRENCY)
    ):
        raise ConfigurationError(
            f"concurrency must be an int from 1 to {MAX_CONCURRENCY}, got {concurrency!r}."
        )
    ids = check_batch_ids(batch_ids)
    beta_list = None if betas is None else list(betas)
    stop = threading.Event()  # set on Ctrl-C: forced waits end at once

    def one(batch_id: str) -> Outcome:
        started = time.monotonic()
        try:
            return delete_batch(
                client,
                batch_id,
                force=force,
                missing_ok=missing_ok,
                wait_timeout=wait_timeout,
                betas=beta_list,
                stop=stop,
            )
        except BatchDeleteError as exc:
            return Outcome(
                batch_id,
                "failed",
                attempts=getattr(exc, "attempts", 0),
                request_id=getattr(exc, "request_id", None),
                elapsed=time.monotonic() - started,
                error=exc,
            )

    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    outcomes: list[Outcome] = []

    def collect(done: Iterable[Future[Outcome]]) -> None:
        for future in done:
            if not future.cancelled():
                outcomes.append(future.result())
                if on_outcome is not None:
                    on_outcome(outcomes[-1])

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="batchdelete")
    pending: set[Future[Outcome]] = set()
    try:
        queue = iter(ids)
        for batch_id in queue:  # keep at most `concurrency` submitted at once
            pending.add(pool.submit(one, batch_id))
            if len(pending) >= concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            collect(done)
    except KeyboardInterrupt:
        stop.set()
        for future in pending:
            future.cancel()
        done, _ = wait(pending)
        collect(done)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """A duration like 30s, 15m, 12h, 7d, 2w, or combined: 1d12h."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigurationError(
            f"Invalid duration {text!r}: use a number and a unit, like 30s, 15m, 12h, "
            "7d or 2w (units may combine: 1d12h)."
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone, UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ConfigurationError(
            f"Invalid date {text!r}: use ISO 8601, like 2026-11-01 or 2026-11-01T12:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_prune_filters(ended_before: datetime | None, older_than: timedelta | None) -> None:
    """Refuse a prune with no filter: it would select every batch."""
    if ended_before is None and older_than is None:
        raise ConfigurationError(
            "prune needs at least one filter: --ended-before DATE or --older-than "
            "DURATION (--older-than 0s selects every batch)."
        )


def select_for_prune(
    batches: Iterable[MessageBatch],
    *,
    now: datetime,
    ended_before: datetime | None = None,
    older_than: timedelta | None = None,
    include_running: bool = False,
) -> tuple[list[MessageBatch], list[MessageBatch]]:
    """(batches to delete, running batches left alone because
    `include_running` is off). Every filter given must match:
    `ended_before`: ended before that moment (a running batch never matches);
    `older_than`: created longer ago than that."""
    check_prune_filters(ended_before, older_than)
    matched: list[MessageBatch] = []
    running: list[MessageBatch] = []
    for batch in batches:
        if ended_before is not None and (batch.ended_at is None or batch.ended_at >= ended_before):
            continue
        if older_than is not None and batch.created_at > now - older_than:
            continue
        if batch.running and not include_running:
            running.append(batch)
            continue
        matched.append(batch)
    return matched, running
