"""The benchmarks, installed with the package: `batchdelete bench` (and,
in the repository, `python -m benchmarks`, the same code with
`--out benchmarks/results`).

Decoding, latency, layer cost, throughput (threads, and asyncio with 1, 16
and 64 requests in flight), cold start and pace, for every installed
transport, against the bare libraries, a raw-socket floor and the official
SDK when it is installed. All on 127.0.0.1 by default (a benchmark server
started for the run, plain or over TLS with a CA made for the run, direct
or through the environment's proxy), or against a real endpoint with
deletes of a batch that cannot exist. Every loop is bounded.

Method: the server runs in its own process. Each latency client runs in its
own process; rounds interleave the clients so drift hits all alike; figures
are medians over rounds and ratios are taken within a round. The layer's
cost over its library is measured inside one process, alternating the two
request by request, as the median of per-round ratios.

The async side (`_async.py`): throughput of each async transport through
AsyncClient and of the SDK's AsyncAnthropic with 1, 16 and 64 requests in
flight, each client in its own process and event loop, rounds interleaving
the clients, ratios to the SDK taken within a round; and the cost of
AsyncClient over its bare library, alternating the two in one process as
above.

The pace section (`_pace.py`): bulk deletion at the emulator's rate limit,
sync and async, a limit lowered mid-run, and the run without the shared
limiter.

Optional libraries (the SDK, orjson, pydantic, matplotlib, cryptography
and each transport's) are imported only when a row needs them; a row whose
library is missing is reported as skipped, never an ImportError. Nothing
here is imported by `import batchdelete`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ._options import SECTIONS, Options

__all__ = ["SECTIONS", "Options", "main"]


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "batchdelete bench",
    out: Path | None = None,
) -> int:
    """`batchdelete bench` under another name (`prog`), with `--out`
    defaulting to `out`: what `python -m benchmarks` runs. Returns the exit
    code; errors are one line on stderr, as on the command line."""
    from ..cli._bench import bench
    from ..cli._output import report_error
    from ..cli._parser import Parser, bench_options

    parser = Parser(prog=prog, description="Measure every installed transport here.")
    bench_options(parser)
    parser.set_defaults(prog=prog, out=out)
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
        return bench(args, sys.stdin, sys.stdout, sys.stderr)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except (Exception, KeyboardInterrupt) as exc:  # one line, never a traceback
        return report_error(exc, sys.stdout, sys.stderr, as_json=False)
