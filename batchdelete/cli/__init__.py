"""The command line: `batchdelete delete | prune | transports | serve`.

Exit codes (with several batches, the highest among the failures):

    0  every batch was deleted (or, with --missing-ok, was already gone)
    1  an unexpected internal error
    2  bad command-line usage
    3  configuration error: credentials, transport, base URL, an invalid id,
       date or duration
    4  not found: unknown or already deleted batch
    5  refused by the API: other 4xx (auth, permission, batch still running
       without --force), or a redirect
    6  server-side failure after retries: 429, 5xx
    7  connection failure or timeout after retries (a --force wait that ran out too)
    8  the API answered with an unexpected body
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence

from .._client import DEFAULT_API_VERSION
from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    BatchDeleteError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from .._version import __version__
from .._workflows import DEFAULT_WAIT_TIMEOUT

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_SERVER = 6
EXIT_CONNECTION = 7
EXIT_INVALID_RESPONSE = 8
EXIT_INTERRUPTED = 130


def exit_code_for(error: BatchDeleteError) -> int:
    """The documented exit code for an error."""
    if isinstance(error, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, (RateLimitError, InternalServerError)):
        return EXIT_SERVER
    if isinstance(error, APIStatusError):
        return EXIT_REFUSED
    if isinstance(error, APIConnectionError):
        return EXIT_CONNECTION
    if isinstance(error, APIResponseValidationError):
        return EXIT_INVALID_RESPONSE
    return EXIT_INTERNAL


def _number(
    kind: type[int] | type[float], low: float, high: float, what: str
) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


SECONDS = _number(float, 1e-3, 1e9, "seconds above 0")
RETRIES = _number(int, 0, 100, "a whole number from 0 to 100")
CONCURRENCY = _number(int, 1, 64, "a whole number from 1 to 64")
PORT = _number(int, 0, 65535, "a port number")
COUNT = _number(int, 0, 100_000, "a whole number of batches")


def _client_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--transport", metavar="NAME", help="transport to use (see: transports)")
    group.add_argument("--base-url", metavar="URL", help="API base URL (ANTHROPIC_BASE_URL)")
    group.add_argument("--api-version", metavar="V", default=DEFAULT_API_VERSION)
    group.add_argument(
        "--beta",
        action="append",
        metavar="NAME",
        dest="betas",
        help="send this beta in anthropic-beta (repeatable)",
    )
    group.add_argument(
        "--max-retries",
        type=RETRIES,
        default=2,
        metavar="N",
        help="retries per request (default 2)",
    )
    group.add_argument(
        "--timeout",
        type=SECONDS,
        metavar="S",
        help="connect and read timeout per attempt (default 5 s / 60 s)",
    )
    group.add_argument(
        "--deadline", type=SECONDS, metavar="S", help="overall limit per request, retries included"
    )
    work = common.add_argument_group("work")
    work.add_argument(
        "--force",
        action="store_true",
        help="cancel a running batch, wait for it to end, then delete it",
    )
    work.add_argument(
        "--wait-timeout",
        type=SECONDS,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="S",
        help=f"how long --force waits for a canceled batch to end "
        f"(default {DEFAULT_WAIT_TIMEOUT:g} s)",
    )
    work.add_argument(
        "--concurrency",
        type=CONCURRENCY,
        default=4,
        metavar="N",
        help="batches worked on at once (default 4, at most 64)",
    )
    work.add_argument("--json", action="store_true", help="one JSON object per batch on stdout")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchdelete",
        description="Delete Anthropic Message Batches. Credentials come from "
        "ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN), never from the command line.",
        epilog="Exit codes: 0 done, 2 usage, 3 configuration, 4 not found, "
        "5 refused, 6 server error, 7 connection/timeout, 8 bad response, "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"batchdelete {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _client_options()

    delete = commands.add_parser("delete", parents=[common], help="delete batches by id")
    delete.add_argument("ids", nargs="*", metavar="ID", help="message batch ids")
    delete.add_argument(
        "--from-file",
        metavar="PATH",
        help="read ids from a file, one per line ('-': standard input)",
    )
    delete.add_argument(
        "--missing-ok", action="store_true", help="a batch that is already gone counts as done"
    )

    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="delete every batch matching filters (shows them; --yes to delete)",
    )
    prune.add_argument(
        "--ended-before",
        metavar="DATE",
        help="batches that ended before this ISO 8601 date or time (UTC)",
    )
    prune.add_argument(
        "--older-than",
        metavar="DURATION",
        help="batches created longer ago than this (30s, 12h, 7d, 2w, 1d12h)",
    )
    prune.add_argument(
        "--include-running",
        action="store_true",
        help="also running batches that match: cancel them first",
    )
    prune.add_argument("--yes", action="store_true", help="delete them; without it, only show")

    transports = commands.add_parser("transports", help="list the transports")
    transports.add_argument("--json", action="store_true", help="print JSON")

    serve = commands.add_parser("serve", help="run the local Message Batches API emulator")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=PORT, default=0, help="port (default: a free one)")
    serve.add_argument("--api-key", metavar="KEY", help="the key it accepts (default: a fixed one)")
    serve.add_argument(
        "--seed",
        type=COUNT,
        default=0,
        metavar="N",
        help="start with N example batches, ids repeatable",
    )
    serve.add_argument(
        "--processing-time",
        type=SECONDS,
        default=60.0,
        metavar="S",
        help="seconds a new batch stays in progress (default 60)",
    )
    serve.add_argument(
        "--cancel-time",
        type=SECONDS,
        default=2.0,
        metavar="S",
        help="seconds a canceled batch stays canceling (default 2)",
    )
    commands.add_parser(
        "demo", help="delete seeded batches through every transport on the built-in emulator"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from . import _commands

    args = build_parser().parse_args(argv)
    try:
        if args.command == "transports":
            return _commands.transports(args, sys.stdout)
        if args.command == "serve":
            return _commands.serve(args, sys.stdout, sys.stderr)
        if args.command == "demo":
            from ._demo import demo

            return demo(sys.stdout)
        return _commands.work(args, sys.stdin, sys.stdout, sys.stderr)
    except ConfigurationError as exc:
        sys.stderr.write(f"batchdelete: {exc}\n")
        return EXIT_CONFIG
    except KeyboardInterrupt:
        sys.stderr.write("batchdelete: interrupted.\n")
        return EXIT_INTERRUPTED
