"""Helpers of the aiohttp transport (`batchdelete_aiohttp`): its exception
map, and its routes through a proxy (the proxy URL without credentials, and
the `Proxy-Authorization` they make; that header masked in the request info
aiohttp's exceptions carry). Not a plugin: aiohttp is imported only when used.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from batchdelete import (
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
)
from batchdelete.guards import exception_chain


def exception_map() -> dict[type[BaseException], type[TransportError]]:
    """Every aiohttp exception class a client can meet (the server's,
    `aiohttp.web*`, are not), and what it means to the core."""
    import aiohttp as a
    from aiohttp import client_exceptions as c
    from aiohttp import http_exceptions as h
    from aiohttp import payload
    from aiohttp._websocket import models as ws
    from aiohttp.compression_utils import TooManyMembersError

    connect, timeout = TransportConnectError, TransportTimeoutError
    protocol, other = TransportProtocolError, TransportError
    table: tuple[tuple[type[TransportError], tuple[type[BaseException], ...]], ...] = (
        (connect, (a.ClientConnectionError, a.ClientConnectionResetError, a.ClientOSError)),
        (connect, (a.ClientConnectorError, a.ClientConnectorDNSError, c.UnixClientConnectorError)),
        (connect, (a.ClientProxyConnectionError, a.ClientSSLError, a.ClientConnectorSSLError)),
        (connect, (a.ClientConnectorCertificateError,)),  # translate(): a certificate error
        (connect, (a.ServerConnectionError, a.ServerDisconnectedError)),
        (connect, (a.ServerFingerprintMismatch, a.ClientHttpProxyError)),  # 407...: translate()
        (timeout, (a.ServerTimeoutError, a.ConnectionTimeoutError, a.SocketTimeoutError)),
        # raise_for_status is off: a ClientResponseError is the parser's refusal.
        (protocol, (a.ClientResponseError, a.ClientPayloadError, a.EofStream, TooManyMembersError)),
        (protocol, (h.HttpProcessingError, h.BadHttpMessage, h.BadHttpMethod, h.BadStatusLine)),
        (protocol, (h.HttpBadRequest, h.InvalidHeader, h.InvalidURLError, h.LineTooLong)),
        (protocol, (h.PayloadEncodingError, h.ContentEncodingError, h.ContentLengthError)),
        (protocol, (h.DecompressSizeError, h.TransferEncodingError)),
        (other, (a.ClientError, a.ContentTypeError, a.TooManyRedirects, a.UploadAbortedError)),
        (other, (a.InvalidURL, a.InvalidUrlClientError, a.InvalidUrlRedirectClientError)),
        (other, (a.NonHttpUrlClientError, a.NonHttpUrlRedirectClientError, a.RedirectClientError)),
        (other, (a.WSServerHandshakeError, a.WSMessageTypeError, ws.WebSocketError)),
        (other, (ws.WSHandshakeError, payload.LookupError)),
        (timeout, (asyncio.TimeoutError, TimeoutError)),  # one class from Python 3.11
        (connect, (ConnectionError, OSError)),
    )
    return {cls: target for target, classes in table for cls in classes}


class Route(NamedTuple):
    arguments: dict[str, Any]  # for session.request: proxy= (and proxy_headers= to tunnel)
    authorization: str | None  # Proxy-Authorization in the request itself (absolute form)


DIRECT = Route({}, None)


def proxy_route(proxy: str, origin: str) -> Route:
    """The route through `proxy`: its URL without credentials, which make a
    Proxy-Authorization (percent-decoded, UTF-8, as the sync transports
    make it) for the CONNECT of an https origin, or for the request itself."""
    import yarl

    parts = urlsplit(proxy)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    arguments: dict[str, Any] = {"proxy": yarl.URL(parts._replace(netloc=netloc).geturl())}
    if parts.username is None and parts.password is None:
        return Route(arguments, None)
    secret = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    authorization = "Basic " + base64.b64encode(secret.encode()).decode()
    if not origin.startswith("https:"):
        return Route(arguments, authorization)
    return Route({**arguments, "proxy_headers": {"Proxy-Authorization": authorization}}, None)


def mask_proxy_credentials(exc: BaseException) -> None:
    """Mask a Proxy-Authorization header in the request info that aiohttp's
    exceptions carry (a refused CONNECT keeps the whole request)."""
    from aiohttp import RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy

    for error in exception_chain(exc):
        info = getattr(error, "request_info", None)
        if not isinstance(info, RequestInfo) or "Proxy-Authorization" not in info.headers:
            continue
        masked = CIMultiDict(info.headers)
        masked["Proxy-Authorization"] = "***"
        clean = RequestInfo(info.url, info.method, CIMultiDictProxy(masked), info.real_url)
        error.request_info = clean  # type: ignore[attr-defined]
        error.args = tuple(clean if arg is info else arg for arg in error.args)
