"""A real forward proxy for the connection-options suite: proxy.py (PyPI)
in a subprocess on 127.0.0.1, with one plugin of ours that keeps it there.

`LoopbackOnly` is a proxy.py plugin that resolves every upstream host to
127.0.0.1 (proxy.py's own `resolve_dns` hook). The suite asks the proxy for
hosts such as `batches.test` or `0.0.0.0`, which batchdelete does not count
as loopback (so a proxy from the environment applies to them) while the
proxy still reaches only this machine's test servers: nothing leaves
127.0.0.1, and no name is looked up in DNS.

`ProxyProcess` starts `python -m proxy` on a free port (`--port 0
--port-file`), waits (bounded) until it accepts connections, and reads its
access log, which proxy.py writes when a client connection or tunnel
closes: `127.0.0.1:54321 - CONNECT batches.test:8443 - 1234 bytes - 5ms`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from proxy.http.proxy import HttpProxyBasePlugin

__all__ = ["LoopbackOnly", "ProxyProcess"]

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0


class LoopbackOnly(HttpProxyBasePlugin):
    """Every upstream connection goes to 127.0.0.1, whatever the host asked."""

    def resolve_dns(self, host: str, port: int) -> tuple[str | None, None]:
        return "127.0.0.1", None


class ProxyProcess:
    """proxy.py on 127.0.0.1, optionally demanding `basic_auth` ("user:pass")."""

    def __init__(self, workdir: Path, basic_auth: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "proxy.log"
        port_file = workdir / "port"
        command = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--threaded",
            "--num-acceptors",
            "1",
            "--log-level",
            "INFO",  # the access log is INFO
            "--log-file",
            str(self.log_path),
            "--data-dir",
            str(workdir / "data"),  # not ~/.proxy
            "--cache-dir",
            str(workdir / "cache"),
            "--plugins",
            f"{__name__}.LoopbackOnly",
        ]
        if basic_auth is not None:
            command += ["--basic-auth", basic_auth]
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self._output = (workdir / "output").open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its acceptor processes end with it
        )
        try:
            self.port = self._wait_until_ready(port_file)
        except BaseException:
            self.close()
            raise

    def _wait_until_ready(self, port_file: Path) -> int:
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self._process.poll() is not None:
                break
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", int(text)), timeout=1),
                ):
                    return int(text)
            time.sleep(0.05)
        output = (self.log_path.parent / "output").read_bytes()[-2000:]
        raise RuntimeError(f"proxy.py did not start within {START_TIMEOUT}s: {output!r}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_size(self) -> int:
        """Where the log ends now: pass it to `wait_for` to see only new lines."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def lines(self, since: int = 0) -> list[str]:
        with self.log_path.open("rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace").splitlines()

    def wait_for(self, needle: str, since: int = 0, timeout: float = 5.0) -> list[str]:
        """Access-log lines after `since` that contain `needle`, waiting (at
        most `timeout` seconds) for one to appear."""
        end = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines(since) if "access_log" in line and needle in line]
            if found or time.monotonic() > end:
                return found
            time.sleep(0.05)

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        self._output.close()

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
