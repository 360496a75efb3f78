"""A fresh process: import, build a client, complete one delete."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from ._clients import SDK, installed, not_installed
from ._options import Setup
from ._progress import Progress

__all__ = ["programs", "run"]

BASELINE = "python -c pass"
TIMEOUT = 120.0  # seconds, a program
SDK_PROGRAM = (
    "import anthropic\n"
    "c = anthropic.Anthropic(api_key={key!r}, base_url={url!r}, max_retries=0{http})\n"
    "assert c.messages.batches.delete({batch!r}).id == {batch!r}\n"
)
OURS = (
    "import batchdelete\n"
    "c = batchdelete.Client(api_key={key!r}, base_url={url!r}, transport={transport!r}{extra})\n"
    "assert c.delete({batch!r}).id == {batch!r}\n"
)


def programs(transports: list[str], setup: Setup) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> the source each fresh process runs; skipped -> why)."""
    key, url, batch = setup.key, setup.url, setup.batch
    extra = "".join(
        f", {name}={value!r}"
        for name, value in (("verify", setup.ca), ("proxy", setup.proxy))
        if value is not None
    )
    http = ""
    if extra:  # the SDK's own client, given the same CA and proxy
        options = []
        if setup.ca is not None:
            options.append(f"verify=__import__('ssl').create_default_context(cafile={setup.ca!r})")
        if setup.proxy is not None:
            options.append(f"proxy={setup.proxy!r}")
        http = f", http_client=anthropic.DefaultHttpxClient({', '.join(options)})"
    found = {BASELINE: "pass"}
    skipped: dict[str, str] = {}
    if installed("anthropic"):
        found[SDK] = SDK_PROGRAM.format(key=key, url=url, batch=batch, http=http)
    else:
        skipped[SDK] = not_installed("anthropic")
    for t in transports:
        found[f"batchdelete[{t}]"] = OURS.format(
            key=key, url=url, batch=batch, transport=t, extra=extra
        )
    return found, skipped


def run(
    code: dict[str, str],
    rounds: int,
    env: dict[str, str],
    progress: Progress,
    failed: dict[str, str],
) -> dict[str, Any]:
    """Each program `rounds` times, interleaved (drift hits every program
    alike); one that fails is named in `failed` and left out."""
    samples: dict[str, list[float]] = {name: [] for name in code}
    for r in range(rounds):
        for name, source in code.items():
            if name in failed:
                continue
            progress.step(f"cold start: {name}, round {r + 1}/{rounds}")
            start = time.perf_counter()
            try:
                done = subprocess.run(  # noqa: S603 - this Python, our own source
                    [sys.executable, "-c", source],
                    timeout=TIMEOUT,
                    env=env,
                    capture_output=True,
                    text=True,
                    start_new_session=True,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                failed[name] = f"did not complete its delete within {TIMEOUT:g} s"
                continue
            elapsed = (time.perf_counter() - start) * 1000
            if done.returncode:
                lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
                failed[name] = lines[-1][:300]
            else:
                samples[name].append(elapsed)
    out: dict[str, Any] = {}
    sdk = samples.get(SDK) if SDK not in failed else None
    for name, ms in samples.items():
        if name in failed:
            continue
        row: dict[str, Any] = {"ms": statistics.median(ms)}
        if sdk:
            row["ratio_to_sdk"] = statistics.median(a / b for a, b in zip(ms, sdk, strict=True))
        out[name] = row
    return out
