"""The pace section: bulk deletion at the API's rate limit (issue 10).

    batchdelete bench --only pace [--quick]
    python -m benchmarks --only pace [--quick] [--out DIR]

Against the emulator in this process, on 127.0.0.1, with its rate limit
on (a token bucket per API key, refilled continuously; 429 with
`retry-after` over it). Default transports, a fresh emulator a run.

1. Target: 1,500 ended batches, 3,000 requests a minute, a concurrency
   ceiling of 32, `delete_many` (Client) and `adelete_many` (AsyncClient).
   The emulator's bucket holds a minute's worth by default, so 1,500
   deletes would all fit in the first burst; the target runs use a bucket
   of 50 (the rate enforced per second, as the API says it may do), and
   the default bucket is run once each for completeness.
2. The limit lowered mid-run: 3,000 a minute (burst 50), then 1,200 a
   minute (burst 20) from a background thread after 8 s; the pace of
   successful requests in 2-s windows (from per-response timestamps, an
   `on_response` hook) before and after, and how soon after the change a
   window's pace is within 10 % of the new limit.
3. Baseline: the target run without the shared limiter, as before issue
   10: 32 threads each calling `delete_batch(client, id)` on one Client
   (default `max_retries=2`), each meeting 429s alone.

Figures: requests and 429s are the emulator's log (every request it
answered); pace = successful requests per minute of the run's elapsed
time; share of the allowed rate = successful requests / (burst + limit/60
x elapsed), the most the bucket could have let through in that time (with
the limit lowered: burst + each limit's refill over its part of the run).
Every run is bounded: the emulator answers every request, the library's
waits are bounded, and the baseline stops taking new batches at a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import batchdelete

from ..emulator import Emulator
from ._pace_table import FOLLOW_BAND, MAX_429_SHARE, MIN_ALLOWED_SHARE, targets


@dataclass(frozen=True)
class PaceSettings:
    batches: int
    limit: int  # requests per minute
    burst: int
    ceiling: int
    change_batches: int  # seeded for the mid-run change, enough to outlast it
    change_after: float  # seconds into the run
    new_limit: int
    new_burst: int
    window: float  # seconds, for the pace before and after the change
    baseline_deadline: float  # seconds: no batch is started after it
    bound: float  # seconds: a run still going then ends the process (a stuck limiter)

    @classmethod
    def make(cls, quick: bool) -> PaceSettings:
        if quick:
            # The change after 2 s (85 allowed by then, of 120): a window of
            # 1.5 s before it, wide enough on a loaded machine.
            return cls(60, 2400, 5, 32, 120, 2.0, 1200, 3, 0.5, 20.0, 60.0)
        # 50 + 8 s x 50/s = 450 before the change, then ~9 s at 20/s: ~17 s.
        return cls(1500, 3000, 50, 32, 630, 8.0, 1200, 20, 2.0, 60.0, 150.0)


class Stamps:
    """A plugin: the monotonic time and status of every response."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    @batchdelete.hookimpl
    def on_response(self, status_code: int) -> None:
        self.seen.append((time.monotonic(), status_code))


class Watch:
    """What a run's `on_progress` callbacks said: the last figures and the
    smallest concurrency."""

    def __init__(self) -> None:
        self.last: batchdelete.Progress | None = None
        self.least_concurrency: int | None = None

    def __call__(self, progress: batchdelete.Progress) -> None:
        self.last = progress
        c = progress.concurrency
        self.least_concurrency = (
            c if self.least_concurrency is None else min(c, self.least_concurrency)
        )

    def figures(self) -> dict[str, Any]:
        """The client's own count of requests and 429s, beside the emulator's."""
        last = self.last
        return {
            "progress_requests": last.requests if last else 0,
            "progress_rate_limited": last.rate_limited if last else 0,
            "least_concurrency": self.least_concurrency,
        }


@contextlib.contextmanager
def _bounded(what: str, seconds: float) -> Iterator[None]:
    """End the process, with every thread's stack on stderr, if `what` is
    still running after `seconds`: a run the library never finishes (a
    limiter that stops admitting) must not hang the harness."""

    def expire() -> None:
        print(f"pace: {what} still running after {seconds:g} s; stopping.", file=sys.stderr)
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _seed(api: Emulator, n: int) -> list[str]:
    return [api.add_batch("ended").id for _ in range(n)]


def _figures(
    api: Emulator,
    n: int,
    outcomes: list[Any],
    elapsed: float,
    limit: int,
    burst: int | None,
) -> dict[str, Any]:
    log = api.requests
    limited = sum(1 for r in log if r.status == 429)
    ok = sum(1 for r in log if r.status is not None and r.status < 400)
    deleted = sum(1 for o in outcomes if o.status == "deleted")
    failed = [o for o in outcomes if o.status == "failed"]
    bucket = limit if burst is None else burst
    allowed = bucket + limit / 60 * elapsed
    return {
        "batches": n,
        "deleted": deleted,
        "failed": len(failed),
        "failed_reasons": sorted({type(o.error).__name__ for o in failed}),
        "left_on_server": len(api.batches()),
        "all_deleted": deleted == n and not api.batches(),
        "elapsed_s": round(elapsed, 3),
        "requests": len(log),
        "rate_limited": limited,
        "share_429": limited / len(log) if log else 0.0,
        "succeeded": ok,
        "pace_per_min": ok * 60 / elapsed if elapsed > 0 else 0.0,
        "batches_per_s": deleted / elapsed if elapsed > 0 else 0.0,
        "allowed": allowed,
        "share_of_allowed": ok / allowed,
        # a run that fits in the first bucket says nothing about the pace
        "fits_first_burst": n <= bucket,
    }


def _paced(
    mode: str,
    api: Emulator,
    ids: list[str],
    ceiling: int,
    watch: Watch,
) -> tuple[list[Any], float, str]:
    """delete_many or adelete_many over `ids`: outcomes, elapsed, transport."""
    if mode == "sync":
        with batchdelete.Client(api_key=api.api_key, base_url=api.base_url) as client:
            started = time.monotonic()
            outcomes = batchdelete.delete_many(client, ids, concurrency=ceiling, on_progress=watch)
            return outcomes, time.monotonic() - started, client.transport.name

    async def run() -> tuple[list[Any], float, str]:
        async with batchdelete.AsyncClient(api_key=api.api_key, base_url=api.base_url) as client:
            started = time.monotonic()
            outcomes = await batchdelete.adelete_many(
                client, ids, concurrency=ceiling, on_progress=watch
            )
            return outcomes, time.monotonic() - started, client.transport.name

    return asyncio.run(run())


def target_run(mode: str, s: PaceSettings, burst: int | None) -> dict[str, Any]:
    with Emulator(requests_per_minute=s.limit, burst=burst) as api:
        ids = _seed(api, s.batches)
        watch = Watch()
        outcomes, elapsed, transport = _paced(mode, api, ids, s.ceiling, watch)
        row = _figures(api, s.batches, outcomes, elapsed, s.limit, burst)
    row.update(mode=mode, transport=transport, limit=s.limit, burst=burst, ceiling=s.ceiling)
    row.update(watch.figures())
    row["targets_apply"] = not row["fits_first_burst"]
    row["met_429"] = row["share_429"] <= MAX_429_SHARE
    row["met_allowed"] = row["share_of_allowed"] >= MIN_ALLOWED_SHARE
    return row


def _window_pace(stamps: list[float], start: float, width: float) -> float:
    """Successful responses per minute in [start, start + width)."""
    return sum(1 for t in stamps if start <= t < start + width) * 60 / width


@dataclass(frozen=True)
class _ChangedRun:
    """A run whose rate limit was lowered part-way, before the analysis."""

    row: dict[str, Any]  # the run's figures
    ok: list[float]  # when each successful answer came (monotonic)
    started: float
    elapsed: float
    changed_at: float | None  # None: the run ended before the change


def _run_with_a_change(mode: str, s: PaceSettings) -> _ChangedRun:
    recorder = Stamps()
    batchdelete.register_plugin(recorder, name="pace-bench-stamps")
    try:
        with Emulator(requests_per_minute=s.limit, burst=s.burst) as api:
            ids = _seed(api, s.change_batches)
            changed: list[float] = []

            def lower() -> None:
                api.set_rate_limit(s.new_limit, burst=s.new_burst)
                changed.append(time.monotonic())

            watch = Watch()
            started = time.monotonic()
            timer = threading.Timer(s.change_after, lower)
            timer.start()
            try:
                outcomes, elapsed, transport = _paced(mode, api, ids, s.ceiling, watch)
            finally:
                timer.cancel()
            row = _figures(api, s.change_batches, outcomes, elapsed, s.limit, s.burst)
    finally:
        batchdelete.unregister_plugin(recorder)
    # the allowed rate changed mid-run: the share of it is computed by change_run
    row.update(mode=mode, transport=transport, ceiling=s.ceiling)
    row.update(limit=s.limit, burst=s.burst, new_limit=s.new_limit, new_burst=s.new_burst)
    row.update(watch.figures())
    ok = [t for t, status in recorder.seen if status < 400]
    return _ChangedRun(row, ok, started, elapsed, changed[0] if changed else None)


def _following(ok: list[float], at: float, ended: float, s: PaceSettings) -> dict[str, Any]:
    """How the pace followed the limit lowered at `at`: within how many
    seconds, whether it stayed in the band, and the pace after."""
    w = s.window
    # follows: the first window starting at or after the change (0.1-s steps)
    # whose pace is within the band; N s = that window's end after the change
    low, high = s.new_limit * (1 - FOLLOW_BAND), s.new_limit * (1 + FOLLOW_BAND)
    follows = None
    step = 0
    while at + step * 0.1 + w <= ended:
        pace = _window_pace(ok, at + step * 0.1, w)
        if low <= pace <= high:
            follows = step * 0.1 + w
            break
        step += 1
    stays = None
    if follows is not None:
        stays = all(
            low <= _window_pace(ok, at + k * 0.1, w) <= high
            for k in range(step, int((ended - at - w) / 0.1) + 1)
        )
    after = [t for t in ok if t >= at + (follows or 0.0)]
    span = ended - at - (follows or 0.0)
    return {
        "follows_within_s": None if follows is None else round(follows, 1),
        "stays": stays,
        "pace_after": len(after) * 60 / span if span > 0 else None,
    }


def change_run(mode: str, s: PaceSettings) -> dict[str, Any]:
    run = _run_with_a_change(mode, s)
    row, ok, started, elapsed = run.row, run.ok, run.started, run.elapsed
    ended = started + elapsed
    w = s.window
    row["window_s"] = w
    row["windows"] = [
        {"from_s": round(k * w, 3), "pace_per_min": round(_window_pace(ok, started + k * w, w), 1)}
        for k in range(int(elapsed // w))
    ]
    if run.changed_at is None:  # the run ended before the change: nothing to follow
        row.update(changed_at_s=None, follows_within_s=None, stays=None)
        row.update(pace_before=None, pace_after=None, share_of_allowed=None)
        return row
    at = run.changed_at
    row["changed_at_s"] = round(at - started, 3)
    # before: the full windows after the first (the initial burst) up to the change
    before = [t for t in ok if started + w <= t < at]
    row["pace_before"] = len(before) * 60 / (at - started - w) if at - started > w else None
    row.update(_following(ok, at, ended, s))
    # the first bucket and each rate's refill; the change only caps the tokens kept
    allowed = s.burst + s.limit / 60 * (at - started) + s.new_limit / 60 * (ended - at)
    row["allowed"] = allowed
    row["share_of_allowed"] = row["succeeded"] / allowed
    return row


def baseline_run(s: PaceSettings) -> dict[str, Any]:
    """No shared limiter: `ceiling` threads, each deleting one batch at a
    time with `delete_batch` and the client's own retries."""
    with Emulator(requests_per_minute=s.limit, burst=s.burst) as api:
        ids = _seed(api, s.batches)
        lock = threading.Lock()
        todo = iter(ids)
        outcomes: list[Any] = []
        not_started = 0
        with batchdelete.Client(api_key=api.api_key, base_url=api.base_url) as client:
            started = time.monotonic()
            deadline = started + s.baseline_deadline

            def worker() -> None:
                nonlocal not_started
                while True:
                    with lock:
                        batch_id = next(todo, None)
                        if batch_id is None:
                            return
                        if time.monotonic() >= deadline:
                            not_started += 1
                            continue
                    t0 = time.monotonic()
                    try:
                        outcome = batchdelete.delete_batch(client, batch_id)
                    except batchdelete.BatchDeleteError as exc:
                        outcome = batchdelete.Outcome(
                            batch_id,
                            "failed",
                            attempts=getattr(exc, "attempts", 0),
                            elapsed=time.monotonic() - t0,
                            error=exc,
                        )
                    with lock:
                        outcomes.append(outcome)

            threads = [threading.Thread(target=worker) for _ in range(s.ceiling)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            transport = client.transport.name
        row = _figures(api, s.batches, outcomes, elapsed, s.limit, s.burst)
    row.update(mode="sync, no limiter", transport=transport, limit=s.limit, burst=s.burst)
    row.update(ceiling=s.ceiling, not_started=not_started)
    return row


#: The pace section's steps, for a progress line.
STEPS = 7


def run(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Every pace measurement (`STEPS` of them); `log` hears of each as it starts."""
    s = PaceSettings.make(quick)
    started = time.monotonic()
    out: dict[str, Any] = {"parameters": asdict(s), "target": [], "change": []}
    for burst in (s.burst, None):
        for mode in ("sync", "async"):
            what = f"{mode}, {s.batches} batches, {s.limit}/min, burst {burst or 'default'}"
            log(f"pace: {what}")
            with _bounded(what, s.bound):
                out["target"].append(target_run(mode, s, burst))
    for mode in ("sync", "async"):
        what = f"{mode}, limit lowered after {s.change_after:g} s"
        log(f"pace: {what}")
        with _bounded(what, s.bound):
            out["change"].append(change_run(mode, s))
    what = f"baseline, {s.ceiling} threads without the shared limiter"
    log(f"pace: {what}")
    with _bounded(what, s.bound):
        out["baseline"] = baseline_run(s)
    out["targets"] = targets(out)
    out["seconds"] = round(time.monotonic() - started, 1)
    return out
