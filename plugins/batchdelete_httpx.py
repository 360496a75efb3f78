"""The httpx transport of batchdelete (`pip install 'batchdelete[httpx]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. httpx is imported only when a transport is built. Its own client
reads the environment once (proxies, SSL_CERT_FILE); a loopback host never
goes through a proxy found there.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
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
from batchdelete.hookspecs import RegisterTransport

if TYPE_CHECKING:
    import httpx

NAME = "httpx"


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        HttpxTransport,
        library="httpx",
        install="pip install 'batchdelete[httpx]'",
        native_types=("httpx.Client",),
    )


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """Every httpx exception class, and what it means to the core."""
    import httpx as x

    connect, timeout, protocol, other = (
        TransportConnectError,
        TransportTimeoutError,
        TransportProtocolError,
        TransportError,
    )
    return {
        x.HTTPError: other,
        x.RequestError: other,
        x.TransportError: other,
        x.TimeoutException: timeout,
        x.ConnectTimeout: timeout,
        x.ReadTimeout: timeout,
        x.WriteTimeout: timeout,
        x.PoolTimeout: timeout,
        x.NetworkError: connect,
        x.ConnectError: connect,
        x.ReadError: connect,
        x.WriteError: connect,
        x.CloseError: connect,
        x.ProxyError: connect,
        x.ProtocolError: protocol,
        x.LocalProtocolError: other,  # the request itself is malformed
        x.RemoteProtocolError: protocol,
        x.DecodingError: protocol,
        x.UnsupportedProtocol: other,
        x.TooManyRedirects: other,
        x.HTTPStatusError: other,
        x.InvalidURL: other,
        x.CookieConflict: other,
        x.StreamError: other,
        x.StreamConsumed: other,
        x.StreamClosed: other,
        x.ResponseNotRead: other,
        x.RequestNotRead: other,
    }


class HttpxTransport(Transport):
    """Sends through a sync `httpx.Client`: its own (redirects off, no
    retries, TLS verified, environment read once when it is built), or the
    one passed in, used as it is (MockTransport included) and not closed."""

    name = NAME

    def __init__(self, client: httpx.Client | None = None) -> None:
        import httpx

        self.library_version = httpx.__version__
        self.exceptions = exception_map()
        self._owned = client is None
        if self._owned:
            check_ca_environment("SSL_CERT_FILE", "SSL_CERT_DIR")  # what httpx reads
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._client = (
            httpx.Client(follow_redirects=False, limits=limits) if client is None else client
        )
        # Loopback hosts skip the environment's proxies: a second client of
        # ours whose mounts send every scheme direct (CA settings still read).
        self._direct: httpx.Client | None = None
        self._by_origin: dict[str, httpx.Client] = {}
        if self._owned and _environment_has_proxies():
            self._direct = httpx.Client(
                follow_redirects=False,
                limits=limits,
                mounts={"all://": None, "http://": None, "https://": None},
            )
        # One timeout object per distinct pair of limits (few: deadlines vary them).
        self._timeout = functools.lru_cache(maxsize=32)(
            lambda connect, read: httpx.Timeout(
                connect=connect, read=read, write=read, pool=connect
            )
        )

    def _client_for(self, url: str) -> httpx.Client:
        if self._direct is None:
            return self._client
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        client = self._by_origin.get(origin)
        if client is None:
            host = urlsplit(origin).hostname or ""
            client = self._direct if is_loopback_host(host) else self._client
            if len(self._by_origin) < 64:
                self._by_origin[origin] = client
        return client

    def send(self, spec: RequestSpec) -> RawResponse:
        try:
            response = self._client_for(spec.url).request(
                spec.method,
                spec.url,
                headers=spec.headers,
                content=spec.body,
                timeout=self._timeout(spec.timeout.connect, spec.timeout.read),
                follow_redirects=False,
            )
        except Exception as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return RawResponse(response.status_code, dict(response.headers.items()), response.content)

    def close(self) -> None:
        if self._owned:
            self._client.close()
            if self._direct is not None:
                self._direct.close()


def _environment_has_proxies() -> bool:
    """Whether httpx's own client will find proxies in the environment."""
    import urllib.request

    found = urllib.request.getproxies_environment()
    found.pop("no", None)
    return bool(found)
