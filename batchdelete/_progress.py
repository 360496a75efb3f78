"""How far a bulk run has got: the figures `on_progress` receives after each
batch, and the summary at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ._jobs import Outcome
from ._pace import AsyncLimiter, Limiter

__all__ = ["Progress", "Tally"]


@dataclass(frozen=True)
class Progress:
    """A bulk run so far. `done` batches have an outcome (`deleted`,
    `missing`, `failed`) of `total` (None while a listing is still finding
    them); `requests` were sent in all (deletes, retrieves, cancels,
    listing pages, retries), `rate_limited` of them answered 429;
    `concurrency` is the requests the run lets be in flight now (at most
    the ceiling it was given), `limit` the server's requests per minute
    once an answer said it; `elapsed` seconds since the run began."""

    done: int
    total: int | None
    deleted: int
    missing: int
    failed: int
    requests: int
    rate_limited: int
    concurrency: int
    limit: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Batches finished per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def pace(self) -> float:
        """Requests sent per minute, on average."""
        return self.requests * 60 / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before it is known."""
        if self.total is None or self.done == 0 or self.elapsed <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


class Tally:
    """Counts the outcomes of one run against its limiter."""

    def __init__(self, total: int | None, limiter: Limiter | AsyncLimiter) -> None:
        self.total = total
        self.limiter = limiter
        self.deleted = self.missing = self.failed = 0
        self.started = time.monotonic()

    def add(self, outcome: Outcome) -> Progress:
        if outcome.status == "deleted":
            self.deleted += 1
        elif outcome.status == "missing":
            self.missing += 1
        else:
            self.failed += 1
        return self.progress()

    def progress(self) -> Progress:
        figures = self.limiter.figures()
        return Progress(
            self.deleted + self.missing + self.failed,
            self.total,
            self.deleted,
            self.missing,
            self.failed,
            figures.requests,
            figures.rate_limited,
            figures.concurrency,
            figures.limit,
            time.monotonic() - self.started,
        )
