"""The command line, against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchdelete import cli
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer, error_reply


@pytest.fixture
def env(server: ScriptServer, monkeypatch: pytest.MonkeyPatch) -> ScriptServer:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    return server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_delete_one(
    env: ScriptServer, capsys: pytest.CaptureFixture[str], transport_name: str
) -> None:
    code, out, err = run(capsys, "delete", "msgbatch_1", "--transport", transport_name)
    assert code == 0 and err == ""
    assert out.startswith(f"deleted msgbatch_1  ({transport_name}, 1 attempt, ")
    assert "request id req_test_1" in out


def test_failure_message_on_stderr(env: ScriptServer, capsys: pytest.CaptureFixture[str]) -> None:
    env.script(error_reply(404, "not_found_error", "no such batch"))
    code, out, err = run(capsys, "delete", "msgbatch_x")
    assert code == 4 and out == ""
    assert err.startswith(
        "batchdelete: msgbatch_x: Error code 404 (not_found_error): no such batch."
    )


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (error_reply(401, "authentication_error", "bad key"), 5),
        (error_reply(307, "x", "moved"), 5),
        (error_reply(429, "rate_limit_error", "slow", ("retry-after", "999")), 6),
        (error_reply(503, "api_error", "down", ("x-should-retry", "false")), 6),
        (Reply(200, body=b"<html>"), 8),
    ],
)
def test_exit_codes(
    env: ScriptServer, capsys: pytest.CaptureFixture[str], reply: Reply, code: int
) -> None:
    env.script(reply)
    assert run(capsys, "delete", "msgbatch_b1")[0] == code


def test_connection_failure_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptServer() as gone:
        url = gone.url
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    code, _, err = run(capsys, "delete", "msgbatch_b1", "--base-url", url, "--max-retries", "0")
    assert code == 7 and "did not complete" in err


def test_timeout_and_deadline_flags(env: ScriptServer, capsys: pytest.CaptureFixture[str]) -> None:
    env.script(Reply(delay=3))
    code, _, err = run(capsys, "delete", "msgbatch_b1", "--timeout", "0.2", "--max-retries", "0")
    assert code == 7 and "timed out" in err
    env.script(Reply(delay=3))
    code, _, err = run(capsys, "delete", "msgbatch_b2", "--deadline", "0.3")
    assert code == 7


def test_betas_and_base_url_flags(env: ScriptServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(
        capsys,
        "delete",
        "msgbatch_b1",
        "--beta",
        "message-batches-2024-09-24",
        "--beta",
        "x-1",
        "--base-url",
        env.url + "/prefix",
    )
    assert code == 0
    req = env.requests[0]
    assert req.header("anthropic-beta") == "message-batches-2024-09-24,x-1"
    assert req.target == "/prefix/v1/messages/batches/msgbatch_b1"


def test_configuration_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "delete", "msgbatch_b1")
    assert code == 3 and "ANTHROPIC_API_KEY" in err
    code, _, err = run(capsys, "delete")
    assert code == 2 and "no batch ids given" in err
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    code, _, err = run(capsys, "delete", "msgbatch_b1", "--transport", "nope")
    assert code == 3 and "Unknown transport 'nope'" in err
    code, _, err = run(capsys, "delete", "msgbatch_b1", "--base-url", "ftp://x")
    assert code == 3 and "base URL" in err
    assert API_KEY not in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["delete", "msgbatch_b", "--max-retries", "-1"],
        ["delete", "msgbatch_b", "--timeout", "0"],
        ["delete", "msgbatch_b", "--timeout", "abc"],
        ["frobnicate"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    [line] = err.splitlines()  # one line, no usage block, no traceback
    assert line.startswith("batchdelete: ") and "--help' to see the usage." in line


def test_transports_listing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:s3cret@proxy.corp.example:3128")
    code, out, _ = run(capsys, "transports")
    assert code == 0
    table, _, summary = out.partition("\n\n")
    assert [line.split()[0] for line in table.splitlines()][:3] == ["urllib3", "httpx", "requests"]
    assert "proxy http://***@proxy.corp.example:3128" in summary and "s3cret" not in out
    code, out, _ = run(capsys, "transports", "--json")
    rows = json.loads(out)
    assert {r["name"] for r in rows} >= {"urllib3", "httpx", "requests"}
    assert all(r["available"] and r["version"] for r in rows if r["builtin"])
    assert "s3cret" not in out
    for row in rows:
        if row["takes_options"]:
            assert row["connection"]["proxy"] == "http://***@proxy.corp.example:3128"
            assert row["connection"]["ca_source"] == "the system's CAs"


def test_interrupt_reports_what_was_done(
    env: ScriptServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    real_wait = concurrent.futures.wait
    calls = [0]

    def wait_then_ctrl_c(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 2:  # the main thread is interrupted while b2 is under way
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "wait", wait_then_ctrl_c)
    code, out, err = run(
        capsys, "delete", "msgbatch_b1", "msgbatch_b2", "msgbatch_b3", "--concurrency", "1"
    )
    assert code == 130
    # b2 was handed to a worker: it either finished or never started.
    assert err.startswith("batchdelete: interrupted. Done: ")
    done = [r.target.rsplit("/", 1)[-1] for r in env.requests]
    assert done in (["msgbatch_b1"], ["msgbatch_b1", "msgbatch_b2"])
    assert f"Done: {len(done)} ({', '.join(done)}); failed: 0; not done: {3 - len(done)}" in err
    assert out.count("deleted ") == len(done)


@pytest.mark.slow
def test_module_and_console_script(env: ScriptServer) -> None:
    environ = dict(os.environ, ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=env.url)
    out = subprocess.run(
        [sys.executable, "-m", "batchdelete", "delete", "msgbatch_m", "--json"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == "msgbatch_m"
    script = Path(sys.executable).with_name("batchdelete")
    out = subprocess.run(
        [str(script), "delete", "msgbatch_s"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("deleted msgbatch_s")


def test_internal_error_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchdelete.cli import _commands

    def broken(*args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(_commands, "transports", broken)
    code, out, err = run(capsys, "transports", "--json")
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("batchdelete: internal error: RuntimeError: boom.")
    assert "Traceback" not in err
    assert json.loads(out) == {
        "ok": False,
        "error": "RuntimeError",
        "message": line.removeprefix("batchdelete: "),
        "exit_code": 1,
    }


def test_interrupt_outside_a_bulk_run(
    env: ScriptServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import batchdelete as bd

    def ctrl_c(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(bd.Client, "retrieve", ctrl_c)
    code, out, err = run(capsys, "get", "msgbatch_1", "--json")
    assert code == 130 and err.startswith("batchdelete: interrupted")
    assert json.loads(out)["exit_code"] == 130


def test_v1_base_url_warning_is_one_line(
    env: ScriptServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for verbose in ([], ["-v"]):
        code, _, err = run(capsys, "delete", "msgbatch_1", "--base-url", env.url + "/v1", *verbose)
        assert code == 0
        warned = [line for line in err.splitlines() if "ends in /v1" in line]
        assert len(warned) == 1 and warned[0].startswith("batchdelete: warning: The base URL")
        assert "UserWarning" not in err
    assert env.requests[0].target == "/v1/v1/messages/batches/msgbatch_1"


def test_ids_are_stripped_checked_and_deduplicated(
    env: ScriptServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "delete", " msgbatch_1\n", "msgbatch_1", "--concurrency", "1")
    assert code == 0 and out.count("deleted msgbatch_1 ") == 1
    assert len(env.requests) == 1
    for bad in ("msgbatch_1 msgbatch_2", "msgbatch_1,msgbatch_2", "msgbatch_x_y", "msgbatch_"):
        code, out, err = run(capsys, "delete", "msgbatch_3", bad)
        assert code == 2 and out == ""
        assert err.startswith(f"batchdelete: {bad!r} is not a Message Batch id")
    assert len(env.requests) == 1


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "delete", "--help")
    assert code == 0 and "--from-file PATH" in out and "commas" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("batchdelete ")
