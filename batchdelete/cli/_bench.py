"""`batchdelete bench`: the benchmarks, to choose a transport here.

The options are checked before anything runs (exit 2 for one this
installation cannot honour: --plot without matplotlib, --tls without
cryptography; a real endpoint without --yes-real-api, or more requests than
the cap; exit 3 for the environment: no proxy for --through-proxy, no key
for --base-url, an output that cannot be written). Then the run: a progress
line on stderr on a terminal, the table on stdout, the files, and last the
one-line recommendation. Exit 0, or when no transport of batchdelete
completed the latency section, the exit code of their failures.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from .._errors import ConfigurationError, mask_userinfo
from .._transport import is_loopback_host
from ._exits import EXIT_OK, UsageError
from ._parser import BENCH_SECTIONS

if TYPE_CHECKING:
    from ..bench import Options

__all__ = ["bench"]

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _sections(args: argparse.Namespace, prog: str) -> tuple[str, ...]:
    if not args.only:
        return ("latency",) if args.base_url else BENCH_SECTIONS
    asked = {part.strip() for value in args.only for part in value.split(",") if part.strip()}
    unknown = sorted(asked - set(BENCH_SECTIONS))
    if unknown or not asked:
        raise UsageError(
            f"--only takes {', '.join(BENCH_SECTIONS)} (comma-separated, or repeated); "
            f"got {', '.join(map(repr, unknown)) or 'nothing'}",
            prog=prog,
        )
    if args.base_url and asked != {"latency"}:
        raise UsageError("with --base-url only the latency section runs", prog=prog)
    return tuple(name for name in BENCH_SECTIONS if name in asked)


def _writable(path: Path, what: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ConfigurationError(
            f"Cannot write {what} {str(path)!r}: give a file in a directory that exists and "
            "can be written."
        )


def _check_real(args: argparse.Namespace, prog: str) -> None:
    url = args.base_url
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--base-url takes an http:// or https:// URL with a host, got {mask_userinfo(url)!r}",
            prog=prog,
        )
    if not is_loopback_host(parts.hostname) and not args.yes_real_api:
        raise UsageError(
            f"--base-url {mask_userinfo(url)} is not this machine: add --yes-real-api to send "
            "it requests (deletes of a batch that cannot exist, each answered 404; at most "
            "200, counted first)",
            prog=prog,
        )
    if args.tls:
        raise UsageError(
            "--tls is for the local server; a real endpoint's TLS is its own", prog=prog
        )
    if not (os.environ.get("ANTHROPIC_API_KEY") or "").strip():
        raise ConfigurationError(
            "--base-url sends ANTHROPIC_API_KEY as x-api-key, and it is not set: export it "
            "(a 404 needs a valid key; nothing is deleted)."
        )


def _check_local(args: argparse.Namespace, prog: str) -> None:
    """No flag that only a real endpoint (--base-url) takes."""
    for flag, value in (
        ("--yes-real-api", args.yes_real_api),
        ("--requests", args.requests),
        ("--rate", args.rate),
    ):
        if value:
            raise UsageError(f"{flag} goes with --base-url", prog=prog)


def _check_plot(plot: str, sections: tuple[str, ...], prog: str) -> None:
    """--plot names a file of a kind matplotlib writes, a section drawn
    runs, matplotlib is there, and the file can be written."""
    from ..bench import _plot

    if Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(
            f"--plot writes a {', '.join(PLOT_SUFFIXES)} file, got {plot!r}", prog=prog
        )
    if not {"latency", "decode", "async"} & set(sections):
        raise UsageError(
            "--plot draws the latency, decode and async figures: run one of those sections",
            prog=prog,
        )
    if not _plot.available():
        raise UsageError(
            "--plot needs matplotlib, which is not installed: pip install matplotlib "
            "(or leave --plot out)",
            prog=prog,
        )
    _writable(Path(plot), "the plot to")


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"Cannot create --out {str(out)!r}: {exc}.") from None


def _label(args: argparse.Namespace, sections: tuple[str, ...]) -> str:
    """The command as the results name it (any credential in the URL masked)."""
    label: str = args.prog + (" --quick" if args.quick else "")
    if args.only:
        label += f" --only {','.join(sections)}"
    label += " --tls" * args.tls + " --through-proxy" * args.through_proxy
    if args.base_url:
        label += f" --base-url {mask_userinfo(args.base_url)}"
    return label


def _options(args: argparse.Namespace) -> Options:
    """The run's `batchdelete.bench.Options`, every flag checked first."""
    from .. import bench
    from ..bench import _tls
    from ..bench._run import environment_proxy

    prog = args.prog
    sections = _sections(args, prog)
    if args.base_url is not None:
        _check_real(args, prog)
    else:
        _check_local(args, prog)
    if args.plot is not None:
        _check_plot(args.plot, sections, prog)
    if args.json_file is not None:
        _writable(Path(args.json_file), "the results to")
    if args.tls and (reason := _tls.unavailable()) is not None:
        raise UsageError(reason, prog=prog)
    if args.through_proxy:  # checked now, not after minutes of work
        local = "https://127.0.0.1" if args.tls else "http://127.0.0.1"
        environment_proxy(args.base_url or local)
    if args.out is not None:
        _make_out(args.out)
    return bench.Options(
        quick=args.quick,
        sections=sections,
        tls=args.tls,
        through_proxy=args.through_proxy,
        base_url=args.base_url,
        requests=args.requests,
        rate=args.rate or 50,
        label=_label(args, sections),
    )


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"Cannot write the results to {str(path)!r}: {exc}.") from None


def _write_files(args: argparse.Namespace, results: dict[str, Any], err: TextIO) -> list[str]:
    from ..bench import _pace_table, _plot

    written: list[str] = []
    text = json.dumps(results, indent=2) + "\n"
    if args.json_file is not None:
        _write(Path(args.json_file), text)
        written.append(args.json_file)
    if args.plot is not None:
        if _plot.plot(results, Path(args.plot)):
            written.append(args.plot)
        else:
            err.write(
                "batchdelete: warning: nothing to plot: no latency, decode or async figures.\n"
            )
    if args.out is not None:
        name = "results.json" if not args.only else "-".join(results_sections(results)) + ".json"
        _write(args.out / name, text)
        written.append(str(args.out / name))
        if "pace" in results:
            written.append(str(_pace_table.write_table(results["pace"], args.out)))
        if not args.only and not args.no_plot:
            if _plot.plot(results, args.out / "benchmark.png"):
                written.append(str(args.out / "benchmark.png"))
            elif not _plot.available():
                err.write("batchdelete: benchmark.png not drawn: matplotlib is not installed.\n")
    return written


def results_sections(results: dict[str, Any]) -> list[str]:
    """The sections a run's results hold, by the names --only takes."""
    keys = {
        "decode": "decode",
        "latency": "latency",
        "layer_cost": "layer",
        "throughput": "throughput",
        "async_throughput": "async",
        "cold_start": "coldstart",
        "pace": "pace",
    }
    return [name for key, name in keys.items() if key in results]


def bench(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from ..bench import _real, _report, _run
    from ..bench._progress import Progress

    options = _options(args)
    plan = None
    if options.base_url is not None:
        sync, asynchronous, _ = _run.transports()
        try:
            plan = _real.make_plan(options, sync, asynchronous)
        except _real.TooManyRequestsError as exc:
            raise UsageError(str(exc), prog=args.prog) from None
        out.write(plan.announce(options.base_url, options.rate) + "\n\n")
        out.flush()
    progress = Progress(err)
    try:
        results, worst = _run.run(options, progress, plan)
    finally:
        progress.close()
    out.write(_report.table(results) + "\n")
    out.flush()
    written = _write_files(args, results, err)
    if written:
        err.write(f"Wrote {', '.join(written)} in {results['seconds']} s.\n")
    out.write("\n" + results["recommendation"]["text"] + "\n")
    out.flush()
    if worst is not None:
        hint = ""
        if options.through_proxy and options.base_url is None:
            hint = (
                " Through a proxy, 127.0.0.1 is this machine only for a proxy running here: "
                "for a proxy elsewhere, use --base-url."
            )
        err.write(
            "batchdelete: no transport of batchdelete completed the latency section (see "
            f"Failed above).{hint}\n"
        )
        return worst
    return EXIT_OK
