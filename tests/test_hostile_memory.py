"""Bodies cost bounded memory (issue 7, point 2), measured in a child
process whose address space is capped at 1 GiB, on every transport.

The hostile server runs here, in the test process; the child makes one
call, then prints the outcome's class, the time it took and its peak RSS.
`pytest -s` shows the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.hostile import (
    DELETED_ID,
    HostileServer,
    Repeat,
    Request,
    Send,
    endless_chunks,
    gzip_bomb,
    head,
    padded,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ADDRESS_SPACE = 1 << 30  # RLIMIT_AS of the child
PEAK_RSS_LIMIT_MIB = 300
CHILD_TIMEOUT = 60
JSON = "content-type: application/json"

# Runs in the child: the cap is set before batchdelete (or any HTTP
# library) is imported. Arguments: transport, base URL, deadline or "-".
CHILD = f"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
import batchdelete as bd


def own_peak():
    # This process's own peak RSS in KiB since exec (VmHWM), where Linux shows it.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


name, url, deadline = sys.argv[1:4]
timeout = bd.Timeout(read=30, deadline=None if deadline == "-" else float(deadline))
client = bd.Client(
    api_key={API_KEY!r}, base_url=url, transport=name, max_retries=0, timeout=timeout
)
before = own_peak()
started = time.monotonic()
try:
    client.delete({DELETED_ID!r})
    outcome = "success"
except BaseException as exc:  # MemoryError included: it is what is measured
    outcome = type(exc).__name__
elapsed = time.monotonic() - started
try:
    client.close()
except BaseException:
    pass
figures = {{
    "outcome": outcome,
    "elapsed": elapsed,
    "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
    "own_peak_kib": own_peak(),
    "own_before_kib": before,
}}
print(json.dumps(figures))
"""


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def run_child(transport: str, url: str, deadline: float | None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, transport, url, "-" if deadline is None else str(deadline)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    assert done.returncode == 0, f"child exited {done.returncode}: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(transport: str, case: str, result: dict[str, Any]) -> tuple[str, float]:
    """Print the figures; return the outcome's class name and the peak RSS
    in MiB. ru_maxrss is kept across exec on Linux, so it may show the
    parent's size when the child was spawned; the child's own peak (VmHWM)
    is used where there is one."""
    maxrss = result["maxrss_kib"] / 1024
    own, before = result["own_peak_kib"], result["own_before_kib"]
    shown = "?" if own is None or before is None else f"{own / 1024:.0f} MiB"
    print(
        f"\n[memory] {transport:8} {case}: {result['outcome']} in {result['elapsed']:.2f} s, "
        f"peak RSS {shown} (before the call "
        f"{'?' if before is None else f'{before / 1024:.0f} MiB'}; ru_maxrss {maxrss:.0f} MiB)"
    )
    return str(result["outcome"]), maxrss if own is None else own / 1024


def test_gzip_bomb_costs_at_most_the_cap(hostile: HostileServer, transport_name: str) -> None:
    bomb = gzip_bomb()  # about 2 MB, 2 GiB once inflated
    assert len(bomb) < 3_000_000
    answer = head(200, JSON, "content-encoding: gzip", f"content-length: {len(bomb)}") + bomb
    hostile.play([Request(), Send(answer)])
    result = run_child(transport_name, hostile.url, 20.0)
    outcome, peak = report(transport_name, "gzip bomb 2 MB -> 2 GiB", result)
    assert outcome == "ResponseTooLargeError"
    assert peak < PEAK_RSS_LIMIT_MIB


def test_endless_chunked_body_costs_at_most_the_cap(
    hostile: HostileServer, transport_name: str
) -> None:
    hostile.play(
        [
            Request(),
            Send(head(200, JSON, "transfer-encoding: chunked")),
            Repeat((Send(endless_chunks(4096, 16)),), seconds=30),
        ]
    )
    result = run_child(transport_name, hostile.url, 5.0)
    outcome, peak = report(transport_name, "endless chunked body, deadline 5 s", result)
    assert outcome in ("ResponseTooLargeError", "APITimeoutError")
    assert peak < PEAK_RSS_LIMIT_MIB


@pytest.mark.parametrize(
    ("status", "expected"), [(200, "ResponseTooLargeError"), (500, "InternalServerError")]
)
def test_huge_identity_body_costs_at_most_the_cap(
    hostile: HostileServer, transport_name: str, status: int, expected: str
) -> None:
    # A 500 MB content-length body, sent until the client stops reading; an
    # error body is kept up to 64 KiB, a success body refused past the cap.
    size = 500_000_000
    block = b" " * (1 << 20)
    start = padded(200)[:-1]
    answer = head(status, JSON, f"content-length: {size}") + start
    hostile.play(
        [Request(), Send(answer), Repeat((Send(block),), seconds=30, max_bytes=size - len(start))]
    )
    result = run_child(transport_name, hostile.url, 20.0)
    outcome, peak = report(transport_name, f"{status} with a 500 MB identity body", result)
    assert outcome == expected
    assert peak < PEAK_RSS_LIMIT_MIB
