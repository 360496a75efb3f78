"""The command line: `batchdelete delete ...` and `batchdelete transports`.

Exit codes (with several ids, the highest among the failures):

    0  every batch was deleted
    1  an unexpected internal error
    2  bad command-line usage
    3  configuration error: credentials, transport, base URL or an invalid id
    4  not found: unknown or already deleted batch
    5  refused by the API: other 4xx (auth, permission, still running), or a redirect
    6  server-side failure after retries: 429, 5xx
    7  connection failure or timeout after retries
    8  the API answered with an unexpected body
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import DEFAULT_API_VERSION, Client
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    BatchDeleteError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from ._registry import list_transports
from ._spec import Timeout
from ._version import __version__

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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text!r}")
    return value


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


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

    delete = commands.add_parser("delete", help="delete one or more batches")
    delete.add_argument("ids", nargs="+", metavar="ID", help="message batch ids")
    delete.add_argument("--transport", metavar="NAME", help="transport to use (see: transports)")
    delete.add_argument(
        "--beta",
        action="append",
        metavar="NAME",
        dest="betas",
        help="send this beta in anthropic-beta (repeatable)",
    )
    delete.add_argument("--base-url", metavar="URL", help="API base URL (ANTHROPIC_BASE_URL)")
    delete.add_argument("--api-version", metavar="V", default=DEFAULT_API_VERSION)
    delete.add_argument(
        "--max-retries", type=_retries, default=2, metavar="N", help="retries per batch (2)"
    )
    delete.add_argument(
        "--timeout", type=_seconds, metavar="S", help="connect and read timeout per attempt"
    )
    delete.add_argument(
        "--deadline", type=_seconds, metavar="S", help="overall limit per batch, retries included"
    )
    delete.add_argument("--json", action="store_true", help="one JSON object per batch")

    transports = commands.add_parser("transports", help="list the transports")
    transports.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _transports(as_json: bool, out: TextIO) -> int:
    infos = list_transports()
    if as_json:
        rows = [
            {
                "name": i.name,
                "available": i.available,
                "version": i.version,
                "module": i.module,
                "builtin": i.builtin,
                "reason": i.reason,
                "install": i.install,
            }
            for i in infos
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    for i in infos:
        state = f"{i.version or '?'}" if i.available else "unavailable"
        note = "" if i.available else f"  {i.reason}" + (f"; {i.install}" if i.install else "")
        out.write(f"{i.name:<12} {state:<12} {i.module}{note}\n")
    return EXIT_OK


def _delete(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    timeout = Timeout()
    if args.timeout is not None:
        timeout = Timeout(connect=args.timeout, read=args.timeout)
    if args.deadline is not None:
        timeout = timeout.replace(deadline=args.deadline)
    client = Client(
        base_url=args.base_url,
        api_version=args.api_version,
        transport=args.transport,
        timeout=timeout,
        max_retries=args.max_retries,
    )
    code = EXIT_OK
    done: list[str] = []
    with client:
        for batch_id in args.ids:
            try:
                result = client.with_raw_response.delete(batch_id, betas=args.betas)
            except BatchDeleteError as exc:
                code = max(code, exit_code_for(exc))
                _report_failure(batch_id, exc, args.json, out, err)
                continue
            except KeyboardInterrupt:
                err.write(
                    f"batchdelete: interrupted; deleted {len(done)} of {len(args.ids)}"
                    + (f": {', '.join(done)}" if done else "")
                    + "\n"
                )
                return EXIT_INTERRUPTED
            done.append(batch_id)
            ms = result.elapsed * 1000
            if args.json:
                out.write(
                    json.dumps(
                        {
                            "id": batch_id,
                            "ok": True,
                            "type": result.data.type,
                            "request_id": result.request_id,
                            "attempts": result.attempts,
                            "transport": result.transport,
                            "elapsed_ms": round(ms, 3),
                        }
                    )
                    + "\n"
                )
            else:
                tries = "attempt" if result.attempts == 1 else "attempts"
                out.write(
                    f"deleted {result.data.id}  ({result.transport}, {result.attempts} "
                    f"{tries}, {ms:.1f} ms, request id {result.request_id or '-'})\n"
                )
    return code


def _report_failure(
    batch_id: str, exc: BatchDeleteError, as_json: bool, out: TextIO, err: TextIO
) -> None:
    if as_json:
        out.write(
            json.dumps(
                {
                    "id": batch_id,
                    "ok": False,
                    "error": type(exc).__name__,
                    "message": str(exc),
                    "status_code": getattr(exc, "status_code", None),
                    "request_id": getattr(exc, "request_id", None),
                    "attempts": getattr(exc, "attempts", None),
                    "exit_code": exit_code_for(exc),
                }
            )
            + "\n"
        )
    else:
        err.write(f"batchdelete: {batch_id}: {exc}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "transports":
            return _transports(args.json, out)
        return _delete(args, out, err)
    except ConfigurationError as exc:
        err.write(f"batchdelete: {exc}\n")
        return EXIT_CONFIG
    except KeyboardInterrupt:
        err.write("batchdelete: interrupted.\n")
        return EXIT_INTERRUPTED
