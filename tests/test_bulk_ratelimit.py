"""Bulk runs against the emulator's rate limit, on 127.0.0.1: one limiter
per run (`_pace.py`) paces `delete_many` (Client, threads) and
`adelete_many` (AsyncClient, tasks) alike, with the default transports.

Every test runs both ways, with small counts and a small `burst`, so that
the limit binds within a few requests (600 a minute with a burst of 5: 10 a
second, 5 at once). Timing comes from the client's hooks (`on_request`,
`on_response`, stamped with time.monotonic()) and the emulator's request
log; the bounds are wide, for a busy machine. Every loop is bounded."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

import batchdelete as bd
from batchdelete._pace import PACE, AsyncLimiter, Limiter
from batchdelete.emulator import Emulator
from tests.test_emulator import raw

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(60)]

LIMIT = "anthropic-ratelimit-requests-limit"
LIST = "/v1/messages/batches"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # AsyncClient is asyncio's


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Timeline:
    """When each request was sent, each answer came and each retry was
    decided (monotonic), from the hooks of every client of the test."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[tuple[float, str, str, int]] = []  # at, method, url, attempt
        self.answered: list[tuple[float, str, int, str | None]] = []  # at, url, status, limit
        self.retried: list[tuple[float, str, float, int | None]] = []  # at, url, wait, window

    @bd.hookimpl
    def on_request(self, method: str, url: str, attempt: int) -> None:
        with self.lock:
            self.sent.append((time.monotonic(), method, url, attempt))

    @bd.hookimpl
    def on_response(self, url: str, status_code: int, headers: Any) -> None:
        with self.lock:
            self.answered.append((time.monotonic(), url, status_code, headers.get(LIMIT)))

    @bd.hookimpl
    def on_retry(self, url: str, wait: float) -> None:
        # in the worker's context: the run's limiter, just after it took the answer in
        limiter = PACE.get()
        window = None if limiter is None else limiter.figures().concurrency
        with self.lock:
            self.retried.append((time.monotonic(), url, wait, window))

    def sent_between(self, start: float, end: float) -> list[float]:
        with self.lock:
            return [at for at, *_ in self.sent if start < at < end]


@pytest.fixture
def timeline() -> Iterator[Timeline]:
    seen = Timeline()
    bd.register_plugin(seen, name="test-bulk-ratelimit-timeline")
    try:
        yield seen
    finally:
        bd.unregister_plugin(seen)


def emulator(**settings: Any) -> Emulator:
    """Real time (not frozen): the bucket refills as the run goes; a
    canceled batch ends as soon as it is looked at again."""
    settings.setdefault("cancel_time", 0.0)
    return Emulator(**settings)


class Watchdog:
    """Takes the run's limiter from its first request (the hooks run in the
    worker's context, where the run set it), to stop a run that stalls."""

    def __init__(self) -> None:
        self.limiter: Limiter | AsyncLimiter | None = None
        self.fired = False

    @bd.hookimpl
    def on_request(self) -> None:
        if self.limiter is None:
            self.limiter = PACE.get()

    def stop(self) -> None:  # a thread's: the sync run's Limiter only
        self.fired = True
        if isinstance(self.limiter, Limiter):
            self.limiter.stop()


async def bulk(
    kind: str,
    api: Emulator,
    ids: list[str],
    *,
    client: dict[str, Any] | None = None,
    bound: float = 20.0,
    **options: Any,
) -> list[bd.Outcome]:
    """delete_many with a Client (on a thread), or adelete_many with an
    AsyncClient; the client's own retries are off unless `client` says.
    A run still going after `bound` seconds is stopped (sync: its limiter
    stopped, so that every wait for a turn ends; async: cancelled) and the
    test fails."""
    settings: dict[str, Any] = {
        "api_key": api.api_key,
        "base_url": api.base_url,
        "max_retries": 0,
        "max_retry_wait": 5,
    }
    settings.update(client or {})
    dog = Watchdog()
    bd.register_plugin(dog, name="test-bulk-ratelimit-watchdog")
    try:
        if kind == "sync":

            def run() -> list[bd.Outcome]:
                with bd.Client(**settings) as c:
                    return bd.delete_many(c, ids, **options)

            timer = threading.Timer(bound, dog.stop)
            timer.start()
            try:
                outcomes = await anyio.to_thread.run_sync(run)
            finally:
                timer.cancel()
            if dog.fired:
                failed = [repr(o.error) for o in outcomes if not o.ok][:3]
                pytest.fail(f"the run stalled: stopped after {bound:g} s; {failed}")
            return outcomes
        with anyio.move_on_after(bound):
            async with bd.AsyncClient(**settings) as c:
                return await bd.adelete_many(c, ids, **options)
        pytest.fail(f"the run stalled: cancelled after {bound:g} s")
    finally:
        bd.unregister_plugin(dog)


def statuses(api: Emulator) -> list[int | None]:
    return [r.status for r in api.requests]


def check_progress(seen: list[bd.Progress], api: Emulator, total: int) -> bd.Progress:
    """What on_progress received over a whole run; the last Progress."""
    assert [p.done for p in seen] == list(range(1, total + 1))
    assert all(p.total == total for p in seen)
    assert all(p.requests >= p.done for p in seen)
    for before, after in itertools.pairwise(seen):
        assert after.requests >= before.requests
        assert after.rate_limited >= before.rate_limited
        assert after.elapsed >= before.elapsed
    last = seen[-1]
    assert last.done == total == last.deleted + last.missing + last.failed
    assert last.eta == 0.0
    # every request the emulator saw was let go by the run's limiter, and
    # every 429 it sent was taken in
    assert last.requests == len(api.requests)
    assert last.rate_limited == statuses(api).count(429)
    return last


# -- the pace under a binding limit -----------------------------------------------------------


async def test_every_batch_is_deleted_at_the_allowed_pace(kind: str) -> None:
    rate, burst, count = 1200, 5, 60  # 20 a second, 5 at once
    progress: list[bd.Progress] = []
    with emulator(requests_per_minute=rate, burst=burst) as api:
        ids = [api.add_batch("ended").id for _ in range(count)]
        outcomes = await bulk(kind, api, ids, concurrency=4, on_progress=progress.append)
        assert api.batches() == []
        log = statuses(api)
    assert sorted(o.id for o in outcomes) == sorted(ids)
    assert all(o.status == "deleted" for o in outcomes)
    last = check_progress(progress, api, count)
    assert last.deleted == count and last.limit == rate
    limited = log.count(429)
    assert limited <= 0.1 * len(log), f"{limited} of {len(log)} requests answered 429"
    accepted = len(log) - limited
    assert accepted == count
    allowed = burst + rate / 60 * last.elapsed
    # the limit did bind: the run could not go faster than the emulator allows ...
    assert last.elapsed >= 0.8 * (count - burst) / (rate / 60), last.elapsed
    # ... and it went at 70 % or more of the pace allowed
    assert accepted >= 0.7 * allowed, f"{accepted} of {allowed:.1f} allowed in {last.elapsed:.2f} s"


# -- a 429 pauses every worker ----------------------------------------------------------------


async def test_a_429_pauses_every_worker_and_its_batch_is_still_deleted(
    kind: str, timeline: Timeline
) -> None:
    count = 30
    progress: list[bd.Progress] = []
    with emulator() as api:  # no rate limit: only the injected 429 slows the run
        ids = [api.add_batch("ended").id for _ in range(count)]

        def on_progress(p: bd.Progress) -> None:
            progress.append(p)
            if p.done == 5:  # the next delete to arrive gets a 429 with retry-after 1
                api.inject(status=429, headers=(("retry-after", "1"),), route="delete")

        outcomes = await bulk(kind, api, ids, concurrency=4, on_progress=on_progress)
        assert api.batches() == []
    assert all(o.status == "deleted" for o in outcomes) and len(outcomes) == count
    check_progress(progress, api, count)
    assert statuses(api).count(429) == 1
    [(at, url, _, _)] = [a for a in timeline.answered if a[2] == 429]
    hit = url.rsplit("/", 1)[1]
    [outcome] = [o for o in outcomes if o.id == hit]
    # deleted with max_retries=0: the 429 was the run's to wait for
    assert outcome.status == "deleted" and outcome.attempts == 2
    # nothing was sent during the pause (requests already sent may finish) ...
    during = timeline.sent_between(at + 0.1, at + 0.95)
    assert during == [], f"{len(during)} requests sent during the pause"
    # ... and the run went on after it
    after = timeline.sent_between(at + 0.95, at + 60)
    assert len(after) >= 1
    assert len(timeline.sent) == count + 1
    # the run waited for it (its pause, about the retry-after) with the window cut
    [(_, _, wait, window)] = timeline.retried
    assert 0.5 <= wait <= 1.0
    assert window in (2, 3)  # halved (3: successes settled in between, growing it back)
    concurrency = [p.concurrency for p in progress]
    assert concurrency[0] == 4 and min(concurrency) < 4 and concurrency[-1] == 4


async def test_429s_without_rate_limit_headers_shrink_the_window(
    kind: str, timeline: Timeline
) -> None:
    count, ceiling = 50, 8
    progress: list[bd.Progress] = []
    with emulator() as api:  # a server (or proxy) that says only "429"
        ids = [api.add_batch("ended").id for _ in range(count)]

        def on_progress(p: bd.Progress) -> None:
            progress.append(p)
            if p.done == 5:
                api.inject(status=429, route="delete", times=2)

        outcomes = await bulk(kind, api, ids, concurrency=ceiling, on_progress=on_progress)
        assert api.batches() == []
    assert all(o.status == "deleted" for o in outcomes) and len(outcomes) == count
    last = check_progress(progress, api, count)
    assert last.rate_limited == 2 and last.limit is None
    assert sum(o.attempts for o in outcomes) == count + 2
    # halved (once, or twice if the second was sent after the first cut; one
    # more: successes settled in between grow it back) ...
    windows = [window for *_, window in timeline.retried]
    assert len(windows) == 2
    assert all(window is not None and window <= ceiling // 2 + 1 for window in windows)
    # ... which Progress shows, and grown back by the 40-odd successes after
    concurrency = [p.concurrency for p in progress]
    assert concurrency[0] == ceiling and min(concurrency) < ceiling
    assert concurrency[-1] == ceiling
    # without retry-after: the run's own pause, 0.5 s (1 s for a second in a row)
    waits = sorted(wait for _, _, wait, _ in timeline.retried)
    assert 0.4 <= waits[0] <= 0.5 and 0.4 <= waits[1] <= 1.0
    [first, *_] = [at for at, _, status, _ in timeline.answered if status == 429]
    assert timeline.sent_between(first + 0.1, first + 0.45) == []


# -- the limit changes during the run ----------------------------------------------------------


async def test_a_limit_lowered_in_the_middle_of_the_run_is_followed(
    kind: str, timeline: Timeline
) -> None:
    before, after, burst, count, switch = 2400, 600, 5, 40, 12  # 40/s, then 10/s
    progress: list[bd.Progress] = []
    changed: list[float] = []
    with emulator(requests_per_minute=before, burst=burst) as api:
        ids = [api.add_batch("ended").id for _ in range(count)]

        def on_progress(p: bd.Progress) -> None:
            progress.append(p)
            if p.done == switch:
                changed.append(time.monotonic())
                api.set_rate_limit(after, burst=burst)

        outcomes = await bulk(kind, api, ids, concurrency=4, on_progress=on_progress, bound=10)
        assert api.batches() == []
    assert all(o.status == "deleted" for o in outcomes)
    last = check_progress(progress, api, count)
    assert last.limit == after
    assert [p.limit for p in progress][switch - 2] == before
    # the first answer that told the client
    [told, *_] = [at for at, _, _, limit in timeline.answered if limit == str(after)]
    assert told >= changed[0]
    # from shortly after, requests go out at about the new rate (all of
    # them, 429s included: a client that ignored it would send more)
    paced = timeline.sent_between(told + 0.3, told + 60)
    assert len(paced) >= 10, len(paced)
    span = paced[-1] - paced[0]
    per_second = (len(paced) - 1) / span
    assert 0.55 * after / 60 <= per_second <= 1.3 * after / 60, (
        f"{per_second:.1f} a second after the change, {len(paced)} over {span:.2f} s"
    )
    assert statuses(api).count(429) <= 4


# -- every request of a run is paced: the route proof, retrieves, cancels ------------------------


async def test_the_route_proof_retrieves_and_cancels_are_paced(kind: str) -> None:
    rate, burst = 1200, 5
    progress: list[bd.Progress] = []
    with emulator(requests_per_minute=rate, burst=burst) as api:
        ended = [api.add_batch("ended").id for _ in range(6)]
        running = [api.add_batch("in_progress").id for _ in range(4)]
        missing = [f"msgbatch_missing{n}" for n in range(4)]
        ids = [*ended, *running, *missing]
        outcomes = await bulk(
            kind,
            api,
            ids,
            concurrency=4,
            force=True,
            missing_ok=True,
            on_progress=progress.append,
        )
        assert api.batches() == []
        routes = [r.route for r in api.requests if r.status != 429]
    by_id = {o.id: o for o in outcomes}
    assert all(by_id[i].status == "deleted" and not by_id[i].canceled for i in ended)
    assert all(by_id[i].status == "deleted" and by_id[i].canceled for i in running)
    assert all(by_id[i].status == "missing" for i in missing)
    assert routes.count("list") == 1  # the route proved once, and paced
    assert routes.count("cancel") == len(running)
    assert routes.count("retrieve") >= len(running)
    last = check_progress(progress, api, len(ids))  # every request counted
    assert (last.deleted, last.missing, last.failed) == (10, 4, 0)
    log = statuses(api)
    assert log.count(429) <= max(2, 0.1 * len(log)), log
    assert last.elapsed >= 0.8 * (len(log) - burst) / (rate / 60)  # the limit bound


# -- no stall -------------------------------------------------------------------------------------


async def test_a_run_that_starts_on_an_empty_bucket_does_not_stall(kind: str) -> None:
    """Another client on the same key has just used the bucket up: the run's
    first answers all say remaining 0 (or are 429s). The refill must let
    the run go on (at 10 a second, 4 batches take well under a second after
    the 429's 1 s pause); the test gives it 4 s."""
    with emulator(requests_per_minute=600, burst=5) as api:
        for _ in range(20):  # bounded: the bucket holds 5
            if raw(api, "GET", LIST)[0] == 429:
                break
        ids = [api.add_batch("ended").id for _ in range(4)]
        outcomes = await bulk(kind, api, ids, concurrency=4, bound=4)
    assert len(outcomes) == 4 and all(o.status == "deleted" for o in outcomes)
    assert api.batches() == []


async def test_a_429_the_run_will_not_wait_for_does_not_hold_up_the_others(kind: str) -> None:
    """One batch meets a 429 asking for an hour, over max_retry_wait (1 s):
    that batch fails at once, as without a limiter; the others are not held
    for the hour (the test gives them 4 s)."""
    with emulator() as api:
        ids = [api.add_batch("ended").id for _ in range(3)]
        api.inject(status=429, headers=(("retry-after", "3600"),), route="delete")
        outcomes = await bulk(kind, api, ids, concurrency=1, client={"max_retry_wait": 1}, bound=4)
    [refused] = [o for o in outcomes if o.id == ids[0]]
    assert isinstance(refused.error, bd.RateLimitError) and refused.attempts == 1
    assert all(o.status == "deleted" for o in outcomes if o.id != ids[0])
    assert [b["id"] for b in api.batches()] == [ids[0]]
