"""The dependency-free transport of batchdelete: HTTP/1.1 on the standard
library's sockets and ssl, nothing else to install.

It exists for speed and for installs without any HTTP library. Requests are
written as prebuilt bytes; responses are parsed with a small, strict HTTP/1.1
reader (Content-Length or chunked bodies, gzip or deflate content, keep-alive,
interim 1xx answers skipped). TLS uses one default context, certificates
verified. It does not use proxies: behind a proxy, use another transport.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import sys
import threading
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

from batchdelete import (
    RawResponse,
    RequestSpec,
    Transport,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    check_ca_environment,
    hookimpl,
)
from batchdelete.hookspecs import RegisterTransport

NAME = "stdlib"
MAX_HEAD = 65536
MAX_BODY = 64 * 1024 * 1024
MAX_IDLE = 16
READ = 65536


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(NAME, StdlibTransport, version=StdlibTransport.library_version)


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """What the standard library can raise under this transport."""
    return {
        TimeoutError: TransportTimeoutError,  # socket.timeout too
        ssl.SSLCertVerificationError: TransportConnectError,
        ssl.SSLError: TransportConnectError,
        ssl.CertificateError: TransportConnectError,
        ConnectionError: TransportConnectError,
        socket.gaierror: TransportConnectError,
        OSError: TransportConnectError,
        zlib.error: TransportProtocolError,
        UnicodeError: TransportProtocolError,
        ValueError: TransportProtocolError,
    }


class _Connection:
    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def is_stale(self) -> bool:
        """True when the server closed it (or sent something unasked) while idle."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        if self.buffer:
            return True
        try:
            if hasattr(select, "poll"):  # no FD_SETSIZE limit
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return bool(poller.poll(0))
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class StdlibTransport(Transport):
    """HTTP/1.1 over sockets from a small per-origin pool; thread-safe."""

    name = NAME
    library_version = "{}.{}.{}".format(*sys.version_info[:3])

    def __init__(self, native: object | None = None) -> None:
        if native is not None:
            raise TypeError("the stdlib transport wraps no native client")
        self.exceptions = exception_map()
        check_ca_environment("SSL_CERT_FILE", "SSL_CERT_DIR")  # OpenSSL's defaults
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None
        # The header block of the last headers mapping seen, kept with that very
        # object (not its id, which could be reused): the client's shared
        # headers are encoded once, not on every request.
        self._block: tuple[object, str, bytes] = (None, "", b"")

    # -- connections -------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:  # built once: creating a context costs ~30 ms
            self._tls = ssl.create_default_context()
        return self._tls

    def _connect(self, scheme: str, host: str, port: int, spec: RequestSpec) -> _Connection:
        sock = socket.create_connection((host, port), timeout=spec.timeout.connect)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(spec.timeout.read)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _checkout(self, origin: str) -> _Connection | None:
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if not conn.is_stale():
                    return conn
                conn.close()
        return None

    def _checkin(self, origin: str, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    # -- one exchange --------------------------------------------------------

    def _head(self, spec: RequestSpec, netloc: str, path: str) -> bytes:
        line = f"{spec.method} {path} HTTP/1.1\r\n".encode()
        headers, cached_netloc, block = self._block
        if headers is not spec.headers or cached_netloc != netloc:
            lines = [f"host: {netloc}", *(f"{k}: {v}" for k, v in spec.headers.items())]
            block = ("\r\n".join(lines) + "\r\n").encode("latin-1")
            self._block = (spec.headers, netloc, block)
        if spec.body is not None:
            block += f"content-length: {len(spec.body)}\r\n".encode()
        elif spec.method in ("POST", "PUT", "PATCH"):  # some front ends want a length
            block += b"content-length: 0\r\n"
        return line + block + b"\r\n"

    def send(self, spec: RequestSpec) -> RawResponse:
        parts = urlsplit(spec.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"The stdlib transport cannot send to {spec.url!r}.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = f"{parts.scheme}://{parts.hostname}:{port}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._checkout(origin)
        try:
            request = self._head(spec, parts.netloc, path) + (spec.body or b"")
            if conn is None:
                conn = self._connect(parts.scheme, parts.hostname, port, spec)
            else:
                conn.sock.settimeout(spec.timeout.read)
            conn.sock.sendall(request)
            status, headers, body, reusable = _read_response(conn, spec.method)
        except TransportError:
            if conn is not None:
                conn.close()
            raise
        except Exception as exc:
            if conn is not None:
                conn.close()
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if reusable:
            self._checkin(origin, conn)
        else:
            conn.close()
        return RawResponse(status, headers, body)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


# -- the response reader -------------------------------------------------------


def _fill(conn: _Connection) -> None:
    chunk = conn.sock.recv(READ)
    if not chunk:
        raise TransportProtocolError(
            "The server closed the connection before the response was complete."
        )
    conn.buffer += chunk


def _read_until(conn: _Connection, marker: bytes, limit: int) -> bytes:
    while True:
        end = conn.buffer.find(marker)
        if end >= 0:
            found, conn.buffer = conn.buffer[:end], conn.buffer[end + len(marker) :]
            return found
        if len(conn.buffer) > limit:
            raise TransportProtocolError("The response head is too large.")
        _fill(conn)


def _read_exactly(conn: _Connection, n: int) -> bytes:
    while len(conn.buffer) < n:
        _fill(conn)
    data, conn.buffer = conn.buffer[:n], conn.buffer[n:]
    return data


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit() or len(code) != 3:
        raise TransportProtocolError(f"Not an HTTP/1.x status line: {lines[0][:100]!r}.")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise TransportProtocolError(f"Malformed response header line: {line[:100]!r}.")
        key = name.decode("ascii").lower()
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return int(code), version.decode("ascii"), headers


def _read_chunked(conn: _Connection) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = _read_until(conn, b"\r\n", 1024)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while _read_until(conn, b"\r\n", MAX_HEAD):  # trailers, then the blank line
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise TransportProtocolError("The response body is too large.")
        parts.append(_read_exactly(conn, size))
        if _read_exactly(conn, 2) != b"\r\n":
            raise TransportProtocolError("A chunk of the response body is malformed.")


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return lambda data: zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress
    raise TransportProtocolError(f"Unsupported content-encoding {encoding!r}.")


def _read_response(conn: _Connection, method: str) -> tuple[int, dict[str, str], bytes, bool]:
    while True:
        status, version, headers = _parse_head(_read_until(conn, b"\r\n\r\n", MAX_HEAD))
        if not 100 <= status < 200 or status == 101:
            break  # interim answers (100 Continue, 103) are skipped
    reusable = "close" not in headers.get("connection", "").lower() and (
        version == "HTTP/1.1" or "keep-alive" in headers.get("connection", "").lower()
    )
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(conn)
    elif "content-length" in headers:
        lengths = {v.strip() for v in headers["content-length"].split(",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise TransportProtocolError(f"Invalid content-length {headers['content-length']!r}.")
        length = int(lengths.pop())
        if length > MAX_BODY:
            raise TransportProtocolError("The response body is too large.")
        body = _read_exactly(conn, length)
    else:  # the body runs to the end of the connection
        reusable = False
        while True:
            try:
                _fill(conn)
            except TransportProtocolError:
                break
            if len(conn.buffer) > MAX_BODY:
                raise TransportProtocolError("The response body is too large.")
        body, conn.buffer = conn.buffer, b""
    decode = _decoder(headers.get("content-encoding", "").strip().lower())
    if decode is not None:
        body = decode(body)
    return status, headers, body, reusable
