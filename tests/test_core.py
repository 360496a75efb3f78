"""Unit tests of the core's loop with a scripted Transport object (no HTTP)."""

from __future__ import annotations

import time
from collections import deque

import pytest

import batchdelete as bd

OK = b'{"id": "b", "type": "message_batch_deleted"}'


class Scripted(bd.Transport):
    name = "scripted"
    library_version = "9.9"

    def __init__(self, *outcomes: bd.RawResponse | Exception) -> None:
        self.outcomes = deque(outcomes)
        self.specs: list[bd.RequestSpec] = []
        self.closed = 0

    def send(self, spec: bd.RequestSpec) -> bd.RawResponse:
        self.specs.append(spec)
        outcome = self.outcomes.popleft() if self.outcomes else bd.RawResponse(200, {}, OK)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self) -> None:
        self.closed += 1


def _client(transport: Scripted, **kwargs: object) -> bd.Client:
    client = bd.Client(api_key="k", base_url="https://example.test", transport=transport, **kwargs)  # type: ignore[arg-type]
    client._sleep = lambda s: None
    return client


def test_spec_given_to_the_transport() -> None:
    t = Scripted()
    _client(t, timeout=bd.Timeout(connect=1, read=2)).delete("b", betas=["x-y"])
    [spec] = t.specs
    assert spec.method == "DELETE" and spec.body is None
    assert spec.url == "https://example.test/v1/messages/batches/b"
    assert spec.timeout == bd.Timeout(connect=1, read=2)
    assert spec.deadline is not None and spec.deadline - time.monotonic() <= 120
    assert (spec.max_body, spec.max_error_body) == (1 << 20, 64 << 10)
    assert dict(spec.headers) == {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "anthropic-version": "2023-06-01",
        "x-api-key": "k",
        "user-agent": spec.headers["user-agent"],
        "anthropic-beta": "x-y",
    }
    assert spec.headers["user-agent"].startswith("batchdelete/0.1.0 scripted/9.9 python/3.")


def test_plain_transport_error_is_not_retried() -> None:
    t = Scripted(bd.TransportError("bad URL for this library"))
    with pytest.raises(bd.APIConnectionError) as info:
        _client(t).delete("b")
    assert len(t.specs) == 1 and info.value.attempts == 1


@pytest.mark.parametrize(
    "exc",
    [bd.TransportConnectError("x"), bd.TransportProtocolError("y"), bd.TransportTimeoutError("z")],
)
def test_transport_failures_are_retried(exc: bd.TransportError) -> None:
    t = Scripted(exc)
    assert _client(t).with_raw_response.delete("b").attempts == 2


def test_timeout_error_class() -> None:
    t = Scripted(*[bd.TransportTimeoutError("read timed out")] * 3)
    with pytest.raises(bd.APITimeoutError) as info:
        _client(t).delete("b")
    assert info.value.attempts == 3 and "timed out" in str(info.value)


def test_transport_instance_is_not_closed_by_the_client() -> None:
    t = Scripted()
    with _client(t) as client:
        client.delete("b")
    assert t.closed == 0


def test_deadline_shrinks_attempt_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("batchdelete._client.time.monotonic", lambda: clock[0])
    t = Scripted(bd.TransportConnectError("x"))
    client = _client(t, timeout=bd.Timeout(connect=5, read=60, deadline=10))

    def sleep(seconds: float) -> None:
        clock[0] += seconds + 7.0  # the wait and a slow world

    client._sleep = sleep
    client._random = lambda: 0.0
    client.delete("b")
    first, second = t.specs
    assert first.timeout == bd.Timeout(connect=5, read=10, deadline=None)
    # 10 s budget - 0.5 s backoff - 7 s elsewhere = 2.5 s left for attempt 2
    assert second.timeout == bd.Timeout(connect=2.5, read=2.5)


def test_deadline_already_passed_before_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("batchdelete._client.time.monotonic", lambda: clock[0])
    t = Scripted(bd.TransportConnectError("x"))
    client = _client(t, timeout=bd.Timeout(deadline=1.0))

    def sleep(seconds: float) -> None:
        clock[0] += 5.0

    client._sleep = sleep
    with pytest.raises(bd.APITimeoutError, match="deadline of 1 s passed before attempt 2"):
        client.delete("b")
    assert len(t.specs) == 1


def test_client_repr_and_properties() -> None:
    client = _client(Scripted())
    text = repr(client)
    assert "base_url='https://example.test'" in text and "transport='scripted'" in text
    assert "auth='api_key'" in text and "'k'" not in text
    assert client.base_url == "https://example.test"


def test_response_headers_reach_the_result() -> None:
    t = Scripted(bd.RawResponse(200, {"request-id": "req_1", "x-extra": "y"}, OK))
    result = _client(t).with_raw_response.delete("b")
    assert result.headers["x-extra"] == "y" and result.request_id == "req_1"
    assert result.transport == "scripted" and result.status_code == 200


def test_sdk_shaped_paths_return_their_types() -> None:
    client = _client(Scripted())
    assert type(client.messages.batches.delete("b")) is bd.DeletedMessageBatch
    assert type(client.beta.messages.batches.delete("b")) is bd.BetaDeletedMessageBatch
    raw = client.beta.messages.batches.with_raw_response.delete("b")
    assert type(raw.data) is bd.BetaDeletedMessageBatch
    raw2 = client.messages.batches.with_raw_response.delete("b")
    assert type(raw2.parse()) is bd.DeletedMessageBatch


def test_errors_survive_pickling() -> None:
    import pickle

    t = Scripted(bd.RawResponse(429, {"request-id": "req_p", "retry-after": "1"}, b"{}"))
    with pytest.raises(bd.RateLimitError) as info:
        _client(t, max_retries=0).delete("b")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is bd.RateLimitError and str(copy) == str(info.value)
    assert (copy.status_code, copy.request_id, copy.retry_after) == (429, "req_p", 1.0)
    for error in (bd.ConfigurationError("bad"), bd.APITimeoutError("slow", attempts=3)):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        assert vars(again) == vars(error)
