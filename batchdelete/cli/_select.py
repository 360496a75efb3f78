"""Listing the batches and choosing among them: `prune` and `list` share it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TextIO

from .._async_client import AsyncClient
from .._client import Client
from .._errors import BatchDeleteError, ConfigurationError, PermissionDeniedError
from .._models import MessageBatch
from .._prune import parse_duration, parse_moment, select_for_prune
from .._workflows import workspace_of
from ._exits import StepError
from ._output import workspace_note

__all__ = [
    "LISTING",
    "PAGE_SIZE",
    "Filters",
    "Selection",
    "alist_all",
    "list_all",
    "listing_failed",
    "parse_filters",
    "select",
]

LISTING = "Listing the batches failed"
PAGE_SIZE = 1000  # the API's largest page


@dataclass(frozen=True)
class Filters:
    ended_before: datetime | None
    older_than: timedelta | None

    @property
    def none(self) -> bool:
        return self.ended_before is None and self.older_than is None


@dataclass(frozen=True)
class Selection:
    """The batches chosen, the running ones left out (no --include-running),
    and how many batches were looked at."""

    matched: list[MessageBatch]
    running: list[MessageBatch]
    looked_at: int


def parse_filters(args: argparse.Namespace, *, required: bool) -> Filters:
    """The filters given; with `required` (prune), at least one. Checked
    before any request."""
    filters = Filters(
        parse_moment(args.ended_before) if args.ended_before else None,
        parse_duration(args.older_than) if args.older_than else None,
    )
    if required and filters.ended_before is None and filters.older_than is None:
        raise ConfigurationError(
            "prune needs at least one filter: --ended-before DATE or --older-than "
            "DURATION (--older-than 0s selects every batch)."
        )
    return filters


def listing_failed(exc: BatchDeleteError, client: Client | AsyncClient) -> StepError:
    """The error for a failed listing, naming the workspace on a 403 (a 404
    says the route is missing, whatever the workspace)."""
    denied = isinstance(exc, PermissionDeniedError)
    note = workspace_note(exc, workspace_of(client)) if denied else ""
    return StepError(LISTING, exc, f"{LISTING}: {exc} {note}" if note else None)


def list_all(client: Client, betas: list[str] | None) -> list[MessageBatch]:
    """Every batch, all pages; a failure is a `StepError` saying so."""
    try:
        return list(client.list(limit=PAGE_SIZE, betas=betas))
    except BatchDeleteError as exc:  # a 404 says the route is missing (the core's hint)
        raise listing_failed(exc, client) from exc


async def alist_all(client: AsyncClient, betas: list[str] | None) -> list[MessageBatch]:
    """`list_all`, awaited."""
    try:
        return [batch async for batch in client.list(limit=PAGE_SIZE, betas=betas)]
    except BatchDeleteError as exc:
        raise listing_failed(exc, client) from exc


def select(
    batches: list[MessageBatch],
    filters: Filters,
    args: argparse.Namespace,
    err: TextIO,
    *,
    doing: str,
) -> Selection:
    """Of the batches listed: every one when no filter is given; else what
    matches every filter, running batches only with --include-running
    (stderr says how many were left out, and that `doing` them needs the
    flag)."""
    if filters.none:
        return Selection(batches, [], len(batches))
    matched, running = select_for_prune(
        batches,
        now=datetime.now(timezone.utc),
        ended_before=filters.ended_before,
        older_than=filters.older_than,
        include_running=args.include_running,
    )
    if running:
        err.write(
            f"batchdelete: {len(running)} running batch(es) match but are left alone; "
            f"add --include-running to {doing} them.\n"
        )
    return Selection(matched, running, len(batches))
