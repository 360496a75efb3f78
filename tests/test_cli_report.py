"""`--report FILE` on `delete` and `prune`, against the emulator: every
outcome of the run as CSV or JSON lines; a bad FILE sends nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from batchdelete.cli._report import FIELDS
from batchdelete.emulator import Emulator
from tests.test_cli import run

pytestmark = pytest.mark.timeout(60)

MODES = pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_emulator.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    return batch_emulator


def read_report(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    if path.suffix == ".csv":
        reader = csv.reader(text.splitlines())
        assert tuple(next(reader)) == FIELDS  # the header row
        return [dict(zip(FIELDS, r, strict=True)) for r in reader]
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(tuple(r) == FIELDS for r in rows)
    return rows


def run_mix(
    api: Emulator, capsys: pytest.CaptureFixture[str], report: Path, mode: list[str]
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Delete a failed (a 500, not retried), two deleted and a missing batch."""
    ids = [api.add_batch("ended").id for _ in range(3)]
    api.inject(status=500, route="delete", times=1)  # the first delete: ids[0]
    argv = ["delete", *mode, "--report", str(report), "--missing-ok", "--max-retries", "0"]
    code, out, err = run(capsys, *argv, "--concurrency", "1", *ids, "msgbatch_gone")
    assert code == 6, err
    lines = out.splitlines()
    assert sum(line.startswith("deleted ") for line in lines) == 2
    assert sum(line.startswith("not found in wrkspc_default ") for line in lines) == 1
    rows = read_report(report)
    assert [r["id"] for r in rows] == [*ids, "msgbatch_gone"]  # as they arrived
    assert f"deleted {ids[1]}  ({rows[1]['transport']}, " in out  # the transport used
    assert api.api_key not in report.read_text()  # never a credential
    return ids, {r["id"]: r for r in rows}


@MODES
def test_csv_report(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    ids, rows = run_mix(api, capsys, tmp_path / "run.csv", mode)
    bad = rows[ids[0]]
    assert (bad["status"], bad["canceled"], bad["attempts"], bad["error"]) == (
        *("failed", "false", "1", "InternalServerError"),
    )
    assert "500" in bad["message"] and "\n" not in bad["message"]
    ok = rows[ids[1]]
    assert (ok["status"], ok["canceled"], ok["attempts"], ok["error"], ok["message"]) == (
        *("deleted", "false", "1", "", ""),
    )
    assert ok["request_id"].startswith("req_") and float(ok["elapsed_ms"]) >= 0
    assert rows["msgbatch_gone"]["status"] == "missing"
    assert rows["msgbatch_gone"]["error"] == ""
    assert len({r["transport"] for r in rows.values()}) == 1 and ok["transport"]


@MODES
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_lines_report(
    api: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    mode: list[str],
    suffix: str,
) -> None:
    ids, rows = run_mix(api, capsys, tmp_path / f"run{suffix}", mode)
    bad = rows[ids[0]]
    assert (bad["status"], bad["canceled"], bad["attempts"], bad["error"]) == (
        *("failed", False, 1, "InternalServerError"),
    )
    assert "500" in bad["message"]
    ok = rows[ids[2]]
    assert (ok["status"], ok["error"], ok["message"]) == ("deleted", "", "")
    assert ok["request_id"].startswith("req_") and isinstance(ok["elapsed_ms"], float)
    gone = rows["msgbatch_gone"]
    assert (gone["status"], gone["error"], gone["message"]) == ("missing", "", "")


@MODES
def test_prune_report_and_journal_skips(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    old = [api.add_batch("ended", age=7200).id for _ in range(3)]
    report, journal = tmp_path / "prune.csv", tmp_path / "run.jsonl"
    argv = ["prune", *mode, "--older-than", "1h", "--yes", "--report", str(report)]
    code, _, err = run(capsys, *argv, "--journal", str(journal))
    assert code == 0, err
    rows = read_report(report)
    assert sorted(r["id"] for r in rows) == sorted(old)
    assert {r["status"] for r in rows} == {"deleted"}

    # Again, with a journal that records them: skipped, so not in the report (replaced).
    code, _, err = run(
        capsys, "delete", *mode, *old, "--report", str(report), "--journal", str(journal)
    )
    assert code == 0 and "3 skipped" in err
    assert read_report(report) == []


@pytest.mark.parametrize("name", ["run.txt", "run", "run.csv.bak"])
def test_a_bad_extension_is_a_usage_error(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    batch = api.add_batch("ended").id
    for command in (["delete", batch], ["prune", "--older-than", "1h", "--yes"]):
        code, out, err = run(capsys, *command, "--report", str(tmp_path / name))
        assert code == 2 and out == ""
        assert "--report" in err and ".jsonl, .json or .csv" in err
    assert api.requests == [] and not (tmp_path / name).exists()


@MODES
def test_an_unwritable_report_sends_nothing(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    batch = api.add_batch("ended").id
    directory = tmp_path / "out.csv"
    directory.mkdir()
    for command in (["delete", batch], ["prune", "--older-than", "1h", "--yes"]):
        code, out, err = run(capsys, *command, *mode, "--report", str(directory))
        assert code == 3 and out == ""
        assert err.startswith("batchdelete: Cannot write the report ") and "out.csv" in err
    code, _, _ = run(capsys, "delete", batch, "--report", str(tmp_path / "no" / "dir.jsonl"))
    assert code == 3
    assert api.requests == []


def test_help_mentions_report(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("delete", "prune"):
        _, out, _ = run(capsys, command, "--help")
        assert "--report FILE" in out and "skipped" in out
