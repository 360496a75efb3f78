"""The command line's jobs, against the emulator: force, missing-ok, many
ids from files and stdin, concurrency, progress, prune, serve."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import batchdelete as bd
from batchdelete.cli._summary import ProgressLine
from batchdelete.emulator import Emulator
from tests.test_cli import run


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_emulator.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    return batch_emulator


@pytest.mark.batch_emulator(cancel_time=30)
def test_running_batch_names_force(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    running = api.add_batch("in_progress").id
    code, out, err = run(capsys, "delete", running)
    assert code == 5 and out == ""
    assert f"{running}: Batch {running} is still in_progress" in err and "--force" in err
    assert api.batch(running) is not None


def test_force(api: Emulator, capsys: pytest.CaptureFixture[str], transport_name: str) -> None:
    running = api.add_batch("in_progress").id
    code, out, err = run(capsys, "delete", running, "--force", "--transport", transport_name)
    assert code == 0 and err == ""
    assert out.startswith(f"deleted {running}  ({transport_name}, 1 attempt, ")
    assert out.rstrip().endswith("canceled first)")
    assert api.batches() == []


@pytest.mark.batch_emulator(cancel_time=3600)
def test_force_wait_timeout(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    running = api.add_batch("in_progress").id
    code, _, err = run(capsys, "delete", running, "--force", "--wait-timeout", "0.2")
    assert code == 7 and "still canceling after waiting 0.2 s" in err


def test_missing_ok(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "delete", "msgbatch_gone", "--missing-ok")
    # The key's workspace, named by the answer: where the batch was looked for.
    assert code == 0 and out.startswith("not found in wrkspc_default msgbatch_gone  (")
    code, _, err = run(capsys, "delete", "msgbatch_gone")
    assert code == 4 and "not_found_error" in err


def test_many_from_file_and_stdin_with_json(
    api: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [api.add_batch("ended").id for _ in range(12)]
    listing = tmp_path / "ids.txt"
    listing.write_text("# batches to remove\n" + "\n".join(ids[:6]) + "\n\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(ids[6:10]) + "\n"))
    code, out, err = run(
        capsys,
        "delete",
        ids[10],
        "msgbatch_missing",
        "--from-file",
        str(listing),
        "--json",
        "--concurrency",
        "8",
    )
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 4
    assert sorted(r["id"] for r in rows) == sorted([ids[10], *ids[:6], "msgbatch_missing"])
    assert sum(r["ok"] for r in rows) == 7
    assert [r["error"] for r in rows if not r["ok"]] == ["NotFoundError"]
    assert "7 deleted (0 after canceling), 0 already gone, 1 failed, of 8 batches" in err
    code, out, err = run(capsys, "delete", "--from-file", "-")
    assert code == 0 and out.count("deleted ") == 4
    assert {b["id"] for b in api.batches()} == {ids[11]}


def test_unreadable_file(api: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "delete", "--from-file", str(tmp_path / "nope.txt"))
    assert code == 3 and "Cannot read ids from" in err


def test_one_failure_does_not_stop_the_others(
    api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [api.add_batch("ended").id for _ in range(5)]
    api.inject(status=500, headers=(("x-should-retry", "false"),), route="delete")
    code, out, err = run(capsys, "delete", *ids, "--concurrency", "1")
    assert code == 6
    assert out.count("deleted ") == 4
    assert "Error code 500" in err and "4 deleted" in err


def test_progress_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        line = ProgressLine(stream, total=3)
        for done, failed in ((1, 0), (2, 1), (3, 1)):
            line.update(bd.Progress(done, 3, done - failed, 0, failed, done + 2, 2, 7, 3000, 1.0))
        line.clear()
    shown = tty.getvalue()
    # Redrawn at most every 0.1 s, and always at the end.
    assert "3/3 done, 1 failed, 3.0/s, 7 in flight at most, 2 rate-limited, 0:00 left" in shown
    assert "1/3 done" in shown and "2/3 done" not in shown
    assert pipe.getvalue() == ""


def test_prune_shows_then_deletes_only_matches(
    api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    old = [api.add_batch("ended", age=3 * 3600).id for _ in range(3)]
    new = api.add_batch("ended", age=600).id
    running = api.add_batch("in_progress", age=2 * 3600).id  # running: under a day old
    code, out, err = run(capsys, "prune", "--older-than", "1h")
    assert code == 0
    assert sorted(
        line.split()[2] for line in out.splitlines() if line.startswith("would")
    ) == sorted(old)
    assert "3 of 5 batches match; nothing was deleted" in out
    assert "1 running batch(es) match but are left alone" in err
    assert len(api.batches()) == 5

    code, out, err = run(capsys, "prune", "--older-than", "1h", "--yes")
    assert code == 0 and out.count("deleted ") == 3
    assert {b["id"] for b in api.batches()} == {new, running}

    code, out, _ = run(capsys, "prune", "--older-than", "1h", "--include-running", "--yes")
    assert code == 0 and "canceled first" in out
    assert {b["id"] for b in api.batches()} == {new}


def test_prune_by_end_date(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    api.add_batch("ended", age=40 * 86400)
    keep = api.add_batch("ended", age=60).id
    code, out, _ = run(capsys, "prune", "--ended-before", "2000-01-01")
    assert code == 0 and out.startswith("No batch matches the filters (2 batches looked at)")
    code, out, _ = run(
        capsys,
        "prune",
        "--ended-before",
        "2999-01-01T00:00:00Z",
        "--older-than",
        "30d",
        "--yes",
        "--json",
    )
    assert code == 0 and len(out.splitlines()) == 1
    assert [b["id"] for b in api.batches()] == [keep]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prune"], "at least one filter"),
        (["prune", "--older-than", "7 days"], "Invalid duration"),
        (["prune", "--ended-before", "last week"], "Invalid date"),
    ],
)
def test_prune_bad_filters(
    api: Emulator, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 3 and message in err
    assert api.requests == []  # refused before any request


@pytest.mark.slow
def test_prune_many_pages(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(1005):
        api.add_batch("ended", age=30 * 86400)
    code, out, _ = run(capsys, "prune", "--older-than", "1d", "--yes", "--concurrency", "16")
    assert code == 0 and out.count("deleted ") == 1005 and api.batches() == []
    routes = [r.route for r in api.requests]
    assert routes.count("list") == 2 and routes.count("delete") == 1005
    # Streamed: deleting starts before the second page is listed ...
    second = routes.index("list", 1)
    assert routes[0] == "list" and 0 < routes[:second].count("delete") < 1000
    # ... which starts after the first page's last batch, still there then
    # (held back, deleted after that listing).
    assert api.requests[second].status == 200
    cursor = api.requests[second].target.rsplit("after_id=", 1)[1]
    assert cursor.startswith("msgbatch_")
    targets = [r.target for r in api.requests]
    assert not any(t.endswith(cursor) for t in targets[:second])
    assert sum(t.endswith(cursor) for t in targets[second + 1 :]) == 1


@pytest.mark.slow
def test_serve_command(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchdelete", "serve", "--port", "0", "--seed", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("batchdelete emulator listening on http://127.0.0.1:")
        url = first.split()[4]
        snippet = [proc.stdout.readline().strip() for _ in range(5)]
        assert snippet[0] == f"export ANTHROPIC_BASE_URL={url}"
        assert snippet[-1] == "export NO_PROXY=127.0.0.1,localhost"
        with bd.Client(api_key="sk-ant-emulator-0000", base_url=url) as client:
            batches = list(client.list())
        assert len(batches) == 6
        assert sum(b.running for b in batches) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "emulator stopped." in out
    assert "warning" not in err


@pytest.mark.slow
def test_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    before = threading.active_count()
    code, out, _ = run(capsys, "demo")
    assert code == 0
    for name in ("urllib3", "httpx", "requests"):
        rows = [line for line in out.splitlines() if line.startswith(name + " ")]
        assert len(rows) == 4
        assert "canceled, then deleted (--force)" in rows[1]
        assert rows[2].split()[2:8] == ["deleted", "after", "a", "429,", "retried", "2"]
        assert "NotFoundError" in rows[3]
    assert out.rstrip().endswith("0 batches left in the emulator; it has stopped.")
    assert threading.active_count() <= before


def test_prune_plan_as_json(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    old = api.add_batch("ended", age=3 * 3600).id
    running = api.add_batch("in_progress", age=2 * 3600).id
    code, out, _ = run(capsys, "prune", "--older-than", "1h", "--include-running", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(api.batches()) == 2
    assert [(r["id"], r["status"]) for r in rows[:-1]] == [
        (running, "would_cancel_and_delete"),
        (old, "would_delete"),
    ]
    assert rows[-1] == {
        "ok": True,
        "summary": True,
        "matched": 2,
        "looked_at": 2,
        "running_left_alone": 0,
        "deleted": 0,
    }
    code, out, _ = run(capsys, "prune", "--older-than", "9d", "--json")
    assert code == 0 and json.loads(out)["matched"] == 0


def test_list_table_and_filters(api: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    old = api.add_batch("ended", age=3 * 3600, requests=2).id
    running = api.add_batch("in_progress", age=2 * 3600).id
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "STATUS", "CREATED", "ENDED", "REQUESTS"]
    assert [line.split()[0] for line in lines[1:3]] == [running, old]
    assert "2 succeeded" in lines[2] and lines[-1] == "2 of 2 batches listed."
    code, out, err = run(capsys, "list", "--older-than", "1h")
    assert code == 0 and out.splitlines()[-1] == "1 of 2 batches match the filters."
    assert "add --include-running to list them" in err
    code, out, _ = run(capsys, "list", "--ended-before", "2000-01-01")
    assert code == 0 and out == "0 of 2 batches match the filters.\n"
    code, _, err = run(capsys, "list", "--older-than", "soon")
    assert code == 3 and "Invalid duration" in err


def test_get_and_cancel_report_each_batch(
    api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = api.add_batch("ended").id
    running = api.add_batch("in_progress").id
    code, out, err = run(capsys, "get", ended, "msgbatch_0nope0", running, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 4
    assert [(r["id"], r["ok"]) for r in rows] == [
        (ended, True),
        ("msgbatch_0nope0", False),
        (running, True),
    ]
    assert rows[1]["error"] == "NotFoundError" and rows[1]["exit_code"] == 4
    assert err.startswith("batchdelete: msgbatch_0nope0: Error code 404")
    code, out, _ = run(capsys, "cancel", running, ended)
    assert code == 0
    assert out.splitlines()[0].startswith(f"{running}  canceling  (cancel requested at ")
    assert out.splitlines()[1] == f"{ended}  ended  (it had already ended: nothing to cancel)"
    before = len(api.requests)
    for command in ("get", "cancel"):
        code, _, err = run(capsys, command, "msgbatch_ok", "msgbatch_not-ok")
        assert code == 2 and "'msgbatch_not-ok' is not a Message Batch id" in err
        code, _, err = run(capsys, command)
        assert code == 2 and "no batch ids given" in err
    assert len(api.requests) == before


def test_ids_from_stdin_with_a_bom(
    api: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = api.add_batch("ended").id, api.add_batch("ended").id
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"\ufeff{a}, {b}\r\nnot-an-id\n"))
    code, _, err = run(capsys, "delete", "--from-file", "-")
    assert code == 2 and "'not-an-id' on line 2 of standard input" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"\ufeff{a}, {b}\r\n# done\n"))
    code, out, _ = run(capsys, "delete", "--from-file", "-")
    assert code == 0 and out.count("deleted ") == 2 and api.batches() == []


@pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])
@pytest.mark.slow
def test_summary_of_a_rate_limited_run(
    capsys: pytest.CaptureFixture[str], mode: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paced by the headers (10 a second here), a 429 waited for by the whole
    run and not counted as a retry: every batch deleted with --max-retries 0,
    and the summary counts the requests, the 429 and the pace."""
    with Emulator(requests_per_minute=600, burst=3) as api:  # a clock that runs
        monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        ids = [api.add_batch("ended").id for _ in range(8)]
        api.inject(status=429, headers=(("retry-after", "1"),), route="delete")
        argv = ["delete", *mode, *ids, "--max-retries", "0", "--concurrency", "4"]
        code, out, err = run(capsys, *argv)
        statuses = [r.status for r in api.requests]
    assert code == 0, err
    assert out.count("deleted ") == 8
    assert "8 deleted (0 after canceling), 0 already gone, 0 failed, of 8 batches" in err
    assert "; 9 requests, 1 rate-limited (429), " in err and "(the API allows 600)." in err
    assert statuses.count(429) == 1 and statuses.count(200) == 8
