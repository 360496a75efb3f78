"""The httpx transport of batchdelete (`pip install 'batchdelete[httpx]'`).

Registered through the `batchdelete` entry-point group like any third-party
plugin. httpx is imported only when a transport is built.

Connection options (`batchdelete.ConnectionOptions`, resolved once per
client) are applied to the clients this transport owns, which never read
the environment themselves (`trust_env=False`):

- TLS: `verify=` the options' one context (`ssl_context()`: CA from
  `verify=`, the environment or the system, client certificate,
  `verify=False`), for the API and for an https:// proxy alike.
- Proxies: one httpx client per route, direct or through each proxy URL the
  options name (`httpx.Client(proxy=...)`); which route an origin takes is
  asked of `proxy_for()` once and remembered. A proxy that cannot be reached
  or refuses the tunnel (407...) is an error naming its host and port.
- `max_connections`: httpx's limit is per client, not per origin, so here it
  bounds each route (direct, or one proxy): never more than that many
  connections to one origin, fewer when several origins share a route.

Requests are bare `httpx.Request`s: exactly the spec's headers, plus Host
and Content-Length (with a body, or for POST, PUT, PATCH), none of the
client's (accept, connection, user-agent...); no cookie is kept (the jar
stores nothing: `no_cookies`) nor sent.

How it keeps the limits of the transport contract:

- **Deadline.** httpx's read timeout bounds each socket read, so a drip of
  bytes would hold a request for ever. Every connection of a client this
  transport owns goes through `DeadlineBackend`, a wrapper of httpcore's own
  network backend whose connect, TLS handshake, reads and writes each get at
  most the time left (`batchdelete.guards.time_left`, set for the thread by
  `deadline_scope` around each send), then raise httpcore's timeouts, which
  httpx reports as its own. The wait for a pooled connection is bounded too.
  httpx does not let one choose the backend, so `_install_backend` sets it on
  the pool of every httpx transport the client holds (the proxies' pools
  included), and refuses (at construction, with a clear error) an httpx that
  changed these internals. Not bounded: the system resolver's name lookup
  before connecting.
- **Body cap.** The response is streamed and its raw, still encoded bytes
  (`iter_raw`) go into `batchdelete.guards.BodyReader`, which decodes gzip and
  deflate under the caps; httpx decodes nothing. A response not read to its
  end is closed, and httpcore then drops its connection.
- **Failed connections.** What httpcore 1.0 leaves behind a failed
  request (a CONNECT tunnel whose TLS handshake failed or was interrupted
  keeps its pool slot for ever; an interrupted handshake, its socket) is
  closed: the request's httpcore `trace` hook (`Opened`) notes the
  connection it opened (and marks a failed TCP connect: to the proxy).
- **Framing** is h11's, which refuses malformed status lines, header lines,
  chunk sizes and content-lengths at once (tests/test_httpx_transport.py);
  what it lets by (control bytes other than NUL, CR, LF in a header value;
  transfer-encoding with content-length) is refused here, before the body.
- **Fork.** Used in a child made by `os.fork()`, a transport that owns its
  clients builds new ones there (with the same options, every route) and
  neither uses nor closes the parent's connections.

A user's own `httpx.Client` is used as it is, with no connection options:
the deadline while connecting and reading the head then depends on that
client; the body cap and a deadline check between body chunks still apply.
A body its transport already read into memory (MockTransport's
`Response(content=...)`) is taken as httpx decoded it, under the same cap.
"""

from __future__ import annotations

import contextlib
import functools
import http.cookiejar
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple
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
from batchdelete.guards import (
    BodyReader,
    deadline_scope,
    deadline_tls,
    head_problem,
    mask_userinfo,
    time_left,
)
from batchdelete.hookspecs import RegisterTransport

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


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        HttpxTransport,
        library="httpx",
        install="pip install 'batchdelete[httpx]'",
        native_types=("httpx.Client",),
        takes_options=True,
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


class _Route(NamedTuple):
    client: httpx.Client
    proxy: str | None  # the proxy's host:port, for messages; None: direct


class _Clients(NamedTuple):
    """The httpx clients in use, and the process they belong to."""

    pid: int | None  # None: the user's client, never replaced
    by_proxy: dict[str | None, httpx.Client]  # None: direct (or the user's client)
    by_origin: dict[str, _Route]  # the route of each origin, once decided


# Replacing the clients after a fork happens under this lock; a new one in
# each child, in case another thread of the parent held it at the fork.
_renew_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _renew_lock
    _renew_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


class HttpxTransport(Transport):
    """Sends through a sync `httpx.Client`: its own (redirects off, no
    retries, TLS verified, environment read once when it is built, every
    connection under the deadline), or the one passed in, used as it is
    (MockTransport included) and not closed."""

    name = NAME

    def __init__(
        self, client: httpx.Client | None = None, options: ConnectionOptions | None = None
    ) -> None:
        import httpx

        self.library_version = httpx.__version__
        self.exceptions = exception_map()
        self._request = httpx.Request
        self._owned = client is None
        self._options = options if options is not None else ConnectionOptions()
        self._abandoned: list[_Clients] = []  # a parent's: kept, so no finaliser runs here
        if client is None:
            self._clients = _own_clients(self._options)
        else:
            self._clients = _Clients(None, {None: client}, {})

    def _clients_now(self) -> _Clients:
        """The clients of this process: new ones in a child after a fork."""
        clients = self._clients
        if clients.pid is None or clients.pid == os.getpid():
            return clients
        with _renew_lock:
            clients = self._clients
            if clients.pid != os.getpid():
                self._abandoned.append(clients)  # never used nor closed here
                clients = _own_clients(self._options)
                self._clients = clients
        return clients

    @property
    def _client(self) -> httpx.Client:
        """The direct client of this process (tests look at it)."""
        return self._clients_now().by_proxy[None]

    def _route(self, url: str) -> _Route:
        clients = self._clients_now()
        origin = origin_of(url)
        route = clients.by_origin.get(origin)
        if route is None:
            proxy = self._options.proxy_for(origin) if clients.pid is not None else None
            route = _Route(clients.by_proxy[proxy], proxy_name(proxy) if proxy else None)
            if len(clients.by_origin) < MAX_ORIGINS:
                clients.by_origin[origin] = route
        return route

    def send(self, spec: RequestSpec) -> RawResponse:
        client, proxy = self._route(spec.url)
        connect, read, reading = spec.timeout.connect, spec.timeout.read, False
        try:
            # Ours: a bare request (the spec's headers only); a user's client adds its own.
            build = self._request if self._owned else client.build_request
            request = build(spec.method, spec.url, headers=spec.headers, content=spec.body)
            # The wait for a free connection of the pool is bounded by the deadline,
            # not by the connect timeout (which bounds connecting, as elsewhere).
            pool: float | None = None
            if spec.deadline is not None:
                pool = spec.deadline - time.monotonic()
                if pool <= 0:
                    raise TransportTimeoutError("The request's deadline passed before it was sent.")
            timeouts = {"connect": connect, "read": read, "write": read, "pool": pool}
            request.extensions["timeout"] = timeouts
            opened = request.extensions["trace"] = Opened()
            reading = True
            with deadline_scope(spec.deadline):
                try:
                    response = client.send(request, stream=True, follow_redirects=False)
                except BaseException:
                    for leftover in opened.leftovers(client) if self._owned else ():
                        with contextlib.suppress(Exception):
                            leftover.close()
                    raise
                try:
                    return self._read(response, spec)
                finally:
                    response.close()  # before the end of the body: the connection is dropped
        except TransportError:
            raise
        except Exception as exc:
            mapped = self._failure(exc, reading)
            if proxy is not None and mapped is not None:
                mapped = proxy_failure(exc, proxy) or mapped
            if mapped is None:
                raise
            raise mapped from exc

    def _read(self, response: httpx.Response, spec: RequestSpec) -> RawResponse:
        status = response.status_code
        headers = checked_headers(response)
        if response.is_stream_consumed:
            return body_in_memory(response, headers, spec)
        reader = _reader(status, headers, spec)
        deadline = spec.deadline
        for chunk in response.iter_raw():
            if not reader.feed(chunk):
                break  # an error body, kept up to its cap
            if deadline is not None and time.monotonic() >= deadline:
                # Our own clients' reads stop at the deadline already; this
                # bounds a user's client between chunks.
                raise TransportTimeoutError("The request's deadline passed while reading the body.")
        return RawResponse(status, headers, reader.finish())

    def _failure(self, exc: Exception, reading: bool) -> TransportError | None:
        """The core error for what building, sending or reading raised, or
        None for a bug of ours or of a user's transport."""
        mapped = self.translate(exc)
        if mapped is not None or not reading:
            return mapped
        if isinstance(exc, TimeoutError):
            return TransportTimeoutError(f"The request's deadline passed: {exc}")
        if isinstance(exc, READ_FAILURES):
            return TransportProtocolError(
                f"The response could not be read ({type(exc).__name__}: {exc})."
            )
        return None

    def close(self) -> None:
        if self._owned:
            clients = self._clients
            if clients.pid == os.getpid():  # a parent's clients are the parent's to close
                for client in clients.by_proxy.values():
                    client.close()


def _reader(status: int, headers: dict[str, str], spec: RequestSpec) -> BodyReader:
    return BodyReader(status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body)


# -- shared with the async transport (batchdelete_httpx_async) -------------------------


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
    reader = _reader(response.status_code, plain, spec)
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


def _own_clients(options: ConnectionOptions) -> _Clients:
    """The clients of a transport that owns them: a direct one, and one per
    proxy URL the options name; none reads the environment."""
    import httpx

    tls = deadline_tls(options.ssl_context())

    def build(proxy: str | None) -> httpx.Client:
        client = httpx.Client(**client_settings(options, proxy, tls), cookies=no_cookies())
        _install_backend(client)
        return client

    proxies = [None, *sorted(set(options.proxies.values()))]
    return _Clients(os.getpid(), {proxy: build(proxy) for proxy in proxies}, {})


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


def _install_backend(client: httpx.Client) -> None:
    """Put the deadline backend under every connection pool of `client`.

    httpx does not expose httpcore's `network_backend`. The pool of each
    `httpx.HTTPTransport` (`_pool`: a ConnectionPool, or an HTTPProxy or
    SOCKSProxy for a proxy from the environment) reads `_network_backend`
    whenever it opens a connection; the client holds a default transport
    (`_transport`) and one per mount (`_mounts`; None means the default).
    Called before any connection exists. Should httpx move these, the
    transport is refused here rather than run without a deadline.
    """
    import httpx

    mounts = getattr(client, "_mounts", None)
    transports = [getattr(client, "_transport", None)]  # None when missing: refused below
    transports += [t for t in mounts.values() if t] if isinstance(mounts, dict) else [None]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(transport, httpx.HTTPTransport) or pool is None or backend is None:
            raise RuntimeError(
                f"httpx {httpx.__version__} no longer has Client._transport._pool."
                "_network_backend (nor _mounts), which the httpx transport needs to keep "
                "request deadlines: install an httpx version this batchdelete supports, "
                "or use another transport (transport='urllib3')."
            )
        pool._network_backend = _deadline_backend()(backend)


@functools.cache
def _deadline_backend() -> Callable[[httpcore.NetworkBackend], httpcore.NetworkBackend]:
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
