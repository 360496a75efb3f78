"""One benchmark client in a process of its own, driven over stdin/stdout.

    python -m batchdelete.bench._worker NAME SETUP
    python -m batchdelete.bench._worker async:NAME SETUP     (_async.py)

SETUP is a `Setup` as JSON (where the server is, the CA, the proxy; never
a credential). Reads one JSON command per line and answers one JSON line:
  {"op": "latency", "n": N, "warmup": W, "interval": S}
                                           sequential requests; percentiles, CPU
  {"op": "pair", "transport": T, "n": N}   batchdelete[T] and bare T alternated
                                           request by request in this process
  {"op": "throughput", "workers": W, "n": N}  W threads sharing the client
  {"op": "quit"}
NAME "clients:" makes no client of its own: each command names one,
"client": ROW, made on first use and kept (a real endpoint's run, all its
sync clients in one process). A client that cannot be made, or a command
that fails, is answered {"error": "...", "exit_code": N or null}; the
process carries on.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from typing import Any

from . import _clients, _measure
from ._options import Setup


class Clients:
    """The clients of this worker, each made on first use and kept; one
    that cannot be made is remembered as its failure."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.made: dict[str, tuple[_clients.Call, _clients.Close] | dict[str, Any]] = {}

    def get(self, name: str) -> _clients.Call | dict[str, Any]:
        if name not in self.made:
            try:
                self.made[name] = _clients.make(name, self.setup)
            except Exception as exc:  # reported to the parent, for every command
                self.made[name] = _measure.failure(exc)
        found = self.made[name]
        return found if isinstance(found, dict) else found[0]

    def close(self) -> None:
        for found in self.made.values():
            if not isinstance(found, dict):
                with contextlib.suppress(Exception):
                    found[1]()


def _answer(command: dict[str, Any], setup: Setup, call: _clients.Call | None) -> dict[str, Any]:
    op = command["op"]
    if op == "latency":
        assert call is not None
        return _measure.latency(call, command["n"], command["warmup"], command.get("interval", 0.0))
    if op == "pair":
        return _measure.pair(setup, command["transport"], command["n"])
    if op == "throughput":
        assert call is not None
        return _measure.throughput(call, command["workers"], command["n"])
    return {"error": f"unknown op {op!r}", "exit_code": None}


def main() -> None:
    # Ctrl-C is the parent's to handle: it ends this process by closing stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name, setup = sys.argv[1], Setup.loads(sys.argv[2])
    if name.startswith("async:"):  # an async client, in an event loop of its own
        from . import _async

        _async.serve(name[6:], setup)
        return
    clients = Clients(setup)
    # "pair:" makes its own clients; "clients:" is told which in each command
    fixed = None if name.endswith(":") else name
    if fixed is not None:  # made now, as the other workers start theirs
        clients.get(fixed)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        which = command.get("client", fixed)
        call = clients.get(which) if which is not None else None
        if isinstance(call, dict):
            answer = call
        else:
            try:
                answer = _answer(command, setup, call)
            except Exception as exc:  # one client failing does not end the run
                answer = _measure.failure(exc)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    clients.close()


if __name__ == "__main__":
    main()
