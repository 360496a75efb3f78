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

Connection options (`batchdelete.ConnectionOptions`) apply to its own pools:
one `ProxyManager` per proxy URL for the origins `proxy_for` sends through
a proxy (HTTPS by CONNECT tunnel, HTTP in absolute form, credentials as a
`Proxy-Authorization` header), one TLS context for every connection, at
most `max_connections` connections per origin (a thread waits for one until
the request's deadline).
"""

from __future__ import annotations

import functools
import http.client
import os
import ssl
import threading
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

from batchdelete import (
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    Transport,
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.guards import deadline_scope, deadline_tls, exception_chain, mask_userinfo
from batchdelete.hookspecs import RegisterTransport
from batchdelete_urllib3_strict import read_body, strict_pool_classes

if TYPE_CHECKING:
    import urllib3

NAME = "urllib3"
MAX_ROUTES = 64  # origins whose route (pool, proxy) is remembered


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        Urllib3Transport,
        library="urllib3",
        install="pip install 'batchdelete[urllib3]'",
        native_types=("urllib3.poolmanager.PoolManager",),
        takes_options=True,
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
        e.EmptyPoolError: timeout,  # no connection freed (max_connections) by the deadline
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


def proxy_failure(
    exc: BaseException, mapped: TransportError | None, proxy: str
) -> TransportError | None:
    """The error for a request through `proxy` that failed, naming the proxy
    (credentials masked): it refused, could not be reached, or answered
    CONNECT with anything but 200 (407: authentication); any other failure
    keeps its class and says it went through the proxy (None, unknown to
    `translate`, stays None: a bug is not disguised). Shared with the
    requests transport."""
    from urllib3.exceptions import ProxyError

    shown = mask_userinfo(proxy)
    errors = list(exception_chain(exc))
    for error in errors:
        text = str(error)
        if isinstance(error, OSError) and text.startswith("Tunnel connection failed"):
            answer = text.partition(": ")[2].strip() or text
            hint = ""
            if answer.startswith("407"):
                hint = " (proxy authentication: check the user name and password in its URL)"
            return TransportConnectError(
                mask_userinfo(f"The proxy {shown} answered CONNECT with {answer}{hint}.")
            )
    for error in errors:
        if isinstance(error, ProxyError):
            reason = error.original_error
            cls: type[TransportError] = TransportConnectError
            if isinstance(mapped, (TransportTimeoutError, TransportCertificateError)):
                cls = type(mapped)
            return cls(
                mask_userinfo(
                    f"The proxy {shown} refused the connection or could not be reached: "
                    f"{type(reason).__name__}: {reason}"
                )
            )
    if mapped is not None and type(mapped) in _PLAIN_ERRORS:
        return type(mapped)(mask_userinfo(f"{mapped} (through the proxy {shown})"))
    return mapped


_PLAIN_ERRORS: tuple[type[TransportError], ...] = (TransportError, TransportConnectError)
_PLAIN_ERRORS += (TransportCertificateError, TransportTimeoutError, TransportProtocolError)


class _Route(NamedTuple):
    """How requests to one origin go: the pool, whether the request target
    is the absolute URL (plain HTTP through a proxy), and the proxy."""

    pool: urllib3.HTTPConnectionPool
    absolute: bool
    proxy: str | None


class Urllib3Transport(Transport):
    """Sends through urllib3 pools: its own (retries and redirects off, TLS
    as the connection options say, strict parsing and the deadline on every
    socket call, proxies per origin), or the `PoolManager` (or
    `ProxyManager`) passed in, used as it is and not closed (the caps and a
    deadline check between reads still apply; its sockets are its own).
    Thread-safe, as PoolManager is; after `os.fork()` an owned transport
    starts over with new pools in the child."""

    name = NAME

    def __init__(
        self, native: urllib3.PoolManager | None = None, options: ConnectionOptions | None = None
    ) -> None:
        import urllib3
        from urllib3.util import make_headers

        self.library_version = str(getattr(urllib3, "__version__", "0"))
        self.exceptions = exception_map()
        self._owned = native is None
        if options is None:  # built directly (tests): the defaults, for its own pools
            options = ConnectionOptions(trust_env=self._owned)
        self._options = options
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        # Proxy-Authorization per proxy URL, made now: a bad one fails here.
        self._proxy_headers: dict[str, dict[str, str]] = {}
        for proxy in self._options.proxies.values() if self._owned else ():
            parts = urlsplit(proxy)
            headers = {}
            if parts.username is not None:
                auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                headers = make_headers(proxy_basic_auth=auth)
            self._proxy_headers[proxy] = headers
        self._pm: urllib3.PoolManager = self._new_manager() if native is None else native
        self._proxy_managers: dict[str, urllib3.PoolManager] = {}
        # One timeout object per distinct pair of limits (few: deadlines vary them).
        self._timeout = functools.lru_cache(maxsize=32)(
            lambda connect, read: urllib3.Timeout(connect=connect, read=read)
        )
        # PoolManager.urlopen parses the URL and builds a pool key on every
        # request (about a sixth of urllib3's time here): the route of each
        # origin is decided once instead. A user's ProxyManager sees each URL.
        self._direct = not isinstance(self._pm, urllib3.ProxyManager)
        self._routes: dict[str, _Route] = {}
        self._closed_pool = urllib3.exceptions.ClosedPoolError
        if self._owned:
            _OWNED.add(self)

    def _new_manager(self, proxy: str | None = None) -> urllib3.PoolManager:
        import urllib3

        size = self._options.max_connections
        manager: urllib3.PoolManager
        if proxy is None:
            manager = urllib3.PoolManager(num_pools=10, maxsize=size, block=True, retries=False)
        else:
            parts = urlsplit(proxy)
            extra: dict[str, Any] = {}
            if parts.scheme == "https":  # the proxy's certificate: checked as the API's
                extra["proxy_ssl_context"] = self._tls()
            manager = urllib3.ProxyManager(
                f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}",  # no credentials
                num_pools=10,
                proxy_headers=self._proxy_headers.get(proxy, {}),
                maxsize=size,
                block=True,
                retries=False,
                **extra,
            )
        manager.pool_classes_by_scheme = strict_pool_classes()
        return manager

    def _tls(self) -> ssl.SSLContext:
        """The one TLS context of the transport (the options', keeping the
        deadline), made on first use: urllib3 would load CAs per connection."""
        if self._context is None:
            self._context = deadline_tls(self._options.ssl_context())
        return self._context

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's pools (their sockets are
        the parent's), without closing them."""
        self._lock = threading.Lock()
        self._routes = {}
        self._proxy_managers = {}
        self._pm = self._new_manager()

    def _route(self, origin: str) -> _Route:
        """The pool for `scheme://host[:port]`: direct, or through the proxy
        the options name for it."""
        proxy = self._options.proxy_for(origin) if self._owned else None
        manager = self._pm
        if proxy is not None:
            with self._lock:
                found = self._proxy_managers.get(proxy)
                if found is None:
                    found = self._proxy_managers[proxy] = self._new_manager(proxy)
                manager = found
        https = origin.startswith("https:")
        if self._owned and https and "ssl_context" not in manager.connection_pool_kw:
            manager.connection_pool_kw["ssl_context"] = self._tls()
        return _Route(manager.connection_from_url(origin), proxy is not None and not https, proxy)

    def _urlopen(self, spec: RequestSpec, route: _Route | None) -> urllib3.BaseHTTPResponse:
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
        if route is None:
            return self._pm.urlopen(spec.method, url, **options)
        slash = url.find("/", url.find("://") + 3)
        path = url if route.absolute else "/" if slash < 0 else url[slash:]
        try:
            return route.pool.urlopen(spec.method, path, assert_same_host=False, **options)
        except self._closed_pool:  # the manager evicted it; nothing was sent
            origin = url if slash < 0 else url[:slash]
            self._routes.pop(origin, None)
            fresh = self._route(origin)
            return fresh.pool.urlopen(spec.method, path, assert_same_host=False, **options)

    def send(self, spec: RequestSpec) -> RawResponse:
        route: Any = None

        def via_proxy(exc: Exception, mapped: TransportError | None) -> TransportError | None:
            if route is not None and route.proxy is not None:
                return proxy_failure(exc, mapped, route.proxy)
            return mapped

        with self.mapped_errors(via_proxy):
            if self._direct:
                url = spec.url
                slash = url.find("/", url.find("://") + 3)
                origin = url if slash < 0 else url[:slash]
                route = self._routes.get(origin)
                if route is None:
                    route = self._route(origin)
                    if len(self._routes) < MAX_ROUTES:
                        self._routes[origin] = route
            with deadline_scope(spec.deadline):
                return read_body(spec, self._urlopen(spec, route))

    def translate(self, exc: BaseException) -> TransportError | None:
        # A MaxRetryError (a user's pool with retries on) says more by its reason.
        reason: Any = getattr(exc, "reason", None)
        if isinstance(reason, Exception) and type(exc).__name__ == "MaxRetryError":
            return super().translate(reason) or super().translate(exc)
        return super().translate(exc)

    def close(self) -> None:
        self._routes.clear()
        if self._owned:
            self._pm.clear()
            for manager in list(self._proxy_managers.values()):
                manager.clear()


_OWNED: weakref.WeakSet[Urllib3Transport] = weakref.WeakSet()


def _forget_in_child() -> None:
    for transport in list(_OWNED):
        transport._after_fork()


os.register_at_fork(after_in_child=_forget_in_child)
