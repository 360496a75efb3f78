"""The command line: `batchdelete delete | prune | list | get | cancel |
transports | serve | demo | bench`.

No command ends in a traceback: every error is one line on stderr,
"batchdelete: what failed; what to do" (and, with --json, an object
{"ok": false, "error", "message", "exit_code"} on stdout), with its exit code.

Exit codes (with several batches, the highest among the failures): one
table, `_exits.EXIT_CODES`, from which `--help` is built and against which
the README is checked.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ._exits import (
    EXIT_CONFIG,
    EXIT_CONNECTION,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID_RESPONSE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SERVER,
    EXIT_USAGE,
    StepError,
    UsageError,
    exit_code_for,
)
from ._output import report_error, verbose_logging, wants_json, warnings_as_lines
from ._parser import build_parser

__all__ = [
    "EXIT_CONFIG",
    "EXIT_CONNECTION",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID_RESPONSE",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "StepError",
    "UsageError",
    "build_parser",
    "exit_code_for",
    "main",
]

Command = Callable[[argparse.Namespace, TextIO, TextIO, TextIO], int]


def _demo(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from ._demo import demo

    return demo(out)


def _run_bench(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from ._bench import bench  # the benchmarks are imported only by this command

    return bench(args, stdin, out, err)


def _command(name: str) -> Command:
    from . import _commands, _delete, _inspect

    commands: dict[str, Command] = {
        "delete": _delete.delete,
        "prune": _delete.prune,
        "list": _inspect.list_batches,
        "get": _inspect.get,
        "cancel": _inspect.cancel,
        "transports": _commands.transports,
        "serve": _commands.serve,
        "demo": _demo,
        "bench": _run_bench,
    }
    return commands[name]


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    shown: set[str] = set()  # warnings already written
    verbose = bool(getattr(args, "verbose", False))
    with warnings_as_lines(err, shown), verbose_logging(err, shown, on=verbose):
        return _command(args.command)(args, sys.stdin, out, err)


def _silence_stdout() -> None:
    """After a broken pipe, send what is left of stdout nowhere, so that
    Python's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    as_json = wants_json(arguments)
    try:
        args = build_parser().parse_args(arguments)
        as_json = bool(getattr(args, "json", False))
        return _run(args, out, err)
    except SystemExit as exc:  # --help and --version print, then exit
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError:
        _silence_stdout()
        err.write("batchdelete: standard output was closed (broken pipe); stopped.\n")
        return EXIT_INTERNAL
    except (Exception, KeyboardInterrupt) as exc:  # every error: one line, never a traceback
        try:
            return report_error(exc, out, err, as_json=as_json)
        except BrokenPipeError:
            _silence_stdout()
            return exit_code_for(exc)
