"""The command line's edges (issue 12): a standard output closed under it,
`transports` beside a broken environment, `serve` refusing what it cannot do.
In-process where the command starts nothing; the child processes run the
installed package. Nothing listens beyond 127.0.0.1 (a refused bind only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchdelete.cli import main
from batchdelete.cli._exits import EXIT_CONFIG, EXIT_INTERNAL, EXIT_OK

CHILD_TIMEOUT = 60


def run_into_closed_pipe(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m batchdelete ARGV` with a standard output nobody reads any more,
    and no credentials of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["HOME"] = str(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "batchdelete", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    finally:
        os.close(write_end)


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_closed_stdout_is_one_line_on_stderr_not_a_traceback(
    tmp_path: Path, as_json: bool
) -> None:
    done = run_into_closed_pipe(tmp_path, "transports", *(["--json"] if as_json else []))
    assert done.returncode == EXIT_INTERNAL
    assert done.stderr == "batchdelete: standard output was closed (broken pipe); stopped.\n"


@pytest.mark.slow
def test_an_error_reported_into_a_closed_stdout_keeps_its_exit_code(tmp_path: Path) -> None:
    # --json reports the error (no credentials) on stdout, which is closed: the
    # exit code is still the error's, and nothing else is printed.
    done = run_into_closed_pipe(tmp_path, "get", "msgbatch_0123abc", "--json")
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "Traceback" not in done.stderr
    assert "broken pipe" not in done.stderr


def test_transports_reports_a_broken_environment_and_still_lists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-bundle.pem")
    monkeypatch.setenv("SSL_CERT_FILE", missing)
    assert main(["transports"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "urllib3" in out and "requests" in out
    assert "For https://api.anthropic.com" not in out  # no connection to describe
    assert err.startswith("batchdelete: warning: ")
    assert "SSL_CERT_FILE" in err and missing in err


def test_transports_json_carries_the_environments_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    assert main(["transports", "--json"]) == EXIT_OK
    out, err = capsys.readouterr()
    rows = json.loads(out)
    with_options = [r for r in rows if r["takes_options"]]
    assert with_options
    for r in with_options:
        assert r["connection"] is None
        assert "socks5://127.0.0.1:1080" in r["connection_error"]
    assert err == ""


def test_serve_refuses_a_burst_without_a_rate_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0", "--burst", "5"]) == EXIT_CONFIG
    out, err = capsys.readouterr()
    assert out == ""
    assert "--burst limits bursts of a rate limit: add --requests-per-minute." in err


def test_serve_on_an_address_this_machine_does_not_have(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no interface has it, so the bind fails
    # (EADDRNOTAVAIL) and nothing is sent anywhere.
    assert main(["serve", "--host", "192.0.2.1", "--port", "0"]) == EXIT_CONFIG
    out, err = capsys.readouterr()
    assert out == ""
    assert "Cannot listen on 192.0.2.1 port 0" in err
    assert "--host" in err
