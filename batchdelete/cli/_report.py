"""`--report FILE`: every batch's outcome of this run, in a file.

JSON lines when FILE ends in `.jsonl` or `.json`, CSV (with a header row)
when it ends in `.csv`. A row is written and flushed as each outcome
arrives, so an interrupted run keeps what was done. The file is opened
(truncated) before the client is built: an unwritable path is a
`ConfigurationError` (exit 3) with nothing sent."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from .._errors import ConfigurationError
from .._jobs import Outcome
from ._output import outcome_message

__all__ = ["FIELDS", "ReportFile", "open_report", "report_format"]

#: The columns of the CSV, the keys of each JSON line, in this order
#: (`workspace` last: the columns before it kept their places).
FIELDS = (
    *("id", "status", "canceled", "attempts", "request_id"),
    *("elapsed_ms", "error", "message", "transport", "workspace"),
)

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv"}


def report_format(path: str) -> str:
    """The format, "jsonl" or "csv", from the end of `path`; else ValueError."""
    kind = _FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ValueError(f"a report FILE ends in .jsonl, .json or .csv, got {path!r}")
    return kind


def row(o: Outcome, transport: str) -> dict[str, Any]:
    """One outcome as the report's fields (never a credential or a body);
    `workspace` is the one the requests named (null, or an empty CSV
    cell, when none): with it, "missing" means not found in that one."""
    return {
        "id": o.id,
        "status": o.status,
        "canceled": o.canceled,
        "attempts": o.attempts,
        "request_id": o.request_id,
        "elapsed_ms": round(o.elapsed * 1000, 3),
        "error": "" if o.error is None else type(o.error).__name__,
        "message": outcome_message(o),
        "transport": transport,
        "workspace": o.workspace,
    }


class ReportFile:
    """The report at `path`, opened (created or truncated) at once; `write`
    adds one outcome's row and flushes it. Close it when done."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = report_format(path)
        self._lock = threading.Lock()
        try:
            self._file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot write the report {path!r}: {exc.strerror or exc}; "
                "check the path and its permissions."
            ) from None
        self._csv = csv.writer(self._file) if self.format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(FIELDS)
            self._file.flush()

    def write(self, o: Outcome, transport: str) -> None:
        fields = row(o, transport)
        with self._lock:
            if self._csv is not None:
                self._csv.writerow(_cell(fields[name]) for name in FIELDS)
            else:
                self._file.write(json.dumps(fields, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@contextlib.contextmanager
def open_report(args: argparse.Namespace) -> Iterator[None]:
    """With --report, `args.report` becomes the open `ReportFile` (before any
    request) and is closed at the end."""
    path = getattr(args, "report", None)
    if path is None:
        yield
        return
    report = ReportFile(path)
    args.report = report
    try:
        yield
    finally:
        report.close()
