"""Edges of the benchmark package (issue 12, branch coverage): the progress
line on a terminal, the checked dataclass decoder's refusals, decoders and
cold-start programs whose library is missing, cold-start programs given a CA
and a proxy, a cold-start program that fails, a worker that died.
Subprocesses are this Python running our own code; no network at all."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import trustme

from batchdelete import cli
from batchdelete.bench import _async, _coldstart, _decode, _pace, _plot, _procs, _sections, _server
from batchdelete.bench._clients import SDK
from batchdelete.bench._options import PROXY_VARIABLES, Settings, Setup
from batchdelete.bench._pace_table import FOLLOW_BAND
from batchdelete.bench._progress import WIDTH, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- the progress line ----------------------------------------------------------------


def test_progress_on_a_terminal_is_drawn_in_place_then_cleared() -> None:
    stream = _Terminal()
    progress = Progress(stream)
    assert progress.on
    progress.close()  # nothing drawn yet: nothing to clear
    assert stream.getvalue() == ""
    progress.plan(2)
    progress.step("first")
    progress.step("second")
    progress.step("an unplanned third")  # the total grows to fit
    lines = stream.getvalue().split("\r\x1b[K")[1:]
    assert [line.split("] ")[1].split()[0] for line in lines] == ["0/2", "1/2", "2/3"]
    assert lines[0].startswith("bench [" + "." * WIDTH + "]")
    assert lines[-1].endswith("an unplanned third")
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert not progress.drawn
    progress.close()  # twice: nothing more written
    assert stream.getvalue().count("\r\x1b[K") == len(lines) + 1


@pytest.mark.parametrize("stream", [None, io.StringIO()], ids=["none", "not-a-tty"])
def test_progress_is_silent_off_a_terminal(stream: io.StringIO | None) -> None:
    progress = Progress(stream)
    progress.plan(1)
    progress.step("x")
    progress.close()
    assert not progress.on
    assert progress.done == 1
    assert stream is None or stream.getvalue() == ""


# -- decoders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[1, 2]", "id"),
        (b'{"id": 5, "type": "message_batch_deleted"}', "id"),
        (b'{"id": "msgbatch_1", "type": "message_batch"}', "type"),
    ],
)
def test_the_checked_dataclass_decoder_refuses_a_wrong_body(body: bytes, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        _decode.CheckedDeleted.from_json(body)


def test_the_checked_dataclass_decoder_accepts_the_body() -> None:
    body = json.dumps({"id": "msgbatch_1", "type": "message_batch_deleted"}).encode()
    assert _decode.CheckedDeleted.from_json(body) == _decode.CheckedDeleted(
        "msgbatch_1", "message_batch_deleted"
    )


def test_decoders_whose_library_is_missing_are_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_decode, "installed", lambda module: False)
    found, skipped = _decode.decoders()
    assert set(found) == {"batchdelete", "bare msgspec Decoder", "json.loads + dataclass"}
    assert skipped == {
        "orjson + dict": "not installed (pip install orjson)",
        "pydantic v2": "not installed (pip install pydantic)",
        "anthropic SDK": "not installed (pip install anthropic)",
    }
    result = _decode.run(rounds=1, n=1)
    assert set(result["results"]) == set(found)
    assert result["results"]["bare msgspec Decoder"]["ratio_to_bare"] == 1.0


# -- cold start -----------------------------------------------------------------------


def test_cold_start_programs_given_a_ca_and_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_coldstart, "installed", lambda module: True)
    setup = Setup(url="https://127.0.0.1:1", ca="/tmp/ca.pem", proxy="http://127.0.0.1:2")
    found, skipped = _coldstart.programs(["stdlib"], setup)
    assert skipped == {}
    ours = found["batchdelete[stdlib]"]
    assert "verify='/tmp/ca.pem', proxy='http://127.0.0.1:2'" in ours
    sdk = found[SDK]
    assert "http_client=anthropic.DefaultHttpxClient(" in sdk
    assert "cafile='/tmp/ca.pem'" in sdk and "proxy='http://127.0.0.1:2'" in sdk
    for source in found.values():
        compile(source, "<program>", "exec")  # each is a valid program


def test_cold_start_without_the_sdk_skips_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_coldstart, "installed", lambda module: False)
    found, skipped = _coldstart.programs(["urllib3"], Setup(url="http://127.0.0.1:1"))
    assert skipped == {SDK: "not installed (pip install anthropic)"}
    assert set(found) == {_coldstart.BASELINE, "batchdelete[urllib3]"}
    assert "verify=" not in found["batchdelete[urllib3]"]


def test_a_cold_start_program_that_fails_is_named_and_left_out() -> None:
    code = {
        "fine": "pass",
        "says why": "import sys; sys.stderr.write('first\\nthe reason\\n'); sys.exit(1)",
        "silent": "raise SystemExit(3)",
    }
    failed: dict[str, str] = {}
    progress = Progress(None)
    out = _coldstart.run(code, rounds=2, env={}, progress=progress, failed=failed)
    assert failed == {"says why": "the reason", "silent": "exit status 3"}
    assert set(out) == {"fine"}
    assert "ratio_to_sdk" not in out["fine"]  # no SDK row to compare with
    assert progress.done == 4  # round 2 runs only the program that did not fail


def test_cold_start_rows_compare_with_the_sdk() -> None:
    failed: dict[str, str] = {}
    code = {SDK: "pass", "ours": "pass"}
    out = _coldstart.run(code, rounds=1, env={}, progress=Progress(None), failed=failed)
    assert failed == {}
    assert out[SDK]["ratio_to_sdk"] == 1.0
    assert out["ours"]["ratio_to_sdk"] > 0


# -- worker processes -----------------------------------------------------------------


def test_worker_errors_are_answered_and_a_dead_worker_is_reported() -> None:
    """A client that cannot be made is answered as an error for every
    command, and so is an unknown op; a worker that ends without answering
    (a command it cannot read) makes `ask` raise WorkerDiedError, at once
    and again (its stdout ended, then its stdin is a broken pipe); quitting
    it is still safe."""
    setup = Setup(url="http://127.0.0.1:1")
    env = _procs.child_environment(through_proxy=False)
    with ExitStack() as stack:
        broken = _procs.Worker("no-such-client", setup, stack, env)
        for _ in range(2):
            answer = broken.ask(op="latency", n=1, warmup=0)
            assert "no-such-client" in answer["error"] or answer["error"]
        told = _procs.Worker("clients:", setup, stack, env)
        assert told.ask(op="bogus") == {"error": "unknown op 'bogus'", "exit_code": None}
        for _ in range(2):
            with pytest.raises(_procs.WorkerDiedError, match="'clients:' died"):
                told.ask(no_op="here")
        told.quit()
        told.quit()  # twice: safe
    assert told.proc.returncode not in (None, 0)
    assert broken.proc.returncode == 0  # asked to quit, it did


def test_child_environment_keeps_or_drops_the_proxy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert "HTTPS_PROXY" not in _procs.child_environment(through_proxy=False)
    assert _procs.child_environment(through_proxy=True)["HTTPS_PROXY"] == "http://127.0.0.1:3128"
    assert sys.executable  # the workers are this Python


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_real_endpoint_that_refuses_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bench --yes-real-api` against a port of 127.0.0.1 that refuses:
    every client fails, each is named under Failed with its error, no
    recommendation is made, and the run exits 7 with one line saying why."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    path = tmp_path / "real.json"
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))  # bound, not listening: refused
        url = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        argv = ["--base-url", url, "--yes-real-api", "--requests", "1", "--rate", "60000"]
        code = cli.main(["bench", *argv, "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 7, err
    assert "no transport of batchdelete completed the latency section" in err
    assert "Recommendation: none: no transport completed the run" in out
    results = json.loads(path.read_text())
    failed = results["failed"]["latency"]
    assert failed  # every client of the run, none measured
    assert all("connect" in why.lower() for why in failed.values())  # each its own words
    assert not set(failed) & set(results["latency"])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_local_run_through_a_proxy_that_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bench --quick --through-proxy` with HTTP_PROXY naming a port that
    refuses: the clients are reported as failed, never an internal error."""
    pytest.importorskip("anthropic")  # the SDK rows are the reference of the ratios
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "proxy.json"
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{refusing.getsockname()[1]}")
        code = cli.main(["bench", "--quick", "--through-proxy", "--json", str(path)])
    _, err = capsys.readouterr()
    assert "internal error" not in err, err
    assert code != 1
    failed = json.loads(path.read_text())["failed"]
    assert failed.get("async_throughput") or failed.get("latency")


# -- the async side -------------------------------------------------------------------


def test_async_rows_without_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_async, "installed", lambda module: False)
    rows, skipped = _async.rows(["aiohttp", "httpx"])
    assert rows == ["AsyncClient[aiohttp]", "AsyncClient[httpx]"]
    assert skipped == {_async.SDK: "not installed (pip install anthropic)"}


@pytest.mark.parametrize("name", ["bare aiohttp", "bare httpx async"])
def test_bare_async_clients_with_a_ca_and_a_proxy(
    name: str, tmp_path: Path, ca: trustme.CA
) -> None:
    """The bare rows take the run's CA and proxy as batchdelete's clients
    do; here the proxy refuses, so the call fails, naming no secret."""
    pytest.importorskip(name.split()[1])
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        setup = Setup(url="https://127.0.0.1:9", ca=str(pem), proxy=proxy)

        async def main() -> str:
            call, close = await _async.make(name, setup)
            try:
                await asyncio.wait_for(call(), 30)
            except Exception as exc:  # the proxy refused: what the run reports
                return type(exc).__name__
            finally:
                await close()
            return "answered"

        assert asyncio.run(main()) != "answered"


def test_an_unknown_async_client_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown async client 'nothing'"):
        asyncio.run(_async.make("nothing", Setup(url="http://127.0.0.1:1")))


def test_async_worker_errors_are_answered_and_a_dead_one_is_reported() -> None:
    setup = Setup(url="http://127.0.0.1:1")
    env = _procs.child_environment(through_proxy=False)
    with ExitStack() as stack:
        broken = _procs.Worker("async:no-such-client", setup, stack, env)
        for _ in range(2):
            assert (
                "no-such-client" in broken.ask(op="throughput", inflight=1, n=1, warmup=0)["error"]
            )
        told = _procs.Worker("async:clients:", setup, stack, env)
        assert told.ask(op="bogus") == {"error": "unknown op 'bogus'", "exit_code": None}
        with pytest.raises(_procs.WorkerDiedError, match="'async:clients:' died"):
            told.ask(no_op="here")
        told.quit()
    assert told.proc.returncode not in (None, 0)
    assert broken.proc.returncode == 0


# -- the pace section's arithmetic ------------------------------------------------------


def _stamps(start: float, seconds: float, per_second: int) -> list[float]:
    """Evenly spaced, each in the middle of its slot (no window edge falls on one)."""
    gap = 1.0 / per_second
    return [start + gap / 2 + i * gap for i in range(int(seconds * per_second))]


def test_the_pace_follows_a_lowered_limit_after_a_while() -> None:
    s = _pace.PaceSettings.make(quick=True)
    per_second = s.new_limit // 60  # in the band exactly
    at = 100.0
    ok = _stamps(at - 1.0, 1.0, 3 * per_second)  # before: 3 times faster
    ok += _stamps(at, 1.0, 3 * per_second)  # still too fast for a second after the change
    ok += _stamps(at + 1.0, 3.0, per_second)  # then at the new limit
    row = _pace._following(ok, at, at + 4.0, s)
    assert 1.0 <= row["follows_within_s"] <= 1.0 + s.window  # the first window in the band
    assert row["stays"] is True
    assert row["pace_after"] == pytest.approx(s.new_limit, rel=FOLLOW_BAND)


def test_a_pace_that_never_follows_has_no_figures() -> None:
    s = _pace.PaceSettings.make(quick=True)
    at = 100.0
    too_fast = _stamps(at, 2.0, 3 * s.new_limit // 60)
    row = _pace._following(too_fast, at, at + 2.0, s)
    assert row["follows_within_s"] is None and row["stays"] is None
    assert row["pace_after"] == pytest.approx(3 * s.new_limit)
    cut_short = _pace._following([], at, at + s.window / 2, s)  # no whole window after it
    assert cut_short == {"follows_within_s": None, "stays": None, "pace_after": 0.0}
    ended_at_the_change = _pace._following([], at, at, s)
    assert ended_at_the_change["pace_after"] is None


def test_the_full_pace_run_is_longer_and_bounded() -> None:
    quick, full = _pace.PaceSettings.make(quick=True), _pace.PaceSettings.make(quick=False)
    assert full.batches > quick.batches and full.change_after > quick.change_after
    for s in (quick, full):
        assert s.new_limit < s.limit  # the change lowers the limit
        assert s.baseline_deadline < s.bound


# -- the plot ---------------------------------------------------------------------------


def test_nothing_to_plot_draws_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing.png"
    assert _plot.plot({}, path) is False
    assert _plot.plot({"latency": {}, "decode": None}, path) is False
    assert not path.exists()


def test_an_async_section_without_transports_is_a_panel_that_says_so(tmp_path: Path) -> None:
    if not _plot.available():
        pytest.skip("matplotlib is not installed")
    path = tmp_path / "async.png"
    results = {"async_throughput": {}, "date": "2026-01-01", "machine": {"python": "3.11"}}
    assert _plot.plot(results, path) is True
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the benchmark server and its processes ---------------------------------------------


def _read_reply(sock: socket.socket) -> bytes:
    data = b""
    for _ in range(100):  # bounded: each recv waits at most the socket's timeout
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if body and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return data


def test_the_bench_server_waits_for_a_whole_body_and_drops_an_endless_head() -> None:
    env = _procs.child_environment(through_proxy=False)
    with ExitStack() as stack:
        url = _procs.start_server(stack, None, env)
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = b"DELETE /v1/messages/batches/x HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n"
            sock.sendall(head + b"ab")  # the body is not all there: no answer yet
            sock.settimeout(0.3)
            with pytest.raises(TimeoutError):
                sock.recv(1)
            sock.settimeout(10)
            sock.sendall(b"cde")
            assert _read_reply(sock).startswith(b"HTTP/1.1 200 ")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /" + b"x" * (_server.MAX_HEAD + 10))  # never a blank line
            assert _read_reply(sock) == b""  # closed, unanswered
        assert _procs.server_stats(url, "/__stats", None)["requests"] == 1


def test_a_bench_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    env = _procs.child_environment(through_proxy=False)
    missing = str(tmp_path / "missing.pem")
    with ExitStack() as stack, pytest.raises(RuntimeError, match="did not start"):
        _procs.start_server(stack, (missing, missing), env)


def test_a_worker_is_killed_when_the_run_fails() -> None:
    env = _procs.child_environment(through_proxy=False)
    with pytest.raises(KeyboardInterrupt), ExitStack() as stack:
        worker = _procs.Worker("clients:", Setup(url="http://127.0.0.1:1"), stack, env)
        raise KeyboardInterrupt  # Ctrl-C in the parent
    assert worker.proc.returncode is not None and worker.proc.returncode != 0


def test_async_sections_without_async_transports_are_empty() -> None:
    with ExitStack() as stack:
        run = _sections.Run(
            Setup(url="http://127.0.0.1:1"), Settings(quick=True), stack, {}, Progress(None)
        )
        assert _sections.async_throughput(run, []) == {}
        assert _sections.async_layer_cost(run, []) == {}
        assert _sections.async_layer_cost(run, ["no-such-transport"]) == {}  # no bare row
        assert run.failed == {} and run.progress.done == 0  # nothing started
