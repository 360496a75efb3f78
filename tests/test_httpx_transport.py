"""The httpx transport keeps the hard limits whatever the server does: the
deadline (drips, endless interim answers), the body cap (bombs, endless
bodies), malformed framing refused at once, every failure a batchdelete
error (fork: test_fork.py, for every transport); it sends exactly the
spec, and a failed or interrupted TLS handshake (through a real proxy's
tunnel too) leaves nothing open. Raw sockets on 127.0.0.1; every wait is
bounded."""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import signal
import socket
import threading
import time
import types
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme

import batchdelete as bd
import batchdelete_httpx
from batchdelete import ConnectionOptions, RequestSpec, Timeout
from tests.conftest import API_KEY
from tests.hostile import Hold, HostileServer
from tests.proxyserver import ProxyProcess
from tests.scriptserver import Reply, ScriptServer

BATCH = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
OK_BODY = json.dumps({"id": BATCH, "type": "message_batch_deleted"}).encode()
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"

#: answer(conn, number, stop) -> keep the connection open for another request?
Answer = Callable[[socket.socket, int, threading.Event], bool]


class RawServer:
    """A server on 127.0.0.1 that reads each request head and lets `answer`
    write whatever bytes it likes, as slowly as it likes (waits end when the
    server closes)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.stop = threading.Event()
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buffer = b""
        with conn, contextlib.suppress(OSError):
            for _ in range(100):  # requests on one connection
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data or len(buffer) > 65536:
                        return
                    buffer += data
                buffer = buffer.partition(b"\r\n\r\n")[2]
                with self._lock:
                    self.requests += 1
                    number = self.requests
                if not self.answer(conn, number, self.stop):
                    self.stop.wait(5)  # hold the connection open: a reader that waits, waits
                    return

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def raw_server(answer: Answer) -> Iterator[RawServer]:
    server = RawServer(answer)
    try:
        yield server
    finally:
        server.close()


def reply(payload: bytes) -> Answer:
    """An answer that sends `payload` at once and keeps the connection."""

    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        conn.sendall(payload)
        return True

    return answer


def drip(conn: socket.socket, stop: threading.Event, prefix: bytes, every: float) -> bool:
    """Send `prefix`, then one byte every `every` seconds until the server stops."""
    conn.sendall(prefix)
    for _ in range(1000):
        if stop.wait(every):
            break
        conn.sendall(b"a")
    return False


def client(url: str, **kwargs: object) -> bd.Client:
    return bd.Client(api_key=API_KEY, base_url=url, transport="httpx", **kwargs)  # type: ignore[arg-type]


def elapsed_call(c: bd.Client, **kwargs: object) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        c.delete(BATCH, **kwargs)  # type: ignore[arg-type]
    except bd.BatchDeleteError as exc:
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


def one_call(answer: Answer, **kwargs: object) -> tuple[float, BaseException | None]:
    """One delete against a raw server: how long it took, and what it raised."""
    with raw_server(answer) as server, client(server.url, **kwargs) as c:
        return elapsed_call(c)


# -- the deadline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    [b"HTTP/1.1 200 OK\r\nx-drip: ", HEAD + b"content-length: 100000\r\n\r\n"],
    ids=["head", "body"],
)
@pytest.mark.slow
def test_a_drip_ends_at_the_deadline(prefix: bytes) -> None:
    answer: Answer = lambda conn, n, stop: drip(conn, stop, prefix, 0.3)  # noqa: E731
    took, exc = one_call(answer, timeout=bd.Timeout(deadline=1.5))
    assert isinstance(exc, bd.APITimeoutError)
    assert 1.2 < took < 2.0


@pytest.mark.slow
def test_endless_interim_answers_end_at_the_deadline() -> None:
    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        for _ in range(100_000):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 50)
            if stop.wait(0.005):
                break
        return False

    took, exc = one_call(answer, timeout=bd.Timeout(deadline=1.5))
    assert isinstance(exc, bd.APITimeoutError)
    assert took < 2.0


@pytest.mark.slow
def test_without_a_deadline_the_attempt_limit_bounds_a_drip() -> None:
    prefix = HEAD + b"content-length: 100000\r\n\r\n"
    answer: Answer = lambda conn, n, stop: drip(conn, stop, prefix, 0.3)  # noqa: E731
    limits = bd.Timeout(read=0.5, attempt=1.5)  # each byte comes well within `read`
    took, exc = one_call(answer, timeout=limits, max_retries=0)
    assert isinstance(exc, bd.APITimeoutError)
    assert 1.2 < took < 2.0


@pytest.mark.slow
def test_silence_during_the_tls_handshake_ends_at_the_deadline() -> None:
    with raw_server(reply(b"")) as server:  # no request ever comes
        https = client(server.url.replace("http://", "https://"), timeout=bd.Timeout(deadline=1.5))
        with https:
            took, exc = elapsed_call(https)
    assert isinstance(exc, bd.APITimeoutError)
    assert took < 2.0


def test_a_deadline_already_passed_sends_nothing() -> None:
    transport = batchdelete_httpx.HttpxTransport()
    spec = bd.RequestSpec(
        "DELETE", "http://127.0.0.1:9/x", {}, bd.Timeout(), deadline=time.monotonic() - 1
    )
    with pytest.raises(bd.TransportTimeoutError):
        transport.send(spec)
    transport.close()


# -- the body cap ------------------------------------------------------------------------


@functools.cache
def gzip_bomb(mib: int = 2048) -> bytes:
    """About 2 MB of gzip that inflates to 2 GiB of zeros: one flushed deflate
    segment of 1 MiB, repeated (it refers to nothing before it). The trailer's
    CRC is not computed: the cap stops the reader long before it."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(b"\0" * (1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    size = (mib << 20) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + segment * mib + end + b"\0\0\0\0" + size.to_bytes(4, "little")


def test_a_gzip_bomb_costs_at_most_the_cap_and_the_connection_is_dropped() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 4 << 20

    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        if number == 1:
            head = HEAD + b"content-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(bomb)
            conn.sendall(head + bomb)
            return True
        conn.sendall(HEAD + b"content-length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
        return True

    with raw_server(answer) as server, client(server.url, max_retries=0) as c:
        took, exc = elapsed_call(c)
        assert isinstance(exc, bd.ResponseTooLargeError)
        assert "max_response_bytes" in str(exc)
        assert took < 1.0
        assert c.delete(BATCH).id == BATCH  # the next request works...
        assert server.connections == 2  # ...on a new connection


def test_an_identity_body_over_the_cap_is_refused() -> None:
    body = b"x" * (2 << 20)
    answer = reply(HEAD + b"content-length: %d\r\n\r\n" % len(body) + body)
    took, exc = one_call(answer, max_retries=0, max_response_bytes=1 << 20)
    assert isinstance(exc, bd.ResponseTooLargeError)
    assert took < 1.0


def test_an_endless_chunked_body_is_cut_at_the_cap() -> None:
    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        conn.sendall(HEAD + b"transfer-encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        for _ in range(100_000):  # 1.6 GB at most; the client leaves after 1 MiB
            if stop.is_set():
                break
            conn.sendall(chunk)
        return False

    took, exc = one_call(answer, max_retries=0)
    assert isinstance(exc, bd.ResponseTooLargeError)
    assert took < 1.0


def test_an_error_body_is_cut_to_64_kib() -> None:
    body = b"e" * 1_000_000
    head = b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\n"
    answer = reply(head + b"content-length: %d\r\n\r\n" % len(body) + body)
    took, exc = one_call(answer, max_retries=0)
    assert isinstance(exc, bd.InternalServerError)
    assert exc.raw_body == b"e" * (64 << 10)
    assert took < 1.0


def test_the_core_asks_for_gzip_and_httpx_decodes_nothing(server: ScriptServer) -> None:
    server.script(Reply(headers=(("content-encoding", "gzip"),), body=gzip.compress(OK_BODY)))
    with client(server.url) as c:
        assert c.delete(BATCH).id == BATCH
    [request] = server.requests
    assert [v for k, v in request.headers if k.lower() == "accept-encoding"] == ["gzip, deflate"]
    # Without one in the spec, none goes out (httpx's own would ask for br and zstd).
    transport = batchdelete_httpx.HttpxTransport()
    transport.send(bd.RequestSpec("DELETE", server.url + "/x", {}, bd.Timeout()))
    transport.close()
    assert "accept-encoding" not in server.requests[-1].names


# -- framing: h11 refuses at once; the rest is refused once the head is in ---------------

H = HEAD
MALFORMED = {
    "chunk size not hex": H + b"transfer-encoding: chunked\r\n\r\nzz\r\n",
    "chunk size negative": H + b"transfer-encoding: chunked\r\n\r\n-1\r\n",
    "chunk size signed": H + b"transfer-encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    "chunk size prefixed": H + b"transfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    "chunk size underscore": H + b"transfer-encoding: chunked\r\n\r\n5_0\r\nhello\r\n",
    "chunk size too long": H + b"transfer-encoding: chunked\r\n\r\n" + b"1" * 30 + b"\r\nab",
    "chunk size after a space": H + b"transfer-encoding: chunked\r\n\r\n 5\r\nhello\r\n",
    "header line without colon": H + b"content-length: 2\r\nbogus header line\r\n\r\n{}",
    "space before the colon": H + b"content-length : 2\r\n\r\n{}",
    "NUL in a header value": H + b"x-a: a\x00b\r\ncontent-length: 2\r\n\r\n{}",
    "SOH in a header value": H + b"x-a: a\x01b\r\ncontent-length: 2\r\n\r\n{}",
    "ESC in a header value": H + b"x-a: a\x1bb\r\ncontent-length: 2\r\n\r\n{}",
    "DEL in a header value": H + b"x-a: a\x7fb\r\ncontent-length: 2\r\n\r\n{}",
    "status of four digits": b"HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\n{}",
    "status of two digits": b"HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\n{}",
    "status not digits": b"HTTP/1.1 abc OK\r\ncontent-length: 2\r\n\r\n{}",
    "status signed": b"HTTP/1.1 +20 OK\r\ncontent-length: 2\r\n\r\n{}",
    "not HTTP": b"XTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
    "no status line": b"hello there\r\n\r\n",
    "conflicting content-length": H + b"content-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
    "content-length list": H + b"content-length: 5, 6\r\n\r\nhello!",
    "negative content-length": H + b"content-length: -1\r\n\r\n{}",
    "signed content-length": H + b"content-length: +2\r\n\r\n{}",
    "transfer-encoding and content-length": (
        H + b"transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ),
    "transfer-encoding gzip": H + b"transfer-encoding: gzip\r\n\r\n{}",
    "transfer-encoding twice": (
        H + b"transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "content-encoding not asked for": H + b"content-encoding: br\r\ncontent-length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_framing_is_refused_at_once(payload: bytes) -> None:
    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        conn.sendall(payload)
        return False  # and the connection stays open: waiting for more would hang

    took, exc = one_call(answer, max_retries=0, timeout=bd.Timeout(read=5))
    assert type(exc) is bd.APIConnectionError, exc
    assert isinstance(exc.__cause__, bd.TransportProtocolError)
    assert took < 1.0


@pytest.mark.parametrize(
    "payload",
    [
        b"HTTP/1.1 200 OK\ncontent-length: %d\n\n" % len(OK_BODY) + OK_BODY,
        H + b"x-a: a\r\n b\r\ncontent-length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY,
        H
        + b"transfer-encoding: chunked\r\n\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n"
        % (len(OK_BODY), OK_BODY),
    ],
    ids=["bare LF line endings", "folded header line", "chunk extension"],
)
def test_lenient_but_unambiguous_framing_is_read_at_once(payload: bytes) -> None:
    took, exc = one_call(reply(payload), max_retries=0, timeout=bd.Timeout(read=5))
    assert exc is None and took < 1.0


def test_a_refused_response_leaves_its_connection_unused() -> None:
    def answer(conn: socket.socket, number: int, stop: threading.Event) -> bool:
        if number == 1:
            conn.sendall(H + b"x-a: a\x01b\r\ncontent-length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
        else:
            conn.sendall(H + b"content-length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
        return True

    with raw_server(answer) as server, client(server.url, max_retries=0) as c:
        assert isinstance(elapsed_call(c)[1], bd.APIConnectionError)
        assert c.delete(BATCH).id == BATCH
        assert server.connections == 2


# -- a user's own httpx.Client -----------------------------------------------------------


def mock_client(respond: Callable[[httpx.Request], httpx.Response]) -> bd.Client:
    native = httpx.Client(transport=httpx.MockTransport(respond))
    return bd.Client(api_key=API_KEY, transport=native, max_retries=0)


@pytest.mark.slow
def test_a_users_client_is_checked_against_the_deadline_between_chunks() -> None:
    def slow() -> Iterator[bytes]:
        for _ in range(50):
            time.sleep(0.2)
            yield b" "

    with mock_client(lambda request: httpx.Response(200, content=slow())) as c:
        took, exc = elapsed_call(c, timeout=bd.Timeout(deadline=1.0))
    assert isinstance(exc, bd.APITimeoutError)
    assert took < 1.5


def test_a_users_client_keeps_the_cap_on_bodies_read_in_memory() -> None:
    with mock_client(lambda request: httpx.Response(200, content=b" " * (2 << 20))) as c:
        assert isinstance(elapsed_call(c)[1], bd.ResponseTooLargeError)
    gzipped = gzip.compress(OK_BODY)
    headers = {"content-encoding": "gzip"}
    with mock_client(lambda request: httpx.Response(200, content=gzipped, headers=headers)) as c:
        assert c.delete(BATCH).id == BATCH  # decoded by httpx once, not twice


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RecursionError("deep"),
        OverflowError("big"),
        ValueError("odd"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_what_breaks_while_reading_is_a_protocol_error(error: Exception) -> None:
    def body() -> Iterator[bytes]:
        yield b"{"
        raise error

    with mock_client(lambda request: httpx.Response(200, content=body())) as c:
        exc = elapsed_call(c)[1]
    assert type(exc) is bd.APIConnectionError
    assert isinstance(exc.__cause__, bd.TransportProtocolError)
    assert exc.__cause__.__cause__ is error


# -- the backend under every pool --------------------------------------------------------


def backends(transport: batchdelete_httpx.HttpxTransport) -> list[str]:
    found = []
    for c in transport._clients.by_proxy.values():
        for t in [c._transport, *c._mounts.values()]:
            if t is not None:
                found.append(type(t._pool._network_backend).__name__)  # type: ignore[attr-defined]
    return found


def test_every_pool_has_the_deadline_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:8")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    transport = batchdelete_httpx.HttpxTransport()
    clients = transport._clients.by_proxy
    assert set(clients) == {None, "http://127.0.0.1:9", "http://127.0.0.1:8"}
    pools = [t._pool for c in clients.values() for t in c._mounts.values() if t is not None]  # type: ignore[attr-defined]
    assert {type(p).__name__ for p in pools} == {"HTTPProxy"}  # the proxies' pools
    found = backends(transport)
    assert len(found) >= 5 and set(found) == {"DeadlineBackend"}
    transport.close()


def test_an_httpx_without_the_pool_backend_is_refused_at_construction() -> None:
    changed = types.SimpleNamespace(_transport=httpx.HTTPTransport(), _mounts=None)
    with pytest.raises(RuntimeError, match="_network_backend"):
        batchdelete_httpx._install_backend(changed)  # type: ignore[arg-type]
    changed = types.SimpleNamespace(_transport=object(), _mounts={})
    with pytest.raises(RuntimeError, match="another transport"):
        batchdelete_httpx._install_backend(changed)  # type: ignore[arg-type]


# -- the request on the wire -------------------------------------------------------------

SPEC_HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "user-agent": "batchdelete/test httpx/test python/test",
}


def test_exactly_the_spec_goes_out(server: ScriptServer) -> None:
    server.script(Reply(headers=(("set-cookie", "sid=abc; Path=/"),)))
    transport = batchdelete_httpx.HttpxTransport()
    for method, headers, body in [
        ("DELETE", SPEC_HEADERS, None),
        ("POST", SPEC_HEADERS, None),
        ("POST", SPEC_HEADERS, b'{"a": 1}'),
        ("DELETE", {}, None),
    ]:
        transport.send(RequestSpec(method, server.url + "/x", headers, Timeout(), body=body))
    transport.close()
    # Exactly the spec's headers, plus Host and Content-Length: none of
    # httpx's own (accept, accept-encoding, connection, user-agent), no cookie.
    host = [("host", f"127.0.0.1:{server.port}")]
    sent = [sorted((k.lower(), v) for k, v in r.headers) for r in server.requests]
    assert sent == [
        sorted([*host, *SPEC_HEADERS.items()]),
        sorted([*host, *SPEC_HEADERS.items(), ("content-length", "0")]),
        sorted([*host, *SPEC_HEADERS.items(), ("content-length", "8")]),
        host,
    ]


# -- a failed or interrupted TLS handshake leaves nothing open ---------------------------


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("proxy")) as running:
        yield running


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_spec(url: str, deadline: float = 5.0) -> RequestSpec:
    end = time.monotonic() + deadline
    return RequestSpec("DELETE", url + "/x", {}, Timeout(connect=1, read=5), deadline=end)


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_failed_tunnels_give_their_pool_slot_back(
    proxy: ProxyProcess, tls_server: ScriptServer, ca_file: str
) -> None:
    """httpcore 1.0 keeps a CONNECT tunnel whose TLS handshake failed in the
    pool for ever: with one connection allowed, every later request would
    end in PoolTimeout."""
    untrusted = ConnectionOptions(proxy=proxy.url, max_connections=1)
    transport = batchdelete_httpx.HttpxTransport(options=untrusted)
    for _ in range(3):
        with pytest.raises(bd.TransportCertificateError):
            transport.send(tls_spec(tls_server.url))
    transport.close()
    trusted = ConnectionOptions(proxy=proxy.url, max_connections=1, verify=ca_file)
    transport = batchdelete_httpx.HttpxTransport(options=trusted)
    with HostileServer() as hostile:
        hostile.play([Hold(10)])  # answers no TLS hello
        silent = hostile.url.replace("http://", "https://")
        for _ in range(2):
            with pytest.raises(bd.TransportTimeoutError):
                transport.send(tls_spec(silent, deadline=0.3))
        assert transport.send(tls_spec(tls_server.url)).status == 200
        assert hostile.wait_finished(2)  # both tunnels were closed
    transport.close()


@contextlib.contextmanager
def ctrl_c_after(seconds: float) -> Iterator[None]:
    """A real SIGINT to this (the main) thread after `seconds`, as Ctrl-C:
    it interrupts the blocking socket call and raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.get_ident(), signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "tunnel"])
def test_an_interrupted_tls_handshake_leaves_nothing_open(
    proxy: ProxyProcess, tls_server: ScriptServer, ca_file: str, via_proxy: bool
) -> None:
    """Ctrl-C during the handshake: its socket is closed at once, even while
    the exception lives (pytest keeps it), and the one connection allowed
    (a tunnel's slot) is free for the next request."""
    options = ConnectionOptions(
        proxy=proxy.url if via_proxy else None, max_connections=1, verify=ca_file
    )
    transport = batchdelete_httpx.HttpxTransport(options=options)
    with HostileServer() as hostile:
        hostile.play([Hold(10)])  # answers no TLS hello
        silent = hostile.url.replace("http://", "https://")
        with pytest.raises(KeyboardInterrupt) as interrupted, ctrl_c_after(0.3):
            transport.send(tls_spec(silent, deadline=8))
        assert hostile.wait_finished(1)  # closed by the client, not after Hold's 10 s
        assert interrupted.traceback  # (its frames, the socket's among them, still live)
        assert transport.send(tls_spec(tls_server.url)).status == 200
    transport.close()
