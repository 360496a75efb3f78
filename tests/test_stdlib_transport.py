"""The stdlib transport's own HTTP/1.1 reader, fed real bytes over a socket pair."""

from __future__ import annotations

import gzip
import socket
import ssl
import zlib
from collections.abc import Iterator

import pytest

import batchdelete as bd
import batchdelete_stdlib as st


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, st._Connection]]:
    server, client = socket.socketpair()
    client.settimeout(5)
    conn = st._Connection(client)
    yield server, conn
    server.close()
    client.close()


def read(
    pair: tuple[socket.socket, st._Connection],
    data: bytes,
    method: str = "DELETE",
    close: bool = False,
) -> tuple[int, dict[str, str], bytes, bool]:
    server, conn = pair
    server.sendall(data)
    if close:
        server.shutdown(socket.SHUT_WR)
    return st._read_response(conn, method)


def test_content_length(pair: tuple[socket.socket, st._Connection]) -> None:
    status, headers, body, reusable = read(
        pair, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhelloEXTRA"
    )
    assert (status, body, reusable) == (200, b"hello", True)
    assert headers["x-a"] == "1, 2" and headers["content-length"] == "5"
    assert pair[1].buffer == b"EXTRA"  # left for the next response (and the stale check)
    assert pair[1].is_stale()


def test_chunked_with_extensions_and_trailers(pair: tuple[socket.socket, st._Connection]) -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert read(pair, data)[2] == b"abcdefg"


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [("gzip", gzip.compress(b'{"a":1}')), ("deflate", zlib.compress(b'{"a":1}'))],
)
def test_compressed_bodies(
    pair: tuple[socket.socket, st._Connection], encoding: str, packed: bytes
) -> None:
    data = (
        f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(packed)}\r\n\r\n"
    ).encode() + packed
    assert read(pair, data)[2] == b'{"a":1}'


def test_interim_responses_are_skipped(pair: tuple[socket.socket, st._Connection]) -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
    )
    status, headers, body, _ = read(pair, data)
    assert (status, body) == (404, b"{}") and "link" not in headers


def test_connection_close_and_http10(pair: tuple[socket.socket, st._Connection]) -> None:
    assert not read(pair, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")[3]
    assert not read(pair, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[3]
    assert read(pair, b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")[3]


def test_body_to_end_of_connection(pair: tuple[socket.socket, st._Connection]) -> None:
    status, _, body, reusable = read(pair, b"HTTP/1.1 200 OK\r\n\r\nall of it", close=True)
    assert (status, body, reusable) == (200, b"all of it", False)


def test_no_body_statuses(pair: tuple[socket.socket, st._Connection]) -> None:
    assert read(pair, b"HTTP/1.1 204 No Content\r\n\r\n")[2] == b""
    assert read(pair, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method="HEAD")[2] == b""


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad name : v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
    ],
)
def test_malformed_responses_are_protocol_errors(
    pair: tuple[socket.socket, st._Connection], data: bytes
) -> None:
    with pytest.raises((bd.TransportProtocolError, ValueError)):
        read(pair, data, close=True)


def test_truncated_body(pair: tuple[socket.socket, st._Connection]) -> None:
    with pytest.raises(bd.TransportProtocolError, match="before the response was complete"):
        read(pair, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close=True)


def test_head_too_large(pair: tuple[socket.socket, st._Connection]) -> None:
    with pytest.raises(bd.TransportProtocolError, match="too large"):
        read(pair, b"HTTP/1.1 200 OK\r\n" + b"x-a: b\r\n" * 20000, close=True)


def test_exception_map_covers_the_standard_library() -> None:
    t = st.StdlibTransport()
    cases = {
        TimeoutError("t"): bd.TransportTimeoutError,
        ConnectionRefusedError(): bd.TransportConnectError,
        ConnectionResetError(): bd.TransportConnectError,
        BrokenPipeError(): bd.TransportConnectError,
        socket.gaierror(): bd.TransportConnectError,
        ssl.SSLCertVerificationError(): bd.TransportCertificateError,
        ssl.SSLError(): bd.TransportConnectError,
        OSError(): bd.TransportConnectError,
        zlib.error(): bd.TransportProtocolError,
        UnicodeDecodeError("ascii", b"\xff", 0, 1, "x"): bd.TransportProtocolError,
        ValueError("invalid literal for int()"): bd.TransportProtocolError,
    }
    for exc, expected in cases.items():
        assert type(t.translate(exc)) is expected, exc
    assert t.translate(KeyError("bug")) is None


def test_wraps_no_native_client() -> None:
    with pytest.raises(TypeError):
        st.StdlibTransport(object())


def test_non_ascii_header_values_are_refused() -> None:
    client = bd.Client(api_key="k", transport="stdlib")
    with pytest.raises(bd.ConfigurationError, match="ASCII"):
        client.delete("msgbatch_1", extra_headers={"x-name": "日本"})
