"""The pace section's targets and its table (Markdown, also pace.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["FOLLOW_BAND", "MAX_429_SHARE", "MIN_ALLOWED_SHARE", "table", "targets", "write_table"]

MAX_429_SHARE = 0.05
MIN_ALLOWED_SHARE = 0.85
FOLLOW_BAND = 0.10  # a window's pace within 10 % of the new limit


def targets(out: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for r in out["target"]:
        if not r["targets_apply"]:
            continue
        name = f"{r['mode']}, burst {r['burst']}"
        found[f"{name}: every batch deleted"] = {
            "value": r["deleted"] / r["batches"],
            "goal": "= 1",
            "met": r["all_deleted"],
        }
        found[f"{name}: 429 share"] = {
            "value": r["share_429"],
            "goal": f"<= {MAX_429_SHARE}",
            "met": r["met_429"],
        }
        found[f"{name}: share of the allowed rate"] = {
            "value": r["share_of_allowed"],
            "goal": f">= {MIN_ALLOWED_SHARE}",
            "met": r["met_allowed"],
        }
    return found


def _n(value: float | None, fmt: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, fmt)


def table(out: dict[str, Any]) -> str:
    """The section as Markdown."""
    p = out["parameters"]
    per_second = p["burst"] == p["limit"] // 60
    lines = [
        f"Pace at the emulator's rate limit ({p['batches']} ended batches, "
        f"{p['limit']:,} requests/min, ceiling {p['ceiling']}; in-process emulator, "
        f"default transports). Burst {p['burst']}: a bucket of {p['burst']} requests"
        + (
            " (a second's worth: the rate enforced per second, as the API says it may do)"
            if per_second
            else ""
        )
        + "; the default bucket holds a minute's worth, so the run fits in the first "
        "burst. Pace: successful requests/min; allowed: successful / (burst + limit/60 "
        "x elapsed).",
        "",
        "| run | transport | burst | all deleted | failed | elapsed | requests | 429s | "
        "429 share | pace/min | batches/s | of allowed |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*out["target"], out["baseline"]]:
        name = r["mode"] if r["mode"] != "sync, no limiter" else "baseline: 32 threads, no limiter"
        allowed = "n/a (one burst)" if r["fits_first_burst"] else f"{r['share_of_allowed']:.1%}"
        burst = r["burst"] if r["burst"] is not None else f"default ({r['limit']:,})"
        failed = str(r["failed"])
        if r["failed"]:
            failed += f" ({', '.join(r['failed_reasons'])})"
        if r.get("not_started"):
            failed += f", {r['not_started']} not started"
        lines.append(
            f"| {name} | {r['transport']} | {burst} | {'yes' if r['all_deleted'] else 'no'} | "
            f"{failed} | {r['elapsed_s']:.1f} s | {r['requests']:,} | {r['rate_limited']:,} | "
            f"{r['share_429']:.1%} | {r['pace_per_min']:,.0f} | {r['batches_per_s']:,.1f} | "
            f"{allowed} |"
        )
    c0 = out["change"][0]
    lines += [
        "",
        f"Limit lowered mid-run: {c0['limit']:,}/min (burst {c0['burst']}) to "
        f"{c0['new_limit']:,}/min (burst {c0['new_burst']}) after {p['change_after']:g} s, "
        f"{c0['batches']} batches. Pace of successful requests in {c0['window_s']:g}-s "
        f"windows; follows within N s: the first window starting at or after the change with "
        f"its pace within {FOLLOW_BAND:.0%} of the new limit ends N s after the change "
        f"({c0['window_s']:g} s, one window, is the least it can show); stays within: every "
        f"later window (0.1-s steps) within it too; pace after: from then to the end.",
        "",
        "| run | transport | changed at | pace before | pace after | follows within | "
        "stays within | all deleted | 429s | 429 share | of allowed | elapsed |",
        "|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in out["change"]:
        stays = "n/a" if r["stays"] is None else ("yes" if r["stays"] else "no")
        lines.append(
            f"| {r['mode']} | {r['transport']} | {_n(r['changed_at_s'], '.1f')} s | "
            f"{_n(r['pace_before'])} | {_n(r['pace_after'])} | "
            f"{_n(r['follows_within_s'], '.1f')} s | {stays} | "
            f"{'yes' if r['all_deleted'] else 'no'} | {r['rate_limited']} | "
            f"{r['share_429']:.1%} | {_n(r['share_of_allowed'], '.1%')} | "
            f"{r['elapsed_s']:.1f} s |"
        )
    for r in out["change"]:
        cells = ", ".join(f"{w['from_s']:g}: {w['pace_per_min']:,.0f}" for w in r["windows"])
        lines.append(f"\n{r['mode']} windows (s from the start: pace/min): {cells}")
    lines += ["", "Pace targets (issue 10):", ""]
    for name, t in out["targets"].items():
        lines.append(f"- {'met ' if t['met'] else 'MISS'} {name}: {t['value']:.3f} ({t['goal']})")
    lines.append(f"\nPace section: {out['seconds']} s.")
    return "\n".join(lines)


def write_table(out: dict[str, Any], directory: Path) -> Path:
    path = directory / "pace.md"
    path.write_text(table(out) + "\n")
    return path
