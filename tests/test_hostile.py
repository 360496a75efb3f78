"""The hostile-server suite (issue 7): every call is bounded in time and
memory, malformed answers are refused at once, and nothing but a
`BatchDeleteError` leaves a call, on every transport, sync and async (an
AsyncClient through the blocking facade of tests/asyncclients.py).

Each case plays a scripted byte sequence from `tests.hostile` on 127.0.0.1.
A stalling script always ends (the server closes after `STALL` seconds), so
a transport that does not keep a limit fails in bounded time instead of
hanging. Figures: `pytest -s` prints the outcome and time of each case.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import batchdelete as bd
from tests.asyncclients import BlockingClient, record_sleeps
from tests.conftest import API_KEY
from tests.hostile import (
    CONTINUE,
    DELETED,
    DELETED_ID,
    Close,
    Drip,
    Hold,
    HostileServer,
    Receive,
    Repeat,
    Request,
    Send,
    Sleep,
    Step,
    chunked,
    deflate,
    endless_chunks,
    gzipped,
    head,
    ok,
    one_shot,
    padded,
    response,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.clients("all")]

Connect = Callable[..., bd.Client]

DEADLINE = 2.0  # Timeout(deadline=...) of the deadline cases
SLACK = 1.0  # the contract is D + 0.5 s; this allows a loaded 2-core machine
PAUSE = 0.3  # between two dripped bytes
STALL = 5.0  # how long a stalling script lasts before the server closes
HOLD = 10.0  # how long a malformed answer is held open (a wait shows as >= HOLD)
# "Refused at once": far below HOLD and the 30-s read timeouts, and far above what a
# loaded CI machine takes (1.7 s seen for a prompt refusal, 4 workers on 2 cores).
AT_ONCE = 5.0
MiB = 1 << 20


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def connect(hostile: HostileServer, open_client: Connect) -> Connect:
    """Clients of the kind under test (`client_kind`), pointed at the
    hostile server, without retries unless asked."""

    def make(**kwargs: Any) -> bd.Client:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", hostile.url)
        kwargs.setdefault("max_retries", 0)
        return open_client(**kwargs)

    return make


def kind_of(client: bd.Client) -> str:
    name = client.transport.name
    return f"async {name}" if isinstance(client, BlockingClient) else name


def failing(client: bd.Client, case: str) -> tuple[bd.BatchDeleteError, float]:
    """The error of one delete and the time it took; only a
    `BatchDeleteError` may leave the call (anything else fails the test)."""
    started = time.monotonic()
    with pytest.raises(bd.BatchDeleteError) as info:
        client.delete(DELETED_ID)
    elapsed = time.monotonic() - started
    error = info.value
    print(f"\n[hostile] {kind_of(client):13} {case}: {type(error).__name__} in {elapsed:.2f} s")
    return error, elapsed


def described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def drip(data: bytes) -> Drip:
    """`data` dripped, cut to last about STALL seconds."""
    return Drip(data[: int(STALL / PAUSE)], PAUSE)


HEAD_DRIP: list[Step] = [
    Request(),
    Send(b"HTTP/1.1 200 OK\r\n"),
    drip(b"content-type: application/json\r\n"),
]
BODY_DRIP: list[Step] = [
    Request(),
    Send(head(200, "content-type: application/json", "content-length: 1000")),
    drip(b" " * 100),
]
STALLS: dict[str, list[Step]] = {
    "silence": [Request(), Hold(STALL)],
    "head-drip": HEAD_DRIP,
    "body-drip": BODY_DRIP,
    "endless-100-continue": [
        Request(),
        Repeat((Send(CONTINUE * 10), Sleep(0.01)), seconds=STALL),
    ],
}


# -- 1. the deadline -------------------------------------------------------------


@pytest.mark.parametrize("stall", list(STALLS))
@pytest.mark.slow
def test_deadline_bounds_a_stalling_server(
    connect: Connect, hostile: HostileServer, stall: str
) -> None:
    hostile.play(STALLS[stall])
    client = connect(timeout=bd.Timeout(deadline=DEADLINE))
    error, elapsed = failing(client, f"deadline {DEADLINE:g} s, {stall}")
    assert type(error) is bd.APITimeoutError, described(error)
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.2f} s: {described(error)}"


@pytest.mark.slow
def test_endless_chunked_body_ends_by_cap_or_deadline(
    connect: Connect, hostile: HostileServer
) -> None:
    hostile.play(
        [
            Request(),
            Send(head(200, "content-type: application/json", "transfer-encoding: chunked")),
            Repeat((Send(endless_chunks()),), seconds=STALL, max_bytes=8 * MiB),
            Hold(STALL),
        ]
    )
    client = connect(timeout=bd.Timeout(deadline=DEADLINE))
    error, elapsed = failing(client, f"deadline {DEADLINE:g} s, endless chunked body")
    assert type(error) in (bd.ResponseTooLargeError, bd.APITimeoutError), described(error)
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.2f} s: {described(error)}"


@pytest.mark.slow
def test_attempt_bound_without_deadline(connect: Connect, hostile: HostileServer) -> None:
    # A byte every 0.3 s never trips a 1 s read timeout; the attempt bound ends it.
    hostile.play(BODY_DRIP)
    client = connect(timeout=bd.Timeout(read=1, attempt=2))
    error, elapsed = failing(client, "attempt 2 s, read 1 s, body drip")
    assert type(error) is bd.APITimeoutError, described(error)
    assert elapsed < 3.0, f"{elapsed:.2f} s: {described(error)}"


@pytest.mark.slow
def test_retries_keep_the_deadline(connect: Connect, hostile: HostileServer) -> None:
    hostile.play(BODY_DRIP)  # every connection drips
    client = connect(timeout=bd.Timeout(deadline=DEADLINE), max_retries=2)
    error, elapsed = failing(client, f"deadline {DEADLINE:g} s, 2 retries, body drip")
    assert type(error) is bd.APITimeoutError, described(error)
    assert elapsed < DEADLINE + 0.5, f"{elapsed:.2f} s: {described(error)}"


# -- 2. the body cap -------------------------------------------------------------------


def test_body_over_the_cap_is_refused(connect: Connect, hostile: HostileServer) -> None:
    body = padded(2_000_000)
    hostile.play(one_shot(response(200, body)))
    error, _ = failing(connect(), "2 MB identity body, default cap")
    assert type(error) is bd.ResponseTooLargeError, described(error)
    assert isinstance(error, bd.APIResponseValidationError)
    assert "max_response_bytes" in str(error)
    # The same body is fine under a cap that allows it.
    deleted = connect(max_response_bytes=4 * MiB).delete(DELETED_ID)
    assert deleted == bd.DeletedMessageBatch(id=DELETED_ID, type="message_batch_deleted")


def test_next_request_after_a_body_over_the_cap_uses_a_new_connection(
    connect: Connect, hostile: HostileServer
) -> None:
    # Connection 1 would serve a second request: reusing it must not happen.
    big = response(200, padded(2_000_000))
    hostile.play([Request(), Send(big), Request(), Send(ok())], [Request(), Send(ok())])
    client = connect()
    error, _ = failing(client, "2 MB body, then the next request")
    assert type(error) is bd.ResponseTooLargeError, described(error)
    assert client.delete(DELETED_ID).id == DELETED_ID
    assert hostile.connections == 2
    assert [r.connection for r in hostile.requests] == [1, 2]


def test_error_body_is_kept_up_to_64_kib(connect: Connect, hostile: HostileServer) -> None:
    body = b'{"type": "error", "error": {"type": "api_error", "message": "'
    body += b"x" * 1_000_000 + b'"}}'
    hostile.play(one_shot(response(500, body, reason="Internal Server Error")), one_shot(ok()))
    client = connect()
    error, _ = failing(client, "500 with a 1 MB body")
    assert type(error) is bd.InternalServerError, described(error)
    assert error.status_code == 500
    assert 0 < len(error.raw_body) <= 64 * 1024
    assert body.startswith(error.raw_body)
    assert error.body == error.raw_body.decode().strip()  # not JSON: the text, as the SDK
    assert client.delete(DELETED_ID).id == DELETED_ID  # and the client goes on


def test_gzip_over_the_cap_is_refused(connect: Connect, hostile: HostileServer) -> None:
    compressed = gzipped(padded(2 * MiB))
    assert len(compressed) < 10_000
    hostile.play(one_shot(response(200, compressed, "content-encoding: gzip")))
    error, _ = failing(connect(), "gzip inflating to 2 MiB")
    assert type(error) is bd.ResponseTooLargeError, described(error)
    assert "max_response_bytes" in str(error)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzipped(DELETED)),
        ("deflate", deflate(DELETED)),
        ("deflate", deflate(DELETED, raw=True)),
        ("gzip", gzipped(DELETED[:20]) + gzipped(DELETED[20:])),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "gzip-two-members"],
)
def test_encoded_bodies_decode(
    connect: Connect, hostile: HostileServer, encoding: str, body: bytes
) -> None:
    hostile.play(one_shot(response(200, body, f"content-encoding: {encoding}")))
    deleted = connect().delete(DELETED_ID)
    assert deleted == bd.DeletedMessageBatch(id=DELETED_ID, type="message_batch_deleted")


def test_truncated_gzip_is_a_connection_error(connect: Connect, hostile: HostileServer) -> None:
    compressed = gzipped(padded(300))
    cut = compressed[: len(compressed) - 12]  # into the deflate data, trailer gone
    hostile.play([Request(), Send(response(200, cut, "content-encoding: gzip")), Hold(HOLD)])
    error, elapsed = failing(connect(timeout=bd.Timeout(read=30)), "truncated gzip")
    assert type(error) is bd.APIConnectionError, described(error)
    assert elapsed < AT_ONCE, f"{elapsed:.2f} s: {described(error)}"


# -- 4. malformed framing ---------------------------------------------------------------

JSON = "content-type: application/json"
CHUNKED_HEAD = head(200, JSON, "transfer-encoding: chunked")
LENGTH = f"content-length: {len(DELETED)}"


def _status(line: str) -> bytes:
    return f"{line}\r\n{JSON}\r\n{LENGTH}\r\n\r\n".encode() + DELETED


MALFORMED: dict[str, bytes] = {
    "chunk-size--1": CHUNKED_HEAD + b"-1\r\n" + DELETED[:5],
    "chunk-size-+5": CHUNKED_HEAD + b"+5\r\n" + DELETED[:5],
    "chunk-size-0x5": CHUNKED_HEAD + b"0x5\r\n" + DELETED[:5],
    "chunk-size-5_0": CHUNKED_HEAD + b"5_0\r\n" + DELETED[:5],
    "chunk-size-zz": CHUNKED_HEAD + b"zz\r\n" + DELETED[:5],
    "chunk-size-30-digits": CHUNKED_HEAD + b"1" + b"0" * 29 + b"\r\n" + DELETED[:5],
    "content-length--1": head(200, JSON, "content-length: -1") + DELETED,
    "content-length-abc": head(200, JSON, "content-length: abc") + DELETED,
    "content-length-conflicting": head(200, JSON, LENGTH, f"content-length: {len(DELETED) + 1}")
    + DELETED,
    "content-length-and-chunked": head(
        200, JSON, f"content-length: {len(chunked(DELETED))}", "transfer-encoding: chunked"
    )
    + chunked(DELETED),
    "header-without-colon": head(200, JSON, "this line has no colon", LENGTH) + DELETED,
    "nul-in-header-value": head(200, JSON, "x-note: a\x00b", LENGTH) + DELETED,
    "status-20": _status("HTTP/1.1 20 OK"),
    "status-2000": _status("HTTP/1.1 2000 OK"),
    "status-+20": _status("HTTP/1.1 +20 OK"),
    "status-fullwidth-200": _status("HTTP/1.1 \uff12\uff10\uff10 OK"),
    "status-garbage": _status("garbage"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_framing_is_refused_at_once(
    connect: Connect, hostile: HostileServer, case: str
) -> None:
    # The answer is held open: a transport that waits for more shows it.
    hostile.play([Request(), Send(MALFORMED[case]), Hold(HOLD)], one_shot(ok()))
    client = connect(timeout=bd.Timeout(read=30))
    error, elapsed = failing(client, f"malformed {case}")
    assert type(error) is bd.APIConnectionError, described(error)
    assert isinstance(error.__cause__, bd.TransportProtocolError), repr(error.__cause__)
    assert elapsed < AT_ONCE, f"{elapsed:.2f} s: {described(error)}"
    # The connection was discarded: the next request goes on a new one.
    assert client.delete(DELETED_ID).id == DELETED_ID
    assert hostile.requests[-1].connection == 2


def test_bare_lf_is_read_or_refused_at_once(connect: Connect, hostile: HostileServer) -> None:
    answer = f"HTTP/1.1 200 OK\n{JSON}\n{LENGTH}\n\n".encode() + DELETED
    hostile.play([Request(), Send(answer), Hold(HOLD)])
    client = connect(timeout=bd.Timeout(read=30))
    started = time.monotonic()
    try:
        outcome: object = client.delete(DELETED_ID)
    except bd.BatchDeleteError as exc:
        outcome = exc
    elapsed = time.monotonic() - started
    print(f"\n[hostile] {kind_of(client):13} bare LF: {type(outcome).__name__}")
    if isinstance(outcome, bd.BatchDeleteError):
        assert type(outcome) is bd.APIConnectionError, described(outcome)
    else:
        assert outcome == bd.DeletedMessageBatch(id=DELETED_ID, type="message_batch_deleted")
    assert elapsed < AT_ONCE, f"{elapsed:.2f} s: {outcome!r}"


# -- 5. the error tree ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": ' + b'{"a":' * 1000 + b"0" + b"}" * 1000 + b"}",
        b'{"id": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"id": "msgbatch_\xff\xfe", "type": "message_batch_deleted"}',
        b'{"id": "msgbatch_\xed\xa0\x80", "type": "message_batch_deleted"}',  # a surrogate
    ],
    ids=["objects-1000-deep", "arrays-1000-deep", "invalid-utf8", "utf8-surrogate"],
)
def test_unreadable_success_body_is_a_validation_error(
    connect: Connect, hostile: HostileServer, body: bytes
) -> None:
    hostile.play(one_shot(response(200, body)))
    error, _ = failing(connect(), f"2xx body {body[:12]!r}...")
    assert type(error) is bd.APIResponseValidationError, described(error)


HUGE: dict[str, bytes] = {
    "chunk-2**40": CHUNKED_HEAD + b"10000000000\r\n" + b"x" * 100,
    "content-length-2**40": head(200, JSON, f"content-length: {2**40}") + b" " * 100,
    "content-length-2**63": head(200, JSON, f"content-length: {2**63}") + b" " * 100,
}


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_declared_sizes_stay_in_the_tree(
    connect: Connect, hostile: HostileServer, case: str
) -> None:
    # A few bytes then the end of the connection: cut short, or refused up front.
    hostile.play(one_shot(HUGE[case]))
    error, elapsed = failing(connect(timeout=bd.Timeout(read=30)), f"huge size {case}")
    assert type(error) in (bd.APIConnectionError, bd.ResponseTooLargeError), described(error)
    assert elapsed < AT_ONCE, f"{elapsed:.2f} s: {described(error)}"


# -- 6. what must keep holding ---------------------------------------------------------


def test_redirect_is_returned_not_followed(connect: Connect, hostile: HostileServer) -> None:
    moved = response(307, b"", f"location: {hostile.url}/elsewhere", reason="Temporary Redirect")
    hostile.play([Request(), Send(moved), Request(), Send(ok())], one_shot(ok()))
    error, _ = failing(connect(), "307")
    assert type(error) is bd.APIStatusError, described(error)
    assert error.status_code == 307
    assert len(hostile.requests) == 1


def test_day_long_retry_after_raises_at_once(connect: Connect, hostile: HostileServer) -> None:
    limited = response(429, b"{}", "retry-after: 86400", reason="Too Many Requests")
    hostile.play(one_shot(limited))
    client = connect(max_retries=2)
    slept = record_sleeps(client)
    error, elapsed = failing(client, "retry-after 86400")
    assert type(error) is bd.RateLimitError, described(error)
    assert error.retry_after == 86400
    assert slept == [] and len(hostile.requests) == 1
    assert elapsed < AT_ONCE


def test_keep_alive_connection_closed_while_idle_is_recovered(
    connect: Connect, hostile: HostileServer
) -> None:
    # The server closes after its answer, without saying connection: close.
    hostile.play([Request(), Send(ok()), Close()], [Request(), Send(ok())])
    client = connect()
    assert client.delete(DELETED_ID).id == DELETED_ID
    assert hostile.wait_finished(1)  # the first connection is closed
    assert client.delete(DELETED_ID).id == DELETED_ID
    assert hostile.connections == 2


def test_exact_attempt_count_on_503(connect: Connect, hostile: HostileServer) -> None:
    unavailable = response(503, b"{}", reason="Service Unavailable")
    hostile.play([Request(), Send(unavailable)] * 10)  # every connection, many requests
    client = connect(max_retries=2)
    slept = record_sleeps(client)
    error, _ = failing(client, "503 x 3")
    assert type(error) is bd.ServiceUnavailableError, described(error)
    assert error.attempts == 3
    assert len(hostile.requests) == 3 and len(slept) == 2


def test_tls_to_a_plain_port_is_refused_quickly(connect: Connect, hostile: HostileServer) -> None:
    plain = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    hostile.play([Receive(), Send(plain)])
    client = connect(base_url=f"https://127.0.0.1:{hostile.port}", timeout=bd.Timeout(read=30))
    error, elapsed = failing(client, "TLS to a plain port")
    assert type(error) is bd.APIConnectionError, described(error)
    assert elapsed < AT_ONCE
    assert hostile.received(1).startswith(b"\x16\x03")  # a TLS handshake record came
    assert hostile.requests == []


# -- 7. cancellation (async only: a sync call cannot be cancelled) -----------------------


@pytest.mark.clients("async")
@pytest.mark.parametrize("how", ["task-cancel", "wait-for"])
def test_a_cancelled_call_leaves_no_connection_behind(
    connect: Connect, hostile: HostileServer, how: str
) -> None:
    """A call cancelled mid-response (the head sent, the body held) ends at
    once, and its half-read connection is closed, never reused."""
    partial = head(200, JSON, "content-length: 1000") + b'{"id": '
    hostile.play([Request(), Send(partial), Hold(STALL)], one_shot(ok()))
    client = connect(timeout=bd.Timeout(read=30))
    assert isinstance(client, BlockingClient)

    async def cancelled() -> float:
        call = asyncio.ensure_future(client.aclient.delete(DELETED_ID))
        while not hostile.requests:  # the request is on the wire, the answer started
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        if how == "task-cancel":
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
        else:
            with pytest.raises(asyncio.TimeoutError):  # not the builtin one before 3.11
                await asyncio.wait_for(call, 0.01)
        return time.monotonic() - started

    elapsed = client.run(cancelled)
    print(f"\n[hostile] {kind_of(client):13} cancelled ({how}) in {elapsed:.2f} s")
    assert elapsed < AT_ONCE, f"{elapsed:.2f} s"
    assert hostile.wait_finished(1, timeout=STALL / 2), "the half-read connection was kept open"
    assert client.delete(DELETED_ID).id == DELETED_ID
    assert hostile.connections == 2
    assert [r.connection for r in hostile.requests] == [1, 2]
