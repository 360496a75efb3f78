"""`batchdelete demo`: the main job, end to end, on the built-in emulator."""

from __future__ import annotations

from typing import TextIO

from .._client import Client
from .._errors import BatchDeleteError
from .._registry import list_transports
from .._workflows import delete_batch

ROWS = ("transport", "batch", "outcome", "attempts", "request id", "ms")


def demo(out: TextIO) -> int:
    """Seed batches, delete them through every installed transport, print a table."""
    from ..emulator import Emulator

    rows: list[tuple[str, ...]] = []
    names = [t.name for t in list_transports() if t.available and t.builtin and not t.asynchronous]
    with Emulator(processing_time=3600, cancel_time=0.2, seed=2024) as api:
        out.write(f"Emulator on {api.base_url}; transports: {', '.join(names)}\n\n")
        for name in names:
            ended = api.add_batch("ended", requests=3).id
            running = api.add_batch("in_progress", requests=5).id
            limited = api.add_batch("ended", requests=1).id
            with Client(api_key=api.api_key, base_url=api.base_url, transport=name) as client:
                for batch_id, force, note in (
                    (ended, False, "deleted"),
                    (running, True, "canceled, then deleted (--force)"),
                    (limited, False, "deleted after a 429, retried"),
                    ("msgbatch_0neverexisted0", False, ""),
                ):
                    if batch_id == limited:
                        api.inject(status=429, headers=(("retry-after-ms", "100"),), route="delete")
                    try:
                        o = delete_batch(client, batch_id, force=force)
                    except BatchDeleteError as exc:
                        rows.append(
                            (
                                name,
                                batch_id,
                                type(exc).__name__,
                                str(getattr(exc, "attempts", "-")),
                                getattr(exc, "request_id", None) or "-",
                                "-",
                            )
                        )
                        continue
                    rows.append(
                        (
                            name,
                            batch_id,
                            note,
                            str(o.attempts),
                            o.request_id or "-",
                            f"{o.elapsed * 1000:.1f}",
                        )
                    )
        left = api.batches()
    widths = [max(len(row[i]) for row in (ROWS, *rows)) for i in range(len(ROWS))]
    for row in (ROWS, *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    out.write(f"\n{len(left)} batches left in the emulator; it has stopped.\n")
    return 0 if not left else 1
