"""Choosing batches to prune: durations, dates and the filters; and the
streamed choice, deleting while later pages are still to be listed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ._errors import ConfigurationError
from ._ids import InvalidBatchIdError, check_batch_id
from ._models import MessageBatch, MessageBatchPage
from ._resources import next_after

__all__ = [
    "Chooser",
    "Scan",
    "astream_prune",
    "check_prune_filters",
    "parse_duration",
    "parse_moment",
    "select_for_prune",
    "stream_prune",
]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """A duration like 30s, 15m, 12h, 7d, 2w, or combined: 1d12h."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigurationError(
            f"Invalid duration {text!r}: use a number and a unit, like 30s, 15m, 12h, "
            "7d or 2w (units may combine: 1d12h)."
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone, UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ConfigurationError(
            f"Invalid date {text!r}: use ISO 8601, like 2026-11-01 or 2026-11-01T12:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_prune_filters(ended_before: datetime | None, older_than: timedelta | None) -> None:
    """Refuse a prune with no filter: it would select every batch."""
    if ended_before is None and older_than is None:
        raise ConfigurationError(
            "A prune needs at least one filter, ended before a date or older than a "
            "duration (older than 0s selects every batch)."
        )


def select_for_prune(
    batches: Iterable[MessageBatch],
    *,
    now: datetime,
    ended_before: datetime | None = None,
    older_than: timedelta | None = None,
    include_running: bool = False,
) -> tuple[list[MessageBatch], list[MessageBatch]]:
    """(batches to delete, running batches left alone because
    `include_running` is off). Every filter given must match:
    `ended_before`: ended before that moment (a running batch never matches);
    `older_than`: created longer ago than that."""
    check_prune_filters(ended_before, older_than)
    matched: list[MessageBatch] = []
    running: list[MessageBatch] = []
    for batch in batches:
        if not _matches(batch, now, ended_before, older_than):
            continue
        if batch.running and not include_running:
            running.append(batch)
            continue
        matched.append(batch)
    return matched, running


def _matches(
    batch: MessageBatch,
    now: datetime,
    ended_before: datetime | None,
    older_than: timedelta | None,
) -> bool:
    if ended_before is not None and (batch.ended_at is None or batch.ended_at >= ended_before):
        return False
    return older_than is None or batch.created_at <= now - older_than


def _is_batch_id(value: str) -> bool:
    try:
        check_batch_id(value)
    except InvalidBatchIdError:
        return False
    return True


@dataclass
class Scan:
    """What a streamed prune has seen so far: batches listed, chosen,
    running ones left alone, ones skipped as done in the journal, and ids
    refused because they are not batch ids (a server's mistake)."""

    looked_at: int = 0
    matched: int = 0
    running: int = 0
    skipped: int = 0
    refused: int = 0


class Chooser:
    """Picks, page by page, the ids a prune deletes (`select_for_prune`'s
    filters), leaving out those `done` holds (a journal's). The last batch
    of a page is held back until the next page is listed: the listing goes
    on after that id, which must still exist then."""

    def __init__(
        self,
        *,
        now: datetime,
        ended_before: datetime | None = None,
        older_than: timedelta | None = None,
        include_running: bool = False,
        done: Container[str] = frozenset(),
    ) -> None:
        check_prune_filters(ended_before, older_than)
        self.now, self.ended_before, self.older_than = now, ended_before, older_than
        self.include_running = include_running
        self.done = done
        self.scan = Scan()

    def take(
        self, page: MessageBatchPage, after: str | None
    ) -> tuple[list[str], str | None, str | None]:
        """(ids to delete now, the id held back, where the next page starts
        or None after the last)."""
        cursor = next_after(page, after)
        ready: list[str] = []
        held = None
        scan = self.scan
        for batch in page.data:
            scan.looked_at += 1
            if not _matches(batch, self.now, self.ended_before, self.older_than):
                continue
            if batch.running and not self.include_running:
                scan.running += 1
            elif batch.id in self.done:
                scan.skipped += 1
            elif not _is_batch_id(batch.id):
                scan.refused += 1
            elif batch.id == cursor:
                scan.matched += 1
                held = batch.id
            else:
                scan.matched += 1
                ready.append(batch.id)
        return ready, held, cursor


def stream_prune(
    fetch: Callable[[str | None], MessageBatchPage], chooser: Chooser
) -> Iterator[str]:
    """The ids to delete, listing a page (`fetch(after_id)`) only when the
    ids of the one before have all been taken: one page in memory."""
    after: str | None = None
    held: str | None = None
    while True:
        page = fetch(after)
        if held is not None:
            yield held
        ready, held, after = chooser.take(page, after)
        yield from ready
        if after is None:
            return


async def astream_prune(
    fetch: Callable[[str | None], Awaitable[MessageBatchPage]], chooser: Chooser
) -> AsyncIterator[str]:
    """`stream_prune`, awaited."""
    after: str | None = None
    held: str | None = None
    while True:
        page = await fetch(after)
        if held is not None:
            yield held
        ready, held, after = chooser.take(page, after)
        for batch_id in ready:
            yield batch_id
        if after is None:
            return
