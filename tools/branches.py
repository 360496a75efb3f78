"""The branch-coverage gate: coverage.py's `fail_under` counts statements and
branches together, so this reads its JSON report and fails when branches
alone fall under a threshold, naming the modules that hold the figure back.

    python tools/branches.py coverage.json --fail-under 95
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def branch_figures(report: dict[str, object]) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(covered, total, [(module, covered, total)]) over every measured file."""
    files = report.get("files")
    assert isinstance(files, dict)
    rows: list[tuple[str, int, int]] = []
    for name, data in files.items():
        summary = data["summary"]
        total = int(summary["num_branches"])
        if total:
            rows.append((name, total - int(summary["missing_branches"]), total))
    return sum(r[1] for r in rows), sum(r[2] for r in rows), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="coverage.py's JSON report")
    parser.add_argument("--fail-under", type=float, required=True, metavar="PERCENT")
    args = parser.parse_args(argv)
    covered, total, rows = branch_figures(json.loads(args.report.read_text()))
    percent = 100.0 * covered / total if total else 100.0
    print(f"Branches alone: {covered} of {total} taken, {percent:.1f} %.")
    if percent >= args.fail_under:
        return 0
    worst = sorted(rows, key=lambda r: r[1] / r[2])[:8]
    shown = ", ".join(f"{name} {100.0 * c / t:.0f} %" for name, c, t in worst)
    print(f"Under the gate of {args.fail_under:g} %; the lowest: {shown}.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
