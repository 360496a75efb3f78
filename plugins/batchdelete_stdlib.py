"""The dependency-free transport of batchdelete: the standard library's own
HTTP client, `http.client`, nothing else to install (and about as fast).

HTTP parsing is `http.client`'s, read and fixed by many; what it lets by (a
chunk size of `-1`, a header line without a colon, a NUL in a header value,
both Transfer-Encoding and Content-Length...) is refused at once by
`batchdelete.guards.StrictHTTPResponse`, its response class here. Sockets
keep the request's deadline (`guards.DeadlineSocket`, `guards.deadline_tls`)
whatever the server does (drips, endless `100 Continue`, endless bodies); the
body is read in pieces into a `guards.BodyReader` (gzip, deflate, size cap).

Connection options (`batchdelete.ConnectionOptions`, resolved once per client):

- TLS: the options' one context (`ssl_context()`), with the deadline on its
  sockets and ALPN `http/1.1`.
- Proxies, decided once per origin (`proxy_for()`): an https:// URL goes
  through `http.client`'s own CONNECT tunnel (`set_tunnel`), an http:// one
  as an absolute-form request to the proxy; credentials in the proxy URL
  become `Proxy-Authorization`, for the proxy only. A proxy that cannot be
  reached or refuses the tunnel (407...) is an error naming its host and
  port. https:// through an https:// proxy (TLS in TLS) is refused.
- `max_connections` per origin, idle and in use: a thread that would open
  one more waits for one until its deadline (the connect timeout bounds
  connecting, not this wait; without a deadline, it bounds the wait too).

At most `MAX_IDLE` idle connections per origin, put back only after a
response read to its end that does not close them, checked before reuse; a
reused one found dropped before the request went out whole is replaced,
once. After `os.fork()` the child starts with empty pools.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import sys
import threading
import time
import weakref
import zlib
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from batchdelete import (
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    Transport,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.guards import deadline_scope, deadline_tls, time_left
from batchdelete.hookspecs import RegisterTransport
from batchdelete_stdlib_conn import HTTPConnection as _HTTPConnection
from batchdelete_stdlib_conn import HTTPSConnection as _HTTPSConnection
from batchdelete_stdlib_conn import Proxy, is_stale, parse_proxy, read_response

NAME = "stdlib"
MAX_IDLE = 16  # idle connections kept per origin
MAX_ORIGINS = 64  # routes (origin, proxy) remembered
# Methods whose request carries a length even without a body (some front ends want one).
_LENGTH_ZERO = frozenset({"POST", "PUT", "PATCH"})
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
    register(NAME, StdlibTransport, version=StdlibTransport.library_version, takes_options=True)


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """What http.client, ssl, socket and zlib can raise under this transport,
    and what may go wrong while a hostile response is read."""
    h = http.client
    groups: dict[type[TransportError], tuple[type[BaseException], ...]] = {
        # Malformed answers, and what a hostile response may provoke while read.
        TransportProtocolError: (
            *(h.HTTPException, h.IncompleteRead, h.BadStatusLine, h.LineTooLong),
            *(h.UnknownProtocol, h.UnknownTransferEncoding, zlib.error, UnicodeError),
            *(ValueError, OverflowError, MemoryError, RecursionError),
        ),
        # Misuse of http.client: ours.
        TransportError: (
            *(h.NotConnected, h.InvalidURL, h.UnimplementedFileMode, h.CannotSendRequest),
            *(h.ImproperConnectionState, h.CannotSendHeader, h.ResponseNotReady),
        ),
        # RemoteDisconnected (closed without an answer) is like a reset; a failed
        # certificate verification becomes TransportCertificateError in translate().
        TransportConnectError: (
            *(h.RemoteDisconnected, ssl.SSLError, ssl.SSLZeroReturnError, ssl.SSLEOFError),
            *(ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLSyscallError),
            *(ssl.SSLCertVerificationError, socket.gaierror, socket.herror, ConnectionError),
            OSError,
        ),
        TransportTimeoutError: (TimeoutError,),  # socket.timeout; also a passed deadline
    }
    return {cls: error for error, classes in groups.items() for cls in classes}


# -- routes and pools ------------------------------------------------------------------


class _Route(NamedTuple):
    """How requests to one origin go: decided once per origin."""

    scheme: str
    host: str
    port: int
    netloc: str
    proxy: Proxy | None


class _StaleConnectionError(Exception):
    """A reused connection failed before any answer: send again on a new one."""


class _Pool:
    """The connections to one origin: idle ones, and how many are open."""

    def __init__(self, lock: threading.Lock) -> None:
        self.idle: list[http.client.HTTPConnection] = []
        self.open = 0  # idle and in use
        self.freed = threading.Condition(lock)


# -- fork safety -------------------------------------------------------------------

_transports: weakref.WeakSet[StdlibTransport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_transports):
        transport._forget()


if hasattr(os, "register_at_fork"):  # pragma: no branch - CPython on POSIX has it
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- the transport -------------------------------------------------------------------


class StdlibTransport(Transport):
    """http.client connections from small per-origin pools; thread-safe."""

    name = NAME
    library_version = "{}.{}.{}".format(*sys.version_info[:3])

    def __init__(self, native: object | None = None, options: ConnectionOptions | None = None):
        if native is not None:
            raise TypeError("the stdlib transport wraps no native client")
        self.exceptions = exception_map()
        self._options = options if options is not None else ConnectionOptions()
        self._max = self._options.max_connections
        self._routes: dict[str, _Route] = {}
        self._tls: ssl.SSLContext | None = None
        self._forget()
        _transports.add(self)

    def _forget(self) -> None:
        """New, empty pools; in a forked child, the parent's connections are
        dropped, not closed (there is nothing to gain from touching them)."""
        self._lock = threading.Lock()  # another thread may have held it at fork
        self._pools: dict[str, _Pool] = {}

    # -- connections -------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        context = self._tls
        if context is None:  # the options build it once (loading CAs costs ~30 ms)
            context = self._options.ssl_context()
            if context is not self._options.verify:  # a user's own context keeps its ALPN
                context.set_alpn_protocols(["http/1.1"])
            self._tls = context = deadline_tls(context)
        return context

    def _route(self, url: str) -> tuple[str, _Route, str]:
        """(origin, route, path) of an absolute URL."""
        start = url.find("://") + 3
        slash = url.find("/", start)
        origin, path = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        route = self._routes.get(origin)
        if route is None:
            parts = urlsplit(origin)
            try:
                port = parts.port
            except ValueError:
                port = -1
            if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
                raise TransportError(f"The stdlib transport cannot send to {url!r}.")
            port = port or (443 if parts.scheme == "https" else 80)
            via = self._options.proxy_for(origin)
            proxy = parse_proxy(via) if via else None
            route = _Route(parts.scheme, parts.hostname, port, parts.netloc, proxy)
            if len(self._routes) < MAX_ORIGINS:
                self._routes[origin] = route
        if route.proxy and route.proxy.scheme == "https" and route.scheme == "https":
            raise TransportError(
                f"The stdlib transport cannot reach {origin} through the HTTPS proxy "
                f"{route.proxy.name}: http.client cannot run TLS inside TLS. Use an "
                "http:// proxy URL, or the httpx transport."
            )
        return origin, route, path.partition("#")[0]

    def _checkout(self, origin: str, wait: float) -> http.client.HTTPConnection | None:
        """An idle connection to `origin`, or None when the caller may open
        a new one (counted as open now); waits while `max_connections` are
        open, at most `wait` seconds and until the deadline."""
        end = None
        with self._lock:
            pool = self._pools.get(origin) or self._pools.setdefault(origin, _Pool(self._lock))
            while True:
                while pool.idle:
                    conn = pool.idle.pop()
                    if not is_stale(conn):
                        return conn
                    conn.close()
                    pool.open -= 1
                if pool.open < self._max:
                    pool.open += 1
                    return None
                if end is None:  # until the deadline (connecting has its own timeout)
                    try:
                        left = time_left(None)
                        end = time.monotonic() + (wait if left is None else left)
                    except TimeoutError:
                        end = 0.0
                left = end - time.monotonic()
                if left <= 0:
                    raise TransportTimeoutError(
                        f"No connection to {origin} was free in time: max_connections "
                        f"({self._max}) were all in use until the deadline."
                    )
                pool.freed.wait(left)

    def _checkin(
        self, origin: str, conn: http.client.HTTPConnection | None, keep: bool = True
    ) -> None:
        """Give a connection (or a slot that got none) back: kept idle, or
        closed; either way a waiting thread may go on."""
        with self._lock:
            pool = self._pools.get(origin) or self._pools.setdefault(origin, _Pool(self._lock))
            pool.freed.notify()
            if keep and conn is not None and len(pool.idle) < MAX_IDLE:
                pool.idle.append(conn)
                return
            pool.open = max(pool.open - 1, 0)
        if conn is not None:
            conn.close()

    def _new(self, route: _Route, spec: RequestSpec) -> http.client.HTTPConnection:
        scheme, host, port, proxy = route.scheme, route.host, route.port, route.proxy
        if proxy is not None and scheme == "https":  # CONNECT tunnel to the proxy
            conn = self._connection("https", proxy.host, proxy.port, spec)
            conn.set_tunnel(host, port, headers=proxy.auth)
        elif proxy is not None:  # absolute-form requests to the proxy
            conn = self._connection(proxy.scheme, proxy.host, proxy.port, spec)
        else:
            conn = self._connection(scheme, host, port, spec)
        conn.proxy = proxy
        conn.connect()
        return conn

    def _connection(
        self, scheme: str, host: str, port: int, spec: RequestSpec
    ) -> _HTTPConnection | _HTTPSConnection:
        if scheme == "http":
            return _HTTPConnection(host, port, timeout=spec.timeout.connect)
        context = self._context()
        conn = _HTTPSConnection(host, port, timeout=spec.timeout.connect, context=context)
        conn.tls = context
        return conn

    # -- one exchange --------------------------------------------------------

    def send(self, spec: RequestSpec) -> RawResponse:
        origin, route, path = self._route(spec.url)
        if route.proxy is not None and route.scheme == "http":
            path = origin + path  # absolute form, for the proxy
        with deadline_scope(spec.deadline):
            conn = self._checkout(origin, spec.timeout.connect)
            reused, keep = conn is not None, False
            try:
                while True:
                    try:
                        if conn is None:
                            conn = self._new(route, spec)
                        status, headers, body, keep = self._exchange(
                            conn, spec, route, path, reused
                        )
                    except _StaleConnectionError:
                        assert conn is not None
                        conn.close()  # its slot goes to a fresh connection, once
                        conn, reused = None, False
                        continue
                    break
            except BaseException as exc:
                self._checkin(origin, conn, keep=False)
                if isinstance(exc, TransportError) or not isinstance(exc, Exception):
                    raise
                raise self._translated(exc) from exc
        self._checkin(origin, conn, keep)
        return RawResponse(status, headers, body)

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        spec: RequestSpec,
        route: _Route,
        path: str,
        reused: bool,
    ) -> tuple[int, Mapping[str, str], bytes, bool]:
        """One request and its response on `conn`: (status, headers, body,
        whether the connection may be reused)."""
        try:  # buffered, no I/O yet; the core checked every header already
            conn.putrequest(spec.method, path, skip_host=True, skip_accept_encoding=True)
            if "host" not in spec.headers:
                conn.putheader("host", route.netloc)
            if route.proxy is not None and route.scheme == "http":
                for name, value in route.proxy.auth.items():
                    conn.putheader(name, value)
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
            status, headers, body, keep = read_response(response, spec)
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
        closing: list[http.client.HTTPConnection] = []
        with self._lock:
            for pool in self._pools.values():
                closing += pool.idle
                pool.open -= len(pool.idle)
                pool.idle = []
                pool.freed.notify_all()
        for conn in closing:
            with contextlib.suppress(OSError):
                conn.close()
