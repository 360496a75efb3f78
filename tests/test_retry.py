"""The retry decision and backoff: pure functions, seeded randomness."""

from __future__ import annotations

import email.utils
import random

import pytest

from batchdelete._retry import backoff, plan_retry, requested_wait, should_retry

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (529, {}, True),
        (599, {}, True),
        (400, {}, False),
        (404, {}, False),
        (418, {}, False),
        (302, {}, False),
        (400, {"x-should-retry": "true"}, True),
        (503, {"x-should-retry": "false"}, False),
        (503, {"x-should-retry": "False"}, True),  # exact, lower case only
        (400, {"x-should-retry": "TRUE"}, False),
        (400, {"x-should-retry": "1"}, False),
    ],
)
def test_should_retry(status: int, headers: dict[str, str], expected: bool) -> None:
    assert should_retry(status, headers) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "0.5"}, 0.0005),
        ({"retry-after-ms": "x", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "-5", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "nan", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "inf"}, None),
        ({"retry-after": "1.25"}, 1.25),
        ({"retry-after": "0"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": email.utils.formatdate(NOW + 42, usegmt=True)}, 42.0),
        ({"retry-after": email.utils.formatdate(NOW - 42, usegmt=True)}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # in the past
    ],
)
def test_requested_wait(headers: dict[str, str], expected: float | None) -> None:
    got = requested_wait(headers, NOW)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_backoff_schedule_and_jitter() -> None:
    assert [backoff(n, 0.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff(0, 0.999999) == pytest.approx(0.375, rel=1e-5)
    rng = random.Random(1234)
    waits = [backoff(2, rng.random()) for _ in range(200)]
    assert all(1.5 <= w <= 2.0 for w in waits)
    assert len(set(waits)) > 150  # jitter spreads them
    assert backoff(60, 0.0) == 8.0  # no overflow for a large retry index


def _plan(**overrides: object) -> tuple[float | None, str]:
    args: dict[str, object] = dict(
        retryable=True,
        retries_done=0,
        max_retries=2,
        requested=None,
        rand=0.0,
        remaining=None,
        max_wait=60.0,
    )
    args.update(overrides)
    return tuple(plan_retry(**args))  # type: ignore[arg-type,return-value]


def test_plan_retry() -> None:
    assert _plan() == (0.5, "")
    assert _plan(retries_done=1) == (1.0, "")
    assert _plan(requested=3.0) == (3.0, "")
    assert _plan(retryable=False) == (None, "")
    assert _plan(max_retries=0) == (None, "")
    wait, why = _plan(retries_done=2)
    assert wait is None and "3 attempts" in why
    wait, why = _plan(requested=61.0)
    assert wait is None and "61 s" in why and "max_retry_wait (60 s)" in why
    assert _plan(requested=60.0) == (60.0, "")
    wait, why = _plan(requested=5.0, remaining=4.0)
    assert wait is None and "deadline" in why
    wait, why = _plan(remaining=0.1)
    assert wait is None and "deadline" in why
    assert _plan(remaining=10.0) == (0.5, "")
    wait, _ = _plan(max_wait=0.0, requested=0.001)
    assert wait is None
