"""`delete` and `prune`: the commands that delete batches."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from datetime import datetime, timezone
from typing import Any, TextIO

import msgspec

from .._async_client import AsyncClient
from .._async_workflows import adelete_many, arun_many
from .._client import Client
from .._errors import BatchDeleteError, ConfigurationError
from .._journal import Journal
from .._models import MessageBatch, MessageBatchPage
from .._pace import AsyncLimiter, Limiter
from .._prune import Chooser, astream_prune, stream_prune
from .._workflows import delete_many, run_many, workspace_of
from ._commands import make_async_client, make_client, read_ids
from ._exits import EXIT_OK, StepError
from ._output import write_json
from ._report import open_report
from ._select import (
    LISTING,
    PAGE_SIZE,
    Filters,
    Selection,
    alist_all,
    list_all,
    listing_failed,
    parse_filters,
    select,
)
from ._summary import Report

__all__ = ["arun_deletes", "delete", "prune", "run_deletes"]


def delete(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    ids = read_ids(args, stdin)  # before the client: a bad id sends nothing
    # Before the client: a bad journal or report sends nothing.
    with _journal(args), open_report(args):
        if args.use_async:
            reports: list[Report] = []
            return _in_loop(_adelete(args, ids, out, err, reports), reports)
        with make_client(args) as client:
            report = Report(
                ids, args, out, err, client.transport.name, workspace=workspace_of(client)
            )
            return run_deletes(client, ids, report, force=args.force, missing_ok=args.missing_ok)


def prune(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Without --yes, list every batch and show the plan; with it, delete
    while listing (a page at a time, paced with the deletes)."""
    filters = parse_filters(args, required=True)  # before any request
    # The plan (no --yes) deletes nothing, so it neither reads nor starts a journal.
    with _journal(args) if args.yes else contextlib.nullcontext(), open_report(args):
        if args.use_async:
            reports: list[Report] = []
            return _in_loop(_aprune(args, filters, out, err, reports), reports)
        with make_client(args) as client:
            if not args.yes:
                chosen = select(list_all(client, args.betas), filters, args, err, doing=DOING)
                _show_plan(chosen, args, out)
                return EXIT_OK
            workspace = workspace_of(client)
            report = Report(None, args, out, err, client.transport.name, workspace=workspace)
            chooser = _chooser(args, filters, workspace)

            def fetch(after: str | None) -> MessageBatchPage:
                try:
                    return client.list_page(limit=PAGE_SIZE, after_id=after, betas=args.betas)
                except BatchDeleteError as exc:
                    raise listing_failed(exc, client) from exc

            work = {k: v for k, v in report.work.items() if k != "concurrency"}
            try:
                with _writes(report):
                    run_many(
                        client,
                        stream_prune(fetch, chooser),
                        Limiter(args.concurrency),
                        total=None,
                        force=args.include_running,
                        missing_ok=True,
                        on_outcome=report,
                        on_progress=report.progress,
                        keep=False,
                        **work,
                    )
            except KeyboardInterrupt:
                return report.interrupted()
            except StepError as exc:
                if exc.what == LISTING and chooser.scan.looked_at:  # what was done before
                    _pruned(report, chooser, args, out, err)
                raise
            return _pruned(report, chooser, args, out, err)


def _chooser(args: argparse.Namespace, filters: Filters, workspace: str | None) -> Chooser:
    """What to prune, leaving out what the journal records as done in `workspace`."""
    journal: Journal | None = args.journal
    return Chooser(
        now=datetime.now(timezone.utc),
        ended_before=filters.ended_before,
        older_than=filters.older_than,
        include_running=args.include_running,
        done=frozenset() if journal is None else journal.done_in(workspace),
    )


def _pruned(
    report: Report, chooser: Chooser, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    """The end of a prune that deleted as it listed."""
    scan = chooser.scan
    if report.skipped is not None:
        report.skipped = scan.skipped
    if scan.running:
        err.write(
            f"batchdelete: {scan.running} running batch(es) match but are left alone; "
            f"add --include-running to {DOING} them.\n"
        )
    if scan.refused:
        err.write(
            f"batchdelete: {scan.refused} listed id(s) are not batch ids "
            "(msgbatch_ and letters or digits) and were left alone.\n"
        )
    if not scan.matched and not scan.skipped:
        _show_plan(Selection([], [], scan.looked_at), args, out, running=scan.running)
        return EXIT_OK
    return report.finished()


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
        report = Report(
            *(ids, args, out, err, client.transport.name),
            again=again,
            workspace=workspace_of(client),
        )
        reports.append(report)
        return await arun_deletes(client, ids, report, force=args.force, missing_ok=args.missing_ok)


async def _aprune(
    args: argparse.Namespace, filters: Filters, out: TextIO, err: TextIO, reports: list[Report]
) -> int:
    async with make_async_client(args) as client:
        if not args.yes:
            chosen = select(await alist_all(client, args.betas), filters, args, err, doing=DOING)
            _show_plan(chosen, args, out)
            return EXIT_OK
        workspace = workspace_of(client)
        report = Report(
            *(None, args, out, err, client.transport.name),
            again="the prune again",
            workspace=workspace,
        )
        reports.append(report)
        chooser = _chooser(args, filters, workspace)

        async def fetch(after: str | None) -> MessageBatchPage:
            try:
                return await client.list_page(limit=PAGE_SIZE, after_id=after, betas=args.betas)
            except BatchDeleteError as exc:
                raise listing_failed(exc, client) from exc

        work = {k: v for k, v in report.work.items() if k != "concurrency"}
        try:
            with _writes(report):
                await arun_many(
                    client,
                    astream_prune(fetch, chooser),
                    AsyncLimiter(args.concurrency),
                    total=None,
                    force=args.include_running,
                    missing_ok=True,
                    on_outcome=report,
                    on_progress=report.progress,
                    keep=False,
                    **work,
                )
        except asyncio.CancelledError:
            return report.interrupted()
        except StepError as exc:
            if exc.what == LISTING and chooser.scan.looked_at:
                _pruned(report, chooser, args, out, err)
            raise
        return _pruned(report, chooser, args, out, err)


def _show_plan(
    chosen: Selection, args: argparse.Namespace, out: TextIO, *, running: int | None = None
) -> None:
    """What prune would delete (nothing was): lines, or JSON objects.
    `running`: the running batches left alone, when only counted."""
    matched, total = len(chosen.matched), chosen.looked_at
    if running is None:
        running = len(chosen.running)
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
                "running_left_alone": running,
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


def run_deletes(
    client: Client, ids: list[str], report: Report, *, force: bool, missing_ok: bool
) -> int:
    """Delete the batches on threads; Ctrl-C lets those under way finish."""
    try:
        with _writes(report):
            delete_many(
                client,
                ids,
                force=force,
                missing_ok=missing_ok,
                on_outcome=report,
                on_progress=report.progress,
                **report.work,
            )
    except KeyboardInterrupt:
        return report.interrupted()
    return report.finished()


WRITING = "Writing the journal or the report failed"


@contextlib.contextmanager
def _writes(report: Report) -> Iterator[None]:
    """A journal or report file that cannot be written (a full disk) ends
    the run once the batches under way have finished: the summary so far,
    then a configuration error (exit 3) saying what was not recorded."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # stdout closed: the command line's own rule
            raise
        report.finished()
        error = ConfigurationError(
            f"{exc}. The run stopped; batches under way then may have been deleted "
            "without a line in the file (a run again with --missing-ok counts them as "
            "already gone)."
        )
        raise StepError(WRITING, error) from exc


async def arun_deletes(
    client: AsyncClient, ids: list[str], report: Report, *, force: bool, missing_ok: bool
) -> int:
    """Delete the batches as tasks; a cancellation (Ctrl-C) cancels those
    under way."""
    try:
        with _writes(report):
            await adelete_many(
                client,
                ids,
                force=force,
                missing_ok=missing_ok,
                on_outcome=report,
                on_progress=report.progress,
                **report.work,
            )
    except asyncio.CancelledError:
        return report.interrupted()
    return report.finished()
