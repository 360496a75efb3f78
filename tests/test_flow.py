"""The sans-I/O call flow, driven by hand with canned answers: no sockets,
no sleeping, nothing patched. What it yields is what a driver must do."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import batchdelete as bd
from batchdelete._flow import Call, FlowSettings, Send, Sleep, call_flow
from batchdelete._models import DeletedMessageBatch

URL = "https://api.example.test/v1/messages/batches/msgbatch_1"
OK = b'{"id": "msgbatch_1", "type": "message_batch_deleted"}'


class Hooks:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def active(self, name: str) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self.calls.append(name)


def settings(hooks: object = None, **changes: Any) -> FlowSettings:
    base = FlowSettings(
        transport="canned",
        hooks=hooks or Hooks(),
        max_retries=2,
        max_retry_wait=60.0,
        max_response_bytes=1 << 20,
        random=lambda: 0.0,
        proxy_for=lambda url: None,
    )
    return base._replace(**changes)


def call(limits: bd.Timeout | None = None) -> Call:
    return Call(
        "DELETE", URL, {"accept": "application/json"}, limits or bd.Timeout(), DeletedMessageBatch
    )


def error(status: int, *headers: tuple[str, str]) -> bd.RawResponse:
    body = json.dumps({"type": "error", "error": {"type": "x", "message": "m"}}).encode()
    return bd.RawResponse(status, dict(headers), body)


def drive(flow: Any, *answers: Any) -> tuple[list[Any], Any]:
    """Send `answers` to the Send steps (Sleep steps get None); the steps
    seen and the result (or the exception raised)."""
    steps: list[Any] = []
    queue = list(answers)
    try:
        step = next(flow)
        while True:
            steps.append(step)
            step = flow.send(queue.pop(0) if isinstance(step, Send) else None)
    except StopIteration as done:
        return steps, done.value
    except bd.BatchDeleteError as exc:
        return steps, exc


def test_a_success_is_one_send() -> None:
    hooks = Hooks()
    before = time.monotonic()
    steps, result = drive(call_flow(call(), settings(hooks)), bd.RawResponse(200, {}, OK))
    [send] = steps
    assert isinstance(send, Send) and send.spec.url == URL and send.spec.method == "DELETE"
    assert send.spec.deadline is not None and before < send.spec.deadline <= time.monotonic() + 120
    assert result.data == DeletedMessageBatch("msgbatch_1", "message_batch_deleted")
    assert result.attempts == 1 and result.transport == "canned"
    assert hooks.calls == ["on_request", "on_response"]


def test_a_retryable_status_sleeps_then_sends_again() -> None:
    hooks = Hooks()
    steps, result = drive(
        call_flow(call(), settings(hooks)), error(503), bd.RawResponse(200, {}, OK)
    )
    assert [type(s) for s in steps] == [Send, Sleep, Send]
    assert steps[1].seconds == 0.5  # backoff 0.5 s, no jitter with random() == 0
    assert result.attempts == 2
    assert hooks.calls.count("on_retry") == 1 and hooks.calls.count("on_error") == 1


def test_the_server_asked_wait_is_used() -> None:
    steps, _ = drive(
        call_flow(call(), settings()),
        error(429, ("retry-after-ms", "250")),
        bd.RawResponse(200, {}, OK),
    )
    assert steps[1] == Sleep(0.25)


def test_a_day_long_retry_after_raises_at_once() -> None:
    steps, exc = drive(call_flow(call(), settings()), error(429, ("retry-after", "86400")))
    assert [type(s) for s in steps] == [Send]
    assert isinstance(exc, bd.RateLimitError) and exc.retry_after == 86400


def test_retries_stop_at_max_retries() -> None:
    steps, exc = drive(call_flow(call(), settings(max_retries=1)), error(500), error(500))
    assert [type(s) for s in steps] == [Send, Sleep, Send]
    assert isinstance(exc, bd.InternalServerError) and exc.attempts == 2


def test_transport_errors() -> None:
    steps, result = drive(
        call_flow(call(), settings()),
        bd.TransportConnectError("reset"),
        bd.RawResponse(200, {}, OK),
    )
    assert [type(s) for s in steps] == [Send, Sleep, Send] and result.attempts == 2
    steps, exc = drive(call_flow(call(), settings()), bd.TransportCertificateError("bad cert"))
    assert [type(s) for s in steps] == [Send]  # a certificate is not retried
    assert str(exc).startswith("Certificate verify failed for api.example.test")
    steps, exc = drive(call_flow(call(), settings()), bd.TransportError("a bug"))
    assert [type(s) for s in steps] == [Send]  # nor is an unknown failure


def test_a_body_over_the_cap_is_not_retried() -> None:
    steps, exc = drive(
        call_flow(call(), settings()),
        bd.TransportResponseTooLargeError("too big", status=200, headers={"request-id": "r1"}),
    )
    assert [type(s) for s in steps] == [Send]
    assert isinstance(exc, bd.ResponseTooLargeError) and exc.request_id == "r1"


def test_no_retry_past_the_deadline() -> None:
    limits = bd.Timeout(deadline=0.2)
    steps, exc = drive(call_flow(call(limits), settings()), error(503))
    assert [type(s) for s in steps] == [Send]  # a 0.5 s backoff would pass the deadline
    assert isinstance(exc, bd.ServiceUnavailableError)
    [send] = steps
    assert send.spec.timeout.read <= 0.2 and send.spec.deadline is not None


def test_an_invalid_body_is_a_validation_error() -> None:
    hooks = Hooks()
    _, exc = drive(call_flow(call(), settings(hooks)), bd.RawResponse(200, {}, b"[" * 5000))
    assert isinstance(exc, bd.APIResponseValidationError)
    assert hooks.calls[-1] == "on_error"


def test_a_407_names_the_proxy_without_its_password() -> None:
    proxy = "http://user:s3cret@proxy.test:3128"
    _, exc = drive(call_flow(call(), settings(proxy_for=lambda url: proxy)), error(407))
    assert isinstance(exc, bd.APIStatusError) and exc.status_code == 407
    assert "http://***@proxy.test:3128" in str(exc) and "s3cret" not in str(exc)


@pytest.mark.parametrize("cap", [1, 100])
def test_the_caps_reach_the_spec(cap: int) -> None:
    steps, _ = drive(call_flow(call(), settings(max_response_bytes=cap)), error(404))
    assert (steps[0].spec.max_body, steps[0].spec.max_error_body) == (cap, cap)
