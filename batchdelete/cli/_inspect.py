"""`list`, `get` and `cancel`: looking at batches, and stopping them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from .._client import Client
from .._errors import BatchDeleteError
from .._models import MessageBatch
from .._workflows import workspace_of
from ._commands import make_client, read_ids
from ._exits import EXIT_OK, exit_code_for
from ._output import batch_row, describe, error_fields, workspace_note, write_json
from ._select import list_all, parse_filters, select

__all__ = ["cancel", "get", "list_batches"]

COLUMNS = ("ID", "STATUS", "CREATED", "ENDED", "REQUESTS")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _counts(batch: MessageBatch) -> str:
    c = batch.request_counts
    parts = [
        f"{n} {name}"
        for n, name in (
            (c.processing, "processing"),
            (c.succeeded, "succeeded"),
            (c.errored, "errored"),
            (c.canceled, "canceled"),
            (c.expired, "expired"),
        )
        if n
    ]
    return ", ".join(parts) or "none"


def _cells(batch: MessageBatch) -> tuple[str, ...]:
    return (
        batch.id,
        batch.processing_status,
        _when(batch.created_at),
        _when(batch.ended_at),
        _counts(batch),
    )


def list_batches(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Every batch, or with filters what `prune` with the same flags would select."""
    filters = parse_filters(args, required=False)  # before any request
    with make_client(args) as client:
        chosen = select(list_all(client, args.betas), filters, args, err, doing="list")
    if args.json:
        for batch in chosen.matched:
            write_json(out, batch_row(batch))
        return EXIT_OK
    rows = [COLUMNS, *(_cells(b) for b in chosen.matched)]
    if chosen.matched:
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            out.write("\n")
    what = "match the filters" if not filters.none else "listed"
    out.write(f"{len(chosen.matched)} of {chosen.looked_at} batches {what}.\n")
    return EXIT_OK


def _get_line(batch: MessageBatch) -> str:
    return (
        f"{batch.id}  {batch.processing_status}  created {_when(batch.created_at)}  "
        f"ended {_when(batch.ended_at)}  requests: {_counts(batch)}\n"
    )


def _cancel_line(batch: MessageBatch) -> str:
    if batch.processing_status == "ended":
        return f"{batch.id}  ended  (it had already ended: nothing to cancel)\n"
    return (
        f"{batch.id}  {batch.processing_status}  (cancel requested at "
        f"{_when(batch.cancel_initiated_at)}; it ends once running requests finish)\n"
    )


def _each(
    args: argparse.Namespace,
    stdin: TextIO,
    out: TextIO,
    err: TextIO,
    call: Callable[[Client, str], MessageBatch],
    line: Callable[[MessageBatch], str],
) -> int:
    """`call` for every id in turn; one failure never stops the others, and
    the exit code is the highest among the failures."""
    ids = read_ids(args, stdin)  # before the client: a bad id sends nothing
    code = EXIT_OK
    with make_client(args) as client:
        workspace = workspace_of(client)
        for batch_id in ids:
            try:
                batch = call(client, batch_id)
            except BatchDeleteError as exc:
                code = max(code, exit_code_for(exc))
                note = workspace_note(exc, workspace)
                message = describe(exc) + (f" {note}" if note else "")
                err.write(f"batchdelete: {batch_id}: {message}\n")
                if args.json:
                    fields = {**error_fields(exc), "message": message}
                    write_json(out, {"id": batch_id, "ok": False, **fields})
                continue
            if args.json:
                write_json(out, batch_row(batch))
            else:
                out.write(line(batch))
                out.flush()
    return code


def get(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    def call(client: Client, batch_id: str) -> MessageBatch:
        return client.retrieve(batch_id, betas=args.betas)

    return _each(args, stdin, out, err, call, _get_line)


def cancel(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    def call(client: Client, batch_id: str) -> MessageBatch:
        return client.cancel(batch_id, betas=args.betas)

    return _each(args, stdin, out, err, call, _cancel_line)
