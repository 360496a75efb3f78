"""prune --yes deletes while it lists: the streamed choice page by page
(`Chooser`, `stream_prune`), against pages made by hand, then the command
against the emulator: a listing that fails half-way, the journal's skips,
running batches left alone, and memory that does not grow with the run."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

import batchdelete as bd
from batchdelete import cli
from batchdelete._prune import Chooser, stream_prune
from batchdelete.cli import _delete
from batchdelete.emulator import Emulator
from tests.test_cli import run

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _batch(n: int, *, status: str = "ended", age_days: int = 30, bid: str = "") -> dict[str, Any]:
    created = NOW - timedelta(days=age_days)
    return {
        "id": bid or f"msgbatch_{n:04d}",
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": 0,
            "succeeded": 1,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": created.isoformat(),
        "expires_at": (created + timedelta(days=1)).isoformat(),
        "ended_at": None if status == "in_progress" else created.isoformat(),
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": None,
    }


def _page(rows: list[dict[str, Any]], has_more: bool) -> bd.MessageBatchPage:
    body = {
        "data": rows,
        "has_more": has_more,
        "first_id": rows[0]["id"] if rows else None,
        "last_id": rows[-1]["id"] if rows else None,
    }
    return msgspec.json.decode(msgspec.json.encode(body), type=bd.MessageBatchPage)


class Pages:
    """Three pages of three batches; records each fetch and, at that
    moment, how many ids the consumer had taken."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.pages = [rows[i : i + 3] for i in range(0, len(rows), 3)]
        self.fetched: list[tuple[str | None, int]] = []
        self.taken = 0

    def fetch(self, after: str | None) -> bd.MessageBatchPage:
        index = len(self.fetched)
        self.fetched.append((after, self.taken))
        return _page(self.pages[index], index < len(self.pages) - 1)

    def consume(self, ids: Iterator[str]) -> list[str]:
        out = []
        for batch_id in ids:
            self.taken += 1
            out.append(batch_id)
        return out


def test_one_page_at_a_time_and_the_cursor_is_held_back() -> None:
    pages = Pages([_batch(n) for n in range(9)])
    chooser = Chooser(now=NOW, older_than=timedelta(days=1))
    got = pages.consume(stream_prune(pages.fetch, chooser))
    assert sorted(got) == [f"msgbatch_{n:04d}" for n in range(9)]
    # Each page is listed only once the ids before it were taken, save the
    # page's last one: the next listing starts after it, so it must exist.
    assert pages.fetched == [(None, 0), ("msgbatch_0002", 2), ("msgbatch_0005", 5)]
    assert got.index("msgbatch_0002") == 2 and got.index("msgbatch_0005") == 5
    assert chooser.scan == _scan(looked_at=9, matched=9)


def _scan(**fields: int) -> Any:
    from batchdelete._prune import Scan

    return Scan(**fields)


def test_filters_running_journal_and_ids_that_are_not_batch_ids() -> None:
    rows = [
        _batch(0),
        _batch(1, age_days=0),  # too young
        _batch(2, status="in_progress"),  # running: left alone
        _batch(3),  # done in the journal
        _batch(4, bid="msgbatch_x/../y"),  # not a batch id
        _batch(5),
    ]
    pages = Pages(rows)
    chooser = Chooser(now=NOW, older_than=timedelta(days=1), done={"msgbatch_0003"})
    got = pages.consume(stream_prune(pages.fetch, chooser))
    assert got == ["msgbatch_0000", "msgbatch_0005"]
    assert chooser.scan == _scan(looked_at=6, matched=2, running=1, skipped=1, refused=1)
    with_running = Chooser(now=NOW, older_than=timedelta(days=1), include_running=True)
    assert "msgbatch_0002" in Pages(rows).consume(stream_prune(Pages(rows).fetch, with_running))


def test_a_chooser_needs_a_filter() -> None:
    with pytest.raises(bd.ConfigurationError, match="at least one filter"):
        Chooser(now=NOW)


@pytest.fixture
def api(batch_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_emulator.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", batch_emulator.base_url)
    monkeypatch.setattr(_delete, "PAGE_SIZE", 10)
    return batch_emulator


MODES = pytest.mark.parametrize("mode", [[], ["--async"]], ids=["sync", "async"])


@MODES
def test_a_listing_that_fails_half_way(
    api: Emulator, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    """The second page fails: the first page's batches are deleted and
    reported, the summary says so, and the exit code is the listing's."""
    for _ in range(25):
        api.add_batch("ended", age=30 * 86400)
    lists: list[int] = []

    class BreakSecondPage:
        @bd.hookimpl
        def on_response(self, url: str, status_code: int, **_: object) -> None:
            if "after_id" not in url and "limit=10" in url:
                lists.append(status_code)
                api.inject(status=500, route="list", headers=(("x-should-retry", "false"),))

    plugin = BreakSecondPage()
    bd.register_plugin(plugin, name="break-second-page")
    try:
        code, out, err = run(
            capsys, "prune", *mode, "--older-than", "1d", "--yes", "--concurrency", "4"
        )
    finally:
        bd.unregister_plugin(plugin)
    assert lists == [200]
    assert code == 6, err
    assert "Listing the batches failed" in err and "Error code 500" in err
    # Page one's ten, less the cursor held back for the page that failed.
    assert out.count("deleted ") == 9
    assert "9 deleted (0 after canceling), 0 already gone, 0 failed, of 9 batches" in err
    assert len(api.batches()) == 16


@MODES
@pytest.mark.batch_emulator(processing_time=86400)  # running until it expires
def test_streamed_prune_with_journal_and_running_batches(
    api: Emulator, capsys: pytest.CaptureFixture[str], mode: list[str], tmp_path: Any
) -> None:
    ended = [api.add_batch("ended", age=7200).id for _ in range(23)]
    running = api.add_batch("in_progress", age=7200).id
    journal = str(tmp_path / "prune.jsonl")
    with bd.Journal(journal) as log:
        for batch_id in ended[:5]:
            log.record(bd.Outcome(batch_id, "deleted", attempts=1))
    argv = ["prune", *mode, "--older-than", "1h", "--yes", "--journal", journal]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.count("deleted ") == 18  # 23 ended, 5 of them already in the journal
    assert "1 running batch(es) match but are left alone" in err
    assert "; 5 skipped as already done." in err
    left = {b["id"] for b in api.batches()}
    assert left == {running, *ended[:5]}  # the journal was believed: those were not sent
    # Run again: everything matching is in the journal now.
    code, out, err = run(capsys, *argv)
    # The 18 are gone; the 5 the journal holds are listed again and skipped.
    assert code == 0 and out == "" and "; 5 skipped as already done." in err


@MODES
def test_nothing_matches(
    api: Emulator, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    for _ in range(12):
        api.add_batch("ended", age=60.0)
    code, out, err = run(capsys, "prune", *mode, "--older-than", "1d", "--yes")
    assert code == 0 and err == ""
    assert out == "No batch matches the filters (12 batches looked at).\n"
    assert [r.route for r in api.requests] == ["list", "list"]


class Sink(io.TextIOBase):
    """Swallows what the command prints: the memory measured is its own."""

    def write(self, text: str) -> int:
        return len(text)


def _peak_while_pruning(count: int, page: int) -> int:
    """Peak bytes traced while `prune --yes --json` deletes `count` batches
    from an emulator in another process (its memory is not ours)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchdelete", "serve", "--port", "0", "--seed", str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("ANTHROPIC_BASE_URL", url)
            patch.setenv("ANTHROPIC_API_KEY", "sk-ant-emulator-0000")
            patch.setattr(_delete, "PAGE_SIZE", page)  # the name the command reads
            tracemalloc.start()
            try:
                with contextlib.redirect_stdout(Sink()), contextlib.redirect_stderr(Sink()):
                    code = cli.main(["prune", "--older-than", "0s", "--yes", "--json"])
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert code == 0
        return peak
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_memory_does_not_grow_with_the_run() -> None:
    _peak_while_pruning(50, page=100)  # the first run's imports and caches
    small = _peak_while_pruning(300, page=100)
    large = _peak_while_pruning(1500, page=100)
    # Five times the batches, the same pages: the peak is a page and the
    # workers, not the run (outcomes kept would add some 300 bytes a batch).
    assert large < small * 1.3 + 64 * 1024, (small, large)
