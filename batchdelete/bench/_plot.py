"""benchmark.png: latency per client, decode cost per decoder, async
throughput; with matplotlib, when it is installed (else nothing is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._async import SDK as ASYNC_SDK
from ._clients import SDK, installed

__all__ = ["available", "plot"]


def available() -> bool:
    return installed("matplotlib")


def _latency_panel(a: Any, lat: dict[str, Any], title: str) -> None:
    names = list(lat)[::-1]
    colors = [
        "#c0392b"
        if n.startswith(("batchdelete[", "AsyncClient["))
        else "#7f8c8d"
        if n in (SDK, ASYNC_SDK)
        else "#2c7fb8"
        for n in names
    ]
    a.barh(names, [lat[n]["median_us"] for n in names], color=colors)
    a.errorbar(
        [lat[n]["median_us"] for n in names],
        names,
        xerr=[[0] * len(names), [lat[n]["p90_us"] - lat[n]["median_us"] for n in names]],
        fmt="none",
        ecolor="black",
        capsize=3,
        lw=1,
    )
    for y, n in enumerate(names):
        a.text(lat[n]["p90_us"], y, f"  {lat[n]['median_us']:.0f}", va="center", fontsize=8)
    a.set_xlabel("microseconds per delete (median; whisker to p90)")
    a.set_title(title)


def _decode_panel(b: Any, dec: dict[str, Any]) -> None:
    dnames = list(dec)[::-1]
    b.barh(
        dnames,
        [dec[n]["ns"] for n in dnames],
        color=["#c0392b" if n == "batchdelete" else "#2c7fb8" for n in dnames],
    )
    for y, n in enumerate(dnames):
        b.text(dec[n]["ns"], y, f" {dec[n]['ns']:.0f}", va="center", fontsize=8)
    b.set_xscale("log")
    b.set_xlabel("nanoseconds per decode (log scale)")
    b.set_title("Decoding the delete response")


def _async_panel(ax: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Grouped bars: requests/s of each async client at each in-flight count."""
    ax.set_title("Async throughput, one client each (grey: the SDK)")
    if not rows:
        ax.text(0.5, 0.5, "no async transport available", ha="center", va="center")
        ax.set_axis_off()
        return
    names = list(rows)
    levels = [r["inflight"] for r in rows[names[0]]]
    width = 0.8 / len(names)
    palette = ["#c0392b", "#e67e22", "#8e44ad", "#16a085"]
    for i, name in enumerate(names):
        color = "#7f8c8d" if name == ASYNC_SDK else palette[i % len(palette)]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(levels))]
        heights = [r["rps"] for r in rows[name]]
        ax.bar(xs, heights, width, label=name, color=color)
        for x, h in zip(xs, heights, strict=True):
            ax.text(x, h, f"{h:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(levels)), [f"{k} in flight" for k in levels])
    ax.set_ylabel("requests/s (median over rounds)")
    ax.legend(fontsize=8)


def plot(results: dict[str, Any], path: Path) -> bool:
    """Draw the panels of the sections that ran; False when there is
    nothing to draw or matplotlib is not installed."""
    panels: list[tuple[int, Any]] = []
    real = results.get("endpoint")
    if results.get("latency"):
        title = (
            f"Latency to {real['base_url']} (404s; red: batchdelete)"
            if real
            else "Latency on loopback, keep-alive (red: batchdelete)"
        )
        lat = results["latency"]
        panels.append((3, lambda ax: _latency_panel(ax, lat, title)))
    if results.get("decode"):
        dec = results["decode"]["results"]
        panels.append((2, lambda ax: _decode_panel(ax, dec)))
    if "async_throughput" in results:
        rows = results["async_throughput"]
        panels.append((2, lambda ax: _async_panel(ax, rows)))
    if not panels or not available():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = [w for w, _ in panels]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(19 * sum(widths) / 7, 5.5),
        gridspec_kw={"width_ratios": widths},
        squeeze=False,
    )
    for ax, (_, draw) in zip(axes[0], panels, strict=True):
        draw(ax)
    fig.suptitle(f"batchdelete benchmarks, {results['date']} ({results['machine']['python']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
