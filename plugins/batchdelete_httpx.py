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
import os
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

from batchdelete import (
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    Transport,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.guards import deadline_scope, deadline_tls
from batchdelete.hookspecs import RegisterTransport
from batchdelete_httpx_common import (
    MAX_ORIGINS,
    NAME,
    READ_FAILURES,
    Opened,
    body_in_memory,
    body_reader,
    checked_headers,
    client_settings,
    deadline_backend,
    exception_map,
    no_cookies,
    origin_of,
    proxy_failure,
    proxy_name,
)

if TYPE_CHECKING:
    import httpx


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


if hasattr(os, "register_at_fork"):  # pragma: no branch - CPython on POSIX has it
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
        connect, read = spec.timeout.connect, spec.timeout.read
        reading = False  # once the request is built: what else it raises is the server's

        def refine(exc: Exception, mapped: TransportError | None) -> TransportError | None:
            mapped = mapped or (self._read_failure(exc) if reading else None)
            if proxy is not None and mapped is not None:
                mapped = proxy_failure(exc, proxy) or mapped
            return mapped

        with self.mapped_errors(refine):
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

    def _read(self, response: httpx.Response, spec: RequestSpec) -> RawResponse:
        status = response.status_code
        headers = checked_headers(response)
        if response.is_stream_consumed:
            return body_in_memory(response, headers, spec)
        reader = body_reader(status, headers, spec)
        deadline = spec.deadline
        for chunk in response.iter_raw():
            if not reader.feed(chunk):
                break  # an error body, kept up to its cap
            if deadline is not None and time.monotonic() >= deadline:
                # Our own clients' reads stop at the deadline already; this
                # bounds a user's client between chunks.
                raise TransportTimeoutError("The request's deadline passed while reading the body.")
        return RawResponse(status, headers, reader.finish())

    @staticmethod
    def _read_failure(exc: Exception) -> TransportError | None:
        """What sending or reading raised that httpx does not map: the
        deadline, or a response that broke the reading; None for a bug of
        ours or of a user's transport."""
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
        pool._network_backend = deadline_backend()(backend)
