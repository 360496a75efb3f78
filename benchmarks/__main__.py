"""python -m benchmarks [--quick] [--out DIR] [--no-plot] [--only SECTION] ...

The developer's wrapper around `batchdelete bench` (batchdelete/bench/, one
implementation), with --out defaulting to benchmarks/results: what
`make bench` runs for the README. It writes results.json (with --only:
SECTION.json, results.json left alone), pace.md and benchmark.png there,
and prints the table and the recommendation. Every option of
`batchdelete bench` applies (`python -m benchmarks --help`).
"""

from __future__ import annotations

from pathlib import Path

from batchdelete.bench import main

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m benchmarks", out=RESULTS))
