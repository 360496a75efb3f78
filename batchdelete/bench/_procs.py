"""The processes of a run: the benchmark server, and one worker process per
client (`_worker.py`), each in a session of its own so that Ctrl-C reaches
only the parent, which ends them by closing their stdin."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from ._options import PROXY_VARIABLES, Setup

__all__ = ["Worker", "WorkerDiedError", "child_environment", "server_stats", "start_server"]


class WorkerDiedError(Exception):
    """A worker process ended without answering."""


def child_environment(through_proxy: bool) -> dict[str, str]:
    """The environment of every process the run starts: the proxy variables
    removed (every client goes direct), unless the run is through the proxy."""
    env = dict(os.environ)
    if not through_proxy:
        for name in PROXY_VARIABLES:
            env.pop(name, None)
    return env


class Worker:
    def __init__(self, name: str, setup: Setup, stack: ExitStack, env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(  # noqa: S603 - this Python, our own module
            [sys.executable, "-m", "batchdelete.bench._worker", name, setup.dumps()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        stack.push(self._exit)

    def _exit(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None and self.proc.poll() is None:  # Ctrl-C, an error: now
            self.proc.kill()
        self.quit()

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
        except OSError:
            raise WorkerDiedError(f"benchmark worker {self.name!r} died") from None
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerDiedError(f"benchmark worker {self.name!r} died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def quit(self) -> None:
        """Ask the worker to end, and wait for it (bounded); safe to call twice."""
        assert self.proc.stdin and self.proc.stdout
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write('{"op": "quit"}\n')
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def start_server(stack: ExitStack, tls: tuple[str, str] | None, env: dict[str, str]) -> str:
    """The benchmark server's base URL (https with `tls`: certificate, key)."""
    proc = subprocess.Popen(  # noqa: S603 - this Python, our own module
        [sys.executable, "-m", "batchdelete.bench._server", *(tls or ())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )

    def stop(exc_type: type[BaseException] | None, *_: object) -> None:
        assert proc.stdin and proc.stdout
        if exc_type is not None:
            proc.kill()
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    stack.push(stop)
    assert proc.stdout
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        raise RuntimeError("the benchmark server did not start (see its error above)")
    scheme = "https" if tls else "http"
    return f"{scheme}://127.0.0.1:{int(line.split()[1])}"


def server_stats(url: str, path: str, ca: str | None) -> dict[str, int]:
    """The server's counts (`/__stats`), or zeroes them (`/__reset`)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 0
    with socket.create_connection((host, port), timeout=10) as raw:
        sock: socket.socket = raw
        if ca is not None:
            sock = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host)
        method = "POST" if path == "/__reset" else "GET"
        sock.sendall(f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode())
        data = b""
        while b"}" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    found: dict[str, int] = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return found
