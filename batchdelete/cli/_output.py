"""How the command line reports: one line on stderr per error or warning,
JSON objects on stdout with --json, and the -v log lines."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import msgspec

from .._errors import BatchDeleteError, NotFoundError, PermissionDeniedError
from .._ids import InvalidBatchIdError, InvalidWorkspaceIdError
from .._jobs import BatchRunningError, CancelTimeoutError, Outcome
from .._models import MessageBatch
from ._exits import StepError, UsageError, exit_code_for

__all__ = [
    "batch_row",
    "describe",
    "error_fields",
    "one_line",
    "outcome_message",
    "report_error",
    "verbose_logging",
    "wants_json",
    "warnings_as_lines",
    "workspace_note",
    "write_json",
]

LOGGER = "batchdelete"


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def wants_json(argv: Sequence[str]) -> bool:
    """Whether --json (or an abbreviation argparse would accept) is among the
    options, for errors found before the arguments are parsed."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    if list(options[:1]) == ["bench"]:  # its --json names a file; its errors stay on stderr
        return False
    return any(len(a) >= 3 and "--json".startswith(a) for a in options)


def write_json(out: TextIO, row: dict[str, Any]) -> None:
    out.write(json.dumps(row) + "\n")
    out.flush()


def batch_row(batch: MessageBatch) -> dict[str, Any]:
    """A batch as the API shows it (RFC 3339 times), with "ok": true first."""
    fields = msgspec.to_builtins(batch)
    assert isinstance(fields, dict)
    return {"ok": True, **fields}


#: What the command line adds to a library error: its flags, which the
#: library's messages do not name.
FLAG_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (BatchRunningError, "On the command line: --force."),
    (CancelTimeoutError, "On the command line: --wait-timeout SECONDS."),
)


def describe(error: BaseException) -> str:
    """The one-line message for an error: what failed and what to do."""
    if isinstance(error, UsageError):
        command = error.prog.removeprefix("batchdelete").strip()
        where = f"{command}: " if command else ""
        return one_line(f"{where}{error}. Run '{error.prog} --help' to see the usage.")
    if isinstance(error, InvalidBatchIdError):
        return one_line(f"{error} Nothing was sent; correct the id and run again.")
    if isinstance(error, InvalidWorkspaceIdError):
        return one_line(f"{error} Nothing was sent; correct the workspace id and run again.")
    if isinstance(error, (BatchDeleteError, StepError)):
        hint = next((h for kind, h in FLAG_HINTS if isinstance(error, kind)), None)
        return one_line(f"{error} {hint}" if hint else str(error))
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C); nothing more was started."
    return one_line(
        f"internal error: {type(error).__name__}: {error}. This is a bug in batchdelete; "
        "please report it with the command you ran."
    )


def workspace_note(error: BaseException | None, workspace: str | None) -> str:
    """What a 404 or a 403 means when the requests named a workspace ("" else)."""
    if workspace is None:
        return ""
    if isinstance(error, NotFoundError):
        return (
            f"(Looked for in workspace {workspace} only: a batch of another workspace "
            "is not found there.)"
        )
    if isinstance(error, PermissionDeniedError):
        return (
            f"(The requests named workspace {workspace}: check that the credential may "
            "act in it; an API key acts only in its own workspace.)"
        )
    return ""


def outcome_message(o: Outcome) -> str:
    """The one-line message for a failed outcome ("" for a success)."""
    if o.error is None:
        return ""
    note = workspace_note(o.error, o.workspace)
    return describe(o.error) + (f" {note}" if note else "")


def error_fields(error: BaseException) -> dict[str, Any]:
    """The JSON fields describing an error (without "ok")."""
    cause = error.error if isinstance(error, StepError) else error
    fields: dict[str, Any] = {
        "error": type(cause).__name__,
        "message": describe(error),
        "exit_code": exit_code_for(error),
    }
    for name in ("status_code", "request_id"):
        value = getattr(cause, name, None)
        if value is not None:
            fields[name] = value
    return fields


def report_error(error: BaseException, out: TextIO, err: TextIO, *, as_json: bool) -> int:
    """Report an error that ends the command; returns its exit code."""
    code = exit_code_for(error)
    err.write(f"batchdelete: {describe(error)}\n")
    err.flush()
    if as_json:
        write_json(out, {"ok": False, **error_fields(error)})
    return code


@contextmanager
def warnings_as_lines(err: TextIO, shown: set[str]) -> Iterator[None]:
    """Python warnings raised meanwhile (such as the one for a base URL
    ending in /v1) are written as one line: "batchdelete: warning: ...",
    each text once."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = one_line(str(message))
        if text not in shown:
            shown.add(text)
            err.write(f"batchdelete: warning: {text}\n")
            err.flush()

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class _LineFormatter(logging.Formatter):
    """ "batchdelete: <message>" on one line, never a traceback."""

    def __init__(self, shown: set[str]) -> None:
        super().__init__()
        self.shown = shown

    def format(self, record: logging.LogRecord) -> str:
        text = one_line(record.getMessage())
        if record.levelno >= logging.WARNING:
            self.shown.add(text)  # the same text as a Python warning is not shown again
            return f"batchdelete: warning: {text}"
        return f"batchdelete: {text}"


def _not_the_emulator(record: logging.LogRecord) -> bool:
    return not record.name.startswith(f"{LOGGER}.emulator")


@contextmanager
def verbose_logging(err: TextIO, shown: set[str], *, on: bool) -> Iterator[None]:
    """With `on`, the "batchdelete" logger's records go to stderr at DEBUG
    (one line per HTTP attempt) for the duration; the core never logs a
    credential."""
    if not on:
        yield
        return
    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(_LineFormatter(shown))
    handler.addFilter(_not_the_emulator)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.flush()
