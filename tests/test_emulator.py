"""The emulator behaves like the Message Batches API, seen through our client
(every transport) and through raw HTTP."""

from __future__ import annotations

import http.client
import json
import re
import threading
from typing import Any

import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator, Fault
from batchdelete.emulator._store import Clock, Store

REQ = {"custom_id": "a", "params": {"model": "m", "max_tokens": 1, "messages": []}}


def raw(
    api: Emulator,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request with the standard library, outside the client under test."""
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    sent = {"x-api-key": api.api_key, "anthropic-version": "2023-06-01"}
    sent.update(headers or {})
    sent = {k: v for k, v in sent.items() if v}
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    headers_out = {k.lower(): v for k, v in response.getheaders()}
    return response.status, headers_out, json.loads(payload) if payload else None


@pytest.fixture
def client(batch_emulator: Emulator, transport_name: str) -> bd.Client:
    c = bd.Client(
        api_key=batch_emulator.api_key,
        base_url=batch_emulator.base_url,
        transport=transport_name,
    )
    c.slept = []  # type: ignore[attr-defined]
    c._sleep = c.slept.append  # type: ignore[attr-defined]
    return c


def test_create_validates_and_returns_a_running_batch(batch_emulator: Emulator) -> None:
    status, headers, body = raw(
        batch_emulator,
        "POST",
        "/v1/messages/batches",
        {"requests": [REQ, {**REQ, "custom_id": "b"}]},
    )
    assert status == 200
    assert re.fullmatch(r"msgbatch_[0-9A-Za-z]{24}", body["id"])
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", headers["request-id"])
    assert body["processing_status"] == "in_progress"
    assert body["request_counts"]["processing"] == 2
    assert body["ended_at"] is None and body["results_url"] is None
    for bad, why in [
        ({}, "requests"),
        ({"requests": []}, "requests"),
        ({"requests": [REQ, REQ]}, "unique"),
        ({"requests": [{"custom_id": "a"}]}, "params"),
        ({"requests": [{"custom_id": "", "params": {}}]}, "custom_id"),
        ({"requests": ["x"]}, "object"),
        ([1], "object"),
    ]:
        status, _, err = raw(batch_emulator, "POST", "/v1/messages/batches", bad)
        assert status == 400 and err["error"]["type"] == "invalid_request_error"
        assert why in err["error"]["message"]


def test_lifecycle_with_the_clock(batch_emulator: Emulator, client: bd.Client) -> None:
    batch = batch_emulator.add_batch("in_progress", requests=3)
    got = client.retrieve(batch.id)
    assert got.processing_status == "in_progress" and got.request_counts.processing == 3
    assert (got.expires_at - got.created_at).total_seconds() == 86400
    batch_emulator.clock.advance(61)
    got = client.retrieve(batch.id)
    assert got.processing_status == "ended" and got.request_counts.succeeded == 3
    assert got.ended_at is not None and got.results_url is not None
    assert got.results_url.endswith(f"/v1/messages/batches/{batch.id}/results")


@pytest.mark.batch_emulator(cancel_time=30)
def test_cancel_then_delete(batch_emulator: Emulator, client: bd.Client) -> None:
    batch = batch_emulator.add_batch("in_progress", requests=2)
    with pytest.raises(bd.BadRequestError) as info:
        client.delete(batch.id)
    assert "cancel" in info.value.api_message
    canceled = client.cancel(batch.id)
    assert canceled.processing_status == "canceling"
    assert canceled.cancel_initiated_at is not None
    assert client.cancel(batch.id).processing_status == "canceling"  # again: unchanged
    with pytest.raises(bd.BadRequestError):
        client.delete(batch.id)
    batch_emulator.clock.advance(30)
    ended = client.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 2
    assert client.delete(batch.id).id == batch.id
    with pytest.raises(bd.NotFoundError):
        client.retrieve(batch.id)
    with pytest.raises(bd.NotFoundError):
        client.delete(batch.id)


def test_expiry_after_24_hours() -> None:
    slow = Store(Clock(frozen=True), processing_time=200_000)  # longer than a day
    batch = slow.add("in_progress", requests=4)
    slow.clock.advance(86_400)
    batch.refresh(slow.clock.now())
    assert batch.processing_status == "ended" and batch.counts == {"expired": 4}


def test_list_newest_first_with_cursors(batch_emulator: Emulator, client: bd.Client) -> None:
    ids = [batch_emulator.add_batch("ended", age=100 - i).id for i in range(7)]
    newest_first = list(reversed(ids))
    assert [b.id for b in client.list(limit=3)] == newest_first
    page = client.list_page(limit=3)
    assert [b.id for b in page.data] == newest_first[:3] and page.has_more
    assert (page.first_id, page.last_id) == (newest_first[0], newest_first[2])
    after = client.list_page(limit=3, after_id=page.last_id)
    assert [b.id for b in after.data] == newest_first[3:6] and after.has_more
    last = client.list_page(limit=3, after_id=after.last_id)
    assert [b.id for b in last.data] == newest_first[6:] and not last.has_more
    before = client.list_page(limit=2, before_id=newest_first[4])
    assert [b.id for b in before.data] == newest_first[2:4] and before.has_more
    with pytest.raises(bd.BadRequestError):
        client.list_page(after_id="msgbatch_unknown")
    for query in ("limit=0", "limit=1001", "limit=x", f"after_id={ids[0]}&before_id={ids[1]}"):
        status, _, body = raw(batch_emulator, "GET", "/v1/messages/batches?" + query)
        assert status == 400 and body["error"]["type"] == "invalid_request_error", query


def test_empty_list(batch_emulator: Emulator, client: bd.Client) -> None:
    page = client.list_page()
    assert page.data == [] and not page.has_more and page.first_id is None
    assert list(client.list()) == []


@pytest.mark.parametrize(
    ("headers", "status", "error_type"),
    [
        ({"x-api-key": ""}, 401, "authentication_error"),
        ({"x-api-key": "wrong"}, 401, "authentication_error"),
        ({"anthropic-version": ""}, 400, "invalid_request_error"),
    ],
)
def test_authentication_and_version(
    batch_emulator: Emulator, headers: dict[str, str], status: int, error_type: str
) -> None:
    got, response_headers, body = raw(batch_emulator, "GET", "/v1/messages/batches", None, headers)
    assert got == status and body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert response_headers["request-id"].startswith("req_")


def test_bearer_token_is_accepted(batch_emulator: Emulator, transport_name: str) -> None:
    with bd.Client(
        auth_token=batch_emulator.api_key,
        base_url=batch_emulator.base_url,
        transport=transport_name,
    ) as c:
        assert list(c.list()) == []
    with (
        bd.Client(
            api_key="nope",
            base_url=batch_emulator.base_url,
            transport=transport_name,
            max_retries=0,
        ) as c,
        pytest.raises(bd.AuthenticationError),
    ):
        c.delete("msgbatch_x")


def test_unknown_routes(batch_emulator: Emulator) -> None:
    for method, path in [
        ("GET", "/v1/other"),
        ("PUT", "/v1/messages/batches/x"),
        ("GET", "/v1/messages/batches/x/cancel"),
        ("GET", "/v1/messages/batches/x/y/z"),
    ]:
        status, headers, body = raw(batch_emulator, method, path)
        assert status == 404 and body["error"]["type"] == "not_found_error"
        assert "request-id" in headers


def test_percent_encoded_ids_are_decoded_once(batch_emulator: Emulator, client: bd.Client) -> None:
    odd = batch_emulator.add_batch("ended", batch_id="we/ird %2F id")
    assert client.retrieve(odd.id).id == "we/ird %2F id"
    assert client.delete(odd.id).id == "we/ird %2F id"
    assert batch_emulator.requests[-1].target == "/v1/messages/batches/we%2Fird%20%252F%20id"


def test_injected_429_is_retried(batch_emulator: Emulator, client: bd.Client) -> None:
    done = batch_emulator.add_batch("ended")
    batch_emulator.inject(status=429, headers=(("retry-after", "2"),), route="delete")
    result = client.with_raw_response.delete(done.id)
    assert result.attempts == 2
    assert [r.status for r in batch_emulator.requests] == [429, 200]
    assert client.slept == [2.0]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=503, times=3), bd.ServiceUnavailableError),
        (Fault(status=500, headers=(("x-should-retry", "false"),)), bd.InternalServerError),
        (Fault(drop="before", times=3), bd.APIConnectionError),
        (Fault(drop="during", times=3), bd.APIConnectionError),
        (Fault(redirect="http://127.0.0.1:9/elsewhere"), bd.APIStatusError),
        (Fault(status=200, body=b'{"id": 1}'), bd.APIResponseValidationError),
    ],
)
def test_faults_reach_the_client_as_errors(
    batch_emulator: Emulator, client: bd.Client, fault: Fault, error: type[Exception]
) -> None:
    done = batch_emulator.add_batch("ended")
    batch_emulator.inject(fault)
    with pytest.raises(error):
        client.delete(done.id)
    assert batch_emulator.batch(done.id) is not None  # nothing was deleted


def test_fault_routes_and_counts(batch_emulator: Emulator, client: bd.Client) -> None:
    done = batch_emulator.add_batch("ended")
    batch_emulator.inject(status=500, route="retrieve", times=None)
    batch_emulator.inject(delay=0.05, route="delete")
    assert client.delete(done.id).id == done.id  # the delete route: delayed, then answered
    with pytest.raises(bd.InternalServerError):
        client.retrieve(done.id)
    batch_emulator.clear_faults()
    with pytest.raises(bd.NotFoundError):
        client.retrieve(done.id)
    with pytest.raises(ValueError):
        Fault(drop="sideways")
    with pytest.raises(ValueError):
        Fault(route="purge")


def test_keep_alive_and_many_threads(batch_emulator: Emulator, client: bd.Client) -> None:
    ids = [batch_emulator.add_batch("ended").id for _ in range(40)]
    errors: list[BaseException] = []

    def work(chunk: list[str]) -> None:
        try:
            for batch_id in chunk:
                client.delete(batch_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and batch_emulator.batches() == []


def test_seeded_ids_repeat() -> None:
    first = Emulator(seed=7, frozen=True)
    second = Emulator(seed=7, frozen=True)
    try:
        assert first.add_batch().id == second.add_batch().id
    finally:
        first.stop()
        second.stop()


def test_stop_leaves_nothing_running() -> None:
    before = threading.active_count()
    with Emulator() as api, bd.Client(api_key=api.api_key, base_url=api.base_url) as c:
        c.delete(api.add_batch("ended").id)  # a keep-alive connection stays open
    assert threading.active_count() <= before


def test_sdk_shaped_paths_for_the_neighbours(batch_emulator: Emulator, client: bd.Client) -> None:
    batch = batch_emulator.add_batch("in_progress")
    for batches in (client.messages.batches, client.beta.messages.batches):
        assert batches.retrieve(batch.id).id == batch.id
        assert [b.id for b in batches.list(limit=1)] == [batch.id]
    assert client.beta.messages.batches.cancel(batch.id).processing_status == "canceling"
    assert client.messages.batches.delete(batch.id).id == batch.id  # cancel_time 0: ended
