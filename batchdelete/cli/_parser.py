"""The argument parser: commands, shared options, checked values."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .._client import DEFAULT_API_VERSION
from .._ids import InvalidWorkspaceIdError, check_workspace_id
from .._version import __version__
from .._workflows import DEFAULT_WAIT_TIMEOUT
from ._exits import EXIT_CODES, UsageError
from ._report import report_format

__all__ = ["BENCH_SECTIONS", "Parser", "bench_options", "build_parser"]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise `UsageError` instead of printing
    the usage and exiting, so that the command line reports them its way
    (one line on stderr, JSON on stdout with --json). Subcommand parsers
    are of this class too."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, prog=self.prog)


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
RATE = _number(int, 1, 1_000_000, "a whole number of requests per minute, 1 or more")


def _workspace(text: str) -> str:
    """--workspace: a workspace id (wrkspc_...), checked before anything runs."""
    try:
        return check_workspace_id(text)
    except InvalidWorkspaceIdError as exc:
        raise argparse.ArgumentTypeError(f"{exc} Nothing was sent") from None


def _report_file(text: str) -> str:
    try:
        report_format(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _connection() -> Parser:
    """Options of every command that talks to the API."""
    common = Parser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--transport", metavar="NAME", help="transport to use (see: transports)")
    group.add_argument("--base-url", metavar="URL", help="API base URL (ANTHROPIC_BASE_URL)")
    group.add_argument("--api-version", metavar="V", default=DEFAULT_API_VERSION)
    group.add_argument(
        "--workspace",
        type=_workspace,
        metavar="ID",
        help="act in this workspace (wrkspc_ then letters, digits): sent as "
        "anthropic-workspace-id on every request, recorded in --journal and --report. "
        "Needed with a credential of the whole organization; a key of one workspace "
        "may only name its own",
    )
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
    output = common.add_argument_group("output")
    output.add_argument(
        "--json",
        action="store_true",
        help="JSON on stdout, one object a line (errors too)",
    )
    output.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say on stderr which step of the credential chain supplied the credential "
        "(never its value), then one line per HTTP attempt (method, path, status, attempt)",
    )
    return common


def _work() -> Parser:
    """Options of the commands that delete many batches."""
    work = Parser(add_help=False)
    group = work.add_argument_group("work")
    group.add_argument(
        "--wait-timeout",
        type=SECONDS,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="S",
        help=f"how long a canceled batch is waited for before it is deleted "
        f"(default {DEFAULT_WAIT_TIMEOUT:g} s)",
    )
    group.add_argument(
        "--concurrency",
        type=CONCURRENCY,
        default=4,
        metavar="N",
        help="batches worked on at once (default 4, at most 64)",
    )
    group.add_argument(
        "--journal",
        metavar="FILE",
        help="record each finished batch in FILE (JSON lines, created if absent) and skip "
        "the batches it records as deleted or already gone in the same workspace: after a "
        "crash or Ctrl-C, run the same command again to resume (failed ones are tried again)",
    )
    group.add_argument(
        "--report",
        type=_report_file,
        metavar="FILE",
        help="write every batch's outcome of this run to FILE (replaced if present), a row "
        "as each finishes: JSON lines if FILE ends in .jsonl or .json, CSV if in .csv. "
        "Fields: id, status, canceled, attempts, request_id, elapsed_ms, error, message, "
        "transport, workspace. With --journal, the batches skipped as already done are not "
        "in it",
    )
    group.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="work as asyncio tasks on one thread through an async transport (aiohttp, "
        "httpx; --transport then names one of them). Helps with a high --concurrency "
        "(16 and more), where threads cost more than the requests",
    )
    return work


def _ids(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ids", nargs="*", metavar="ID", help="message batch ids (msgbatch_ then letters, digits)"
    )
    parser.add_argument(
        "--from-file",
        metavar="PATH",
        help="also read ids from PATH ('-': standard input), separated by whitespace, "
        "commas or newlines; '#' starts a comment, blank lines and a UTF-8 BOM are ignored",
    )


def _filters(parser: argparse.ArgumentParser, *, running: str) -> None:
    parser.add_argument(
        "--ended-before",
        metavar="DATE",
        help="batches that ended before this ISO 8601 date or time (UTC unless a zone is given)",
    )
    parser.add_argument(
        "--older-than",
        metavar="DURATION",
        help="batches created longer ago than this (30s, 12h, 7d, 2w, 1d12h)",
    )
    parser.add_argument("--include-running", action="store_true", help=running)


def _serve(commands: argparse._SubParsersAction[Parser]) -> None:
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
    serve.add_argument(
        "--requests-per-minute",
        type=RATE,
        metavar="N",
        help="rate-limit each API key as the API does: N per minute, a token bucket; "
        "429 with retry-after over it (default: no limit)",
    )
    serve.add_argument(
        "--burst",
        type=RATE,
        metavar="N",
        help="with --requests-per-minute: the bucket holds at most N requests "
        "(default: a minute's worth; N/60 enforces the rate per second)",
    )


#: The sections of `bench`, in the order they run (batchdelete.bench.SECTIONS,
#: repeated here so that the parser does not import the benchmarks).
BENCH_SECTIONS = ("decode", "latency", "layer", "throughput", "async", "coldstart", "pace")
REQUESTS = _number(int, 1, 1000, "a whole number of requests from 1 to 1000")


def bench_options(parser: argparse.ArgumentParser) -> None:
    """The options of `bench` (also those of `python -m benchmarks`)."""
    run = parser.add_argument_group("what runs")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: about a minute and a half instead of about 8 (the figures are noisier)",
    )
    run.add_argument(
        "--only",
        action="append",
        metavar="SECTION",
        help=f"run only this section (repeatable, or comma-separated): {', '.join(BENCH_SECTIONS)}"
        " (async: throughput and layer cost of AsyncClient; pace: bulk deletes at the "
        "emulator's rate limit)",
    )
    run.add_argument(
        "--tls",
        action="store_true",
        help="serve the benchmark server over TLS, its certificate signed by a CA made for "
        "the run (needs the cryptography package), which every client verifies",
    )
    run.add_argument(
        "--through-proxy",
        action="store_true",
        help="send every client's requests through the proxy your environment names "
        "(HTTPS_PROXY, HTTP_PROXY, ALL_PROXY), to measure it; without this flag those "
        "variables are ignored and every client goes direct. Clients never proxy 127.0.0.1 "
        "by themselves (batchdelete's never do, others by NO_PROXY), so the proxy is given "
        "to every client explicitly, for 127.0.0.1 too: it must be able to reach this "
        "machine's 127.0.0.1 (a proxy running here). For a proxy elsewhere, add --base-url",
    )
    real = parser.add_argument_group("against a real endpoint")
    real.add_argument(
        "--base-url",
        metavar="URL",
        help="measure the latency to URL instead of a local server: every client deletes "
        "msgbatch_000000000000000000000000, a batch that cannot exist, so each request is "
        "answered 404 and nothing is deleted. Retries off; the request count is printed "
        "first, at most 200 in all. A URL that is not this machine needs --yes-real-api. "
        "Key: ANTHROPIC_API_KEY",
    )
    real.add_argument(
        "--yes-real-api",
        action="store_true",
        help="confirm that --base-url is a real API: its requests count against your rate limit",
    )
    real.add_argument(
        "--requests",
        type=REQUESTS,
        metavar="N",
        help="with --base-url: requests each client counts, plus one to connect (default 10, "
        "fewer with many clients; the total stays at most 200)",
    )
    real.add_argument(
        "--rate",
        type=RATE,
        metavar="N",
        help="with --base-url: at most N requests a minute (default 50; raise it if your "
        "rate limit allows)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--json",
        dest="json_file",
        metavar="FILE",
        help="also write every figure to FILE as JSON (machine, versions, parameters)",
    )
    output.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the figures to FILE.png (or .svg, .pdf); needs matplotlib: without "
        "it, exit 2 before anything runs",
    )
    output.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write results.json (with --only: SECTION.json), pace.md and benchmark.png "
        "to DIR, as make bench does",
    )
    output.add_argument("--no-plot", action="store_true", help="with --out: no benchmark.png")


def _bench(commands: argparse._SubParsersAction[Parser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure every installed transport here, to choose one (about 8 minutes; --quick)",
        description="Measure every installed transport (sync and async) through Client, "
        "beside each library bare and the official SDK when installed: against a server "
        "started on 127.0.0.1 (nothing leaves this machine), or against a real endpoint "
        "with --base-url. Prints the table, then a one-line recommendation.",
    )
    bench_options(bench)
    bench.set_defaults(prog="batchdelete bench")


def _api_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    common, work = _connection(), _work()
    delete = commands.add_parser("delete", parents=[common, work], help="delete batches by id")
    _ids(delete)
    delete.add_argument(
        "--force",
        action="store_true",
        help="cancel a running batch, wait for it to end, then delete it",
    )
    delete.add_argument(
        "--missing-ok", action="store_true", help="a batch that is already gone counts as done"
    )

    prune = commands.add_parser(
        "prune",
        parents=[common, work],
        help="delete every batch matching filters (shows them; --yes to delete)",
    )
    _filters(prune, running="also running batches that match: cancel them first")
    prune.add_argument("--yes", action="store_true", help="delete them; without it, only show")

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="list batches (every one, or what prune would select with the same filters)",
    )
    _filters(listing, running="with filters, also running batches (as prune would select)")

    get = commands.add_parser("get", parents=[common], help="show batches by id")
    _ids(get)
    cancel = commands.add_parser("cancel", parents=[common], help="cancel running batches by id")
    _ids(cancel)


def build_parser() -> Parser:
    parser = Parser(
        prog="batchdelete",
        description="Delete Anthropic Message Batches. Credentials come from the "
        "environment (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, a profile or workload "
        "identity federation), never from the command line; -v says which.",
        epilog="Exit codes: " + ", ".join(f"{code} {word}" for code, word, _ in EXIT_CODES) + ".",
    )
    parser.add_argument("--version", action="version", version=f"batchdelete {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _api_commands(commands)
    transports = commands.add_parser("transports", help="list the transports")
    transports.add_argument("--json", action="store_true", help="print JSON")
    _serve(commands)
    commands.add_parser(
        "demo", help="delete seeded batches through every transport on the built-in emulator"
    )
    _bench(commands)
    return parser
