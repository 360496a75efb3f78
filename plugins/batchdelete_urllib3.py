"""The urllib3 transport of batchdelete (`pip install 'batchdelete[urllib3]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. urllib3 is imported only when a transport is built.

urllib3 parses responses with http.client, so its own pools get the core's
guards: `StrictHTTPResponse` as the connections' response class (malformed
framing refused at once, chunk sizes included, since urllib3's `read()`
goes through http.client), `DeadlineSocket` and a deadline-keeping TLS
context (every socket call ends by the request's deadline), and bodies read
raw (`decode_content=False`) into a `BodyReader` (urllib3 < 2.6 inflates a
whole network read at once).
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
    READ_SIZE,
    BodyReader,
    DeadlineSocket,
    StrictHTTPResponse,
    deadline_scope,
    deadline_tls,
    time_left,
)
from batchdelete.hookspecs import RegisterTransport

if TYPE_CHECKING:
    import urllib3

NAME = "urllib3"


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        Urllib3Transport,
        library="urllib3",
        install="pip install 'batchdelete[urllib3]'",
        native_types=("urllib3.poolmanager.PoolManager",),
    )


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """Every urllib3 exception class, and what it means to the core."""
    from urllib3 import exceptions as e

    connect, timeout, protocol, other = (
        TransportConnectError,
        TransportTimeoutError,
        TransportProtocolError,
        TransportError,
    )
    return {
        e.HTTPError: other,
        e.PoolError: other,
        e.RequestError: other,
        e.SSLError: connect,
        e.ProxyError: connect,
        e.DecodeError: protocol,
        e.ProtocolError: protocol,
        e.MaxRetryError: connect,  # only with retries on; its reason is mapped first
        e.HostChangedError: other,
        e.TimeoutStateError: other,
        e.TimeoutError: timeout,
        e.ReadTimeoutError: timeout,
        e.ConnectTimeoutError: timeout,
        e.NewConnectionError: connect,
        e.NameResolutionError: connect,
        e.EmptyPoolError: other,
        e.FullPoolError: other,
        e.ClosedPoolError: other,
        e.LocationValueError: other,
        e.LocationParseError: other,
        e.URLSchemeUnknown: other,
        e.ResponseError: other,
        e.ResponseNotChunked: protocol,
        e.BodyNotHttplibCompatible: other,
        e.IncompleteRead: protocol,
        e.InvalidChunkLength: protocol,
        e.InvalidHeader: other,
        e.ProxySchemeUnknown: other,
        e.ProxySchemeUnsupported: other,
        e.HeaderParsingError: protocol,
        e.UnrewindableBodyError: other,
        # What the standard library under urllib3 may let through.
        http.client.HTTPException: protocol,
        TimeoutError: timeout,  # socket.timeout too
        OSError: connect,
    }


@functools.cache
def strict_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3's pools, with connections that keep the request's deadline on
    every socket call (`DeadlineSocket`) and parse responses strictly
    (`StrictHTTPResponse`, urllib3 reading them through http.client). For a
    `PoolManager.pool_classes_by_scheme`; the requests transport uses it too."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        response_class = StrictHTTPResponse

        def _new_conn(self) -> socket.socket:
            return DeadlineSocket.adopt(super()._new_conn())

    class TLSConnection(HTTPSConnection):
        response_class = StrictHTTPResponse

        def _new_conn(self) -> socket.socket:
            return DeadlineSocket.adopt(super()._new_conn())

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    return {"http": Pool, "https": TLSPool}


def read_body(spec: RequestSpec, response: urllib3.BaseHTTPResponse) -> RawResponse:
    """The response, its raw body read in pieces into a `BodyReader` (the
    caps, gzip and deflate), by the deadline; the connection is dropped
    unless the body was read to its end. Shared with the requests transport."""
    headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.itermerged()}
    reader = BodyReader(
        response.status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body
    )
    complete = False
    try:
        while True:
            time_left()  # a user's own pool has no deadline sockets: check between reads
            piece = response.read(READ_SIZE, decode_content=False)
            if not piece:
                complete = True
                break
            if not reader.feed(piece):
                break
        body = reader.finish()
    finally:
        if not complete:
            response.close()  # unread bytes: the connection must not be reused
        response.release_conn()
    return RawResponse(response.status, headers, body)


class Urllib3Transport(Transport):
    """Sends through a `urllib3.PoolManager`: its own (retries and redirects
    off, TLS verified, strict parsing and the deadline on every socket
    call), or the one passed in, used as it is and not closed (the caps and
    a deadline check between reads still apply; its sockets are its own).
    Thread-safe, as PoolManager is; after `os.fork()` an owned transport
    starts over with new pools in the child."""

    name = NAME

    def __init__(self, pool_manager: urllib3.PoolManager | None = None) -> None:
        import urllib3

        self.library_version = str(getattr(urllib3, "__version__", "0"))
        self.exceptions = exception_map()
        self._owned = pool_manager is None
        if self._owned:
            check_ca_environment("SSL_CERT_FILE", "SSL_CERT_DIR")  # OpenSSL's defaults
        self._pm: urllib3.PoolManager = (
            self._new_manager() if pool_manager is None else pool_manager
        )
        # One timeout object per distinct pair of limits (few: deadlines vary them).
        self._timeout = functools.lru_cache(maxsize=32)(
            lambda connect, read: urllib3.Timeout(connect=connect, read=read)
        )
        # PoolManager.urlopen parses the URL and builds a pool key on every
        # request (about a sixth of urllib3's time here): the pool of each
        # origin is looked up once instead. A ProxyManager must see each URL.
        self._direct = not isinstance(self._pm, urllib3.ProxyManager)
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        self._closed_pool = urllib3.exceptions.ClosedPoolError
        if self._owned:
            _OWNED.add(self)

    def _new_manager(self) -> urllib3.PoolManager:
        import urllib3

        manager = urllib3.PoolManager(num_pools=10, maxsize=10, retries=False)
        manager.pool_classes_by_scheme = strict_pool_classes()
        return manager

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's pools (their sockets are
        the parent's), without closing them."""
        self._pools = {}
        self._pm = self._new_manager()

    def _pool(self, origin: str) -> urllib3.HTTPConnectionPool:
        if (
            self._owned
            and origin.startswith("https:")
            and "ssl_context" not in self._pm.connection_pool_kw
        ):
            # Without one, urllib3 builds a context and loads the CA bundle for
            # every new TLS connection; one shared context does it once, when
            # the first HTTPS pool is made. Verification stays on.
            self._pm.connection_pool_kw["ssl_context"] = tls_context()
        return self._pm.connection_from_url(origin)

    def _urlopen(self, spec: RequestSpec) -> urllib3.BaseHTTPResponse:
        options: dict[str, Any] = {
            "body": spec.body,
            "headers": spec.headers,  # not modified by urllib3
            "retries": False,
            "redirect": False,
            "timeout": self._timeout(spec.timeout.connect, spec.timeout.read),
            "preload_content": False,
            "decode_content": False,
        }
        url = spec.url
        if not self._direct:
            return self._pm.urlopen(spec.method, url, **options)
        slash = url.find("/", url.find("://") + 3)
        origin, path = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pool(origin)
            if len(self._pools) < 64:
                self._pools[origin] = pool
        try:
            return pool.urlopen(spec.method, path, assert_same_host=False, **options)
        except self._closed_pool:  # the manager evicted it; nothing was sent
            self._pools.pop(origin, None)
            pool = self._pool(origin)
            return pool.urlopen(spec.method, path, assert_same_host=False, **options)

    def send(self, spec: RequestSpec) -> RawResponse:
        try:
            with deadline_scope(spec.deadline):
                return read_body(spec, self._urlopen(spec))
        except TransportError:
            raise
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _mapped(self, exc: Exception) -> TransportError | None:
        # A MaxRetryError (a user's pool with retries on) says more by its reason.
        reason: Any = getattr(exc, "reason", None)
        if isinstance(reason, Exception) and type(exc).__name__ == "MaxRetryError":
            return self.translate(reason) or self.translate(exc)
        return self.translate(exc)

    def close(self) -> None:
        self._pools.clear()
        if self._owned:
            self._pm.clear()


def tls_context(cafile: str | None = None, capath: str | None = None) -> ssl.SSLContext:
    """A TLS context for all of a transport's connections (loading the CA
    bundle costs ~40 ms; urllib3 would do it per connection): verification
    on, the system's CAs (or `cafile`/`capath`), its sockets keeping the
    deadline."""
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    else:
        context.load_default_certs()
    return deadline_tls(context)  # type: ignore[no-any-return]


_OWNED: weakref.WeakSet[Urllib3Transport] = weakref.WeakSet()


def _forget_in_child() -> None:
    for transport in list(_OWNED):
        transport._after_fork()


os.register_at_fork(after_in_child=_forget_in_child)
