"""The emulator's rate limit: a token bucket per API key on the emulator's
clock, 429 with retry-after over it, and the anthropic-ratelimit-requests-*
headers; against the real emulator on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.test_emulator import raw

LIST = "/v1/messages/batches"
LIMIT = "anthropic-ratelimit-requests-limit"
REMAINING = "anthropic-ratelimit-requests-remaining"
RESET = "anthropic-ratelimit-requests-reset"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def client(api: Emulator, **kwargs: object) -> bd.Client:
    kwargs.setdefault("max_retries", 0)
    return bd.Client(api_key=api.api_key, base_url=api.base_url, **kwargs)  # type: ignore[arg-type]


def statuses(api: Emulator) -> list[int | None]:
    return [r.status for r in api.requests]


def reset_of(headers: dict[str, str]) -> datetime:
    value = headers[RESET]
    assert RFC3339_UTC.fullmatch(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_reset(api: Emulator, headers: dict[str, str], seconds_to_full: float) -> None:
    """reset is when the bucket is full again, rounded up to the second."""
    full = api.clock.now() + timedelta(seconds=seconds_to_full)
    assert full <= reset_of(headers) < full + timedelta(seconds=1)


@pytest.mark.batch_emulator(requests_per_minute=3)
def test_the_request_over_the_limit_is_429(batch_emulator: Emulator) -> None:
    batch = batch_emulator.add_batch("ended")
    with client(batch_emulator) as c:
        for _ in range(3):
            assert c.retrieve(batch.id).id == batch.id
        with pytest.raises(bd.RateLimitError) as caught:
            c.retrieve(batch.id)
    error = caught.value
    assert error.status_code == 429 and error.error_type == "rate_limit_error"
    body = error.body
    assert isinstance(body, dict)
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "3 requests per minute" in body["error"]["message"]
    assert error.headers["retry-after"] == "20"  # 3 a minute: a token every 20 s
    assert error.retry_after == 20
    assert statuses(batch_emulator) == [200, 200, 200, 429]


@pytest.mark.batch_emulator(requests_per_minute=6)
def test_tokens_refill_with_time_and_429s_take_none(batch_emulator: Emulator) -> None:
    api = batch_emulator
    for _ in range(6):
        assert raw(api, "GET", LIST)[0] == 200
    api.clock.advance(9.9)  # a token every 10 s: 0.99 of one
    status, headers, _ = raw(api, "GET", LIST)
    assert status == 429 and headers["retry-after"] == "1"  # 0.1 s, rounded up
    for _ in range(3):  # rejected requests take no token
        assert raw(api, "GET", LIST)[0] == 429
    api.clock.advance(0.1)
    assert raw(api, "GET", LIST)[0] == 200
    status, headers, _ = raw(api, "GET", LIST)
    assert status == 429 and headers["retry-after"] == "10"
    api.clock.advance(25)  # two and a half tokens
    assert [raw(api, "GET", LIST)[0] for _ in range(3)] == [200, 200, 429]
    api.clock.advance(3600)  # refills to the capacity, no further
    assert [raw(api, "GET", LIST)[0] for _ in range(7)] == [200] * 6 + [429]
    assert statuses(api).count(429) == 7


@pytest.mark.batch_emulator(requests_per_minute=1, auth_tokens=("sk-ant-token-b",))
def test_each_api_key_has_its_own_bucket(batch_emulator: Emulator) -> None:
    api = batch_emulator
    bearer = {"x-api-key": "", "authorization": "Bearer sk-ant-token-b"}
    assert raw(api, "GET", LIST)[0] == 200
    assert raw(api, "GET", LIST)[0] == 429
    status, headers, _ = raw(api, "GET", LIST, headers=bearer)
    assert status == 200 and headers[REMAINING] == "0"
    assert raw(api, "GET", LIST, headers=bearer)[0] == 429
    batch = api.add_batch("ended")
    with (
        bd.Client(auth_token="sk-ant-token-b", base_url=api.base_url, max_retries=0) as c,
        pytest.raises(bd.RateLimitError),
    ):
        c.retrieve(batch.id)
    api.clock.advance(60)
    assert raw(api, "GET", LIST, headers=bearer)[0] == 200
    assert raw(api, "GET", LIST)[0] == 200


@pytest.mark.batch_emulator(requests_per_minute=4)
def test_headers_on_success_on_errors_and_on_429(batch_emulator: Emulator) -> None:
    api = batch_emulator
    status, headers, _ = raw(api, "GET", LIST)
    assert status == 200
    assert headers[LIMIT] == "4" and headers[REMAINING] == "3"
    assert_reset(api, headers, 15)  # one token short, a token every 15 s

    status, headers, body = raw(api, "GET", LIST + "/msgbatch_nope")
    assert status == 404 and body["error"]["type"] == "not_found_error"
    assert headers[LIMIT] == "4" and headers[REMAINING] == "2"
    assert_reset(api, headers, 30)

    status, headers, _ = raw(api, "GET", LIST, headers={"anthropic-version": ""})
    assert status == 400 and headers[REMAINING] == "1"

    status, headers, _ = raw(api, "DELETE", LIST + "/" + api.add_batch("ended").id)
    assert status == 200 and headers[REMAINING] == "0"
    assert_reset(api, headers, 60)

    status, headers, body = raw(api, "GET", LIST)
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    assert headers[LIMIT] == "4" and headers[REMAINING] == "0"
    assert headers["retry-after"] == "15"
    assert_reset(api, headers, 60)
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", headers["request-id"])

    # a request that fails authentication belongs to no bucket
    status, headers, _ = raw(api, "GET", LIST, headers={"x-api-key": "sk-ant-wrong"})
    assert status == 401 and LIMIT not in headers and "retry-after" not in headers


@pytest.mark.batch_emulator(requests_per_minute=5)
def test_remaining_counts_down_and_reset_is_when_full(batch_emulator: Emulator) -> None:
    api = batch_emulator
    seen = [raw(api, "GET", LIST)[1][REMAINING] for _ in range(5)]
    assert seen == ["4", "3", "2", "1", "0"]
    _, headers, _ = raw(api, "GET", LIST)
    reset = reset_of(headers)
    assert_reset(api, headers, 60)
    api.clock.advance((reset - api.clock.now()).total_seconds())  # full again by then
    assert [raw(api, "GET", LIST)[1][REMAINING] for _ in range(5)] == seen
    api.clock.advance(12)  # one token back, taken at once: empty, full in 60 s
    _, headers, _ = raw(api, "GET", LIST)
    assert headers[REMAINING] == "0"
    assert_reset(api, headers, 60)
    api.clock.advance(30)
    _, headers, _ = raw(api, "GET", LIST)
    assert headers[REMAINING] == "1"  # 2.5 tokens, one taken: 1.5
    assert_reset(api, headers, 3.5 * 12)
    assert datetime.fromisoformat(headers[RESET].replace("Z", "+00:00")).tzinfo == timezone.utc


def limit_now(api: Emulator) -> int | None:
    """The emulator's limit, read through a call: mypy keeps a property narrowed
    by an earlier assert, and would take the code after an `is None` for
    unreachable and leave it unchecked."""
    return api.requests_per_minute


@pytest.mark.batch_emulator(requests_per_minute=2)
def test_the_limit_changes_at_run_time(batch_emulator: Emulator) -> None:
    api = batch_emulator
    assert api.requests_per_minute == 2
    assert [raw(api, "GET", LIST)[0] for _ in range(3)] == [200, 200, 429]
    api.set_rate_limit(5)  # the bucket keeps its (no) tokens; refills faster
    status, headers, _ = raw(api, "GET", LIST)
    assert status == 429 and headers[LIMIT] == "5" and headers["retry-after"] == "12"
    api.clock.advance(12)
    assert raw(api, "GET", LIST)[0] == 200
    api.set_rate_limit(None)
    assert limit_now(api) is None
    for _ in range(10):
        status, headers, _ = raw(api, "GET", LIST)
        assert status == 200 and LIMIT not in headers
    api.set_rate_limit(1)  # buckets start full again
    assert [raw(api, "GET", LIST)[0] for _ in range(2)] == [200, 429]
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="requests_per_minute"):
            api.set_rate_limit(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="requests_per_minute"):
        Emulator(requests_per_minute=0)
    assert api.requests_per_minute == 1


def test_no_limit_no_headers(batch_emulator: Emulator) -> None:
    for path in (LIST, LIST + "/msgbatch_nope"):
        for _ in range(3):
            status, headers, _ = raw(batch_emulator, "GET", path)
            assert status in (200, 404)
            assert not [h for h in headers if h.startswith("anthropic-ratelimit")]
            assert "retry-after" not in headers


def test_serve_flag() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchdelete", "serve", "--port", "0", "--requests-per-minute", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[4]
        lines = [proc.stdout.readline().strip() for _ in range(6)]
        assert lines[4] == "export NO_PROXY=127.0.0.1,localhost"
        assert lines[5].startswith("rate limit: 2 requests per minute per API key")
        with bd.Client(api_key="sk-ant-emulator-0000", base_url=url, max_retries=0) as c:
            assert list(c.list()) == []
            assert list(c.list()) == []
            with pytest.raises(bd.RateLimitError) as caught:
                list(c.list())
        assert caught.value.headers["retry-after"] == "30"
        assert caught.value.headers[LIMIT] == "2"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "emulator stopped." in out
    assert "warning" not in err


def test_serve_flag_refuses_a_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_cli import run

    code, _, err = run(capsys, "serve", "--requests-per-minute", "0")
    assert code != 0 and "--requests-per-minute" in err


@pytest.mark.slow
def test_the_client_waits_as_retry_after_says() -> None:
    """Real time: at 60 a minute, once the bucket is empty the next request is
    a 429 with retry-after 1, and the client's one retry, a second later, passes."""
    with Emulator(requests_per_minute=60) as api:
        batch = api.add_batch("ended")
        with client(api, max_retries=1, max_retry_wait=10) as c:
            for _ in range(2):  # twice at most: a token may come back in between
                for _ in range(200):  # empty the bucket
                    if raw(api, "GET", LIST)[0] == 429:
                        break
                seen = len(api.requests)
                started = time.monotonic()
                assert c.retrieve(batch.id).id == batch.id
                took = time.monotonic() - started
                if statuses(api)[seen:] == [429, 200]:
                    break
            assert statuses(api)[seen:] == [429, 200]
    assert 0.8 <= took < 3.0, took
