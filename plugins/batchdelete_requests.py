"""The requests transport of batchdelete (`pip install 'batchdelete[requests]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. requests is imported only when a transport is built.

Its own session applies the client's connection options
(`batchdelete.ConnectionOptions`, resolved once from the arguments and the
environment): `trust_env` is off, so requests' per-request environment scan
(proxies, CA bundle, ~/.netrc) is skipped; each request gets the proxy the
options name for its origin (`proxies={scheme: url}`, requests sending the
CONNECT and the credentials of the URL); one TLS context (the options') for
every HTTPS connection; at most `max_connections` connections per origin.
It sends exactly the spec's headers (requests' defaults, such as
`Connection: keep-alive`, are cleared) and keeps no cookie (its jar's
policy accepts none), so it sends none back.
A session passed in is used as it is: its adapters, auth, proxies,
`trust_env` and retries are the user's.
"""

from __future__ import annotations

import http.cookiejar
import os
import ssl
import threading
import weakref
from typing import TYPE_CHECKING, Any, cast

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
from batchdelete.guards import deadline_scope, deadline_tls
from batchdelete.hookspecs import RegisterTransport
from batchdelete_urllib3 import proxy_failure
from batchdelete_urllib3_strict import read_body, strict_pool_classes

if TYPE_CHECKING:
    import requests

NAME = "requests"


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        RequestsTransport,
        library="requests",
        install="pip install 'batchdelete[requests]'",
        native_types=("requests.sessions.Session",),
        takes_options=True,
    )


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """Every requests exception class, and what it means to the core."""
    from requests import exceptions as e
    from urllib3 import exceptions as u

    connect, timeout, protocol, other = (
        TransportConnectError,
        TransportTimeoutError,
        TransportProtocolError,
        TransportError,
    )
    return {
        e.RequestException: other,
        e.InvalidJSONError: other,
        e.JSONDecodeError: other,
        e.HTTPError: other,
        e.ConnectionError: connect,
        e.ProxyError: connect,
        e.SSLError: connect,
        e.Timeout: timeout,
        e.ConnectTimeout: timeout,
        e.ReadTimeout: timeout,
        e.URLRequired: other,
        e.TooManyRedirects: other,
        e.MissingSchema: other,
        e.InvalidSchema: other,
        e.InvalidURL: other,
        e.InvalidHeader: other,
        e.InvalidProxyURL: other,
        e.ChunkedEncodingError: protocol,
        e.ContentDecodingError: protocol,
        e.StreamConsumedError: other,
        e.RetryError: other,
        e.UnrewindableBodyError: other,
        # urllib3 errors that requests lets through unwrapped.
        u.HTTPError: other,
        u.EmptyPoolError: timeout,  # no connection freed (max_connections) by the deadline
        u.ReadTimeoutError: timeout,
        u.ProtocolError: protocol,
        u.DecodeError: protocol,
        TimeoutError: timeout,  # socket.timeout too
        OSError: connect,
    }


MAX_ORIGINS = 64  # origins whose proxy decision is remembered


class RequestsTransport(Transport):
    """Sends through a `requests.Session`: its own, applying the connection
    options, or the one passed in, used as it is."""

    name = NAME

    def __init__(
        self, session: requests.Session | None = None, options: ConnectionOptions | None = None
    ) -> None:
        import requests

        self.library_version = requests.__version__
        self.exceptions = exception_map()
        self._owned = session is None
        if options is None:  # built directly (tests): the defaults, for its own session
            options = ConnectionOptions(trust_env=self._owned)
        self._options = options
        if session is None:
            session = requests.Session()
            session.trust_env = False  # the options read the environment, once
            session.headers.clear()  # only the spec's headers go out
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = _strict_adapter(options)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _OWNED.add(self)
        self._session = session
        self._proxy_cache: dict[str, dict[str, str]] = {}

    def _proxies_for(self, origin: str) -> dict[str, str]:
        """The proxies for `scheme://host[:port]`, decided once per origin."""
        found = self._proxy_cache.get(origin)
        if found is None:
            proxy = self._options.proxy_for(origin)
            found = {} if proxy is None else {origin.partition(":")[0]: proxy}
            if len(self._proxy_cache) < MAX_ORIGINS:
                self._proxy_cache[origin] = found
        return found

    def send(self, spec: RequestSpec) -> RawResponse:
        proxies = None
        if self._owned:
            scheme, _, rest = spec.url.partition("://")
            proxies = self._proxies_for(f"{scheme}://{rest.partition('/')[0]}")
        proxy = next(iter(proxies.values())) if proxies else None

        def via_proxy(exc: Exception, mapped: TransportError | None) -> TransportError | None:
            return mapped if proxy is None else proxy_failure(exc, mapped, proxy)

        with self.mapped_errors(via_proxy), deadline_scope(spec.deadline):
            response = self._session.request(
                spec.method,
                spec.url,
                headers=dict(spec.headers),
                data=spec.body,
                timeout=(spec.timeout.connect, spec.timeout.read),
                allow_redirects=False,
                proxies=proxies,
                stream=True,
            )
            return read_body(spec, response.raw)

    def _after_fork(self) -> None:
        """In a forked child: new pools for the owned adapters; the parent's
        connections are left alone (not closed)."""
        from requests.adapters import HTTPAdapter

        for adapter in self._session.adapters.values():  # all ours: the session is ours
            if isinstance(adapter, HTTPAdapter):  # pragma: no branch - mounted here, all ours
                adapter.proxy_manager = {}
                adapter.init_poolmanager(
                    adapter._pool_connections,  # type: ignore[attr-defined]
                    adapter._pool_maxsize,  # type: ignore[attr-defined]
                    block=adapter._pool_block,  # type: ignore[attr-defined]
                )

    def close(self) -> None:
        if self._owned:
            self._session.close()


#: What requests puts in a pool key from `verify` and `cert`: the options'
#: TLS context carries all of it (CAs, verification, client certificate).
_TLS_KEYS = ("cert_reqs", "ca_certs", "ca_cert_dir", "cert_file", "key_file")


def _strict_adapter(options: ConnectionOptions) -> requests.adapters.HTTPAdapter:
    """An adapter whose urllib3 pools (proxied ones too) parse strictly, keep
    the deadline on every socket call (the urllib3 transport's classes), use
    the options' TLS context (made at the first HTTPS request) whatever
    `verify` and `cert` requests passes, and open at most `max_connections`
    connections per origin."""
    from requests.adapters import HTTPAdapter

    class StrictAdapter(HTTPAdapter):
        _context: ssl.SSLContext | None = None
        _lock = threading.Lock()

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = strict_pool_classes()

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            if proxy not in self.proxy_manager and proxy.lower().startswith("https:"):
                proxy_kwargs.setdefault("proxy_ssl_context", self._tls())
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            manager.pool_classes_by_scheme = strict_pool_classes()
            return manager

        def build_connection_pool_key_attributes(
            self, request: Any, verify: Any, cert: Any = None
        ) -> Any:
            host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
            extra: dict[str, Any] = cast("dict[str, Any]", pool)  # keys the stubs lack
            for key in _TLS_KEYS:
                extra.pop(key, None)
            if str(request.url).lower().startswith("https:"):
                extra["ssl_context"] = self._tls()
            return host, pool

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            """Nothing: requests would set certifi's bundle (or `verify`) on the
            pool, loaded into the context at each new connection."""

        def _tls(self) -> ssl.SSLContext:
            with self._lock:
                if self._context is None:
                    self._context = deadline_tls(options.ssl_context())
                return self._context

    size = options.max_connections
    return StrictAdapter(pool_connections=10, pool_maxsize=size, pool_block=True, max_retries=0)


_OWNED: weakref.WeakSet[RequestsTransport] = weakref.WeakSet()


def _forget_in_child() -> None:
    for transport in list(_OWNED):
        transport._after_fork()


os.register_at_fork(after_in_child=_forget_in_child)
