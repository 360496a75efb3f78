"""The emulator's rate limit: a token bucket of requests per API key.

What the API documents (Anthropic's rate-limits page, docs.claude.com/en/
api/rate-limits, as restated in the Claude Platform on AWS user guide,
"Rate limits and quotas"): limits are enforced with a token bucket whose
capacity is continuously replenished up to the maximum, not reset at fixed
intervals; a 429 `rate_limit_error` carries `retry-after`, the seconds to
wait; every response carries `anthropic-ratelimit-requests-limit` (the
requests per minute), `anthropic-ratelimit-requests-remaining` (requests
left before being limited) and `anthropic-ratelimit-requests-reset` (when
the limit is fully replenished, RFC 3339).

Where the docs are silent, this emulator chooses:

- Capacity N for a limit of N per minute, refilled at N/60 tokens a second,
  starting full: "replenished up to your maximum limit", and the limit
  header says N. The API may also enforce the per-minute rate over shorter
  intervals (its example: 60 a minute enforced as 1 a second); `burst`
  emulates that by a smaller capacity (`remaining` never exceeds it, and
  `reset` is when the bucket holds `burst` again), while the limit header
  still says N.
- One bucket per credential (the `x-api-key`, or the bearer token), across
  all endpoints; tokens from the token endpoint share their grant's (the
  federation rule's, or the refresh token chain's), so a new token brings
  no new bucket. The real API's are per organization; the emulator's
  token endpoint (`/v1/oauth/token`) is not limited.
- A request takes one token whatever its answer (a 400 or 404 too); a 429
  takes none.
- `remaining` is the whole tokens left after this request (rounded down);
  `reset` is rounded up to the whole second, in UTC with a `Z` (as the
  API's examples show), so the bucket is full by then; `retry-after` is
  whole seconds until a token is back, rounded up, at least 1.
- Requests that fail authentication belong to no bucket and carry no
  rate-limit headers; injected faults bypass the limiter.
- Changing the limit keeps each bucket's tokens (refilled at the old rate
  up to now), capped at the new capacity; removing it forgets the buckets.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ._store import Clock

__all__ = ["Limiter", "Verdict"]

EPSILON = 1e-9  # float slack: 30 s at 2 per minute is one whole token


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer for one request."""

    allowed: bool
    limit: int  # requests per minute
    headers: tuple[tuple[str, str], ...]
    retry_after: int = 0  # whole seconds, when not allowed


def check_limit(requests_per_minute: int | None) -> int | None:
    if requests_per_minute is None:
        return None
    if (
        isinstance(requests_per_minute, bool)
        or not isinstance(requests_per_minute, int)
        or requests_per_minute < 1
    ):
        raise ValueError(
            f"requests_per_minute must be a whole number of 1 or more, or None for no "
            f"limit, got {requests_per_minute!r}."
        )
    return requests_per_minute


def check_burst(burst: int | None) -> int | None:
    if burst is None:
        return None
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(
            f"burst must be a whole number of 1 or more, or None for a minute's worth, "
            f"got {burst!r}."
        )
    return burst


def _whole_seconds(moment: datetime) -> str:
    """RFC 3339 in UTC, rounded up to the whole second."""
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Limiter:
    """Token buckets per credential, on the emulator's clock, behind one lock."""

    def __init__(
        self, clock: Clock, requests_per_minute: int | None = None, burst: int | None = None
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limit = check_limit(requests_per_minute)
        self._burst = check_burst(burst)
        self._buckets: dict[str, tuple[float, datetime]] = {}  # tokens, as of

    @property
    def limit(self) -> int | None:
        with self._lock:
            return self._limit

    def set_limit(self, requests_per_minute: int | None, burst: int | None = None) -> None:
        new = check_limit(requests_per_minute)
        new_burst = check_burst(burst)
        with self._lock:
            if new is None:
                self._buckets.clear()
            elif self._limit is not None:
                now = self._clock.now()
                capacity = float(new if new_burst is None else min(new_burst, new))
                for key in list(self._buckets):
                    tokens = min(self._refilled(key, now, self._limit), capacity)
                    self._buckets[key] = (tokens, now)
            self._limit = new
            self._burst = new_burst

    def take(self, credential: str) -> Verdict | None:
        """Take a token for a request made with `credential`; None when no
        limit is set."""
        with self._lock:
            limit = self._limit
            if limit is None:
                return None
            capacity = self._capacity(limit)
            now = self._clock.now()
            tokens = self._refilled(credential, now, limit)
            allowed = tokens >= 1 - EPSILON
            if allowed:
                tokens = max(tokens - 1, 0.0)
            self._buckets[credential] = (tokens, now)
        per_second = limit / 60
        remaining = math.floor(tokens + EPSILON)
        full_at = now + timedelta(seconds=max(capacity - tokens, 0.0) / per_second)
        headers = (
            ("anthropic-ratelimit-requests-limit", str(limit)),
            ("anthropic-ratelimit-requests-remaining", str(remaining)),
            ("anthropic-ratelimit-requests-reset", _whole_seconds(full_at)),
        )
        if allowed:
            return Verdict(True, limit, headers)
        wait = max(1, math.ceil((1 - tokens) / per_second - EPSILON))
        return Verdict(False, limit, headers, wait)

    def _capacity(self, limit: int) -> float:
        return float(limit if self._burst is None else min(self._burst, limit))

    def _refilled(self, credential: str, now: datetime, limit: int) -> float:
        """The bucket's tokens at `now` (a new bucket is full). Lock held."""
        capacity = self._capacity(limit)
        state = self._buckets.get(credential)
        if state is None:
            return capacity
        tokens, since = state
        elapsed = max((now - since).total_seconds(), 0.0)
        return min(tokens + elapsed * limit / 60, capacity)
