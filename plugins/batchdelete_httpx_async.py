"""The async httpx transport of batchdelete, for `AsyncClient`
(`pip install 'batchdelete[httpx]'`).

Registered as "httpx", like the sync transport (the registry keeps the two
kinds apart), through the same entry-point group as any third-party plugin.
httpx is imported only when a transport is built. What it shares with the
sync transport comes from `batchdelete_httpx_common`: the exception map, the
client settings of a route, the head check, the errors naming a proxy, the
cookie jar that keeps nothing, and the trace hook that notes the
connection a request opens.

Its own clients are `httpx.AsyncClient`s built from the connection options
(`batchdelete.ConnectionOptions`) as the sync transport builds its clients:
one per route (direct, or through each proxy the options name, asked of
`proxy_for()` once per origin), `verify=` the options' one TLS context, at
most `max_connections` connections a route, redirects off, the environment
never read (`trust_env=False`), no cookie ever kept or sent back. They are
created on the first `send()`, inside its event loop, and bound to it: a
`send()` from another loop is a `ConfigurationError`, never a hang.

The request is built bare, as the sync transport builds it: exactly the
spec's headers, plus Host and Content-Length.

How it keeps the limits of the transport contract:

- **Deadline.** The whole send (waiting for a pooled connection, connecting,
  TLS, the head, the body) runs under `batchdelete.guards.async_deadline`,
  which cancels it at `spec.deadline`: cancellation reaches every await, so
  no network backend of our own is needed (the sync transport has one
  because a thread cannot be interrupted). The connect and read timeouts
  of the spec bound each step. Not bounded: nothing the caller waits for;
  the system resolver's lookup runs in a thread of the loop's executor,
  which the deadline abandons rather than stops.
- **Cancellation.** A send cancelled anywhere (the deadline or the caller)
  leaves no connection half-used: httpcore closes a connection whose
  request was cancelled before the response came, and a response not read
  to its end is closed here, which makes httpcore drop its connection.
  Where httpcore 1.0 does not (a TLS handshake cancelled: the socket stays
  open; a TLS handshake through a CONNECT tunnel failed or cancelled: the
  tunnel keeps its pool slot for ever), the connection the request opened,
  noted by httpcore's `trace` hook, is closed here (`Opened.leftovers`, as
  in the sync transport). The transport starts no task.
- **Body cap.** The response is streamed and its raw, still encoded bytes
  (`aiter_raw`) go into `batchdelete.guards.BodyReader`, which decodes gzip
  and deflate under the caps; httpx decodes nothing.
- **Framing** is h11's, as for the sync transport, with the same check
  (`head_problem`) of what h11 lets by, before the body.
- **Errors.** Every httpx exception is mapped in `send()`, by the base
  class's `mapped_errors()`; a proxy that cannot be reached or refuses the
  tunnel (407...) is then named by its host and port, never its password
  (the same hook marks a failed TCP connect, which with a proxy is always
  to the proxy).

A user's own `httpx.AsyncClient` is used as it is (its headers, auth and
mounts; no connection options) and never closed; the deadline and the body
cap still apply. A body its transport already read into memory
(MockTransport's `Response(content=...)`) is taken as httpx decoded it,
under the same cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from batchdelete import (
    AsyncTransport,
    ConfigurationError,
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.guards import BodyReader, async_deadline, exception_chain
from batchdelete.hookspecs import RegisterTransport
from batchdelete_httpx_common import (
    CONNECTING,
    MAX_ORIGINS,
    NAME,
    READ_FAILURES,
    Opened,
    body_in_memory,
    checked_headers,
    client_settings,
    exception_map,
    no_cookies,
    origin_of,
    proxy_failure,
    proxy_name,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxAsyncTransport", "register_transports"]


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        HttpxAsyncTransport,
        library="httpx",
        install="pip install 'batchdelete[httpx]'",
        native_types=("httpx.AsyncClient",),
        takes_options=True,
        asynchronous=True,
    )


class _Route(NamedTuple):
    client: httpx.AsyncClient
    proxy: str | None  # the proxy's host:port, for messages; None: direct
    owned: bool  # our client: the request is built bare (only the spec's headers)


class HttpxAsyncTransport(AsyncTransport):
    """Sends through an `httpx.AsyncClient`: its own (built in the event
    loop of the first send and bound to it), or the one passed in, used as
    it is (MockTransport included) and not closed."""

    name = NAME
    keeps_deadline = True  # the whole send is under async_deadline

    def __init__(
        self, client: httpx.AsyncClient | None = None, options: ConnectionOptions | None = None
    ) -> None:
        import httpx

        self.library_version = httpx.__version__
        self.exceptions = exception_map()
        self._request = httpx.Request
        self._options = options if options is not None else ConnectionOptions()
        self._native = None if client is None else _Route(client, None, False)
        self._clients: dict[str | None, httpx.AsyncClient] = {}  # by proxy URL; None: direct
        self._routes: dict[str, _Route] = {}  # by origin, once decided
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bind_lock = threading.Lock()
        self._closed = False

    # -- the event loop and the routes -------------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Tie the transport to `loop`, the loop of its first send."""
        with self._bind_lock:
            if self._loop is None:
                self._loop = loop
        if self._loop is not loop:
            raise ConfigurationError(
                "This httpx async transport is used from another event loop than the one "
                "of its first request; its connections belong to that loop. Create one "
                "AsyncClient (or transport) per event loop, inside the loop that uses it."
            )

    def _route(self, url: str) -> _Route:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        if self._closed:
            raise ConfigurationError("This httpx async transport is closed.")
        if self._native is not None:
            return self._native
        origin = origin_of(url)
        route = self._routes.get(origin)
        if route is None:
            proxy = self._options.proxy_for(origin)
            client = self._clients.get(proxy)
            if client is None:
                client = self._clients[proxy] = self._build(proxy)
            route = _Route(client, proxy_name(proxy) if proxy else None, True)
            if len(self._routes) < MAX_ORIGINS:
                self._routes[origin] = route
        return route

    def _build(self, proxy: str | None) -> httpx.AsyncClient:
        import httpx

        settings = client_settings(self._options, proxy, self._options.ssl_context())
        return httpx.AsyncClient(**settings, cookies=no_cookies())

    # -- sending -----------------------------------------------------------------------

    async def send(self, spec: RequestSpec) -> RawResponse:
        route = self._route(spec.url)
        try:
            with self.mapped_errors():
                if spec.deadline is not None and spec.deadline <= time.monotonic():
                    raise TransportTimeoutError("The request's deadline passed before it was sent.")
                async with async_deadline(spec.deadline):
                    return await self._exchange(route, spec)
        except TransportError as error:
            cause = error.__cause__
            named = None if route.proxy is None else _proxy_error(error, route.proxy)
            if named is None:
                raise
            raise named from cause

    async def _exchange(self, route: _Route, spec: RequestSpec) -> RawResponse:
        client = route.client
        # Ours: a bare request (the spec's headers only); a user's client adds its own.
        build = self._request if route.owned else client.build_request
        request = build(spec.method, spec.url, headers=spec.headers, content=spec.body)
        connect, read = spec.timeout.connect, spec.timeout.read
        # The pool wait: under the deadline (async_deadline), not the connect timeout.
        timeouts = {"connect": connect, "read": read, "write": read, "pool": None}
        request.extensions["timeout"] = timeouts
        opened = request.extensions["trace"] = _AsyncOpened()
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except BaseException:
            for leftover in opened.leftovers(client) if route.owned else ():
                with contextlib.suppress(Exception):
                    await leftover.aclose()
            raise
        try:
            return await self._read(response, spec)
        finally:
            await response.aclose()  # before the end of the body: the connection is dropped

    async def _read(self, response: httpx.Response, spec: RequestSpec) -> RawResponse:
        status = response.status_code
        headers = checked_headers(response)
        if response.is_stream_consumed:
            return body_in_memory(response, headers, spec)
        reader = BodyReader(
            status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body
        )
        try:
            async for chunk in response.aiter_raw():
                if not reader.feed(chunk):
                    break  # an error body, kept up to its cap
        except READ_FAILURES as exc:  # a user's transport broke while reading
            raise TransportProtocolError(
                f"The response could not be read ({type(exc).__name__}: {exc})."
            ) from exc
        return RawResponse(status, headers, reader.finish())

    async def close(self) -> None:
        """Close the clients this transport built (in their event loop);
        a user's client is left open. Safe to call twice."""
        self._closed = True
        if not self._clients:
            return
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop() and not loop.is_closed():
            raise ConfigurationError(
                "Close this httpx async transport in the event loop that used it."
            )
        clients = list(self._clients.values())
        self._clients.clear()
        self._routes.clear()
        if loop is not None and loop.is_closed():
            return  # the loop is gone, and its connections with it
        for client in clients:
            await client.aclose()


def _proxy_error(error: TransportError, proxy: str) -> TransportError | None:
    """The error naming the proxy (host:port) when it failed the request:
    unreachable, refusing the tunnel, or silent until the deadline while
    being connected to; else None."""
    cause = error.__cause__
    if cause is None:
        return None
    named = proxy_failure(cause, proxy)
    connecting = any(getattr(e, CONNECTING, False) for e in exception_chain(cause))
    if named is None and connecting and isinstance(error, TransportTimeoutError):
        named = TransportTimeoutError(
            f"The proxy {proxy} did not answer in time: the request's deadline passed "
            "while connecting to it."
        )
    return named


class _AsyncOpened(Opened):
    """`Opened`, for httpcore's async connections."""

    __slots__ = ()

    async def __call__(self, event: str, info: dict[str, Any]) -> None:  # type: ignore[override]
        self.note(event, info)
