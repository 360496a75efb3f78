"""Resumable runs: the journal (`Journal`, `journal=` of `delete_many` and
`adelete_many`, `--journal`), on the emulator; a run killed with SIGKILL
and run again deletes every batch once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchdelete as bd
from batchdelete.emulator import Emulator
from tests.test_cli import run

pytestmark = pytest.mark.timeout(60)

RECORD_KEYS = {
    *("id", "workspace", "status", "canceled", "attempts", "request_id"),
    *("elapsed", "error", "message", "time"),
}


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def deletes(api: Emulator) -> Counter[tuple[str, int | None]]:
    """(batch id, status) of every DELETE the emulator answered."""
    return Counter(
        (r.target.rsplit("/", 1)[-1], r.status) for r in api.requests if r.route == "delete"
    )


@pytest.fixture
def client(batch_emulator: Emulator) -> Iterator[bd.Client]:
    with bd.Client(
        api_key=batch_emulator.api_key, base_url=batch_emulator.base_url, max_retries=0
    ) as c:
        yield c


# -- the library ------------------------------------------------------------------


def test_a_run_records_every_batch(
    batch_emulator: Emulator, client: bd.Client, tmp_path: Path
) -> None:
    ids = [batch_emulator.add_batch().id for _ in range(6)]
    path = tmp_path / "run.jsonl"
    seen: list[str] = []

    def on_outcome(o: bd.Outcome) -> None:  # recorded before it is reported
        assert any(r["id"] == o.id for r in lines(path))
        seen.append(o.id)

    outcomes = bd.delete_many(client, [*ids, "msgbatch_gone"], journal=path, on_outcome=on_outcome)
    assert len(outcomes) == 7 and sorted(seen) == sorted([*ids, "msgbatch_gone"])
    records = {r["id"]: r for r in lines(path)}
    assert len(records) == 7 and all(set(r) == RECORD_KEYS for r in records.values())
    ok = records[ids[0]]
    assert (ok["status"], ok["canceled"], ok["attempts"], ok["error"], ok["message"]) == (
        *("deleted", False, 1, None, None),
    )
    assert ok["request_id"].startswith("req_") and 0 <= ok["elapsed"] < 30
    assert ok["time"].endswith("Z") and "T" in ok["time"]
    gone = records["msgbatch_gone"]
    assert gone["status"] == "failed" and gone["error"] == "NotFoundError"
    assert "msgbatch_gone" in gone["message"]
    assert batch_emulator.api_key not in path.read_text()  # never a credential
    assert bd.Journal(path).done == set(ids)


def test_a_second_run_skips_the_done_and_retries_the_failed(
    batch_emulator: Emulator, client: bd.Client, tmp_path: Path
) -> None:
    ids = [batch_emulator.add_batch().id for _ in range(5)]
    path = tmp_path / "run.jsonl"
    batch_emulator.inject(status=500, route="delete", times=2)
    first = bd.delete_many(client, ids, journal=str(path), concurrency=1)
    failed = [o.id for o in first if o.status == "failed"]
    assert failed == ids[:2]  # concurrency 1: the first two met the faults
    assert {o.error.__class__ for o in first if o.error} == {bd.InternalServerError}
    before = len(batch_emulator.requests)

    with bd.Journal(path) as journal:
        assert journal.done == set(ids[2:]) and journal.pending(ids) == ids[:2]
        second = bd.delete_many(client, ids, journal=journal)
        assert journal.done == set(ids)
    assert sorted(o.id for o in second) == sorted(failed)  # no outcome for the skipped
    assert all(o.status == "deleted" for o in second)
    assert sorted(r.target.rsplit("/", 1)[-1] for r in batch_emulator.requests[before:]) == sorted(
        failed
    )
    assert [r["status"] for r in lines(path)].count("failed") == 2  # history kept
    assert len(lines(path)) == 7

    assert bd.delete_many(client, ids, journal=path) == []  # all done: nothing sent
    assert len(batch_emulator.requests) == before + 2


def test_ids_are_all_checked_before_the_journal_is_used(client: bd.Client, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with pytest.raises(bd.InvalidBatchIdError):
        bd.delete_many(client, ["msgbatch_a", "nope"], journal=path)
    assert not path.exists()
    with pytest.raises(TypeError, match="journal must be a path"):
        bd.delete_many(client, ["msgbatch_a"], journal=3)  # type: ignore[arg-type]


def test_a_torn_last_line_is_ignored_and_the_next_starts_its_own_line(
    batch_emulator: Emulator, client: bd.Client, tmp_path: Path
) -> None:
    done, torn = batch_emulator.add_batch().id, batch_emulator.add_batch().id
    path = tmp_path / "run.jsonl"
    bd.delete_many(client, [done], journal=path)
    whole = path.read_text()
    path.write_text(whole + f'{{"id": "{torn}", "status": "del')  # killed mid-write
    with bd.Journal(path) as journal:
        assert journal.done == {done}
        assert path.read_text() == whole  # cut back to the last whole line
    outcomes = bd.delete_many(client, [done, torn], journal=path)
    assert [o.id for o in outcomes] == [torn]
    assert [r["id"] for r in lines(path)] == [done, torn]


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"id": "msgbatch_a", "status": "missing"}')
    with bd.Journal(path) as journal:
        assert journal.done == {"msgbatch_a"}
        journal.record(bd.Outcome("msgbatch_b", "deleted"))
    assert [r["id"] for r in lines(path)] == ["msgbatch_a", "msgbatch_b"]


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1, 2]",
        '{"id": "msgbatch_b"}',
        '{"id": "msgbatch_b", "status": "skipped"}',
        '{"id": "nope", "status": "deleted"}',
        '{"id": "msgbatch_b", "status": "del',
    ],
)
def test_a_bad_line_in_the_middle_is_an_error_naming_it(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "run.jsonl"
    good = '{"id": "msgbatch_a", "status": "deleted"}'
    path.write_text(f"{good}\n\n{bad}\n{good}\n")
    text = path.read_text()
    with pytest.raises(bd.ConfigurationError, match=r"^Line 3 of the journal .*run\.jsonl"):
        bd.Journal(path)
    assert path.read_text() == text  # left as it was


def test_a_bad_journal_sends_nothing(
    batch_emulator: Emulator, client: bd.Client, tmp_path: Path
) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text("garbage\n")
    with pytest.raises(bd.ConfigurationError, match="Line 1"):
        bd.delete_many(client, [batch_emulator.add_batch().id], journal=path)
    with pytest.raises(bd.ConfigurationError, match="Cannot open the journal"):
        bd.delete_many(client, ["msgbatch_a"], journal=tmp_path)  # a directory
    assert batch_emulator.requests == []


def test_the_last_line_of_an_id_decides(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with bd.Journal(path, fsync=False) as journal:
        journal.record(bd.Outcome("msgbatch_a", "deleted"))
        journal.record(bd.Outcome("msgbatch_a", "failed", error=bd.APIConnectionError("x")))
        journal.record(bd.Outcome("msgbatch_b", "failed", error=bd.APIConnectionError("y")))
        journal.record(bd.Outcome("msgbatch_b", "missing"))
        assert journal.done == {"msgbatch_b"}
        assert "closed" not in repr(journal)
    assert bd.Journal(path).done == {"msgbatch_b"}
    assert "closed" in repr(journal)
    with pytest.raises(ValueError, match="closed"):
        journal.record(bd.Outcome("msgbatch_c", "deleted"))


def test_threads_share_one_journal(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with bd.Journal(path) as journal:

        def write(n: int) -> None:
            for i in range(50):
                journal.record(bd.Outcome(f"msgbatch_{n}x{i}", "deleted", elapsed=0.5))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len({r["id"] for r in lines(path)}) == 400
    assert len(bd.Journal(path).done) == 400


# -- async ------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_run_records_skips_and_retries(
    batch_emulator: Emulator, tmp_path: Path
) -> None:
    ids = [batch_emulator.add_batch().id for _ in range(5)]
    path = tmp_path / "run.jsonl"
    batch_emulator.inject(status=500, route="delete", times=2)
    async with bd.AsyncClient(
        api_key=batch_emulator.api_key, base_url=batch_emulator.base_url, max_retries=0
    ) as client:
        reported: list[str] = []

        def on_outcome(o: bd.Outcome) -> None:
            assert o.id in {r["id"] for r in lines(path)}
            reported.append(o.id)

        first = await bd.adelete_many(
            client, ids, journal=path, concurrency=1, on_outcome=on_outcome
        )
        assert [o.status for o in first] == ["failed", "failed", "deleted", "deleted", "deleted"]
        assert reported == ids
        before = len(batch_emulator.requests)
        second = await bd.adelete_many(client, ids, journal=bd.Journal(path))
    assert sorted(o.id for o in second) == sorted(ids[:2])
    assert all(o.status == "deleted" for o in second)
    assert len(batch_emulator.requests) == before + 2
    assert bd.Journal(path).done == set(ids) and len(lines(path)) == 7


# -- the command line -------------------------------------------------------------


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_emulator.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    return batch_emulator


@pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])
def test_cli_journal(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: list[str]
) -> None:
    ids = [api.add_batch().id for _ in range(6)]
    journal = str(tmp_path / "run.jsonl")
    api.inject(status=500, route="delete", times=1)
    argv = ["delete", *mode, "--journal", journal, "--max-retries", "0", "--concurrency", "1"]
    code, out, err = run(capsys, *argv, *ids)
    assert code == 6 and out.count("deleted ") == 5
    assert "5 deleted (0 after canceling), 0 already gone, 1 failed, of 6 batches" in err
    assert err.rstrip().endswith("; failed: 1 InternalServerError; 0 skipped as already done.")
    assert len(lines(Path(journal))) == 6

    code, out, err = run(capsys, *argv, *ids)
    assert code == 0, err
    assert out.startswith(f"deleted {ids[0]}") and out.count("\n") == 1  # the failed one
    assert "1 deleted (0 after canceling), 0 already gone, 0 failed, of 1 batches" in err
    assert "; 5 skipped as already done." in err
    assert api.batches() == [] and sum(deletes(api).values()) == 7

    code, out, err = run(capsys, *argv, *ids)  # all done: nothing sent
    assert code == 0 and out == "" and "of 0 batches" in err and "6 skipped" in err
    assert sum(deletes(api).values()) == 7


def test_cli_bad_journal_is_a_configuration_error(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    journal.write_text('{"id": "msgbatch_a", "status": "deleted"}\n{oops\n\n')
    for command in (["delete", "msgbatch_b"], ["prune", "--older-than", "1h", "--yes"]):
        code, out, err = run(capsys, *command, "--journal", str(journal))
        assert code == 3 and out == ""
        assert err.startswith("batchdelete: Line 2 of the journal ") and "run.jsonl" in err
    assert api.requests == []


def test_prune_with_a_journal(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = [api.add_batch("ended", age=7200).id for _ in range(3)]
    journal = tmp_path / "run.jsonl"
    code, _, err = run(capsys, "prune", "--older-than", "1h", "--yes", "--journal", str(journal))
    assert code == 0, err
    assert "3 deleted" in err and "; 0 skipped as already done." in err
    assert sorted(r["id"] for r in lines(journal)) == sorted(old)
    assert "--journal FILE" in run(capsys, "prune", "--help")[1]


@pytest.mark.slow
def test_killed_and_run_again_deletes_each_batch_once(api: Emulator, tmp_path: Path) -> None:
    ids = [api.add_batch().id for _ in range(16)]
    api.inject(delay=0.3, route="delete", times=None)  # every delete answers slowly
    journal = tmp_path / "run.jsonl"
    command = [sys.executable, "-m", "batchdelete", "delete", "--journal", str(journal)]
    command += ["--concurrency", "4", *ids]
    env = {**os.environ, "ANTHROPIC_API_KEY": api.api_key, "ANTHROPIC_BASE_URL": api.base_url}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (journal.exists() and journal.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.kill()  # SIGKILL: no clean-up, deletes under way
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    first = {r["id"] for r in lines(journal)}
    assert 1 <= len(first) < 16  # killed part-way

    again = subprocess.run(
        [*command, "--missing-ok"], capture_output=True, text=True, env=env, timeout=60
    )
    assert again.returncode == 0, again.stderr
    assert f"; {len(first)} skipped as already done." in again.stderr
    assert api.batches() == []
    log = deletes(api)
    assert set(log) <= {(i, s) for i in ids for s in (200, 404)}, log
    for batch_id in ids:  # deleted once; a second DELETE for one under way at the kill: a 404
        assert log[batch_id, 200] == 1, log
    for batch_id in first:  # done before the kill: not sent again
        assert log[batch_id, 404] == 0
    final = {r["id"]: r["status"] for r in lines(journal)}
    assert sorted(final) == sorted(ids)
    assert set(final.values()) <= {"deleted", "missing"}


@pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])
def test_cli_journal_that_cannot_be_written(
    api: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    mode: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk half-way: the run stops once the batches under way have
    finished, says what was done and that some may lack a line; exit 3."""
    ids = [api.add_batch().id for _ in range(6)]
    journal = str(tmp_path / "run.jsonl")
    record = bd.Journal.record
    lines: list[str] = []

    def full_after_two(self: bd.Journal, outcome: bd.Outcome) -> None:
        if len(lines) == 2:
            raise OSError(28, "No space left on device")
        record(self, outcome)
        lines.append(outcome.id)

    monkeypatch.setattr(bd.Journal, "record", full_after_two)
    argv = ["delete", *mode, "--journal", journal, "--concurrency", "1"]
    code, out, err = run(capsys, *argv, *ids)
    assert code == 3 and out.count("deleted ") == 2, err
    assert "Writing the journal or the report failed: [Errno 28] No space left on device" in err
    assert "--missing-ok" in err and "Traceback" not in err
    assert "2 deleted (0 after canceling), 0 already gone, 0 failed, of 2 batches" in err
    assert len(Path(journal).read_text().splitlines()) == 2
    # The third batch was deleted, but has no line; the others were not sent.
    assert len(api.batches()) == 3


def test_cli_prune_plan_starts_no_journal(
    api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api.add_batch("ended", age=7200)
    journal = tmp_path / "never.jsonl"
    code, out, _ = run(capsys, "prune", "--older-than", "1h", "--journal", str(journal))
    assert code == 0 and "would delete" in out
    assert not journal.exists()
