"""What a deleting run shows: each outcome as it comes, a progress line on a
terminal, the summary at the end, and what was left when interrupted."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any, TextIO

from .._journal import Journal
from .._progress import Progress
from .._workflows import Outcome
from ._exits import EXIT_INTERRUPTED, EXIT_OK, exit_code_for
from ._output import outcome_message, write_json
from ._report import ReportFile

__all__ = ["ProgressLine", "Report"]

REDRAW = 0.1  # seconds between two progress lines
SHOWN = 20  # ids named when interrupted


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressLine:
    """One line on a terminal, redrawn at most every 0.1 s: done/total,
    failures, batches a second, the requests allowed in flight now, 429s
    and the time left; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO, total: int | None, *, quiet: bool = False) -> None:
        self.stream = stream
        self.on = (total is None or total > 1) and not quiet and stream.isatty()
        self.drawn = 0.0

    def clear(self) -> None:
        if self.on and self.drawn:
            self.stream.write("\r\x1b[K")

    def update(self, p: Progress) -> None:
        if not self.on:
            return
        now = time.monotonic()
        if now - self.drawn < REDRAW and p.done != p.total:
            return
        self.drawn = now
        of = "" if p.total is None else f"/{p.total}"
        eta = "" if p.eta is None else f", {_clock(p.eta)} left"
        self.stream.write(
            f"\r\x1b[K{p.done}{of} done, {p.failed} failed, {p.rate:.1f}/s, "
            f"{p.concurrency} in flight at most, {p.rate_limited} rate-limited{eta}"
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
        "workspace": o.workspace,
    }
    if o.error is not None:
        row.update(
            error=type(o.error).__name__,
            message=outcome_message(o),
            status_code=getattr(o.error, "status_code", None),
            exit_code=exit_code_for(o.error),
        )
    return row


def _text_line(o: Outcome, transport: str) -> str:
    if o.status == "missing" and o.workspace is not None:
        # Not "gone": a batch of another workspace is not found in this one.
        return (
            f"not found in {o.workspace} {o.id}  (already gone, or in another "
            f"workspace; request id {o.request_id or '-'})\n"
        )
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
    failures on stderr), the progress (`progress`, on a terminal), then the
    summary; the exit code is the highest among the failures. Keeps counts,
    not outcomes, so that a run of any size costs the same memory; `ids`
    None means they come from a listing as the run goes (prune)."""

    def __init__(
        self,
        ids: list[str] | None,
        args: argparse.Namespace,
        out: TextIO,
        err: TextIO,
        transport: str = "",
        *,
        again: str | None = None,
        workspace: str | None = None,
    ) -> None:
        self.json, self.out, self.err = args.json, out, err
        self.work = _work(args)  # how delete_many / adelete_many are to work
        journal: Journal | None = self.work["journal"]
        # The workspace the requests name (the client's), None when none.
        self.workspace = workspace
        # With --journal, the ids it records as done (in this workspace) are
        # skipped (None: no journal).
        self.todo = (
            ids if ids is None or journal is None else journal.pending(ids, workspace=workspace)
        )
        self.skipped = None if journal is None else 0
        if ids is not None and self.todo is not None and journal is not None:
            self.skipped = len(ids) - len(self.todo)
        self.transport = transport
        self.file: ReportFile | None = getattr(args, "report", None)  # see `open_report`
        # The async path: Ctrl-C cancels the requests under way; what to run after.
        self.again = again
        self.line = ProgressLine(
            err, None if self.todo is None else len(self.todo), quiet=args.verbose
        )
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.finished_ids: set[str] = set()  # only when the ids are known
        # Where the missing ones were looked for: the client's workspace, or
        # the one the answers named (a credential bound to one).
        self.looked_in: set[str] = set() if workspace is None else {workspace}
        self.done_ids: list[str] = []  # the first few deleted or gone, to name them
        self.last: Progress | None = None
        self.code = EXIT_OK
        self.started = time.monotonic()

    def __call__(self, o: Outcome) -> None:
        self.counts[o.status] += 1
        self.counts["canceled"] += o.canceled
        if o.status == "missing" and o.workspace is not None:
            self.looked_in.add(o.workspace)
        if self.todo is not None:
            self.finished_ids.add(o.id)
        if o.ok and len(self.done_ids) < SHOWN:
            self.done_ids.append(o.id)
        self.line.clear()
        if self.file is not None:
            self.file.write(o, self.transport)
        if self.json:
            write_json(self.out, _json_row(o, self.transport))
        elif o.ok:
            self.out.write(_text_line(o, self.transport))
            self.out.flush()
        if o.error is not None:
            self.reasons[type(o.error).__name__] += 1
            self.code = max(self.code, exit_code_for(o.error))
            self.err.write(f"batchdelete: {o.id}: {outcome_message(o)}\n")

    def progress(self, p: Progress) -> None:
        self.last = p
        self.line.update(p)

    @property
    def done(self) -> int:
        return self.counts["deleted"] + self.counts["missing"] + self.counts["failed"]

    def finished(self) -> int:
        self.line.clear()
        if self.done > 1 or self.skipped is not None:
            c = self.counts
            skipped = "" if self.skipped is None else f"; {self.skipped} skipped as already done"
            reasons = ", ".join(f"{n} {name}" for name, n in self.reasons.most_common())
            where = " or ".join(sorted(self.looked_in))
            gone = f"not found in {where}" if where else "already gone"
            self.err.write(
                f"batchdelete: {c['deleted']} deleted ({c['canceled']} after canceling), "
                f"{c['missing']} {gone}, {c['failed']} failed, of {self.done} batches in "
                f"{time.monotonic() - self.started:.1f} s{self._figures()}"
                f"{f'; failed: {reasons}' if reasons else ''}{skipped}.\n"
            )
        return self.code

    def _figures(self) -> str:
        p = self.last
        if p is None:
            return ""
        limit = "" if p.limit is None else f" (the API allows {p.limit})"
        return (
            f"; {p.requests} requests, {p.rate_limited} rate-limited (429), "
            f"{p.pace:.0f} a minute{limit}"
        )

    def interrupted(self) -> int:
        self.line.clear()
        ok = self.counts["deleted"] + self.counts["missing"]
        more = " ..." if ok > len(self.done_ids) else ""
        if self.todo is None:
            left_text = "the rest of the listing"
            left: list[str] = []
        else:
            left = [i for i in dict.fromkeys(self.todo) if i not in self.finished_ids]
            left_more = " ..." if len(left) > SHOWN else ""
            left_text = f"{len(left)} ({', '.join(left[:SHOWN])}{left_more})"
        self.err.write(
            f"batchdelete: interrupted. Done: {ok} ({', '.join(self.done_ids) or 'none'}{more}); "
            f"failed: {self.counts['failed']}; not done: {left_text}.\n"
        )
        if self.again is not None and (left or self.todo is None):
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
