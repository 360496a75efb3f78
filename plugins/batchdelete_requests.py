"""The requests transport of batchdelete (`pip install 'batchdelete[requests]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. requests is imported only when a transport is built.

Its own session has `trust_env` off: the proxy and CA-bundle settings of the
environment are read once, when the transport is built, instead of on every
request (requests' per-request lookup, and ~/.netrc, are skipped); proxies
from the environment are never used for a loopback host. Explicit
`proxies=` and `verify=` beat the environment. A session passed in is used
as it is: its adapters, auth, proxies, `trust_env` and retries are the user's.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
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
    is_loopback_host,
)
from batchdelete.guards import deadline_scope
from batchdelete.hookspecs import RegisterTransport
from batchdelete_urllib3 import read_body, strict_pool_classes, tls_context

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
        u.ReadTimeoutError: timeout,
        u.ProtocolError: protocol,
        u.DecodeError: protocol,
        TimeoutError: timeout,  # socket.timeout too
        OSError: connect,
    }


def _bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether `no_proxy` (a snapshot of NO_PROXY) exempts this host."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip() for e in no_proxy.split(",")):
        if address is not None and entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
    target = host if port is None else f"{host}:{port}"
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(target, {"no": no_proxy}))


class RequestsTransport(Transport):
    """Sends through a `requests.Session`: its own, or the one passed in."""

    name = NAME

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        proxies: Mapping[str, str] | None = None,
        verify: bool | str | None = None,
    ) -> None:
        import requests

        self.library_version = requests.__version__
        self.exceptions = exception_map()
        self._owned = session is None
        self._env_proxies = False
        if session is None:
            session = requests.Session()
            session.trust_env = False
            self._env_proxies = proxies is None
            if proxies is None:  # the environment, read once
                found = urllib.request.getproxies_environment()
                self._no_proxy = found.pop("no", "")
                proxies = found
            else:
                self._no_proxy = ""
            if verify is None:
                first = "REQUESTS_CA_BUNDLE" if os.environ.get("REQUESTS_CA_BUNDLE") else ""
                check_ca_environment(first or "CURL_CA_BUNDLE")  # the one requests reads
                verify = (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                )
            session.verify = verify
            adapter = _strict_adapter(verify)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _OWNED.add(self)
        self._session = session
        self._proxies = dict(proxies or {})
        self._proxy_cache: dict[str, dict[str, str]] = {}

    def _proxies_for(self, origin: str) -> dict[str, str]:
        """The proxies for `scheme://host[:port]`, decided once per origin."""
        found = self._proxy_cache.get(origin)
        if found is None:
            parts = urlsplit(origin)
            host = parts.hostname or ""
            bypass = (self._env_proxies and is_loopback_host(host)) or (
                bool(self._no_proxy) and _bypasses_proxy(host, parts.port, self._no_proxy)
            )
            found = {} if bypass else self._proxies
            if len(self._proxy_cache) < 64:
                self._proxy_cache[origin] = found
        return found

    def send(self, spec: RequestSpec) -> RawResponse:
        proxies = None
        if self._owned:
            scheme, _, rest = spec.url.partition("://")
            proxies = self._proxies_for(f"{scheme}://{rest.partition('/')[0]}")
        try:
            with deadline_scope(spec.deadline):
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
        except TransportError:
            raise
        except Exception as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _after_fork(self) -> None:
        """In a forked child: new pools for the owned adapters; the parent's
        connections are left alone (not closed)."""
        from requests.adapters import HTTPAdapter

        for adapter in self._session.adapters.values():  # all ours: the session is ours
            if isinstance(adapter, HTTPAdapter):
                adapter.proxy_manager = {}
                adapter.init_poolmanager(10, 10)

    def close(self) -> None:
        if self._owned:
            self._session.close()


def _strict_adapter(verify: bool | str) -> requests.adapters.HTTPAdapter:
    """An adapter whose urllib3 pools parse strictly and keep the deadline on
    every socket call (the urllib3 transport's classes), with one TLS
    context, made at the first HTTPS request, trusting what `verify` names
    (certifi's bundle for True, as requests does)."""
    from requests.adapters import HTTPAdapter
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    class StrictAdapter(HTTPAdapter):
        _context: ssl.SSLContext | None = None
        _lock = threading.Lock()

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = strict_pool_classes()

        def build_connection_pool_key_attributes(
            self, request: Any, verify: Any, cert: Any = None
        ) -> Any:
            host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
            if verify is not False and str(request.url).lower().startswith("https:"):
                extra: dict[str, Any] = cast("dict[str, Any]", pool)  # keys the stubs lack
                extra["ssl_context"] = self._tls()
                extra.pop("ca_certs", None)  # already in the context
                extra.pop("ca_cert_dir", None)
            return host, pool

        def _tls(self) -> ssl.SSLContext:
            with self._lock:
                if self._context is None:
                    where = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
                    folder = os.path.isdir(where)
                    self._context = tls_context(
                        None if folder else where, where if folder else None
                    )
                return self._context

    return StrictAdapter(pool_connections=10, pool_maxsize=10, max_retries=0)


_OWNED: weakref.WeakSet[RequestsTransport] = weakref.WeakSet()


def _forget_in_child() -> None:
    for transport in list(_OWNED):
        transport._after_fork()


os.register_at_fork(after_in_child=_forget_in_child)
