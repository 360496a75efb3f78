"""`delete` and `prune`: the commands that delete batches."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

import msgspec

from .._client import Client
from .._models import MessageBatch
from .._workflows import Outcome, delete_many
from ._commands import make_client, read_ids
from ._exits import EXIT_INTERRUPTED, EXIT_OK, exit_code_for
from ._output import describe, write_json
from ._select import Selection, parse_filters, select

__all__ = ["Progress", "delete", "prune"]


def delete(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    ids = read_ids(args, stdin)  # before the client: a bad id sends nothing
    with make_client(args) as client:
        return run_deletes(
            client, ids, args, out, err, force=args.force, missing_ok=args.missing_ok
        )


def prune(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    filters = parse_filters(args, required=True)  # before any request
    with make_client(args) as client:
        chosen = select(client, filters, args, err, doing="cancel and delete")
        if not chosen.matched or not args.yes:
            _show_plan(chosen, args, out)
            return EXIT_OK
        ids = [b.id for b in chosen.matched]
        return run_deletes(client, ids, args, out, err, force=args.include_running, missing_ok=True)


def _show_plan(chosen: Selection, args: argparse.Namespace, out: TextIO) -> None:
    """What prune would delete (nothing was): lines, or JSON objects."""
    matched, total = len(chosen.matched), chosen.looked_at
    if args.json:
        for b in chosen.matched:
            write_json(out, _plan_row(b))
        write_json(
            out,
            {
                "ok": True,
                "summary": True,
                "matched": matched,
                "looked_at": total,
                "running_left_alone": len(chosen.running),
                "deleted": 0,
            },
        )
        return
    if not matched:
        out.write(f"No batch matches the filters ({total} batches looked at).\n")
        return
    for b in chosen.matched:
        ended = b.ended_at.isoformat() if b.ended_at else b.processing_status
        out.write(f"would delete {b.id}  (created {b.created_at.isoformat()}, ended {ended})\n")
    out.write(
        f"{matched} of {total} batches match; nothing was deleted. "
        "Run again with --yes to delete them.\n"
    )


def _plan_row(batch: MessageBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "ok": True,
        "status": "would_cancel_and_delete" if batch.running else "would_delete",
        "processing_status": batch.processing_status,
        "created_at": msgspec.to_builtins(batch.created_at),
        "ended_at": msgspec.to_builtins(batch.ended_at),
    }


class Progress:
    """done/total, failures and rate on one line of a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, total: int, *, quiet: bool = False) -> None:
        self.stream = stream
        self.total = total
        self.on = total > 1 and not quiet and stream.isatty()
        self.done = self.failed = 0
        self.started = time.monotonic()

    def clear(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += not outcome.ok
        if self.on:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            self.stream.write(
                f"\r\x1b[K{self.done}/{self.total} done, {self.failed} failed, {rate:.1f}/s"
            )
            self.stream.flush()


def _json_row(o: Outcome, transport: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": o.id,
        "ok": o.ok,
        "status": o.status,
        "canceled": o.canceled,
        "attempts": o.attempts,
        "request_id": o.request_id,
        "elapsed_ms": round(o.elapsed * 1000, 3),
        "transport": transport,
    }
    if o.error is not None:
        row.update(
            error=type(o.error).__name__,
            message=describe(o.error),
            status_code=getattr(o.error, "status_code", None),
            exit_code=exit_code_for(o.error),
        )
    return row


def _text_line(o: Outcome, transport: str) -> str:
    if o.status == "missing":
        return f"already gone {o.id}  (request id {o.request_id or '-'})\n"
    tries = "attempt" if o.attempts == 1 else "attempts"
    canceled = ", canceled first" if o.canceled else ""
    return (
        f"deleted {o.id}  ({transport}, {o.attempts} {tries}, {o.elapsed * 1000:.1f} ms, "
        f"request id {o.request_id or '-'}{canceled})\n"
    )


def _interrupted(outcomes: list[Outcome], ids: list[str], err: TextIO) -> int:
    finished = {o.id for o in outcomes}
    deleted = [o.id for o in outcomes if o.ok]
    left = [i for i in dict.fromkeys(ids) if i not in finished]
    more = " ..." if len(left) > 20 else ""
    err.write(
        f"batchdelete: interrupted. Done: {len(deleted)} "
        f"({', '.join(deleted) or 'none'}); failed: {len(outcomes) - len(deleted)}; "
        f"not done: {len(left)} ({', '.join(left[:20])}{more}).\n"
    )
    return EXIT_INTERRUPTED


def _summary(outcomes: list[Outcome], seconds: float) -> str:
    deleted = sum(o.status == "deleted" for o in outcomes)
    canceled = sum(o.canceled for o in outcomes)
    gone = sum(o.status == "missing" for o in outcomes)
    failed = sum(not o.ok for o in outcomes)
    return (
        f"batchdelete: {deleted} deleted ({canceled} after canceling), {gone} already gone, "
        f"{failed} failed, of {len(outcomes)} batches in {seconds:.1f} s.\n"
    )


def run_deletes(
    client: Client,
    ids: list[str],
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    force: bool,
    missing_ok: bool,
) -> int:
    """Delete the batches, reporting each as it finishes; the exit code is
    the highest among the failures."""
    transport = client.transport.name
    progress = Progress(err, len(ids), quiet=args.verbose)
    outcomes: list[Outcome] = []
    code = EXIT_OK

    def report(o: Outcome) -> None:
        nonlocal code
        outcomes.append(o)
        progress.clear()
        if args.json:
            write_json(out, _json_row(o, transport))
        elif o.ok:
            out.write(_text_line(o, transport))
            out.flush()
        if o.error is not None:
            code = max(code, exit_code_for(o.error))
            err.write(f"batchdelete: {o.id}: {describe(o.error)}\n")
        progress.update(o)

    started = time.monotonic()
    try:
        delete_many(
            client,
            ids,
            concurrency=args.concurrency,
            force=force,
            missing_ok=missing_ok,
            wait_timeout=args.wait_timeout,
            betas=args.betas,
            on_outcome=report,
        )
    except KeyboardInterrupt:
        progress.clear()
        return _interrupted(outcomes, ids, err)
    progress.clear()
    if len(outcomes) > 1:
        err.write(_summary(outcomes, time.monotonic() - started))
    return code
