"""`delete --async` and `prune --async`: the command line on AsyncClient,
against the emulator, over every async transport; Ctrl-C in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile

import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.test_cli import run

ASYNC_TRANSPORTS = [
    t.name for t in bd.list_transports() if t.builtin and t.asynchronous and t.available
]


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_emulator.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    return batch_emulator


def test_both_async_transports_are_installed() -> None:
    assert sorted(ASYNC_TRANSPORTS) == ["aiohttp", "httpx"]


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
def test_delete_async(api: Emulator, capsys: pytest.CaptureFixture[str], transport: str) -> None:
    ids = [api.add_batch().id for _ in range(20)]
    code, out, err = run(
        capsys, "delete", "--async", "--transport", transport, "--concurrency", "8", *ids
    )
    assert code == 0, err
    lines = out.splitlines()
    assert sorted(line.split()[1] for line in lines) == sorted(ids)
    assert all(f"({transport}, 1 attempt, " in line for line in lines)
    assert "20 deleted (0 after canceling), 0 already gone, 0 failed, of 20" in err
    assert api.batches() == []


def test_async_force_missing_ok_and_json(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    running = api.add_batch("in_progress").id
    code, _, err = run(capsys, "delete", "--async", running)
    assert code == 5 and "--force" in err and api.batch(running) is not None
    code, out, err = run(
        capsys, "delete", "--async", "--force", "--missing-ok", "--json", running, "msgbatch_gone"
    )
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert code == 0, err
    assert rows[running]["status"] == "deleted" and rows[running]["canceled"] is True
    assert rows["msgbatch_gone"]["status"] == "missing"
    assert rows[running]["transport"] in ASYNC_TRANSPORTS


def test_prune_async(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    old = [api.add_batch("ended", age=7200).id for _ in range(30)]
    young = api.add_batch("ended").id
    code, out, _ = run(capsys, "prune", "--async", "--older-than", "1h")
    assert code == 0 and out.count("would delete ") == 30 and len(api.batches()) == 31
    code, out, err = run(
        capsys, "prune", "--async", "--older-than", "1h", "--yes", "--concurrency", "16"
    )
    assert code == 0, err
    assert sorted(line.split()[1] for line in out.splitlines()) == sorted(old)
    assert [b["id"] for b in api.batches()] == [young]


def test_async_names_an_async_transport(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "delete", "--async", "--transport", "urllib3", "msgbatch_1")
    assert code == 3 and out == ""
    assert "Unknown async transport 'urllib3'" in err and "aiohttp, httpx" in err
    assert api.requests == []


def test_help_says_when_async_helps(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("delete", "prune"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "--async" in out and "--concurrency" in out


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
@pytest.mark.slow
def test_ctrl_c_cancels_what_is_under_way_and_reports(api: Emulator, transport: str) -> None:
    ids = [api.add_batch().id for _ in range(12)]
    api.inject(route="delete", delay=1.5, times=None)  # every delete answers slowly
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "batchdelete", "delete", "--async"),
                *("--transport", transport, "--concurrency", "2", *ids),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # a delete done, others under way (1.5 s each)
            assert first.startswith("deleted "), first
            proc.send_signal(signal.SIGINT)
            rest = proc.stdout.read()  # to the end: the child exits (pytest-timeout bounds it)
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors.seek(0)
        err = errors.read()
    assert proc.returncode == 130, err
    assert "batchdelete: interrupted. Done: " in err and "Traceback" not in err
    done = 1 + rest.count("deleted ")
    assert f"Done: {done} (" in err and f"not done: {12 - done} (" in err
    assert done < 12  # the rest were cancelled, not waited for
    assert "some may have reached the API before" in err and "--missing-ok" in err


def test_a_keyboard_interrupt_out_of_the_loop_reports_the_runs_outcomes() -> None:
    """Python 3.10's asyncio.run lets Ctrl-C out as KeyboardInterrupt instead
    of cancelling the main task: the report is still the run's own."""
    import argparse
    import io

    from batchdelete.cli._delete import _in_loop
    from batchdelete.cli._summary import Report

    err = io.StringIO()
    args = argparse.Namespace(json=False, verbose=True, concurrency=2, wait_timeout=1, betas=None)
    reports: list[Report] = []

    async def work() -> int:
        report = Report(["msgbatch_a", "msgbatch_b"], args, io.StringIO(), err, "t", again="x")
        reports.append(report)
        report(bd.Outcome("msgbatch_a", "deleted", attempts=1))
        raise KeyboardInterrupt

    assert _in_loop(work(), reports) == 130
    assert "Done: 1 (msgbatch_a)" in err.getvalue()
    assert "not done: 1 (msgbatch_b)" in err.getvalue() and "run x." in err.getvalue()
