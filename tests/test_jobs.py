"""The cancel-then-delete job (`_jobs.py`) driven by hand: canned answers,
errors thrown in, no client, no sockets, no sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

import batchdelete as bd
from batchdelete._jobs import Op, Wait, adrive, delete_flow, drive, wait_flow
from batchdelete._models import RequestCounts

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def batch(status: str) -> bd.MessageBatch:
    return bd.MessageBatch(
        "msgbatch_1", "message_batch", status, RequestCounts(0, 0, 0, 0, 0), NOW, NOW
    )


def deleted(attempts: int = 1) -> bd.APIResponse[bd.DeletedMessageBatch]:
    data = bd.DeletedMessageBatch("msgbatch_1", "message_batch_deleted")
    return bd.APIResponse(data, 200, {}, "req_ok", attempts, "canned", 0.0)


def status_error(kind: type[bd.APIStatusError], code: int) -> bd.APIStatusError:
    return kind(
        f"{code}",
        status_code=code,
        body=b"",
        headers={},
        error_type=None,
        api_message="",
        request_id=f"req_{code}",
        attempts=2,
    )


def script(*answers: Any) -> tuple[Callable[[Any], Any], list[Any]]:
    """A `do` that answers the steps in order (an exception is raised) and
    records them."""
    steps: list[Any] = []
    queue = list(answers)

    def do(step: Any) -> Any:
        steps.append(step)
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return do, steps


def run(do: Callable[[Any], Any], **options: Any) -> bd.Outcome:
    settings = {"force": False, "missing_ok": False, "wait_timeout": 60.0, **options}
    outcome: bd.Outcome = drive(delete_flow("msgbatch_1", **settings), do)
    return outcome


def test_an_ended_batch_is_one_delete() -> None:
    do, steps = script(deleted(attempts=3))
    outcome = run(do)
    assert steps == [Op("delete", "msgbatch_1")]
    assert (outcome.status, outcome.attempts, outcome.request_id) == ("deleted", 3, "req_ok")


def test_a_running_batch_without_force_raises_and_touches_nothing() -> None:
    do, steps = script(status_error(bd.BadRequestError, 400), batch("in_progress"))
    with pytest.raises(bd.BatchRunningError) as info:
        run(do)
    assert [s.kind for s in steps] == ["delete", "retrieve"]
    assert info.value.status_code == 400 and info.value.request_id == "req_400"
    assert "--" not in str(info.value)


def test_a_400_for_a_batch_that_ended_since_is_tried_once_more() -> None:
    do, steps = script(status_error(bd.BadRequestError, 400), batch("ended"), deleted())
    assert run(do).status == "deleted"
    assert [s.kind for s in steps] == ["delete", "retrieve", "delete"]


def test_force_cancels_waits_with_backoff_and_deletes() -> None:
    do, steps = script(
        status_error(bd.BadRequestError, 400),
        batch("in_progress"),
        batch("canceling"),  # the cancel's answer
        batch("canceling"),
        False,
        batch("canceling"),
        False,
        batch("ended"),
        deleted(),
    )
    outcome = run(do, force=True)
    assert outcome.status == "deleted" and outcome.canceled
    kinds = [s.kind if isinstance(s, Op) else s.seconds for s in steps]
    assert kinds == [
        *("delete", "retrieve", "cancel"),
        *("retrieve", 0.5, "retrieve", 1.0, "retrieve"),
        "delete",
    ]


def test_force_on_a_canceling_batch_does_not_cancel_again() -> None:
    do, steps = script(
        status_error(bd.BadRequestError, 400), batch("canceling"), batch("ended"), deleted()
    )
    outcome = run(do, force=True)
    assert outcome.status == "deleted" and not outcome.canceled
    assert "cancel" not in [s.kind for s in steps if isinstance(s, Op)]


def test_a_wait_told_to_stop_raises_stopped() -> None:
    do, _ = script(
        status_error(bd.BadRequestError, 400), batch("canceling"), batch("canceling"), True
    )
    with pytest.raises(bd.StoppedError, match="was not deleted"):
        run(do, force=True)


def test_the_wait_times_out() -> None:
    do, steps = script(batch("canceling"))
    job = wait_flow("msgbatch_1", 0.0, 0.5, 10.0)
    with pytest.raises(bd.CancelTimeoutError, match="wait longer"):
        drive(job, do)
    assert steps == [Op("retrieve", "msgbatch_1")]


def test_the_poll_interval_doubles_up_to_its_cap() -> None:
    answers: list[Any] = []
    for _ in range(6):
        answers += [batch("canceling"), False]
    do, steps = script(*answers, batch("ended"))
    drive(wait_flow("msgbatch_1", 3600.0, 1.0, 4.0), do)
    assert [s.seconds for s in steps if isinstance(s, Wait)] == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_missing_ok_proves_the_route_before_saying_missing() -> None:
    do, steps = script(status_error(bd.NotFoundError, 404), None)
    outcome = run(do, missing_ok=True)
    assert [s.kind for s in steps] == ["delete", "confirm"]
    assert (outcome.status, outcome.attempts, outcome.request_id) == ("missing", 2, "req_404")


def test_a_route_that_proves_missing_is_never_a_success() -> None:
    wrong = bd.ConfigurationError("the batches route answered 404")
    do, _ = script(status_error(bd.NotFoundError, 404), wrong)
    with pytest.raises(bd.ConfigurationError, match="route"):
        run(do, missing_ok=True)


def test_not_found_without_missing_ok_raises() -> None:
    do, steps = script(status_error(bd.NotFoundError, 404))
    with pytest.raises(bd.NotFoundError):
        run(do)
    assert len(steps) == 1


def test_a_batch_gone_during_the_wait_counts_as_missing_with_missing_ok() -> None:
    do, _ = script(
        status_error(bd.BadRequestError, 400),
        batch("in_progress"),
        batch("canceling"),
        status_error(bd.NotFoundError, 404),  # the retrieve while waiting
        None,
    )
    outcome = run(do, force=True, missing_ok=True)
    assert outcome.status == "missing" and outcome.canceled


def test_the_async_driver_runs_the_same_job() -> None:
    do, steps = script(
        status_error(bd.BadRequestError, 400),
        batch("in_progress"),
        batch("canceling"),
        batch("ended"),
        deleted(),
    )

    async def ado(step: Any) -> Any:
        await asyncio.sleep(0)
        return do(step)

    job = delete_flow("msgbatch_1", force=True, missing_ok=False, wait_timeout=60.0)
    outcome = asyncio.run(adrive(job, ado))
    assert outcome.status == "deleted" and outcome.canceled
    assert [s.kind for s in steps] == ["delete", "retrieve", "cancel", "retrieve", "delete"]
