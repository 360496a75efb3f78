"""The urllib3 transport of batchdelete (`pip install 'batchdelete[urllib3]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. urllib3 is imported only when a transport is built.
"""

from __future__ import annotations

import functools
import http.client
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


class Urllib3Transport(Transport):
    """Sends through a `urllib3.PoolManager`: its own (retries and redirects
    off, TLS verified), or the one passed in, used as it is and not closed.
    Thread-safe, as PoolManager is."""

    name = NAME

    def __init__(self, pool_manager: urllib3.PoolManager | None = None) -> None:
        import urllib3

        self.library_version = str(getattr(urllib3, "__version__", "0"))
        self.exceptions = exception_map()
        self._owned = pool_manager is None
        if self._owned:
            check_ca_environment("SSL_CERT_FILE", "SSL_CERT_DIR")  # OpenSSL's defaults
        self._pm: urllib3.PoolManager = (
            urllib3.PoolManager(num_pools=10, maxsize=10, retries=False)
            if pool_manager is None
            else pool_manager
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
        self._create_context = urllib3.util.ssl_.create_urllib3_context

    def _pool(self, origin: str) -> urllib3.HTTPConnectionPool:
        if (
            self._owned
            and origin.startswith("https:")
            and "ssl_context" not in self._pm.connection_pool_kw
        ):
            # Without one, urllib3 builds a context and loads the CA bundle for
            # every new TLS connection; one shared context does it once, when
            # the first HTTPS pool is made. Verification stays on.
            context = self._create_context()
            context.load_default_certs()
            self._pm.connection_pool_kw["ssl_context"] = context
        return self._pm.connection_from_url(origin)

    def _urlopen(self, spec: RequestSpec) -> urllib3.BaseHTTPResponse:
        options: dict[str, Any] = {
            "body": spec.body,
            "headers": spec.headers,  # not modified by urllib3
            "retries": False,
            "redirect": False,
            "timeout": self._timeout(spec.timeout.connect, spec.timeout.read),
            "preload_content": True,
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
            response = self._urlopen(spec)
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is None:
                raise
            raise mapped from exc
        headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.itermerged()}
        return RawResponse(response.status, headers, response.data)

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
