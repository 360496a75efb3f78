"""The stdlib transport on http.client, against raw sockets on 127.0.0.1
that answer exactly the bytes a test gives them (every wait bounded)."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import inspect
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

import batchdelete as bd
import batchdelete_stdlib as st
import batchdelete_stdlib_conn as stdlib_conn
from batchdelete import guards
from tests.conftest import API_KEY

pytestmark = pytest.mark.timeout(30)

PATH = "/v1/messages/batches/msgbatch_1"
HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "accept": "application/json",
    "user-agent": "batchdelete/test stdlib/0",
}
DELETED = b'{"id":"msgbatch_1","type":"message_batch_deleted"}'


def ok(body: bytes = DELETED, *headers: str, version: str = "HTTP/1.1") -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"content-length: {len(body)}", *headers))
    return f"{version} 200 OK\r\n{head}\r\n".encode() + body


# -- a raw server ------------------------------------------------------------------------

Handler = Callable[["RawServer", socket.socket], None]


class RawServer:
    """Accepts connections on 127.0.0.1; connection n is served by
    handlers[n] (the last one serves the rest), each in its own thread."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = handlers
        self.connections = 0
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            handler = self.handlers[min(self.connections, len(self.handlers) - 1)]
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(handler, conn), daemon=True).start()

    def _serve(self, handler: Handler, conn: socket.socket) -> None:
        conn.settimeout(10)
        with contextlib.suppress(OSError):
            handler(self, conn)
        with contextlib.suppress(OSError):
            conn.close()

    def read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        while len(body) < (int(length.group(1)) if length else 0):
            body += conn.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return data

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()


def answer(*replies: bytes | Callable[[socket.socket], None], wait: bool = True) -> Handler:
    """Each request on the connection gets the next reply (bytes, or a
    function that writes to the socket); after the last one the connection
    stays open until the client closes it (`wait`) or is closed."""

    def handle(server: RawServer, conn: socket.socket) -> None:
        for reply in replies:
            if server.read_request(conn) is None:
                return
            if callable(reply):
                reply(conn)
            else:
                conn.sendall(reply)
        if wait:
            conn.recv(1)  # until the client closes (or 10 s)

    return handle


def keep_alive(reply: bytes) -> Handler:
    def handle(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn) is not None:
            conn.sendall(reply)

    return handle


def drip(data: bytes, every: float) -> Callable[[socket.socket], None]:
    def write(conn: socket.socket) -> None:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(every)

    return write


def endless(piece: bytes, head: bytes = b"", every: float = 0.0) -> Callable[[socket.socket], None]:
    def write(conn: socket.socket) -> None:
        conn.sendall(head)
        stop = time.monotonic() + 15
        while time.monotonic() < stop:
            conn.sendall(piece)
            if every:
                time.sleep(every)

    return write


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(*handlers: Handler) -> RawServer:
        server = RawServer(*handlers)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def transport() -> Iterator[st.StdlibTransport]:
    t = st.StdlibTransport()
    yield t
    t.close()


def spec(
    server: RawServer, method: str = "DELETE", body: bytes | None = None, **kw: object
) -> bd.RequestSpec:
    kw.setdefault("deadline", time.monotonic() + 5)
    return bd.RequestSpec(
        method,
        server.url + PATH,
        HEADERS,
        bd.Timeout(connect=2, read=5),
        body=body,
        **kw,  # type: ignore[arg-type]
    )


def client(server: RawServer, **kw: object) -> bd.Client:
    kw.setdefault("max_retries", 0)
    return bd.Client(api_key=API_KEY, base_url=server.url, transport="stdlib", **kw)  # type: ignore[arg-type]


# -- what it is built on -------------------------------------------------------------------


def test_stands_on_http_client(transport: st.StdlibTransport) -> None:
    # the connection classes the transport imports from its helper module
    assert issubclass(stdlib_conn.HTTPConnection, http.client.HTTPConnection)
    assert issubclass(stdlib_conn.HTTPSConnection, http.client.HTTPSConnection)
    for cls in (stdlib_conn.HTTPConnection, stdlib_conn.HTTPSConnection):
        assert issubclass(cls.response_class, guards.StrictHTTPResponse)
    context = transport._context()
    assert context is transport._context()  # built once
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    plain = guards.deadline_tls(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    assert context.sslsocket_class is plain.sslsocket_class  # handshake and reads keep the deadline


def test_wraps_no_native_client() -> None:
    with pytest.raises(TypeError):
        st.StdlibTransport(object())


def test_non_ascii_header_values_are_refused() -> None:
    with bd.Client(api_key="k", transport="stdlib") as c, pytest.raises(bd.ConfigurationError):
        c.delete("msgbatch_1", extra_headers={"x-name": "日本"})


# -- exceptions --------------------------------------------------------------------------------


def _exception_classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and not issubclass(obj, Warning)
    ]


@pytest.mark.parametrize("module", [http.client, ssl, socket, zlib], ids=lambda m: m.__name__)
def test_every_exception_of_the_standard_library_is_mapped(module: ModuleType) -> None:
    table = st.exception_map()
    classes = _exception_classes(module)
    assert classes
    assert [c.__name__ for c in classes if c not in table] == []
    assert all(issubclass(v, bd.TransportError) for v in table.values())


def test_every_http_client_exception_is_mapped() -> None:
    found = {
        c
        for c in vars(http.client).values()
        if inspect.isclass(c) and issubclass(c, http.client.HTTPException)
    }
    assert len(found) >= 13
    assert found <= set(st.exception_map())


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError("t"), bd.TransportTimeoutError),
        (ConnectionRefusedError(), bd.TransportConnectError),
        (ConnectionResetError(), bd.TransportConnectError),
        (BrokenPipeError(), bd.TransportConnectError),
        (socket.gaierror(), bd.TransportConnectError),
        (ssl.SSLCertVerificationError(), bd.TransportCertificateError),
        (ssl.SSLError(), bd.TransportConnectError),
        (OSError(), bd.TransportConnectError),
        (http.client.RemoteDisconnected("x"), bd.TransportConnectError),
        (http.client.IncompleteRead(b""), bd.TransportProtocolError),
        (http.client.LineTooLong("header line"), bd.TransportProtocolError),
        (http.client.BadStatusLine("x"), bd.TransportProtocolError),
        (http.client.HTTPException("got more than 100 headers"), bd.TransportProtocolError),
        (guards.ProtocolViolationError("bad"), bd.TransportProtocolError),
        (http.client.ResponseNotReady("x"), bd.TransportError),
        (zlib.error(), bd.TransportProtocolError),
        (UnicodeDecodeError("ascii", b"\xff", 0, 1, "x"), bd.TransportProtocolError),
        (ValueError("invalid literal for int()"), bd.TransportProtocolError),
        (OverflowError("too big"), bd.TransportProtocolError),
        (MemoryError(), bd.TransportProtocolError),
        (RecursionError(), bd.TransportProtocolError),
    ],
    ids=lambda v: type(v).__name__,
)
def test_translate(
    transport: st.StdlibTransport, exc: BaseException, expected: type[bd.TransportError]
) -> None:
    assert type(transport.translate(exc)) is expected
    assert transport.translate(KeyError("bug")) is None


# -- the request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body", "extra"),
    [
        ("DELETE", None, b""),
        ("GET", None, b""),
        ("POST", None, b"content-length: 0\r\n"),
        ("POST", b'{"a":1}', b'content-length: 7\r\n\r\n{"a":1}'),
    ],
)
def test_request_is_sent_exactly(
    serve: Callable[..., RawServer],
    transport: st.StdlibTransport,
    method: str,
    body: bytes | None,
    extra: bytes,
) -> None:
    server = serve(answer(ok()))
    transport.send(spec(server, method, body))
    netloc = server.url.removeprefix("http://")
    lines = [f"{method} {PATH} HTTP/1.1", f"host: {netloc}"]
    lines += [f"{k}: {v}" for k, v in HEADERS.items()]
    expected = ("\r\n".join(lines) + "\r\n").encode() + extra
    if not extra.endswith(b"}"):
        expected += b"\r\n"
    assert server.requests == [expected]


# -- reading responses ---------------------------------------------------------------------

GZIP = gzip.compress(b'{"a":1}')
_packer = zlib.compressobj(wbits=-15)
RAW_DEFLATE = _packer.compress(b"{}") + _packer.flush()
CASES = {
    "content-length": (ok(b"hello", "X-A: 1", "x-a:  2 "), b"hello", True),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n",
        b"abcdefg",
        True,
    ),
    "gzip": (ok(GZIP, "content-encoding: gzip"), b'{"a":1}', True),
    "gzip, two members": (ok(GZIP + GZIP, "content-encoding: gzip"), b'{"a":1}{"a":1}', True),
    "deflate": (ok(zlib.compress(b"{}"), "content-encoding: deflate"), b"{}", True),
    "raw deflate": (
        ok(RAW_DEFLATE, "content-encoding: deflate"),
        b"{}",
        True,
    ),
    "interim answers": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + ok(b"{}"),
        b"{}",
        True,
    ),
    "connection close": (ok(b"{}", "connection: close"), b"{}", False),
    "HTTP/1.0": (ok(b"{}", version="HTTP/1.0"), b"{}", False),
    "HTTP/1.0 keep-alive": (ok(b"{}", "connection: keep-alive", version="HTTP/1.0"), b"{}", True),
    "no content": (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
    "bare LF": (b"HTTP/1.1 200 OK\ncontent-length: 2\nx-a: 1\n\n{}", b"{}", True),
}


@pytest.mark.parametrize("case", CASES)
def test_responses(
    serve: Callable[..., RawServer], transport: st.StdlibTransport, case: str
) -> None:
    data, body, reused = CASES[case]
    server = serve(keep_alive(data))
    for _ in range(2):
        raw = transport.send(spec(server))
        assert (raw.status, raw.body) == (204 if case == "no content" else 200, body)
    assert server.connections == (1 if reused else 2)
    if case == "content-length":
        assert raw.headers["x-a"] == "1, 2" and raw.headers["content-length"] == "5"
    if case == "interim answers":
        assert "link" not in raw.headers


def test_body_to_the_end_of_the_connection(
    serve: Callable[..., RawServer], transport: st.StdlibTransport
) -> None:
    server = serve(answer(b"HTTP/1.1 200 OK\r\n\r\nall of it", wait=False))
    raw = transport.send(spec(server))
    assert raw.body == b"all of it"
    assert not any(pool.idle for pool in transport._pools.values())


# -- malformed responses: refused at once --------------------------------------------------

MALFORMED = {
    "chunk size -1": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
    "chunk size 10**30": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + str(10**30).encode()
    + b"\r\n",
    "chunk size 17 hex digits": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"1" * 17
    + b"\r\n",
    "chunk size +5": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n",
    "chunk size 0x5": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n",
    "chunk size 5_0": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5_0\r\n",
    "chunk size zz": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "header without colon": b"HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 2\r\n\r\n{}",
    "NUL in a header value": b"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n\r\n{}",
    "control byte in a header value": b"HTTP/1.1 200 OK\r\nx-a: \x01\r\ncontent-length: 0\r\n\r\n",
    "negative content-length": b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n{}",
    "conflicting content-length": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
    b"content-length: 3\r\n\r\n{}",
    "content-length list": b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\n{}",
    "transfer-encoding and content-length": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
    b"content-length: 7\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "transfer-encoding gzip": b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
    "status 2x0": b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n",
    "status 20": b"HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n",
    "status 2000": b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n",
    "HTTP/2": b"HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n",
    "not HTTP": b"SSH-2.0-OpenSSH_9.6\r\n",
    "content-encoding br": b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 1\r\n\r\nx",
    "header line too long": b"HTTP/1.1 200 OK\r\nx-a: " + b"a" * 70000 + b"\r\n\r\n",
    "too many headers": b"HTTP/1.1 200 OK\r\n" + b"x-a: b\r\n" * 101 + b"\r\n",
    "bad gzip": b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\nnope",
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_responses_are_refused_at_once(
    serve: Callable[..., RawServer], transport: st.StdlibTransport, case: str
) -> None:
    server = serve(answer(MALFORMED[case]))  # and then keeps the connection open
    started = time.monotonic()
    with pytest.raises(bd.TransportProtocolError):
        transport.send(spec(server))
    assert time.monotonic() - started < 1
    assert not any(pool.idle for pool in transport._pools.values())


@pytest.mark.parametrize(
    "data",
    [
        ok(b"{}")[:-1],  # content-length 2, one byte, then the end
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n",
        ok(gzip.compress(b"{}")[:-4], "content-encoding: gzip"),  # a gzip member cut short
    ],
    ids=["content-length", "in a chunk", "between chunks", "gzip"],
)
def test_a_body_cut_short_is_a_protocol_error(
    serve: Callable[..., RawServer], transport: st.StdlibTransport, data: bytes
) -> None:
    server = serve(answer(data, wait=False))
    with pytest.raises(bd.TransportProtocolError):
        transport.send(spec(server))


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{10**30}\r\n".encode(),
        b"HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 2\r\n\r\n{}",
    ],
    ids=["chunk -1", "chunk 10**30", "no colon"],
)
def test_malformed_is_an_api_connection_error_within_a_second(
    serve: Callable[..., RawServer], data: bytes
) -> None:
    server = serve(answer(data))
    started = time.monotonic()
    with client(server) as c, pytest.raises(bd.APIConnectionError) as info:
        c.delete("msgbatch_1")
    assert time.monotonic() - started < 1
    assert not isinstance(info.value, bd.APITimeoutError)
    assert isinstance(info.value.__cause__, bd.TransportProtocolError)


# -- the deadline --------------------------------------------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 60\r\n\r\n"


@pytest.mark.parametrize(
    "reply",
    [
        drip(HEAD + DELETED, 0.3),
        lambda conn: (conn.sendall(HEAD[:17]), drip(HEAD[17:] + DELETED, 0.3)(conn)),
        lambda conn: (conn.sendall(HEAD), drip(DELETED, 0.3)(conn)),
    ],
    ids=["status line", "headers", "body"],
)
@pytest.mark.slow
def test_a_drip_ends_by_the_deadline(
    serve: Callable[..., RawServer], reply: Callable[[socket.socket], None]
) -> None:
    server = serve(answer(reply))
    started = time.monotonic()
    with client(server, timeout=bd.Timeout(deadline=1.5)) as c, pytest.raises(bd.APITimeoutError):
        c.delete("msgbatch_1")
    assert 1.3 < time.monotonic() - started < 2


@pytest.mark.slow
def test_a_drip_ends_by_the_attempt_limit_without_a_deadline(
    serve: Callable[..., RawServer],
) -> None:
    server = serve(answer(drip(HEAD + DELETED, 0.3)))
    started = time.monotonic()
    with (
        client(server, timeout=bd.Timeout(read=5, attempt=1.0)) as c,
        pytest.raises(bd.APITimeoutError),
    ):
        c.delete("msgbatch_1")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("every", [0.0, 0.1], ids=["flood", "slow"])
@pytest.mark.slow
def test_endless_100_continue_ends_by_the_deadline(
    serve: Callable[..., RawServer], every: float
) -> None:
    server = serve(
        answer(endless(b"HTTP/1.1 100 Continue\r\n\r\n" * (1 if every else 64), every=every))
    )
    started = time.monotonic()
    with client(server, timeout=bd.Timeout(deadline=1.0)) as c, pytest.raises(bd.APITimeoutError):
        c.delete("msgbatch_1")
    assert time.monotonic() - started < 1.5


@pytest.mark.slow
def test_an_endless_chunked_body_ends_by_the_deadline(serve: Callable[..., RawServer]) -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    server = serve(answer(endless(b"1\r\n \r\n", head, every=0.01)))
    started = time.monotonic()
    with client(server, timeout=bd.Timeout(deadline=1.0)) as c, pytest.raises(bd.APITimeoutError):
        c.delete("msgbatch_1")
    assert time.monotonic() - started < 1.5


@pytest.mark.slow
def test_a_silent_tls_handshake_ends_by_the_deadline(
    serve: Callable[..., RawServer], transport: st.StdlibTransport
) -> None:
    def silent(server: RawServer, conn: socket.socket) -> None:
        while conn.recv(65536):  # reads the ClientHello, answers nothing
            pass

    server = serve(silent)
    request = bd.RequestSpec(
        "DELETE",
        server.url.replace("http:", "https:") + PATH,
        HEADERS,
        bd.Timeout(connect=5, read=5),
        deadline=time.monotonic() + 1,
    )
    started = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError):
        transport.send(request)
    assert time.monotonic() - started < 1.5


def test_a_passed_deadline_is_a_transport_timeout(
    serve: Callable[..., RawServer], transport: st.StdlibTransport
) -> None:
    server = serve(answer(ok()))
    with pytest.raises(bd.TransportTimeoutError):
        transport.send(spec(server, deadline=time.monotonic() - 1))


# -- bounded memory ----------------------------------------------------------------------------


def _gzip_bomb() -> bytes:
    """About 2 MB of gzip that inflates to 2 GiB of zeros (one member)."""
    block = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)  # same bytes every time
    return first + again * 2047


def test_a_gzip_bomb_is_refused_quickly(serve: Callable[..., RawServer]) -> None:
    bomb = _gzip_bomb()
    assert 1_900_000 < len(bomb) < 2_300_000
    server = serve(answer(ok(bomb, "content-encoding: gzip")))
    started = time.monotonic()
    with client(server) as c:
        with pytest.raises(bd.ResponseTooLargeError) as info:
            c.delete("msgbatch_1")
        assert not any(p.idle for p in c.transport._pools.values())  # type: ignore[attr-defined]
    assert time.monotonic() - started < 2
    assert "max_response_bytes" in str(info.value)


def test_an_endless_success_body_stops_at_the_cap(serve: Callable[..., RawServer]) -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    server = serve(answer(endless(b"4000\r\n" + b" " * 0x4000 + b"\r\n", head)))
    with client(server, max_response_bytes=100_000) as c, pytest.raises(bd.ResponseTooLargeError):
        c.delete("msgbatch_1")


def test_an_error_body_is_cut_and_its_connection_dropped(
    serve: Callable[..., RawServer], transport: st.StdlibTransport
) -> None:
    big = b"HTTP/1.1 500 Oops\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 10_000_000
    server = serve(answer(big), keep_alive(ok()))
    raw = transport.send(spec(server, max_error_body=1000))
    assert (raw.status, raw.body) == (500, b"x" * 1000)
    transport.send(spec(server))
    assert server.connections == 2  # the first one held unread bytes


# -- keep-alive ----------------------------------------------------------------------------


def test_a_connection_the_server_closed_while_idle_is_not_used(
    serve: Callable[..., RawServer], transport: st.StdlibTransport
) -> None:
    server = serve(answer(ok(), wait=False), keep_alive(ok()))
    transport.send(spec(server))
    time.sleep(0.2)  # the server has closed it by now
    assert transport.send(spec(server)).status == 200
    assert server.connections == 2 and len(server.requests) == 2


def drop_second(server: RawServer, conn: socket.socket) -> None:
    server.read_request(conn)
    conn.sendall(ok())
    server.read_request(conn)  # the race: read, then closed without an answer


@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_a_reused_connection_dropped_after_the_request_is_not_retried_here(
    serve: Callable[..., RawServer], transport: st.StdlibTransport, method: str
) -> None:
    # The server may have acted on it: the core retries, and counts the attempt,
    # as it does for every transport.
    server = serve(drop_second, keep_alive(ok()))
    transport.send(spec(server, method))
    with pytest.raises(bd.TransportConnectError):
        transport.send(spec(server, method))
    assert server.connections == 1 and len(server.requests) == 2


def test_a_fresh_connection_dropped_without_an_answer_is_not_retried(
    serve: Callable[..., RawServer],
) -> None:
    server = serve(answer(b"", wait=False), keep_alive(ok()))
    with client(server) as c, pytest.raises(bd.APIConnectionError) as info:
        c.delete("msgbatch_1")
    assert isinstance(info.value.__cause__, bd.TransportConnectError)
    assert server.connections == 1


def test_the_idle_pool_is_bounded(transport: st.StdlibTransport) -> None:
    conns = [http.client.HTTPConnection("127.0.0.1", 9) for _ in range(st.MAX_IDLE + 3)]
    for conn in conns:
        transport._checkin("http://127.0.0.1:9", conn)
    assert len(transport._pools["http://127.0.0.1:9"].idle) == st.MAX_IDLE
