"""Delete batches through every installed transport against a loopback server.

Interim demo: it uses the contract suite's scriptable server until the
Message Batches emulator lands. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import batchdelete as bd
from tests.scriptserver import ScriptServer, error_reply


def main() -> int:
    rows: list[tuple[str, str, str, str, str, str]] = []
    with ScriptServer() as server:
        for info in bd.list_transports():
            if not info.available:
                print(f"skipping {info.name}: {info.reason}")
                continue
            with bd.Client(api_key="demo-key", base_url=server.url, transport=info.name) as c:
                # One plain delete, one through an injected 429 that is retried,
                # one of a batch that does not exist.
                for batch_id, script in (
                    (f"msgbatch_{info.name}_ended", None),
                    (
                        f"msgbatch_{info.name}_ratelimited",
                        error_reply(429, "rate_limit_error", "slow down", ("retry-after-ms", "50")),
                    ),
                    (
                        f"msgbatch_{info.name}_missing",
                        error_reply(404, "not_found_error", "No such batch."),
                    ),
                ):
                    if script is not None:
                        server.script(script)
                    try:
                        r = c.with_raw_response.delete(batch_id)
                    except bd.APIError as exc:
                        rows.append(
                            (
                                info.name,
                                batch_id,
                                type(exc).__name__,
                                str(exc.attempts),
                                exc.request_id or "-",
                                "-",
                            )
                        )
                        continue
                    rows.append(
                        (
                            info.name,
                            batch_id,
                            "deleted",
                            str(r.attempts),
                            r.request_id or "-",
                            f"{r.elapsed * 1000:.1f}",
                        )
                    )
    header = ("transport", "batch", "outcome", "attempts", "request id", "ms")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
