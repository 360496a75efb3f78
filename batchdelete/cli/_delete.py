"""`delete` and `prune`: the commands that delete batches."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TextIO

import msgspec

from .._async_client import AsyncClient
from .._async_workflows import adelete_many
from .._client import Client
from .._journal import Journal
from .._models import MessageBatch
from .._workflows import Outcome, delete_many
from ._commands import make_async_client, make_client, read_ids
from ._exits import EXIT_INTERRUPTED, EXIT_OK, exit_code_for
from ._output import describe, write_json
from ._report import ReportFile, open_report
from ._select import Filters, Selection, alist_all, list_all, parse_filters, select

__all__ = ["Progress", "Report", "arun_deletes", "delete", "prune", "run_deletes"]


def delete(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    ids = read_ids(args, stdin)  # before the client: a bad id sends nothing
    # Before the client: a bad journal or report sends nothing.
    with _journal(args), open_report(args):
        if args.use_async:
            reports: list[Report] = []
            return _in_loop(_adelete(args, ids, out, err, reports), reports)
        with make_client(args) as client:
            report = Report(ids, args, out, err, client.transport.name)
            return run_deletes(client, ids, report, force=args.force, missing_ok=args.missing_ok)


def prune(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    filters = parse_filters(args, required=True)  # before any request
    with _journal(args), open_report(args):
        if args.use_async:
            reports: list[Report] = []
            return _in_loop(_aprune(args, filters, out, err, reports), reports)
        with make_client(args) as client:
            chosen = select(list_all(client, args.betas), filters, args, err, doing=DOING)
            if not chosen.matched or not args.yes:
                _show_plan(chosen, args, out)
                return EXIT_OK
            ids = [b.id for b in chosen.matched]
            report = Report(ids, args, out, err, client.transport.name)
            return run_deletes(client, ids, report, force=args.include_running, missing_ok=True)


@contextlib.contextmanager
def _journal(args: argparse.Namespace) -> Iterator[None]:
    """With --journal, `args.journal` becomes the open `Journal` (read now,
    before any request) and is closed at the end."""
    if args.journal is None:
        yield
        return
    with Journal(args.journal) as journal:
        args.journal = journal
        yield


DOING = "cancel and delete"


def _in_loop(work: Coroutine[Any, Any, int], reports: list[Report]) -> int:
    """Run the async path; Ctrl-C cancels the deletions under way (their
    connections are dropped) and reports what was done. `reports` receives
    the run's `Report` once the deleting starts."""
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:  # Python 3.10's asyncio.run, or before the deleting began
        if not reports:
            raise
        return reports[0].interrupted()


async def _adelete(
    args: argparse.Namespace, ids: list[str], out: TextIO, err: TextIO, reports: list[Report]
) -> int:
    async with make_async_client(args) as client:
        again = "the same command with --missing-ok"
        report = Report(ids, args, out, err, client.transport.name, again=again)
        reports.append(report)
        return await arun_deletes(client, ids, report, force=args.force, missing_ok=args.missing_ok)


async def _aprune(
    args: argparse.Namespace, filters: Filters, out: TextIO, err: TextIO, reports: list[Report]
) -> int:
    async with make_async_client(args) as client:
        chosen = select(await alist_all(client, args.betas), filters, args, err, doing=DOING)
        if not chosen.matched or not args.yes:
            _show_plan(chosen, args, out)
            return EXIT_OK
        ids = [b.id for b in chosen.matched]
        report = Report(ids, args, out, err, client.transport.name, again="the prune again")
        reports.append(report)
        return await arun_deletes(client, ids, report, force=args.include_running, missing_ok=True)


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


class Report:
    """Reports each outcome as it comes (a line or a JSON object on stdout,
    failures on stderr), then the summary; the exit code is the highest
    among the failures."""

    def __init__(
        self,
        ids: list[str],
        args: argparse.Namespace,
        out: TextIO,
        err: TextIO,
        transport: str = "",
        *,
        again: str | None = None,
    ) -> None:
        self.ids, self.json, self.out, self.err = ids, args.json, out, err
        self.work = _work(args)  # how delete_many / adelete_many are to work
        journal: Journal | None = self.work["journal"]
        # With --journal, the ids it records as done are skipped (None: no journal).
        self.todo = ids if journal is None else journal.pending(ids)
        self.skipped = None if journal is None else len(ids) - len(self.todo)
        self.transport = transport
        self.file: ReportFile | None = getattr(args, "report", None)  # see `open_report`
        # The async path: Ctrl-C cancels the requests under way; what to run after.
        self.again = again
        self.progress = Progress(err, len(self.todo), quiet=args.verbose)
        self.outcomes: list[Outcome] = []
        self.code = EXIT_OK
        self.started = time.monotonic()

    def __call__(self, o: Outcome) -> None:
        self.outcomes.append(o)
        self.progress.clear()
        if self.file is not None:
            self.file.write(o, self.transport)
        if self.json:
            write_json(self.out, _json_row(o, self.transport))
        elif o.ok:
            self.out.write(_text_line(o, self.transport))
            self.out.flush()
        if o.error is not None:
            self.code = max(self.code, exit_code_for(o.error))
            self.err.write(f"batchdelete: {o.id}: {describe(o.error)}\n")
        self.progress.update(o)

    def finished(self) -> int:
        self.progress.clear()
        outcomes = self.outcomes
        if len(outcomes) > 1 or self.skipped is not None:
            deleted = sum(o.status == "deleted" for o in outcomes)
            canceled = sum(o.canceled for o in outcomes)
            gone = sum(o.status == "missing" for o in outcomes)
            failed = sum(not o.ok for o in outcomes)
            skipped = "" if self.skipped is None else f"; {self.skipped} skipped as already done"
            self.err.write(
                f"batchdelete: {deleted} deleted ({canceled} after canceling), {gone} already "
                f"gone, {failed} failed, of {len(outcomes)} batches in "
                f"{time.monotonic() - self.started:.1f} s{skipped}.\n"
            )
        return self.code

    def interrupted(self) -> int:
        self.progress.clear()
        finished = {o.id for o in self.outcomes}
        deleted = [o.id for o in self.outcomes if o.ok]
        left = [i for i in dict.fromkeys(self.todo) if i not in finished]
        more = " ..." if len(left) > 20 else ""
        self.err.write(
            f"batchdelete: interrupted. Done: {len(deleted)} "
            f"({', '.join(deleted) or 'none'}); failed: {len(self.outcomes) - len(deleted)}; "
            f"not done: {len(left)} ({', '.join(left[:20])}{more}).\n"
        )
        if self.again is not None and left:
            self.err.write(
                "batchdelete: the requests under way were cancelled; some may have reached "
                f"the API before. To finish, run {self.again}.\n"
            )
        return EXIT_INTERRUPTED


def _work(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "concurrency": args.concurrency,
        "wait_timeout": args.wait_timeout,
        "betas": args.betas,
        "journal": getattr(args, "journal", None),  # an open Journal (see `_journal`)
    }


def run_deletes(
    client: Client, ids: list[str], report: Report, *, force: bool, missing_ok: bool
) -> int:
    """Delete the batches on threads; Ctrl-C lets those under way finish."""
    try:
        delete_many(
            client, ids, force=force, missing_ok=missing_ok, on_outcome=report, **report.work
        )
    except KeyboardInterrupt:
        return report.interrupted()
    return report.finished()


async def arun_deletes(
    client: AsyncClient, ids: list[str], report: Report, *, force: bool, missing_ok: bool
) -> int:
    """Delete the batches as tasks; a cancellation (Ctrl-C) cancels those
    under way."""
    try:
        await adelete_many(
            client, ids, force=force, missing_ok=missing_ok, on_outcome=report, **report.work
        )
    except asyncio.CancelledError:
        return report.interrupted()
    return report.finished()
