"""Cancel-then-delete, many at once, and prune's selection, on the emulator."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import batchdelete as bd
from batchdelete._workflows import parse_duration, parse_moment, select_for_prune
from batchdelete.emulator import Emulator
from tests.scriptserver import ScriptServer


def status_of(api: Emulator, batch_id: str) -> object:
    """The batch's processing status on the emulator; None once deleted."""
    batch = api.batch(batch_id)
    return None if batch is None else batch["processing_status"]


def test_ended_batch_is_deleted(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    done = batch_emulator.add_batch("ended")
    outcome = bd.delete_batch(batch_client, done.id)
    assert (outcome.status, outcome.canceled, outcome.attempts) == ("deleted", False, 1)
    assert outcome.request_id and outcome.request_id.startswith("req_")
    assert batch_emulator.batch(done.id) is None


@pytest.mark.batch_emulator(cancel_time=30)
@pytest.mark.parametrize("status", ["in_progress", "canceling"])
def test_running_batch_without_force(
    batch_emulator: Emulator, batch_client: bd.Client, status: str
) -> None:
    running = batch_emulator.add_batch(status)
    with pytest.raises(bd.BatchRunningError) as info:
        bd.delete_batch(batch_client, running.id)
    assert isinstance(info.value, bd.BadRequestError)
    assert status in str(info.value) and "force" in str(info.value)
    assert "--" not in str(info.value)  # no command-line wording in the library
    assert status_of(batch_emulator, running.id) == status  # untouched
    assert [r.route for r in batch_emulator.requests] == ["delete", "retrieve"]


def test_force_cancels_waits_and_deletes(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    running = batch_emulator.add_batch("in_progress")
    outcome = bd.delete_batch(batch_client, running.id, force=True)
    assert outcome.status == "deleted" and outcome.canceled
    assert batch_emulator.batch(running.id) is None
    assert [r.route for r in batch_emulator.requests] == [
        "delete",
        "retrieve",
        "cancel",
        "retrieve",
        "delete",
    ]


def test_force_on_a_canceling_batch_does_not_cancel_again(
    batch_emulator: Emulator, batch_client: bd.Client
) -> None:
    canceling = batch_emulator.add_batch("canceling")
    outcome = bd.delete_batch(batch_client, canceling.id, force=True)
    assert outcome.status == "deleted" and not outcome.canceled
    assert "cancel" not in [r.route for r in batch_emulator.requests]


@pytest.mark.batch_emulator(cancel_time=30)
def test_force_polls_until_the_batch_ends(
    batch_emulator: Emulator, batch_client: bd.Client
) -> None:
    running = batch_emulator.add_batch("in_progress")
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # emulated time moves; nobody sleeps
        waits.append(seconds)
        batch_emulator.clock.advance(10)

    outcome = bd.delete_batch(batch_client, running.id, force=True, sleep=sleep)
    assert outcome.status == "deleted" and outcome.canceled
    assert waits == [0.5, 1.0, 2.0]  # backing off between polls


@pytest.mark.batch_emulator(cancel_time=3600)
def test_force_that_times_out(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    running = batch_emulator.add_batch("in_progress")
    with pytest.raises(bd.CancelTimeoutError) as info:
        bd.delete_batch(batch_client, running.id, force=True, wait_timeout=0.2)
    assert isinstance(info.value, bd.APITimeoutError)
    assert "still canceling" in str(info.value) and "wait longer" in str(info.value)
    assert status_of(batch_emulator, running.id) == "canceling"


def test_batch_that_ended_meanwhile_is_deleted(
    batch_emulator: Emulator, batch_client: bd.Client
) -> None:
    done = batch_emulator.add_batch("ended")
    batch_emulator.inject(status=400, route="delete")  # a refusal, then it has ended
    outcome = bd.delete_batch(batch_client, done.id)
    assert outcome.status == "deleted"


def test_missing_ok(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    outcome = bd.delete_batch(batch_client, "msgbatch_gone", missing_ok=True)
    assert outcome.status == "missing" and outcome.ok
    with pytest.raises(bd.NotFoundError):
        bd.delete_batch(batch_client, "msgbatch_gone")


def test_many_with_partial_failures(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    ended = [batch_emulator.add_batch("ended").id for _ in range(6)]
    running = batch_emulator.add_batch("in_progress").id
    ids = [*ended[:3], "msgbatch_missing", running, *ended[3:], ended[0]]
    seen: list[bd.Outcome] = []
    outcomes = bd.delete_many(batch_client, ids, concurrency=3, on_outcome=seen.append)
    assert seen == outcomes
    by_id = {o.id: o for o in outcomes}
    assert len(outcomes) == 8  # the repeated id once
    assert all(by_id[i].status == "deleted" for i in ended)
    assert isinstance(by_id["msgbatch_missing"].error, bd.NotFoundError)
    assert isinstance(by_id[running].error, bd.BatchRunningError)
    assert [b["id"] for b in batch_emulator.batches()] == [running]


def test_many_force_and_missing_ok(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    ids = [batch_emulator.add_batch(s).id for s in ("ended", "in_progress", "canceling")]
    outcomes = bd.delete_many(
        batch_client, [*ids, "msgbatch_missing"], force=True, missing_ok=True, concurrency=4
    )
    assert sorted(o.status for o in outcomes) == ["deleted", "deleted", "deleted", "missing"]
    assert batch_emulator.batches() == []


@pytest.mark.parametrize("concurrency", [0, 65, 1.5, True])
def test_concurrency_is_bounded(batch_client: bd.Client, concurrency: object) -> None:
    with pytest.raises(bd.ConfigurationError, match="concurrency"):
        bd.delete_many(batch_client, ["msgbatch_a"], concurrency=concurrency)  # type: ignore[arg-type]


def test_unreachable_server() -> None:
    with ScriptServer() as gone:
        url = gone.url
    with bd.Client(api_key="k", base_url=url, max_retries=0) as client:
        outcomes = bd.delete_many(client, ["msgbatch_a", "msgbatch_b"], force=True)
    assert all(isinstance(o.error, bd.APIConnectionError) for o in outcomes)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("0s", 0),
        ("1.5h", 5400),
        (" 7D ", 604800),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "7d junk", "1d 2h", "one day"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(bd.ConfigurationError, match="Invalid duration"):
        parse_duration(text)


def test_parse_moment() -> None:
    utc = timezone.utc
    assert parse_moment("2026-11-01") == datetime(2026, 11, 1, tzinfo=utc)
    assert parse_moment("2026-11-01T12:30:00Z") == datetime(2026, 11, 1, 12, 30, tzinfo=utc)
    assert parse_moment("2026-11-01T12:30:00+02:00") == datetime(2026, 11, 1, 10, 30, tzinfo=utc)
    for bad in ("yesterday", "2026-13-01", "01/11/2026", ""):
        with pytest.raises(bd.ConfigurationError, match="Invalid date"):
            parse_moment(bad)


def _batch(batch_id: str, created_days_ago: float, ended_days_ago: float | None) -> bd.MessageBatch:
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    created = now - timedelta(days=created_days_ago)
    return bd.MessageBatch(
        id=batch_id,
        type="message_batch",
        processing_status="ended" if ended_days_ago is not None else "in_progress",
        request_counts=bd.RequestCounts(),
        created_at=created,
        expires_at=created + timedelta(days=1),
        ended_at=None if ended_days_ago is None else now - timedelta(days=ended_days_ago),
    )


def test_select_for_prune() -> None:
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    batches = [_batch("old", 10, 9), _batch("new", 1, 0.5), _batch("run", 10, None)]

    def ids(**filters: object) -> tuple[list[str], list[str]]:
        matched, running = select_for_prune(batches, now=now, **filters)  # type: ignore[arg-type]
        return [b.id for b in matched], [b.id for b in running]

    assert ids(older_than=timedelta(days=7)) == (["old"], ["run"])
    assert ids(older_than=timedelta(days=7), include_running=True) == (["old", "run"], [])
    assert ids(ended_before=now - timedelta(days=1)) == (["old"], [])
    assert ids(ended_before=now, include_running=True) == (["old", "new"], [])
    assert ids(older_than=timedelta(days=30)) == ([], [])
    assert ids(older_than=timedelta(0)) == (["old", "new"], ["run"])
    both = ids(older_than=timedelta(days=5), ended_before=now - timedelta(days=20))
    assert both == ([], [])
    with pytest.raises(bd.ConfigurationError, match="needs at least one filter"):
        select_for_prune(batches, now=now)


def test_waits_are_bounded_in_time(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    batch_emulator.store.cancel_time = 3600
    running = batch_emulator.add_batch("canceling")
    started = time.monotonic()
    with pytest.raises(bd.CancelTimeoutError):
        bd.wait_until_ended(batch_client, running.id, timeout=0.3, poll_interval=0.05)
    assert time.monotonic() - started < 5


@pytest.mark.batch_emulator(cancel_time=3600)
def test_stop_ends_a_forced_wait_at_once(batch_emulator: Emulator, batch_client: bd.Client) -> None:
    import threading

    running = batch_emulator.add_batch("canceling")
    stop = threading.Event()
    stop.set()
    with pytest.raises(bd.StoppedError, match="was not deleted"):
        bd.wait_until_ended(batch_client, running.id, timeout=300, stop=stop)


@pytest.mark.batch_emulator(cancel_time=3600)
def test_ctrl_c_during_a_forced_wait_returns_promptly(
    batch_emulator: Emulator, batch_client: bd.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    real_wait = concurrent.futures.wait
    calls = [0]

    def wait_then_ctrl_c(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 1:  # the main thread is interrupted while the worker waits
            time.sleep(0.3)
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "wait", wait_then_ctrl_c)
    running = batch_emulator.add_batch("in_progress").id
    seen: list[bd.Outcome] = []
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        bd.delete_many(
            batch_client, [running], force=True, wait_timeout=300, on_outcome=seen.append
        )
    assert time.monotonic() - started < 30  # not the 300 s wait timeout
    [outcome] = seen
    assert isinstance(outcome.error, bd.StoppedError) and outcome.status == "failed"
    assert status_of(batch_emulator, running) == "canceling"


@pytest.mark.slow
def test_waiting_for_a_pooled_connection_is_not_a_connect_timeout(
    batch_emulator: Emulator, transport_name: str
) -> None:
    """More threads than connections (32 vs max_connections=4): the others
    wait for a free one within the deadline; the connect timeout (0.3 s)
    bounds connecting only. The async twin is in test_async_workflows.py."""
    ids = [batch_emulator.add_batch("ended").id for _ in range(32)]
    batch_emulator.inject(delay=0.5, route="delete", times=None)
    with bd.Client(
        api_key=batch_emulator.api_key,
        base_url=batch_emulator.base_url,
        transport=transport_name,
        timeout=bd.Timeout(connect=0.3, read=10),
        max_retries=0,
        max_connections=4,
    ) as client:
        outcomes = bd.delete_many(client, ids, concurrency=32)
    assert [o.error for o in outcomes if not o.ok] == [] and len(outcomes) == 32
    assert batch_emulator.batches() == []
