"""The httpx transport of batchdelete (`pip install 'batchdelete[httpx]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. httpx is imported only when a transport is built.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from batchdelete import (
    RawResponse,
    RequestSpec,
    Transport,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    hookimpl,
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
        self._client = (
            httpx.Client(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            if client is None
            else client
        )
        # One timeout object per distinct pair of limits (few: deadlines vary them).
        self._timeout = functools.lru_cache(maxsize=32)(
            lambda connect, read: httpx.Timeout(
                connect=connect, read=read, write=read, pool=connect
            )
        )

    def send(self, spec: RequestSpec) -> RawResponse:
        try:
            response = self._client.request(
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
