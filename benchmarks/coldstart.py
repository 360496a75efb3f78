"""A fresh process: import, build a client, complete one delete."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.clients import API_KEY, BATCH

PROGRAMS = {
    "python -c pass": "pass",
    "anthropic SDK": (
        "import anthropic\n"
        "c = anthropic.Anthropic(api_key={key!r}, base_url={url!r}, max_retries=0)\n"
        "assert c.messages.batches.delete({batch!r}).id == {batch!r}\n"
    ),
}
OURS = (
    "import batchdelete\n"
    "c = batchdelete.Client(api_key={key!r}, base_url={url!r}, transport={transport!r})\n"
    "assert c.delete({batch!r}).id == {batch!r}\n"
)


def run(url: str, transports: list[str], rounds: int) -> dict[str, Any]:
    programs = dict(PROGRAMS)
    for t in transports:
        programs[f"batchdelete[{t}]"] = OURS.replace("{transport!r}", repr(t))
    code = {name: text.format(key=API_KEY, url=url, batch=BATCH) for name, text in programs.items()}
    samples: dict[str, list[float]] = {name: [] for name in code}
    ratios: dict[str, list[float]] = {name: [] for name in code}
    for _ in range(rounds):  # interleaved: drift hits every program alike
        for name, source in code.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", source], check=True, timeout=120)
            samples[name].append((time.perf_counter() - start) * 1000)
        sdk = samples["anthropic SDK"][-1]
        for name in code:
            ratios[name].append(samples[name][-1] / sdk)
    return {
        name: {
            "ms": statistics.median(samples[name]),
            "ratio_to_sdk": statistics.median(ratios[name]),
        }
        for name in code
    }
