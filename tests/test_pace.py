"""The shared limiter of a bulk run (`_pace.py`): the `Pacer`'s arithmetic
with a hand-driven clock (no sleeping, no sockets), the flow's pacing
(`call_flow` with a `Limiter`, driven by hand as in test_flow.py), and the
few real-time waits of `Limiter` and `AsyncLimiter` (each well under a
second)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

import batchdelete as bd
from batchdelete._flow import MAX_PACED_429, Admit, Send, Sleep, call_flow
from batchdelete._pace import (
    FIRST_PAUSE,
    MAX_PAUSE,
    RESERVE,
    AsyncLimiter,
    Limiter,
    PaceFigures,
    Pacer,
    Ticket,
)
from batchdelete._progress import Tally
from tests.test_flow import OK, call, error, settings

pytestmark = pytest.mark.timeout(30)

LIMIT = "anthropic-ratelimit-requests-limit"
REMAINING = "anthropic-ratelimit-requests-remaining"


def rl(limit: int, remaining: int) -> dict[str, str]:
    """The rate-limit headers of one answer."""
    return {LIMIT: str(limit), REMAINING: str(remaining)}


def tickets(pacer: Pacer, count: int, now: float = 0.0) -> list[Ticket]:
    """Admit `count` requests at `now`; each must be let through."""
    admitted = []
    for _ in range(count):
        answer = pacer.admit(now)
        assert isinstance(answer, Ticket), answer
        admitted.append(answer)
    return admitted


def state(pacer: Pacer, now: float) -> tuple[Any, ...]:
    """Everything a settle may change, but the requests in flight."""
    figures = pacer.figures()
    return (
        pacer.window,
        pacer.resume_at,
        pacer.limit,
        pacer.estimate(now),
        pacer.admit(now) if not pacer.in_flight else "busy",
        figures.rate_limited,
        figures.server_errors,
        figures.requests,
    )


def open_pacer(ceiling: int) -> Pacer:
    """A pacer past its first answer (before it, one request goes alone)."""
    pacer = Pacer(ceiling)
    pacer.answered = True
    return pacer


# -- admission by the window ----------------------------------------------------------------


def test_one_request_alone_until_the_first_answer() -> None:
    pacer = Pacer(8)
    first = pacer.admit(0.0)
    assert first == Ticket(1, 0)
    assert pacer.admit(0.0) is None  # the window is 8, but nothing is known yet
    pacer.settle(first, 0.1, None)  # no answer: still alone
    second = pacer.admit(0.1)
    assert second == Ticket(2, 0) and pacer.admit(0.1) is None
    pacer.settle(second, 0.2, 404, rl(600, 9))  # any answer opens the window
    assert tickets(pacer, 8, 0.2)[-1] == Ticket(10, 7)


def test_admits_up_to_the_window_then_waits_for_a_slot() -> None:
    pacer = open_pacer(3)
    assert tickets(pacer, 3) == [Ticket(1, 0), Ticket(2, 1), Ticket(3, 2)]
    assert pacer.admit(0.0) is None  # wait for a request in flight to settle
    assert pacer.admit(100.0) is None  # time alone does not free a slot
    assert pacer.settle(Ticket(2, 1), 1.0, 200) == 0.0
    assert pacer.admit(1.0) == Ticket(4, 2)
    assert pacer.admit(1.0) is None
    assert pacer.in_flight == 3 and pacer.sent == 4


def test_without_the_headers_there_is_no_rate_wait() -> None:
    pacer = open_pacer(2)
    for n in range(500):  # as fast as the answers come, all at the same instant
        ticket = pacer.admit(0.0)
        assert isinstance(ticket, Ticket) and ticket.seq == n + 1
        pacer.settle(ticket, 0.0, 200, {"request-id": "req_1"})
    assert pacer.estimate(0.0) is None and pacer.limit is None
    assert pacer.figures() == PaceFigures(500, 0, 0, 2, 0, None)


@pytest.mark.parametrize(
    "headers",
    [
        {LIMIT: "60"},  # remaining missing
        {REMAINING: "5"},  # limit missing
        {LIMIT: "sixty", REMAINING: "5"},
        {LIMIT: "60", REMAINING: "-1"},
        {LIMIT: "0", REMAINING: "0"},
        {LIMIT: "nan", REMAINING: "1"},
    ],
)
def test_incomplete_or_bad_headers_are_not_a_basis(headers: dict[str, str]) -> None:
    pacer = open_pacer(2)
    [ticket] = tickets(pacer, 1)
    pacer.settle(ticket, 0.0, 200, headers)
    assert pacer.estimate(0.0) is None
    assert isinstance(pacer.admit(0.0), Ticket)


# -- the estimate of the server's bucket ----------------------------------------------------


def test_spends_the_bucket_then_waits_exactly_the_refill() -> None:
    pacer = open_pacer(10)
    [first] = tickets(pacer, 1)
    pacer.settle(first, 0.0, 200, rl(60, 4))  # 1 a second; 4 left after that request
    assert pacer.limit == 60
    assert pacer.estimate(0.0) == 4
    # Spent down to one whole token above the reserve, at full speed.
    spent = tickets(pacer, int(4 - RESERVE), now=0.0)
    assert [t.seq for t in spent] == [2, 3, 4]
    assert pacer.estimate(0.0) == 1
    wait = pacer.admit(0.0)
    assert wait == pytest.approx((1 + RESERVE - 1) * 60 / 60)  # 1.0 s
    assert pacer.sent == 4  # a wait is not a request
    assert pacer.admit(0.999) == pytest.approx(0.001)
    assert isinstance(pacer.admit(1.0), Ticket)  # exactly the refill later
    assert pacer.admit(1.0) == pytest.approx(1.0)


def test_the_refill_time_follows_the_limit() -> None:
    pacer = open_pacer(10)
    [first] = tickets(pacer, 1)
    pacer.settle(first, 5.0, 200, rl(600, 9))  # 10 a second; a bucket of 10
    [second] = tickets(pacer, 1, now=5.0)
    pacer.settle(second, 5.0, 200, rl(600, 0))  # nothing left
    # (1 + RESERVE - 0) tokens at 10 a second
    assert pacer.admit(5.0) == pytest.approx((1 + RESERVE) * 60 / 600)
    assert pacer.admit(5.1) == pytest.approx((1 + RESERVE - 1) * 60 / 600)


def test_requests_sent_after_the_answer_and_in_flight_before_it_are_counted() -> None:
    pacer = open_pacer(10)
    _, b, _ = tickets(pacer, 3)  # b was sent with the first in flight, the third after
    assert (b.seq, b.ahead) == (2, 1)
    pacer.settle(b, 0.0, 200, rl(60, 10))
    # 10 left, minus c (sent after b), minus a (in flight when b was sent):
    # either may not be in the server's count yet.
    assert pacer.estimate(0.0) == 10 - 1 - 1
    tickets(pacer, 2)
    assert pacer.estimate(0.0) == 10 - 3 - 1
    assert pacer.estimate(3.0) == 10 - 3 - 1 + 3  # plus the refill since


def test_the_refill_is_capped_at_the_most_remaining_seen_plus_one() -> None:
    pacer = open_pacer(10)
    first, second, third = tickets(pacer, 3)
    pacer.settle(first, 0.0, 200, rl(60, 4))
    assert pacer.estimate(1000.0) == 5  # the bucket holds at least 5
    pacer.settle(second, 0.0, 200, rl(60, 9))
    assert pacer.estimate(1000.0) == 10
    pacer.settle(third, 0.0, 200, rl(60, 2))  # a lower one does not shrink it
    assert pacer.estimate(1000.0) == 10
    [fourth] = tickets(pacer, 1, now=1000.0)
    pacer.settle(fourth, 1000.0, 200, rl(60, 500))  # never above the limit
    assert pacer.estimate(5000.0) == 60


def test_an_answer_older_than_the_basis_is_ignored() -> None:
    pacer = open_pacer(10)
    old, new = tickets(pacer, 2)
    pacer.settle(new, 0.0, 200, rl(60, 5))
    before = pacer.estimate(0.0)
    assert before == 5 - 0 - 1  # `old` was in flight when `new` was sent
    pacer.settle(old, 0.0, 200, rl(60, 0))  # answered last, but sent first
    assert pacer.estimate(0.0) == before
    assert pacer.limit == 60
    [newer] = tickets(pacer, 1)
    pacer.settle(newer, 0.0, 200, rl(60, 1))  # a newer one replaces the basis
    assert pacer.estimate(0.0) == 1


def test_a_new_limit_resets_the_capacity() -> None:
    pacer = open_pacer(10)
    first, second, third = tickets(pacer, 3)
    pacer.settle(first, 0.0, 200, rl(60, 9))
    assert pacer.estimate(1000.0) == 10
    pacer.settle(third, 0.0, 200, rl(30, 2))  # lowered: its bucket may be smaller
    assert pacer.limit == 30
    assert pacer.estimate(1000.0) == 3
    assert pacer.estimate(0.0) == 2 - 0 - 2  # second and first were in flight
    assert pacer.admit(0.0) == pytest.approx((1 + RESERVE) * 60 / 30)  # the new rate
    pacer.settle(second, 0.0, 200, rl(60, 50))  # older than the basis: ignored
    assert pacer.limit == 30 and pacer.estimate(1000.0) == 3
    [fourth] = tickets(pacer, 1, now=1000.0)
    pacer.settle(fourth, 1000.0, 200, rl(30, 1))  # the same limit: the cap stays
    assert pacer.estimate(5000.0) == 3


@pytest.mark.parametrize("status", [429, 200])
def test_a_bucket_seen_empty_or_of_one_is_not_a_dead_end(status: int) -> None:
    """A run that starts on an empty bucket (another client on the same key,
    or a 429 first) only ever sees remaining 0, and a bucket of one (a
    per-minute limit enforced per second: 60 a minute as 1 a second, the
    API's own example; the emulator's burst=1) says so on every answer. The
    refill must let a request go again; the server's refill surely does."""
    pacer = open_pacer(4)
    [first] = tickets(pacer, 1)
    pacer.settle(first, 0.0, status, rl(60, 0), 1.0 if status == 429 else None)
    answer = pacer.admit(60.0)  # a whole minute's refill later: 60 tokens' worth
    assert isinstance(answer, Ticket), (
        f"still told to wait {answer} s after a minute's refill "
        f"(estimate {pacer.estimate(60.0)}, reserve {RESERVE})"
    )


# -- pauses ------------------------------------------------------------------------------------


def test_a_429_pauses_every_admission_for_its_retry_after() -> None:
    pacer = open_pacer(4)
    a, b = tickets(pacer, 2)
    assert pacer.settle(a, 10.0, 429, None, 3.0) == 3.0
    assert pacer.admit(10.5) == pytest.approx(2.5)
    assert pacer.admit(12.0) == pytest.approx(1.0)  # any caller: no per-worker state
    # an answer to a request already sent does not end the pause
    assert pacer.settle(b, 11.0, 200) == pytest.approx(2.0)
    assert pacer.resume_at == 13.0
    assert isinstance(pacer.admit(13.0), Ticket)


def test_a_shorter_retry_after_does_not_shorten_the_pause() -> None:
    pacer = open_pacer(4)
    a, b = tickets(pacer, 2)
    pacer.settle(a, 0.0, 429, None, 5.0)
    assert pacer.settle(b, 1.0, 429, None, 1.0) == pytest.approx(4.0)
    assert pacer.admit(4.0) == pytest.approx(1.0)


def test_without_retry_after_the_pause_doubles_up_to_its_maximum() -> None:
    pacer = open_pacer(1)
    now = 0.0
    pauses = []
    for _ in range(7):
        [ticket] = tickets(pacer, 1, now)
        pauses.append(pacer.settle(ticket, now, 429))
        now += 100  # each one long after the pause before it
    assert pauses == [FIRST_PAUSE, 1.0, 2.0, 4.0, MAX_PAUSE, MAX_PAUSE, MAX_PAUSE]
    assert (FIRST_PAUSE, MAX_PAUSE) == (0.5, 8.0)
    [ticket] = tickets(pacer, 1, now)
    pacer.settle(ticket, now, None)  # no answer: not a success, the streak goes on
    [ticket] = tickets(pacer, 1, now)
    assert pacer.settle(ticket, now, 429) == MAX_PAUSE
    for status in (200, 404):  # any answer but a 429 or a 5xx ends the streak
        [ticket] = tickets(pacer, 1, now + 100)
        pacer.settle(ticket, now + 100, status)
        [ticket] = tickets(pacer, 1, now + 100)
        pacer.settle(ticket, now + 100, 429)
        [ticket] = tickets(pacer, 1, now + 200)
        assert pacer.settle(ticket, now + 200, 429) == 1.0  # the second of a new streak
        now += 1000
        [ticket] = tickets(pacer, 1, now)
        assert pacer.settle(ticket, now, 200) == 0.0


# -- AIMD: the concurrency window ------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503, 529])
def test_the_window_halves_once_per_window_of_requests(status: int) -> None:
    pacer = open_pacer(16)
    sent = tickets(pacer, 6)
    pacer.settle(sent[0], 0.0, status)
    assert pacer.window == 8.0 and pacer.figures().concurrency == 8
    for ticket in sent[1:4]:  # sent before the cut: they cannot cut again
        pacer.settle(ticket, 0.0, status)
    assert pacer.window == 8.0
    [later] = tickets(pacer, 1, now=100.0)  # sent after the cut: it can
    pacer.settle(later, 100.0, status)
    assert pacer.window == 4.0
    pacer.settle(sent[4], 100.0, status)  # still older than the last cut
    assert pacer.window == 4.0
    figures = pacer.figures()
    assert (figures.rate_limited, figures.server_errors) == ((6, 0) if status == 429 else (0, 6))


def test_the_window_never_goes_below_one_and_admits_one() -> None:
    pacer = open_pacer(5)
    now = 0.0
    for _ in range(6):
        [ticket] = tickets(pacer, 1, now)
        pacer.settle(ticket, now, 503)
        now += 1
    assert pacer.window == 1.0 and pacer.figures().concurrency == 1
    assert isinstance(pacer.admit(now), Ticket)
    assert pacer.admit(now) is None


def test_a_cut_window_holds_back_admissions_until_enough_settle() -> None:
    pacer = open_pacer(4)
    sent = tickets(pacer, 4)
    pacer.settle(sent[0], 0.0, 500)  # window 2, three still in flight
    assert pacer.admit(0.0) is None
    pacer.settle(sent[1], 0.0, 200)
    assert pacer.admit(0.0) is None  # two in flight, window 2.5: int 2
    pacer.settle(sent[2], 0.0, 200)
    assert isinstance(pacer.admit(0.0), Ticket)


def test_the_window_grows_by_one_over_window_per_success_to_the_ceiling() -> None:
    pacer = open_pacer(4)
    [ticket] = tickets(pacer, 1)
    pacer.settle(ticket, 0.0, 503)
    assert pacer.window == 2.0
    expected = 2.0
    for _ in range(3):
        [ticket] = tickets(pacer, 1)
        pacer.settle(ticket, 0.0, 200)
        expected += 1 / expected
        assert pacer.window == pytest.approx(expected)
    assert pacer.figures().concurrency == int(expected) == 3
    for _ in range(20):
        [ticket] = tickets(pacer, 1)
        pacer.settle(ticket, 0.0, 200)
    assert pacer.window == 4.0  # back to the ceiling, never above


def test_a_transport_error_frees_the_slot_and_changes_nothing_else() -> None:
    pacer = open_pacer(3)
    a, b, c = tickets(pacer, 3)
    pacer.settle(a, 0.0, 429, rl(60, 30), 2.0)  # a pause, a cut window, a basis
    before = state(pacer, 1.0)
    assert pacer.settle(b, 1.0, None) == pytest.approx(1.0)  # the pause goes on
    assert pacer.in_flight == 1
    assert state(pacer, 1.0) == before
    pacer.settle(c, 1.0, None)
    assert pacer.in_flight == 0
    after = state(pacer, 1.0)
    assert after[:4] == before[:4] and after[5:] == before[5:]
    assert after[4] == pytest.approx(1.0)  # the pause, now that a slot is free


# -- stopping and the figures -----------------------------------------------------------------


def test_stopped_makes_every_admission_raise() -> None:
    pacer = open_pacer(2)
    [ticket] = tickets(pacer, 1)
    pacer.stopped = True
    for now in (0.0, 1000.0):
        with pytest.raises(bd.StoppedError):
            pacer.admit(now)
    pacer.settle(ticket, 0.0, 200)  # what was sent still settles
    assert pacer.in_flight == 0
    with pytest.raises(bd.StoppedError):
        pacer.admit(0.0)


def test_figures() -> None:
    pacer = open_pacer(8)
    assert pacer.figures() == PaceFigures(
        requests=0, rate_limited=0, server_errors=0, concurrency=8, in_flight=0, limit=None
    )
    sent = tickets(pacer, 5)
    pacer.settle(sent[0], 0.0, 200, rl(1200, 40))
    pacer.settle(sent[1], 0.0, 429, rl(1200, 0), 1.0)
    pacer.settle(sent[2], 0.0, 502, rl(1200, 0))
    pacer.settle(sent[3], 0.0, None)
    assert pacer.figures() == PaceFigures(
        requests=5, rate_limited=1, server_errors=1, concurrency=4, in_flight=1, limit=1200
    )


def test_progress_from_the_limiter() -> None:
    limiter = Limiter(6)
    tally = Tally(3, limiter)
    start = tally.progress()
    assert (start.done, start.total, start.requests, start.concurrency) == (0, 3, 0, 6)
    assert start.eta is None and start.limit is None
    ticket = limiter.pacer.admit(time.monotonic())
    assert isinstance(ticket, Ticket)
    limiter.settle(ticket, 200, rl(600, 9))
    outcome = bd.Outcome("msgbatch_a", "deleted", attempts=1)
    middle = tally.add(outcome)
    assert (middle.done, middle.deleted, middle.requests, middle.limit) == (1, 1, 1, 600)
    assert middle.eta is not None and middle.eta > 0
    tally.add(bd.Outcome("msgbatch_b", "missing"))
    end = tally.add(bd.Outcome("msgbatch_c", "failed"))
    assert (end.done, end.deleted, end.missing, end.failed) == (3, 1, 1, 1)
    assert end.eta == 0.0
    assert Tally(None, limiter).progress().eta is None  # total unknown


# -- Limiter and AsyncLimiter: waiting for a turn (real time, short) --------------------------


def test_limiter_wakes_a_waiting_thread_when_a_request_settles() -> None:
    limiter = Limiter(1)
    held = limiter.acquire(None)
    assert held == Ticket(1, 0)
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(limiter.acquire(None)))
    waiter.start()
    time.sleep(0.05)
    assert got == [] and waiter.is_alive()  # no slot: waiting
    limiter.settle(held, 200)
    waiter.join(5)
    assert got == [Ticket(2, 0)]


def test_limiter_gives_up_at_until_and_stop_ends_every_wait() -> None:
    limiter = Limiter(1)
    limiter.acquire(None)
    started = time.monotonic()
    assert limiter.acquire(started + 0.05) is None
    assert 0.04 <= time.monotonic() - started < 2
    assert limiter.acquire(started - 1) is None  # already past
    raised: list[BaseException] = []

    def wait() -> None:
        try:
            limiter.acquire(None)
        except bd.StoppedError as exc:
            raised.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    limiter.stop()
    waiter.join(5)
    assert not waiter.is_alive() and len(raised) == 1
    with pytest.raises(bd.StoppedError):
        limiter.acquire(None)


def test_limiter_waits_out_a_pause() -> None:
    limiter = Limiter(2)
    ticket = limiter.acquire(None)
    assert ticket is not None
    assert limiter.settle(ticket, 429, None, 0.1) == pytest.approx(0.1, abs=0.01)
    started = time.monotonic()
    assert limiter.acquire(None) == Ticket(2, 0)
    assert 0.08 <= time.monotonic() - started < 2


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_limiter_waits_wakes_gives_up_and_stops() -> None:
    limiter = AsyncLimiter(1)
    held = await limiter.acquire(None)
    assert held == Ticket(1, 0)
    started = time.monotonic()
    assert await limiter.acquire(started + 0.05) is None
    assert 0.04 <= time.monotonic() - started < 2
    waiter = asyncio.ensure_future(limiter.acquire(None))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    limiter.settle(held, 200)
    assert await asyncio.wait_for(waiter, 5) == Ticket(2, 0)
    blocked = asyncio.ensure_future(limiter.acquire(None))
    await asyncio.sleep(0.05)
    limiter.stop()
    with pytest.raises(bd.StoppedError):
        await asyncio.wait_for(blocked, 5)


# -- the flow's pacing, driven by hand ------------------------------------------------------


class Hooks:
    """Every hook call, with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def active(self, name: str) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self.calls.append((name, kwargs))

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]


def drive(flow: Any, limiter: Limiter, *answers: Any) -> tuple[list[Any], Any]:
    """Play the run: an Admit step gets the limiter's ticket at once, as if
    the clock had jumped past the end of any pause (no sleeping); Send steps
    get `answers` in turn, Sleep steps None. The steps seen and the result
    (or the exception raised)."""
    steps: list[Any] = []
    queue = list(answers)
    try:
        step = next(flow)
        while True:
            steps.append(step)
            answer: Any = None
            if isinstance(step, Admit):
                limiter.pacer.resume_at = 0.0  # the clock jumps past any pause
                answer = limiter.pacer.admit(time.monotonic())
                assert isinstance(answer, Ticket)
            elif isinstance(step, Send):
                answer = queue.pop(0)
            step = flow.send(answer)
    except StopIteration as done:
        return steps, done.value
    except bd.BatchDeleteError as exc:
        return steps, exc


def kinds(steps: list[Any]) -> list[str]:
    return [type(step).__name__ for step in steps]


def rate_limited(retry_after: str | None = None, *more: tuple[str, str]) -> bd.RawResponse:
    headers = (("retry-after", retry_after),) if retry_after is not None else ()
    return error(429, *headers, *more)


def test_a_paced_429_is_waited_for_by_the_run_not_retried() -> None:
    hooks, limiter = Hooks(), Limiter(4)
    flow = call_flow(call(), settings(hooks, max_retries=0), limiter)
    steps, result = drive(
        flow, limiter, rate_limited("2"), rate_limited(), bd.RawResponse(200, {}, OK)
    )
    assert kinds(steps) == ["Admit", "Send"] * 3  # no Sleep: the limiter's pause
    assert isinstance(result, bd.APIResponse) and result.attempts == 3
    assert [c["attempt"] for c in hooks.of("on_request")] == [1, 2, 3]
    waits = [c["wait"] for c in hooks.of("on_retry")]
    assert waits[0] == pytest.approx(2.0, abs=0.05)  # its retry-after
    assert waits[1] == pytest.approx(1.0, abs=0.05)  # second in a row, no retry-after
    assert all(isinstance(c["error"], bd.RateLimitError) for c in hooks.of("on_retry"))
    assert limiter.figures() == PaceFigures(3, 2, 0, 2, 0, None)  # 4, 2, 1, then 2


def test_the_wait_reported_is_the_runs_pause() -> None:
    hooks, limiter = Hooks(), Limiter(4)
    limiter.pacer.resume_at = time.monotonic() + 30  # another worker's 429 before
    flow = call_flow(call(), settings(hooks, max_retries=0), limiter)
    # the pause is observed at the Admit: drive() jumps to its end
    _, result = drive(flow, limiter, rate_limited("1"), bd.RawResponse(200, {}, OK))
    assert result.attempts == 2
    [retry] = hooks.of("on_retry")
    assert retry["wait"] == pytest.approx(1.0, abs=0.05)
    # and when the run's pause is the longer one, that is the wait
    hooks2, limiter2 = Hooks(), Limiter(4)
    flow = call_flow(call(), settings(hooks2, max_retries=0), limiter2)
    step = next(flow)
    ticket = limiter2.pacer.admit(time.monotonic())
    assert isinstance(step, Admit) and isinstance(ticket, Ticket)
    assert isinstance(flow.send(ticket), Send)
    limiter2.pacer.resume_at = time.monotonic() + 30
    assert isinstance(flow.send(rate_limited("1")), Admit)
    [retry] = hooks2.of("on_retry")
    assert retry["wait"] == pytest.approx(30, abs=0.5)
    flow.close()


def test_at_most_max_paced_429_then_the_retry_rules() -> None:
    assert MAX_PACED_429 == 10
    answers = [rate_limited("1")] * (MAX_PACED_429 + 1)
    limiter = Limiter(4)
    steps, exc = drive(call_flow(call(), settings(max_retries=0), limiter), limiter, *answers)
    assert isinstance(exc, bd.RateLimitError)
    assert exc.attempts == MAX_PACED_429 + 1
    assert kinds(steps) == ["Admit", "Send"] * (MAX_PACED_429 + 1)
    assert limiter.pacer.in_flight == 0
    # with one retry of its own, the eleventh 429 is retried as any would be
    limiter = Limiter(4)
    flow = call_flow(call(), settings(max_retries=1), limiter)
    steps, result = drive(flow, limiter, *answers, bd.RawResponse(200, {}, OK))
    assert kinds(steps) == ["Admit", "Send"] * (MAX_PACED_429 + 1) + ["Sleep", "Admit", "Send"]
    assert steps[-3] == Sleep(1.0)
    assert result.attempts == MAX_PACED_429 + 2
    assert limiter.figures().rate_limited == MAX_PACED_429 + 1


def test_a_paced_429_does_not_use_up_the_retries_for_other_errors() -> None:
    limiter = Limiter(4)
    flow = call_flow(call(), settings(max_retries=1), limiter)
    steps, result = drive(
        flow,
        limiter,
        rate_limited("1"),
        error(503),
        rate_limited("1"),
        bd.RawResponse(200, {}, OK),
    )
    assert kinds(steps) == [
        *("Admit", "Send"),  # 429: the run's wait
        *("Admit", "Send", "Sleep"),  # 503: the call's own retry
        *("Admit", "Send"),  # 429: the run's wait again
        *("Admit", "Send"),
    ]
    assert result.attempts == 4
    flow = call_flow(call(), settings(max_retries=1), limiter)
    _, exc = drive(flow, limiter, rate_limited("1"), error(503), error(503))
    assert isinstance(exc, bd.APIStatusError) and exc.status_code == 503
    assert exc.attempts == 3


def test_a_retry_after_over_max_retry_wait_is_not_paced() -> None:
    limiter = Limiter(4)
    flow = call_flow(call(), settings(max_retries=3, max_retry_wait=5.0), limiter)
    steps, exc = drive(flow, limiter, rate_limited("10"))
    assert kinds(steps) == ["Admit", "Send"]
    assert isinstance(exc, bd.RateLimitError) and exc.attempts == 1
    assert "max_retry_wait" in str(exc)
    assert limiter.pacer.in_flight == 0


def test_a_429_the_call_will_not_wait_for_does_not_stall_the_run() -> None:
    """The call gives up at once on a retry-after over max_retry_wait; the
    run's other workers must not be held for it (a day, here) either: the
    longest wait the user accepts is max_retry_wait."""
    limiter = Limiter(4)
    flow = call_flow(call(), settings(max_retries=3, max_retry_wait=5.0), limiter)
    _, exc = drive(flow, limiter, rate_limited("86400"))
    assert isinstance(exc, bd.RateLimitError)
    answer = limiter.pacer.admit(time.monotonic())
    assert isinstance(answer, Ticket) or (answer is not None and answer <= 5.0), (
        f"the other workers are paused for {answer:.0f} s"
    )


def test_a_429_that_says_do_not_retry_is_not_paced() -> None:
    hooks, limiter = Hooks(), Limiter(4)
    flow = call_flow(call(), settings(hooks, max_retries=3), limiter)
    steps, exc = drive(flow, limiter, rate_limited("1", ("x-should-retry", "false")))
    assert kinds(steps) == ["Admit", "Send"]
    assert isinstance(exc, bd.RateLimitError) and exc.attempts == 1
    assert hooks.of("on_retry") == []
    assert limiter.pacer.in_flight == 0 and limiter.figures().rate_limited == 1


def test_the_deadline_passing_while_waiting_for_a_turn() -> None:
    limiter = Limiter(4)
    before = time.monotonic()
    flow = call_flow(call(bd.Timeout(deadline=30)), settings(), limiter)
    step = next(flow)
    assert isinstance(step, Admit) and step.until is not None
    assert before + 30 <= step.until <= time.monotonic() + 30
    with pytest.raises(bd.APITimeoutError, match="waiting for the rate limit") as caught:
        flow.send(None)  # the driver: `until` came first
    assert caught.value.attempts == 0
    # after a paced 429, the attempts made so far are reported
    flow = call_flow(call(bd.Timeout(deadline=30)), settings(), limiter)
    step = next(flow)
    ticket = limiter.pacer.admit(time.monotonic())
    assert isinstance(ticket, Ticket)
    assert isinstance(flow.send(ticket), Send)
    assert isinstance(flow.send(rate_limited("1")), Admit)
    with pytest.raises(bd.APITimeoutError) as caught:
        flow.send(None)
    assert caught.value.attempts == 1
    assert limiter.pacer.in_flight == 0
    # without a deadline, Admit has no until
    assert next(call_flow(call(), settings(), limiter)) == Admit(None)


def test_a_turn_given_past_the_deadline_is_a_timeout_and_is_settled() -> None:
    """A waiting worker can be given its turn just after its deadline (woken
    late by the scheduler, or by a pause ending then): the call must end
    with the timeout and give the slot back, not fail on building the
    request's timeouts and keep the slot for ever."""
    limiter = Limiter(1)
    flow = call_flow(call(bd.Timeout(deadline=0.05)), settings(), limiter)
    step = next(flow)
    assert isinstance(step, Admit)
    time.sleep(0.08)
    ticket = limiter.pacer.admit(time.monotonic())
    assert isinstance(ticket, Ticket)
    raised: BaseException | None = None
    try:
        flow.send(ticket)
    except BaseException as exc:
        raised = exc
    finally:
        flow.close()
    assert limiter.pacer.in_flight == 0, "the slot was never given back"
    assert isinstance(raised, bd.APITimeoutError), repr(raised)


def test_closing_the_flow_in_the_middle_gives_the_slot_back() -> None:
    limiter = Limiter(1)
    flow = call_flow(call(), settings(), limiter)
    assert isinstance(next(flow), Admit)
    ticket = limiter.pacer.admit(time.monotonic())
    assert isinstance(ticket, Ticket)
    assert isinstance(flow.send(ticket), Send)
    assert limiter.pacer.in_flight == 1
    assert limiter.pacer.admit(time.monotonic()) is None
    flow.close()  # the driver gave up: an exception, a cancel
    assert limiter.pacer.in_flight == 0
    assert isinstance(limiter.pacer.admit(time.monotonic()), Ticket)
    assert limiter.figures().rate_limited == limiter.figures().server_errors == 0
    assert limiter.pacer.window == 1.0


def test_closing_the_flow_before_its_turn_settles_nothing() -> None:
    limiter = Limiter(4)
    other = limiter.pacer.admit(time.monotonic())  # another worker's request
    assert isinstance(other, Ticket)
    flow = call_flow(call(), settings(), limiter)
    assert isinstance(next(flow), Admit)
    flow.close()
    assert limiter.pacer.in_flight == 1  # still the other worker's


def test_each_answer_settles_its_turn() -> None:
    limiter = Limiter(4)
    flow = call_flow(call(), settings(max_retries=3), limiter)
    steps, result = drive(
        flow,
        limiter,
        bd.TransportConnectError("reset"),  # no answer: nothing learned, no cut
        error(503, *rl(600, 7).items()),
        bd.RawResponse(200, rl(600, 5), OK),
    )
    assert kinds(steps) == ["Admit", "Send", "Sleep", "Admit", "Send", "Sleep", "Admit", "Send"]
    assert result.attempts == 3
    assert limiter.figures() == PaceFigures(3, 0, 1, 2, 0, 600)
    assert limiter.pacer.estimate(time.monotonic()) == pytest.approx(5, abs=0.5)
    # an answer that cannot be decoded was still an answer
    flow = call_flow(call(), settings(), limiter)
    _, exc = drive(flow, limiter, bd.RawResponse(200, rl(600, 4), b"[" * 10))
    assert isinstance(exc, bd.APIResponseValidationError)
    assert limiter.pacer.in_flight == 0 and limiter.pacer.sent == 4


def test_a_body_over_the_cap_settles_its_turn() -> None:
    limiter = Limiter(1)
    flow = call_flow(call(), settings(), limiter)
    _, exc = drive(
        flow, limiter, bd.TransportResponseTooLargeError("too big", status=200, headers={})
    )
    assert isinstance(exc, bd.ResponseTooLargeError)
    assert limiter.pacer.in_flight == 0


def test_without_a_limiter_there_is_no_admit() -> None:
    steps: list[Any] = []
    flow = call_flow(call(), settings(max_retries=1))
    step = next(flow)
    steps.append(step)
    step = flow.send(rate_limited("1"))
    steps.append(step)
    assert kinds(steps) == ["Send", "Sleep"]  # a plain retry, counted
    step = flow.send(None)
    with pytest.raises(bd.RateLimitError) as caught:
        flow.send(rate_limited("1"))
    assert caught.value.attempts == 2
    assert caught.value.body == json.loads(caught.value.raw_body)
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "error"
