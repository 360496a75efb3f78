"""Every exit code of the installed `batchdelete` executable, run in a
subprocess against real loopback servers (the emulator, the script server,
an HTTPS server with an untrusted certificate). Whatever happens: the
documented code, no traceback, the last stderr line from batchdelete, and
JSON lines on stdout with --json."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from batchdelete.emulator import Emulator
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer

SCRIPT = Path(sys.executable).parent / "batchdelete"
DROPPED = {
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_PROFILE",
    "BATCHDELETE_TRANSPORT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
}
PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
ATTEMPT = re.compile(r"^batchdelete: (\w+) (/\S+) -> (\w+) in [\d.]+ ms \(attempt (\d+), ")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    @property
    def attempts(self) -> list[re.Match[str]]:
        found = (ATTEMPT.match(line) for line in self.err.splitlines())
        return [m for m in found if m]


def batchdelete(*argv: str, base_url: str, api_key: str = API_KEY, stdin: str | None = None) -> Run:
    """Run the installed executable; check what holds for every run."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and k.lower() not in PROXIES}
    env.update(ANTHROPIC_API_KEY=api_key, ANTHROPIC_BASE_URL=base_url)
    proc = subprocess.run(
        [str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=30,
    )
    run = Run(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in run.err
    if run.code != 0:
        assert run.err.splitlines()[-1].startswith("batchdelete:"), run.err
    if "--json" in argv:
        assert all(isinstance(row, dict) for row in run.rows)
    if api_key.strip():
        assert api_key not in run.err + run.out
    return run


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, frozen=True, processing_time=86400, cancel_time=0) as emulator:
        yield emulator


# -- 0: done -----------------------------------------------------------------------


@pytest.mark.slow
def test_delete_from_a_file_with_bom_comments_and_commas(api: Emulator, tmp_path: Path) -> None:
    a, b, c, d = (api.add_batch("ended").id for _ in range(4))
    listing = tmp_path / "ids.txt"
    listing.write_bytes(f"\ufeff# to remove\n{a} {b}\n\n{c},{d}  # the last two\n{a}\n".encode())
    run = batchdelete("delete", "--from-file", str(listing), "--json", base_url=api.base_url)
    assert run.code == 0, run.err
    assert sorted(r["id"] for r in run.rows) == sorted([a, b, c, d])  # the duplicate once
    assert all(r["ok"] and r["status"] == "deleted" for r in run.rows)
    assert api.batches() == []


@pytest.mark.slow
def test_list_json(api: Emulator) -> None:
    old = api.add_batch("ended", age=3 * 3600).id
    running = api.add_batch("in_progress", age=2 * 3600).id
    new = api.add_batch("ended").id
    run = batchdelete("list", "--json", base_url=api.base_url)
    assert run.code == 0 and run.err == ""
    assert [r["id"] for r in run.rows] == [new, running, old]  # newest first
    assert run.rows[1]["processing_status"] == "in_progress"
    run = batchdelete("list", "--older-than", "1h", "--json", base_url=api.base_url)
    assert run.code == 0 and [r["id"] for r in run.rows] == [old]  # what prune would take
    assert "1 running batch(es) match" in run.err


@pytest.mark.slow
def test_get_and_cancel(api: Emulator) -> None:
    ended = api.add_batch("ended", requests=3).id
    running = api.add_batch("in_progress").id
    run = batchdelete("get", f" {ended} ", running, base_url=api.base_url)
    assert run.code == 0, run.err
    first, second = run.out.splitlines()
    assert first.startswith(f"{ended}  ended  created ") and "3 succeeded" in first
    assert second.startswith(f"{running}  in_progress  ")
    run = batchdelete("cancel", running, "--json", base_url=api.base_url)
    assert run.code == 0, run.err
    [row] = run.rows
    assert row["ok"] and row["id"] == running and row["processing_status"] == "canceling"
    assert [r.route for r in api.requests] == ["retrieve", "retrieve", "cancel"]


@pytest.mark.slow
def test_verbose_prints_one_line_per_attempt(api: Emulator) -> None:
    ids = [api.add_batch("ended").id for _ in range(2)]
    run = batchdelete("delete", *ids, "-v", "--transport", "urllib3", base_url=api.base_url)
    assert run.code == 0, run.err
    seen = sorted((m[1], m[2], m[3], m[4]) for m in run.attempts)
    assert seen == sorted(("DELETE", f"/v1/messages/batches/{i}", "200", "1") for i in ids)
    assert API_KEY not in run.err


# -- 2: usage ---------------------------------------------------------------------------


@pytest.mark.slow
def test_bad_id_in_a_file_sends_nothing(api: Emulator, tmp_path: Path) -> None:
    listing = tmp_path / "ids.txt"
    listing.write_text("# ids\nmsgbatch_A1\nmsgbatch_B2 msgbatch_C-3\n")
    run = batchdelete("delete", "--from-file", str(listing), "--json", base_url=api.base_url)
    assert run.code == 2
    [line] = run.err.splitlines()
    assert "'msgbatch_C-3' on line 3 of " in line and str(listing) in line
    [row] = run.rows
    assert row == {
        "ok": False,
        "error": "InvalidBatchIdError",
        "message": line.removeprefix("batchdelete: "),
        "exit_code": 2,
    }
    assert api.requests == []


# -- 3: configuration ---------------------------------------------------------------------


@pytest.mark.slow
def test_missing_ok_with_a_v1_base_url_is_not_already_gone(api: Emulator) -> None:
    run = batchdelete("delete", "msgbatch_0gone0", "--missing-ok", base_url=api.base_url + "/v1")
    assert run.code == 3
    assert "already gone" not in run.out
    lines = run.err.splitlines()
    assert lines[0].startswith("batchdelete: warning: The base URL ") and "/v1" in lines[0]
    assert "nothing was deleted" in lines[-1]


@pytest.mark.slow
def test_empty_api_key(api: Emulator) -> None:
    run = batchdelete("list", "--json", base_url=api.base_url, api_key=" ")
    assert run.code == 3 and "is empty" in run.err
    assert run.rows[0]["error"] == "ConfigurationError" and api.requests == []


def test_serve_on_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = batchdelete("serve", "--port", str(port), base_url="http://127.0.0.1:9")
    assert run.code == 3
    assert f"Port {port} on 127.0.0.1 is in use" in run.err and "--port 0" in run.err


# -- 4, 5, 6: the API said no ---------------------------------------------------------------


def test_prune_on_a_wrong_base_url_is_not_found(api: Emulator) -> None:
    run = batchdelete("prune", "--older-than", "1d", base_url=api.base_url + "/wrong")
    assert run.code == 4
    assert run.err.startswith("batchdelete: Listing the batches failed") and "base URL" in run.err


def test_list_with_a_wrong_key_is_refused(api: Emulator) -> None:
    run = batchdelete("list", "--json", base_url=api.base_url, api_key="sk-ant-wrong")
    assert run.code == 5
    [row] = run.rows
    assert row["error"] == "AuthenticationError" and row["status_code"] == 401


@pytest.mark.slow
def test_cancel_on_a_server_error(api: Emulator) -> None:
    running = api.add_batch("in_progress").id
    api.inject(status=503, route="cancel", times=None)
    run = batchdelete("cancel", running, "--max-retries", "1", base_url=api.base_url)
    assert run.code == 6 and run.out == ""
    assert f"batchdelete: {running}: Error code 503" in run.err
    assert [r.route for r in api.requests] == ["cancel", "cancel"]


# -- 7: TLS -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_untrusted_certificate_is_one_attempt() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    with ScriptServer(tls=context) as server:
        run = batchdelete("delete", "msgbatch_1", "-v", base_url=server.url)
        assert server.requests == []
    assert run.code == 7
    assert "Certificate verify failed for 127.0.0.1" in run.err
    assert [(m[1], m[3], m[4]) for m in run.attempts] == [("DELETE", "APIConnectionError", "1")]


# -- 8: a 2xx that is not the promised body ---------------------------------------------------


@pytest.mark.slow
def test_unexpected_body(server: ScriptServer) -> None:
    server.script(Reply(200, body=b"<html>hello</html>"))
    run = batchdelete("delete", "msgbatch_1", "--json", base_url=server.url)
    assert run.code == 8
    [row] = run.rows
    assert row["error"] == "APIResponseValidationError" and row["exit_code"] == 8
