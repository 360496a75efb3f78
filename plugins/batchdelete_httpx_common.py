"""What the two httpx transports share (`batchdelete_httpx`, sync, and
`batchdelete_httpx_async`): the exception map, the client settings of a
route, the head check, the trace hook that notes the connection a request
opens, the errors naming a proxy, the cookie jar that keeps nothing; and the
deadline network backend of the sync transport's clients (httpcore's own,
with every connect, TLS handshake, read and write under the thread's
deadline). Not a plugin: httpx and httpcore are imported only when used.
"""

from __future__ import annotations

import contextlib
import functools
import http.cookiejar
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from batchdelete import (
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
)
from batchdelete.guards import BodyReader, head_problem, mask_userinfo, time_left

if TYPE_CHECKING:
    import httpcore
    import httpx


NAME = "httpx"
MAX_ORIGINS = 64  # origins whose route is remembered
#: Set (True) on the exception of a failed TCP connect, which through a
#: proxy is always a connect to the proxy (`proxy_failure` looks for it).
CONNECTING = "batchdelete_connecting"

#: Raised while reading a response, these mean the response broke something
#: (a huge number, bytes that are not text, nesting too deep): protocol errors.
READ_FAILURES = (MemoryError, RecursionError, OverflowError, ValueError, UnicodeError)


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


def body_reader(status: int, headers: dict[str, str], spec: RequestSpec) -> BodyReader:
    """A `BodyReader` for a response, under the spec's caps."""
    return BodyReader(status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: what a route is remembered by."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def client_settings(options: ConnectionOptions, proxy: str | None, tls: Any) -> dict[str, Any]:
    """The arguments of an httpx client (sync or async) this library owns,
    for one route: `proxy` (None: direct), TLS context `tls`, no redirects,
    the environment never read, at most `max_connections` connections."""
    import httpx

    n = options.max_connections
    via = None
    if proxy is not None:  # an https:// proxy is verified as the API is
        via = httpx.Proxy(proxy, ssl_context=tls if proxy.startswith("https:") else None)
    return {
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=n, max_keepalive_connections=n),
        "verify": tls,
        "trust_env": False,
        "proxy": via,
    }


def checked_headers(response: httpx.Response) -> dict[str, str]:
    """The headers of a response (lower-case names, repeats joined with
    ", "), once its head passed `head_problem`: else `TransportProtocolError`
    (the caller closes the response, so its connection is dropped)."""
    problem = head_problem(response.headers.multi_items())
    if problem is not None:
        raise TransportProtocolError(f"The response is malformed: {problem}.")
    return dict(response.headers.items())


def body_in_memory(
    response: httpx.Response, headers: dict[str, str], spec: RequestSpec
) -> RawResponse:
    """The answer when a user's transport read the body into memory
    (MockTransport's `Response(content=...)`): httpx has already decoded
    it, so it is taken as it is, under the same cap."""
    plain = {k: v for k, v in headers.items() if k != "content-encoding"}
    reader = body_reader(response.status_code, plain, spec)
    reader.feed(response.content)
    return RawResponse(response.status_code, headers, reader.finish())


class Opened:
    """httpcore's `trace` hook for one (sync) request: notes the stream of
    the connection it opens, and marks a failed TCP connect (with a proxy:
    to the proxy) for `proxy_failure`."""

    __slots__ = ("stream",)

    def __init__(self) -> None:
        self.stream: Any = None

    def note(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.stream = info.get("return_value")
        elif event == "connection.connect_tcp.failed" and "exception" in info:
            setattr(info["exception"], CONNECTING, True)

    __call__ = note

    def leftovers(self, client: Any) -> list[Any]:
        """What to close once the request failed (see the module's
        docstring): the connections in the pools of `client` (sync or async)
        on the stream, through their layers (tunnel -> connection to the
        proxy -> HTTP/1.1), then the stream; if httpcore changed: the stream."""
        if self.stream is None:
            return []
        found = []
        with contextlib.suppress(Exception):
            for transport in (client._transport, *client._mounts.values()):
                for connection in getattr(getattr(transport, "_pool", None), "connections", ()):
                    inner = connection
                    for _ in range(3):
                        inner = getattr(inner, "_connection", None)
                        if getattr(inner, "_network_stream", None) is self.stream:
                            found.append(connection)
                            break
        return [*found, self.stream]


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps nothing: a server's cookies are never sent back."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def proxy_name(url: str) -> str:
    """host:port of a proxy URL (credentials are never shown)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return mask_userinfo(f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}")


def proxy_failure(exc: BaseException, proxy: str) -> TransportError | None:
    """The error naming the proxy, when it refused the tunnel (httpx's
    ProxyError: 407, ...) or could not be reached (a failure of the TCP
    connect, which with a proxy is always to the proxy); else None."""
    import httpx

    detail = mask_userinfo(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ProxyError):
        return TransportConnectError(f"The proxy {proxy} refused the tunnel: {detail}")
    cause: BaseException | None = exc
    for _ in range(4):
        if cause is None or getattr(cause, CONNECTING, False):
            break
        cause = cause.__cause__ or cause.__context__
    if cause is None or not isinstance(exc, httpx.TransportError):
        return None
    if isinstance(exc, httpx.TimeoutException):
        return TransportTimeoutError(f"The proxy {proxy} did not answer in time: {detail}")
    return TransportConnectError(f"The proxy {proxy} cannot be reached: {detail}")


@functools.cache
def deadline_backend() -> Callable[[httpcore.NetworkBackend], httpcore.NetworkBackend]:
    """The backend class (built once, when httpcore is first needed)."""
    import httpcore

    def left(timeout: float | None, error: type[Exception]) -> float | None:
        try:
            return time_left(timeout)
        except TimeoutError as exc:
            raise error(str(exc)) from exc

    class DeadlineStream(httpcore.NetworkStream):
        """A network stream whose operations end by the thread's deadline."""

        def __init__(self, inner: httpcore.NetworkStream) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, left(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, left(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self,
            ssl_context: Any,
            server_hostname: str | None = None,
            timeout: float | None = None,
        ) -> httpcore.NetworkStream:
            timeout = left(timeout, httpcore.ConnectTimeout)
            # The context is deadline_tls's: an interrupted handshake closes its socket.
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        """httpcore's backend, with the deadline on every stream it opens."""

        def __init__(self, inner: httpcore.NetworkBackend) -> None:
            self._inner = inner

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.NetworkStream:
            timeout = left(timeout, httpcore.ConnectTimeout)
            inner = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return DeadlineStream(inner)

        # connect_unix_socket is left as NotImplementedError: our clients have no `uds`.

    return DeadlineBackend
