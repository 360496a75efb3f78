"""When to retry and how long to wait: pure functions, no I/O, no clock reads."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_WAIT",
    "RetryPlan",
    "backoff",
    "plan_retry",
    "requested_wait",
    "should_retry",
]

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_WAIT = 60.0
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a response with this status and these headers may be retried.

    `x-should-retry: true` or `false` (exactly) decides first; otherwise 408,
    409, 429 and every status from 500 up are retried.
    """
    flag = headers.get("x-should-retry")
    if flag == "true":
        return True
    if flag == "false":
        return False
    return status in RETRYABLE_STATUSES or status >= 500


def _positive(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


def requested_wait(headers: Mapping[str, str], now: float) -> float | None:
    """The wait in seconds the server asked for, or None.

    `retry-after-ms` (milliseconds) first, then `retry-after` (seconds, a
    decimal allowed, or an HTTP date, compared with `now`, a Unix time). A
    value that does not parse or is not above zero is passed over.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            wait = _positive(float(millis) / 1000)
        except ValueError:
            wait = None
        if wait is not None:
            return wait
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _positive(float(value))
    except ValueError:
        pass
    import email.utils  # only for HTTP dates: its imports cost start-up time

    try:
        date = email.utils.parsedate_tz(value)
        if date is None:
            return None
        return _positive(email.utils.mktime_tz(date) - now)
    except (TypeError, ValueError, OverflowError):
        return None


def backoff(retry_index: int, rand: float) -> float:
    """The wait before retry `retry_index` (0 for the first) when the server
    named none: exponential from 0.5 s, capped at 8 s, minus up to 25 %
    jitter. `rand` is a number in [0, 1)."""
    return min(INITIAL_BACKOFF * 2.0**retry_index, MAX_BACKOFF) * (1 - 0.25 * rand)


class RetryPlan(NamedTuple):
    """What to do after a failed attempt: wait `wait` seconds and retry, or,
    when `wait` is None, stop and raise; `reason` then says why."""

    wait: float | None
    reason: str = ""


def plan_retry(
    *,
    retryable: bool,
    retries_done: int,
    max_retries: int,
    requested: float | None,
    rand: float,
    remaining: float | None,
    max_wait: float,
) -> RetryPlan:
    """Decide whether and when to retry.

    `requested` is the server's wait (see `requested_wait`), `remaining` the
    seconds left before the call's deadline (None without one), `max_wait`
    the longest server-requested wait that will be slept.
    """
    if not retryable:
        return RetryPlan(None, "")
    if retries_done >= max_retries:
        if max_retries == 0:
            return RetryPlan(None, "")
        return RetryPlan(None, f"Gave up after {retries_done + 1} attempts.")
    if requested is not None and requested > max_wait:
        return RetryPlan(
            None,
            f"Not retried: the server asked to wait {requested:g} s, longer than "
            f"max_retry_wait ({max_wait:g} s).",
        )
    wait = requested if requested is not None else backoff(retries_done, rand)
    if remaining is not None and wait >= remaining:
        return RetryPlan(
            None,
            f"Not retried: waiting {wait:.3g} s would pass the call's deadline.",
        )
    return RetryPlan(wait)
