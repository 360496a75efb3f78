"""The shared limiter of a bulk run: one per `delete_many` / `prune`, fed by
what the server says, so that N workers meet the API's rate limit as one
patient client instead of N impatient ones.

Design (a token bucket matched to the headers, with AIMD on top):

- Rate. The API limits requests with a token bucket per organization and
  says on every answer how it stands: `anthropic-ratelimit-requests-limit`
  (per minute, so the refill is limit/60 a second) and `-remaining` (whole
  tokens left after that request). The pacer keeps an estimate of the
  server's bucket from the newest answer: its `remaining`, minus the
  requests that answer may not include (those sent after it, and those
  still in flight when it was sent: a request sent first may reach the
  server last), plus the refill since it arrived, capped at the bucket's
  size as the answers have shown it (the most `remaining` seen, plus one:
  the API may enforce the per-minute rate over shorter intervals, so the
  bucket can be smaller than the limit). A request is sent only while the
  estimate holds a whole token above a small reserve; otherwise it waits
  for the refill. Every error in the estimate is on the safe side
  (`remaining` is rounded down, the refill is counted from arrival rather
  than from when the server answered, a request in flight that the server
  had already counted is subtracted anyway), so a client alone on its key is
  paced at the refill rate without meeting
  a 429; the initial full bucket is spent at full speed. `-reset` (when the
  bucket is full again, in whole seconds) says nothing that limit and
  remaining do not say more precisely, and is not used. Without the
  headers (another server, a proxy that drops them) there is no pacing by
  rate: only the two rules below.
- Pauses. A 429 pauses every worker, not only the one that met it, for the
  `retry-after` it carries (at most the client's `max_retry_wait`; else
  0.5 s, doubling on consecutive 429s, at most 8 s); requests already sent
  finish. The estimate needs a whole token above a reserve of one, or one
  token when the answers have shown a bucket of one.
- Concurrency (AIMD, as TCP's congestion window, RFC 5681): one request
  goes alone until the first answer (which tells the limit: a full
  ceiling sent blind into a small bucket would only meet 429s); then the
  window is the ceiling (the `concurrency` argument: with the headers
  pacing the rate before any 429, a longer slow start would only hold back
  a server that has no limit), halves on a 429 or a 5xx (at most once per
  window of requests: requests sent before a cut cannot cause another,
  as TCP cuts once per round trip), and grows by one per window of
  successes (1/window per success) back to the ceiling. At least 1.

`Pacer` is the arithmetic, with no clock and no locks (the caller passes
`now`, `time.monotonic()`); `Limiter` shares it between threads and
`AsyncLimiter` between the tasks of one event loop. The call flow
(`_flow.py`) settles each request it sent; a 429 waited for here is not
counted against the call's retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ._jobs import StoppedError

__all__ = ["PACE", "AsyncLimiter", "Limiter", "PaceFigures", "Pacer", "Ticket"]

LIMIT = "anthropic-ratelimit-requests-limit"
REMAINING = "anthropic-ratelimit-requests-remaining"
RESERVE = 1.0  # tokens the estimate keeps in hand
FIRST_PAUSE = 0.5  # a 429 without retry-after
MAX_PAUSE = 8.0


class Ticket(NamedTuple):
    """One admitted request: its place in the order of sending, and how
    many requests were in flight when it was admitted."""

    seq: int
    ahead: int


@dataclass(frozen=True)
class PaceFigures:
    """How a run's limiter stands: requests sent, answers with 429 and with
    a 5xx, the concurrency window now and the requests in flight, the
    server's limit (requests per minute, None until an answer said it)."""

    requests: int
    rate_limited: int
    server_errors: int
    concurrency: int
    in_flight: int
    limit: int | None


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Pacer:
    """The limiter's arithmetic (see the module docstring). Not thread-safe."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.window = float(ceiling)
        self.in_flight = 0
        self.sent = 0
        self.rate_limited = 0
        self.server_errors = 0
        self.limit: int | None = None
        self.resume_at = 0.0
        self.stopped = False
        self.answered = False  # until then, one request at a time
        self._streak = 0  # consecutive 429s, for the pause without retry-after
        self._cut_at = 0  # requests sent when the window was last cut
        self._basis: tuple[float, int, int, float] | None = None  # remaining, ticket, at
        self._capacity = 0.0  # the bucket's size, as far as answers have shown it

    def estimate(self, now: float) -> float | None:
        """The tokens in the server's bucket now, on the safe side; None
        while no answer has carried the rate-limit headers."""
        if self._basis is None or self.limit is None:
            return None
        remaining, seq, ahead, at = self._basis
        tokens = remaining - (self.sent - seq) - ahead + (now - at) * self.limit / 60
        return min(tokens, self._capacity)

    def admit(self, now: float) -> Ticket | float | None:
        """A `Ticket` when a request may be sent now (it is counted as in
        flight), else the seconds to wait before asking again, or None to
        wait until a request in flight settles. Raises `StoppedError` once
        `stopped` is set."""
        if self.stopped:
            raise StoppedError("Stopped before this request was sent.")
        if now < self.resume_at:
            return self.resume_at - now
        if self.in_flight >= max(1, int(self.window)):
            return None
        if not self.answered and self.in_flight:
            return None  # one request until the first answer tells the limit
        tokens = self.estimate(now)
        if tokens is not None and self.limit is not None:
            need = min(1 + RESERVE, self._capacity)  # a bucket of one refills to one
            if tokens < need:
                return (need - tokens) * 60 / self.limit
        self.sent += 1
        ticket = Ticket(self.sent, self.in_flight)
        self.in_flight += 1
        return ticket

    def settle(
        self,
        ticket: Ticket,
        now: float,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> float:
        """Take in how a request ended: its status (None: no answer) and
        headers, and for a 429 the wait it asked for. Returns the pause that
        every worker now observes (0.0 when none)."""
        self.in_flight = max(0, self.in_flight - 1)
        self.answered = self.answered or status is not None
        if headers is not None:
            self._learn(ticket, now, headers)
        if status == 429:
            self.rate_limited += 1
            self._streak += 1
            pause = retry_after
            if pause is None:
                pause = min(FIRST_PAUSE * 2 ** (self._streak - 1), MAX_PAUSE)
            self.resume_at = max(self.resume_at, now + pause)
            self._cut(ticket)
        elif status is not None and status >= 500:
            self.server_errors += 1
            self._cut(ticket)
        elif status is not None:
            self._streak = 0
            self.window = min(float(self.ceiling), self.window + 1 / self.window)
        return max(0.0, self.resume_at - now)

    def figures(self) -> PaceFigures:
        return PaceFigures(
            self.sent,
            self.rate_limited,
            self.server_errors,
            max(1, int(self.window)),
            self.in_flight,
            self.limit,
        )

    def _learn(self, ticket: Ticket, now: float, headers: Mapping[str, str]) -> None:
        limit = _number(headers, LIMIT)
        remaining = _number(headers, REMAINING)
        if limit is None or remaining is None or limit < 1:
            return
        if self._basis is not None and ticket.seq < self._basis[1]:
            return  # an older answer than the one the estimate stands on
        if self.limit != int(limit):
            self._capacity = 0.0  # a new limit: its bucket may be smaller
        self.limit = int(limit)
        self._basis = (remaining, ticket.seq, ticket.ahead, now)
        # At least the most seen left after a request, plus that request.
        self._capacity = max(self._capacity, min(remaining + 1, limit))

    def _cut(self, ticket: Ticket) -> None:
        if ticket.seq > self._cut_at:
            self.window = max(1.0, self.window / 2)
            self._cut_at = self.sent


class Limiter:
    """A `Pacer` shared by the threads of one run."""

    def __init__(self, ceiling: int) -> None:
        self.pacer = Pacer(ceiling)
        self._changed = threading.Condition()

    def acquire(self, until: float | None) -> Ticket | None:
        """Wait until a request may be sent; None if `until` (monotonic)
        comes first."""
        with self._changed:
            while True:
                now = time.monotonic()
                answer = self.pacer.admit(now)
                if isinstance(answer, Ticket):
                    return answer
                if until is not None:
                    if now >= until:
                        return None
                    answer = min(until - now, answer if answer is not None else math.inf)
                self._changed.wait(answer)

    def settle(
        self,
        ticket: Ticket,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> float:
        with self._changed:
            pause = self.pacer.settle(ticket, time.monotonic(), status, headers, retry_after)
            self._changed.notify_all()
        return pause

    def stop(self) -> None:
        """Make every wait for a turn, now and later, raise `StoppedError`."""
        with self._changed:
            self.pacer.stopped = True
            self._changed.notify_all()

    def figures(self) -> PaceFigures:
        with self._changed:
            return self.pacer.figures()


class AsyncLimiter:
    """A `Pacer` shared by the tasks of one event loop."""

    def __init__(self, ceiling: int) -> None:
        self.pacer = Pacer(ceiling)
        self._changed = asyncio.Event()

    async def acquire(self, until: float | None) -> Ticket | None:
        """`Limiter.acquire`, awaited."""
        while True:
            now = time.monotonic()
            answer = self.pacer.admit(now)
            if isinstance(answer, Ticket):
                return answer
            if until is not None:
                if now >= until:
                    return None
                answer = min(until - now, answer if answer is not None else math.inf)
            changed = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), answer)

    def settle(
        self,
        ticket: Ticket,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> float:
        pause = self.pacer.settle(ticket, time.monotonic(), status, headers, retry_after)
        self._wake()
        return pause

    def stop(self) -> None:
        self.pacer.stopped = True
        self._wake()

    def figures(self) -> PaceFigures:
        return self.pacer.figures()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


# The limiter of the run this call belongs to (set by the bulk workers).
PACE: contextvars.ContextVar[Limiter | AsyncLimiter | None] = contextvars.ContextVar(
    "batchdelete_pace", default=None
)
