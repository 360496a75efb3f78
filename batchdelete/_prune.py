"""Choosing batches to prune: durations, dates and the filters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from ._errors import ConfigurationError
from ._models import MessageBatch

__all__ = ["check_prune_filters", "parse_duration", "parse_moment", "select_for_prune"]


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
        if ended_before is not None and (batch.ended_at is None or batch.ended_at >= ended_before):
            continue
        if older_than is not None and batch.created_at > now - older_than:
            continue
        if batch.running and not include_running:
            running.append(batch)
            continue
        matched.append(batch)
    return matched, running
