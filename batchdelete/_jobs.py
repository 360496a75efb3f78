"""Cancel-then-delete, without I/O: like the call flow (`_flow.py`), a
generator that yields what to do (`Op`: delete, retrieve, cancel, prove the
route; `Wait`) and is sent the result, or has the call's `BatchDeleteError`
thrown in. `delete_batch` drives it with blocking calls, `adelete_batch`
with `await`, so the decisions (refused while running, force, missing-ok,
the polling back-off and its timeout) exist once."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._errors import APITimeoutError, BadRequestError, BatchDeleteError, NotFoundError
from ._models import MessageBatch

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "BatchRunningError",
    "CancelTimeoutError",
    "Op",
    "Outcome",
    "StoppedError",
    "Wait",
    "adrive",
    "delete_flow",
    "drive",
    "wait_flow",
]

DEFAULT_WAIT_TIMEOUT = 300.0


class BatchRunningError(BadRequestError):
    """The batch is still in progress or canceling, and force was not asked for."""


class CancelTimeoutError(APITimeoutError):
    """A canceled batch did not end within the wait timeout."""


class StoppedError(BatchDeleteError):
    """The work was stopped (Ctrl-C in a bulk run) while waiting for a batch."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one batch: `status` is "deleted", "missing" (not
    found, where that was allowed: already gone, or in another workspace
    than `workspace`) or "failed" (see `error`). `workspace` is where it
    was deleted or looked for: the workspace the requests named
    (`anthropic-workspace-id`), else the one the API's answer named for the
    credential, else None."""

    id: str
    status: str
    canceled: bool = False
    attempts: int = 0
    request_id: str | None = None
    elapsed: float = 0.0
    error: BatchDeleteError | None = None
    workspace: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class Op(NamedTuple):
    """Call the API: "delete" (answer: the `APIResponse`), "retrieve" or
    "cancel" (the `MessageBatch`), "confirm" the batches route (None)."""

    kind: str
    batch_id: str


class Wait(NamedTuple):
    """Wait this long before polling again; answer True if told to stop."""

    seconds: float


Step = Op | Wait
Job = Generator[Step, Any, Any]


def wait_flow(
    batch_id: str, timeout: float, poll_interval: float, max_poll_interval: float
) -> Generator[Step, Any, MessageBatch]:
    """Poll the batch, backing off, until it has ended; at most `timeout` s."""
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        batch: MessageBatch = yield Op("retrieve", batch_id)
        if not batch.running:
            return batch
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CancelTimeoutError(
                f"Batch {batch_id} is still {batch.processing_status} after waiting "
                f"{timeout:g} s for it to end; wait longer or try again later."
            )
        if (yield Wait(min(interval, remaining))):
            raise StoppedError(
                f"Stopped while waiting for batch {batch_id} to end; it is "
                f"{batch.processing_status} and was not deleted."
            )
        interval = min(interval * 2, max_poll_interval)


def delete_flow(
    batch_id: str,
    *,
    force: bool,
    missing_ok: bool,
    wait_timeout: float,
    workspace: str | None = None,
) -> Generator[Step, Any, Outcome]:
    """Delete one batch: see `delete_batch`. The outcome records where: the
    client's `workspace`, else the one the answer names."""
    started = time.monotonic()
    canceled = False
    try:
        try:
            result = yield Op("delete", batch_id)
        except BadRequestError as refused:
            batch: MessageBatch = yield Op("retrieve", batch_id)
            if not batch.running:
                # It ended since (or the 400 had another cause): one more try says which.
                result = yield Op("delete", batch_id)
                return Outcome(
                    *(batch_id, "deleted", False, result.attempts, result.request_id),
                    time.monotonic() - started,
                    workspace=workspace or _named(result.headers),
                )
            if not force:
                raise BatchRunningError(
                    f"Batch {batch_id} is still {batch.processing_status} and cannot be "
                    "deleted yet: cancel it first, or delete it with force, which "
                    "cancels it, waits for it to end and deletes it.",
                    status_code=refused.status_code,
                    body=refused.raw_body,
                    headers=refused.headers,
                    error_type=refused.error_type,
                    api_message=refused.api_message,
                    request_id=refused.request_id,
                    attempts=refused.attempts,
                ) from refused
            if batch.processing_status == "in_progress":
                yield Op("cancel", batch_id)
                canceled = True
            yield from wait_flow(batch_id, wait_timeout, 0.5, 10.0)
            result = yield Op("delete", batch_id)
    except NotFoundError as missing:
        if not missing_ok:
            raise
        yield Op("confirm", batch_id)
        # Where it was looked for: the client's workspace, else the one the
        # answer names (a token bound to one workspace, sent without the header).
        looked_in = workspace or _named(missing.headers)
        return Outcome(
            *(batch_id, "missing", canceled, missing.attempts, missing.request_id),
            time.monotonic() - started,
            workspace=looked_in,
        )
    return Outcome(
        *(batch_id, "deleted", canceled, result.attempts, result.request_id),
        time.monotonic() - started,
        workspace=workspace or _named(result.headers),
    )


def _named(headers: Mapping[str, str]) -> str | None:
    """The workspace an answer says it acted in (`anthropic-workspace-id`)."""
    return headers.get("anthropic-workspace-id") or None


def drive(job: Job, do: Callable[[Step], Any]) -> Any:
    """Run a job with blocking steps: `do(step)` returns the answer or
    raises a `BatchDeleteError`, which is thrown into the job."""
    step = next(job)
    while True:
        try:
            try:
                answer = do(step)
            except BatchDeleteError as exc:
                step = job.throw(exc)
            else:
                step = job.send(answer)
        except StopIteration as done:
            return done.value


async def adrive(job: Job, do: Callable[[Step], Awaitable[Any]]) -> Any:
    """`drive`, with steps awaited."""
    step = next(job)
    while True:
        try:
            try:
                answer = await do(step)
            except BatchDeleteError as exc:
                step = job.throw(exc)
            else:
                step = job.send(answer)
        except StopIteration as done:
            return done.value
