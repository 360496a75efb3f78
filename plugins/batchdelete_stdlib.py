"""The dependency-free transport of batchdelete: the standard library's own
HTTP client, `http.client`, nothing else to install.

Why `http.client`: HTTP parsing belongs to a library that many people read
and fix, not to this project. `http.client` is the parser that urllib3 and
requests stand on; what it lets by (a chunk size of `-1`, a header line
without a colon, a NUL in a header value, both Transfer-Encoding and
Content-Length...) is refused at once by `batchdelete.guards.StrictHTTPResponse`,
its response class here. Its sockets keep the request's deadline
(`guards.DeadlineSocket`, `guards.deadline_tls`), so a server that drips a
byte at a time, answers `100 Continue` for ever or never ends its body
cannot hold a call past `spec.deadline`; the body is read in pieces into a
`guards.BodyReader`, which decodes gzip and deflate under the size cap.

The price of standing on `http.client` is speed: this transport is now about
as fast as bare `http.client`. A fast path comes back in a later issue, on a
well-kept library rather than a hand-written parser.

Connections are kept alive in a small per-origin pool (thread-safe, at most
`MAX_IDLE` idle connections per origin); a connection goes back only after a
response read to its end that does not close it. Idle connections are
checked before use; one that the server dropped anyway, found when the
request cannot be written on it, is replaced by a fresh connection, once. A
connection dropped after the request went out is an error the core retries
and counts, as on every transport: the server may have acted on it. After
`os.fork()` the child starts with an empty pool and leaves the parent's
sockets alone. TLS uses one default context per transport (built on first
use), certificates verified and host names checked. It reads no proxy
variables: behind a proxy, use another transport.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import select
import socket
import ssl
import sys
import threading
import weakref
import zlib
from collections.abc import Mapping
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
from batchdelete.guards import (
    BodyReader,
    DeadlineSocket,
    StrictHTTPResponse,
    deadline_scope,
    deadline_tls,
    time_left,
)
from batchdelete.hookspecs import RegisterTransport

NAME = "stdlib"
MAX_IDLE = 16  # idle connections kept per origin
MAX_ORIGINS = 64  # parsed origins remembered
READ = 65536  # raw body bytes asked for per read
# Methods whose request carries a length even without a body (some front ends want one).
_LENGTH_ZERO = frozenset({"POST", "PUT", "PATCH"})
# Methods that may be sent again when a kept-alive connection fails before any answer.
# What a kept-alive connection closed by the server while idle raises before any answer.
_STALE = (
    ConnectionResetError,  # http.client.RemoteDisconnected (no status line) too
    BrokenPipeError,
    ConnectionAbortedError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(NAME, StdlibTransport, version=StdlibTransport.library_version)


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """What http.client, ssl, socket and zlib can raise under this transport,
    and what may go wrong while a hostile response is read."""
    h = http.client
    connect, timeout, protocol, other = (
        TransportConnectError,
        TransportTimeoutError,
        TransportProtocolError,
        TransportError,
    )
    return {
        # http.client: malformed answers are protocol errors; misuse is ours.
        h.HTTPException: protocol,
        h.IncompleteRead: protocol,
        h.BadStatusLine: protocol,
        h.LineTooLong: protocol,
        h.UnknownProtocol: protocol,
        h.UnknownTransferEncoding: protocol,
        h.RemoteDisconnected: connect,  # closed without an answer: like a reset
        h.NotConnected: other,
        h.InvalidURL: other,
        h.UnimplementedFileMode: other,
        h.ImproperConnectionState: other,
        h.CannotSendRequest: other,
        h.CannotSendHeader: other,
        h.ResponseNotReady: other,
        # ssl (a failed verification becomes TransportCertificateError in translate()).
        ssl.SSLError: connect,
        ssl.SSLZeroReturnError: connect,
        ssl.SSLWantReadError: connect,
        ssl.SSLWantWriteError: connect,
        ssl.SSLSyscallError: connect,
        ssl.SSLEOFError: connect,
        ssl.SSLCertVerificationError: connect,
        # socket
        TimeoutError: timeout,  # socket.timeout; also a passed deadline
        socket.gaierror: connect,
        socket.herror: connect,
        ConnectionError: connect,
        OSError: connect,
        # decoding, and what a hostile response may provoke while it is read
        zlib.error: protocol,
        UnicodeError: protocol,
        ValueError: protocol,
        OverflowError: protocol,
        MemoryError: protocol,
        RecursionError: protocol,
    }


# -- connections ------------------------------------------------------------------


class _Response(StrictHTTPResponse):
    """StrictHTTPResponse that skips every interim answer (102, 103), as
    http.client skips 100; each one still ends by the deadline."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()
            if not 102 <= status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # its headers are dropped


def _open(host: str, port: int, connect_timeout: float) -> DeadlineSocket:
    """A TCP connection to `host`, each address tried within what is left of
    the deadline (socket.create_connection gives each address the whole
    timeout)."""
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(time_left(connect_timeout))
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # a passed deadline too: then every address fails at once
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return DeadlineSocket.adopt(sock)
    raise error if error is not None else OSError(f"no address found for {host!r}")


class _HTTPConnection(http.client.HTTPConnection):
    response_class = _Response

    def connect(self) -> None:
        sys.audit("http.client.connect", self, self.host, self.port)
        self.sock = _open(self.host, self.port, self.timeout)  # type: ignore[arg-type]


class _HTTPSConnection(http.client.HTTPSConnection):
    response_class = _Response
    tls: ssl.SSLContext  # the transport's context, set when the connection is made

    def connect(self) -> None:
        sys.audit("http.client.connect", self, self.host, self.port)
        sock = _open(self.host, self.port, self.timeout)  # type: ignore[arg-type]
        try:  # the handshake keeps the deadline too (deadline_tls)
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _is_stale(conn: http.client.HTTPConnection) -> bool:
    """True when the server closed an idle connection (or sent something
    unasked): readable while no request is pending."""
    sock = conn.sock
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _read(
    response: http.client.HTTPResponse, spec: RequestSpec
) -> tuple[int, Mapping[str, str], bytes, bool]:
    """Status, headers, body of `response`, and whether its connection may
    be reused: the body read to its end and the server keeping it open."""
    headers: dict[str, str] = {}
    for name, value in response.msg.raw_items():  # as received (latin-1), no email policy
        key = name.lower()
        text = value.strip(" \t")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    status = response.status
    reader = BodyReader(status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body)
    while True:
        data = response.read(READ)
        if not data or not reader.feed(data) or response.isclosed():
            break
    if reader.complete and response.length:
        # http.client ends a content-length body cut short without a word:
        # its own exception for the case, as the cause.
        raise TransportProtocolError(
            "The server closed the connection before the end of the response body "
            f"({response.length:,} bytes missing)."
        ) from http.client.IncompleteRead(b"", response.length)
    body = reader.finish()
    keep = reader.complete and response.isclosed() and not response.will_close
    return status, headers, body, keep and status >= 200


class _StaleConnectionError(Exception):
    """A reused connection failed before any answer: send again on a new one."""


# -- fork safety -------------------------------------------------------------------

_transports: weakref.WeakSet[StdlibTransport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_transports):
        transport._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- the transport -------------------------------------------------------------------


class StdlibTransport(Transport):
    """http.client connections from a small per-origin pool; thread-safe."""

    name = NAME
    library_version = "{}.{}.{}".format(*sys.version_info[:3])

    def __init__(self, native: object | None = None) -> None:
        if native is not None:
            raise TypeError("the stdlib transport wraps no native client")
        self.exceptions = exception_map()
        check_ca_environment("SSL_CERT_FILE", "SSL_CERT_DIR")  # OpenSSL's defaults
        self._lock = threading.Lock()
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._origins: dict[str, tuple[str, str, int, str]] = {}
        self._tls: ssl.SSLContext | None = None
        _transports.add(self)

    def _forget(self) -> None:
        """In a forked child: the parent's connections are the parent's.
        They are dropped, not closed (closing would not reach the parent's
        socket, but there is nothing to gain from touching it)."""
        self._lock = threading.Lock()  # another thread may have held it at fork
        self._idle = {}

    # -- connections -------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        context = self._tls
        if context is None:  # built once: creating a context costs ~30 ms
            context = ssl.create_default_context()  # verifies, checks host names
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context = deadline_tls(context)
        return context

    def _origin(self, url: str) -> tuple[str, str, str, int, str, str]:
        """(origin key, scheme, host, port, netloc, path) of an absolute URL."""
        start = url.find("://") + 3
        slash = url.find("/", start)
        origin, path = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        found = self._origins.get(origin)
        if found is None:
            parts = urlsplit(origin)
            try:
                port = parts.port
            except ValueError:
                port = -1
            if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
                raise TransportError(f"The stdlib transport cannot send to {url!r}.")
            port = port or (443 if parts.scheme == "https" else 80)
            found = (parts.scheme, parts.hostname, port, parts.netloc)
            if len(self._origins) < MAX_ORIGINS:
                self._origins[origin] = found
        scheme, host, port, netloc = found
        return origin, scheme, host, port, netloc, path.partition("#")[0]

    def _checkout(self, origin: str) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if not _is_stale(conn):
                    return conn
                conn.close()
        return None

    def _checkin(self, origin: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def _new(
        self, scheme: str, host: str, port: int, spec: RequestSpec
    ) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if scheme == "https":
            context = self._context()
            tls = _HTTPSConnection(host, port, timeout=spec.timeout.connect, context=context)
            tls.tls = context
            conn = tls
        else:
            conn = _HTTPConnection(host, port, timeout=spec.timeout.connect)
        conn.connect()
        return conn

    # -- one exchange --------------------------------------------------------

    def send(self, spec: RequestSpec) -> RawResponse:
        origin, scheme, host, port, netloc, path = self._origin(spec.url)
        with deadline_scope(spec.deadline):
            conn = self._checkout(origin)
            reused = conn is not None
            while True:
                try:
                    if conn is None:
                        conn = self._new(scheme, host, port, spec)
                    status, headers, body, keep = self._exchange(conn, spec, netloc, path, reused)
                except _StaleConnectionError:
                    assert conn is not None
                    conn.close()
                    conn, reused = None, False  # once, on a fresh connection
                    continue
                except BaseException as exc:
                    if conn is not None:
                        conn.close()
                    if isinstance(exc, TransportError) or not isinstance(exc, Exception):
                        raise
                    raise self._translated(exc) from exc
                break
        if keep:
            self._checkin(origin, conn)
        else:
            conn.close()
        return RawResponse(status, headers, body)

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        spec: RequestSpec,
        netloc: str,
        path: str,
        reused: bool,
    ) -> tuple[int, Mapping[str, str], bytes, bool]:
        """One request and its response on `conn`: (status, headers, body,
        whether the connection may be reused)."""
        try:  # buffered, no I/O yet; the core checked every header already
            conn.putrequest(spec.method, path, skip_host=True, skip_accept_encoding=True)
            if "host" not in spec.headers:
                conn.putheader("host", netloc)
            for name, value in spec.headers.items():
                conn.putheader(name, value)
            if spec.body is not None:
                conn.putheader("content-length", str(len(spec.body)))
            elif spec.method in _LENGTH_ZERO:
                conn.putheader("content-length", "0")
        except (ValueError, http.client.HTTPException) as exc:
            raise TransportError(f"The request cannot be written: {exc}.") from exc
        assert conn.sock is not None
        conn.sock.settimeout(spec.timeout.read)
        try:
            conn.endheaders(spec.body)
        except _STALE as exc:
            if reused:  # dropped while idle: the request did not go out whole
                raise _StaleConnectionError from exc
            raise
        # A connection dropped after the request went out is the core's to
        # retry (and count), as on every other transport: the server may
        # have acted on the request.
        response = conn.getresponse()
        keep = False
        try:
            status, headers, body, keep = _read(response, spec)
        finally:
            if not keep:
                response.close()  # it may hold the socket (connection: close)
        return status, headers, body, keep

    def _translated(self, exc: Exception) -> TransportError:
        if isinstance(exc, http.client.IncompleteRead) and isinstance(
            exc.__context__, ValueError
        ):  # http.client's word for a chunk size line it could not read
            return TransportProtocolError(f"The response is malformed: {exc.__context__}.")
        mapped = self.translate(exc)
        if mapped is None:
            return TransportError(f"{type(exc).__name__}: {exc}")
        return mapped

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.close()
