"""The aiohttp transport of batchdelete, for `AsyncClient`
(`pip install 'batchdelete[aiohttp]'`); aiohttp is imported only when a
transport is built.

Why aiohttp: the asyncio HTTP/1.1 client with the least overhead a request
(llhttp and a writer in C, a pool limited per host), with proxies (CONNECT
and absolute form) and TLS on asyncio's `ssl`; first in the async order.

Its own `ClientSession` is made on the first `send()`, in that event loop,
and bound to it (another loop: `ConfigurationError`, never a hang). It never
reads the environment (`trust_env=False`), keeps no cookie, follows no
redirect and adds no header: the server gets the spec's headers, Host and
Content-Length, and the URL byte for byte (`yarl.URL(encoded=True)`).
Options (`ConnectionOptions`, resolved once per client): the options' one
TLS context for every connection (an https:// proxy's too); `proxy_for()`
once per origin, the proxy URL's credentials sent as `Proxy-Authorization`
(on the CONNECT, or on the absolute-form request) and kept out of every
URL, pool key and message of aiohttp (masked in the `__cause__`), a proxy
refusing the tunnel or out of reach named by host:port (a 407 to plain
http is the status it is); `max_connections` as `limit_per_host`.

How it keeps the limits of the transport contract:

- **Deadline.** The whole send (pool wait, name lookup, connect, tunnel,
  TLS, head, body) runs under `guards.async_deadline`, cancelled at
  `spec.deadline` with `TransportTimeoutError`; a deadline already passed
  sends nothing. The spec's connect and read timeouts bound each step.
- **Cancellation.** aiohttp closes a connection whose request or head was
  interrupted; a response not read to its end is closed here, never
  released; a request without a body starts no task.
- **Body cap.** `auto_decompress=False` on every request (a user's session
  too): `resp.content`, `READ_SIZE` at a time, goes raw into `BodyReader`.
- **Framing.** llhttp (or aiohttp's Python parser) refuses a bad status
  line, a header line without a colon, NUL or CR in a value, a bad chunk
  size, a negative content-length, transfer-encoding with content-length,
  and bounds the head (8190-byte lines, 128 headers). What it lets through
  is refused before the body: other control bytes in a value; a
  transfer-encoding other than one `chunked` (`gzip` would be read to the
  end of the connection); a header name that is not a token (llhttp takes
  `content-length :` as the length); conflicting content-lengths (the
  Python parser takes the first); a version other than HTTP/1.0 and 1.1.
  And aiohttp puts a connection back in its pool as soon as the body is
  in, before any check: its sessions here hold it (`_held_response`).
- **No retries.** aiohttp's resend of a broken idempotent request is off.
- **Errors.** Mapped in one place (`exceptions`, `translate()`, under
  `mapped_errors()`); a malformed answer in the parser's words, not as
  aiohttp's "400".

A user's `ClientSession` is used as it is (connector, TLS, proxy, headers,
cookies, its one retry) and never closed; each request still gets the
spec's timeouts, no redirects, raw bytes, no raise_for_status, the body cap
and the deadline; a refused head's connection may be back in its pool.

Not bounded: the resolver's thread (`getaddrinfo`), abandoned at the
deadline, not stopped.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from batchdelete import (
    AsyncTransport,
    ConfigurationError,
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.guards import (
    READ_SIZE,
    BodyReader,
    async_deadline,
    exception_chain,
    head_problem,
    mask_userinfo,
)
from batchdelete.hookspecs import RegisterTransport
from batchdelete_aiohttp_support import (
    DIRECT,
    Route,
    exception_map,
    mask_proxy_credentials,
    proxy_route,
)

if TYPE_CHECKING:
    import aiohttp

NAME = "aiohttp"
MAX_ORIGINS = 64  # origins whose route is remembered
#: aiohttp's default request headers, never sent: only the spec's go out.
SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(
        NAME,
        AiohttpTransport,
        library="aiohttp",
        install="pip install 'batchdelete[aiohttp]'",
        native_types=("aiohttp.client.ClientSession",),
        takes_options=True,
        asynchronous=True,
    )


class AiohttpTransport(AsyncTransport):
    """Sends through an `aiohttp.ClientSession`: its own (created in the
    loop of the first send, options applied, no retries, redirects,
    decompression, cookies or environment), or the one passed in, used as
    it is and not closed."""

    name = NAME
    keeps_deadline = True  # the whole send is under async_deadline

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        options: ConnectionOptions | None = None,
    ) -> None:
        import aiohttp

        self.library_version = aiohttp.__version__
        self.exceptions = exception_map()
        self._owned = session is None
        self._session = session
        self._loop: asyncio.AbstractEventLoop | None = getattr(session, "_loop", None)
        self._closed = False
        self._routes: dict[str, Route] = {}
        # A user's session is told per request (set once on our own session).
        self._skip = None if self._owned else SKIP_AUTO_HEADERS
        self._options = options if options is not None else ConnectionOptions()
        self._tls: Any = self._options.ssl_context() if self._owned else None
        tunnel = urlsplit(self._options.proxies.get("https", "")).netloc.rpartition("@")[2]
        self._tunnel_proxy = tunnel if tunnel and self._owned else "in use"  # host:port

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """The session, created in `loop` on the first call; only `loop` may use it."""
        session = self._session
        if session is None:
            if self._closed:
                raise ConfigurationError("This aiohttp transport is closed: build a new client.")
            session = self._session = self._new_session()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise ConfigurationError(
                "This aiohttp transport is bound to the event loop of its first request (an "
                "aiohttp session cannot move between loops): use the client within one event "
                "loop (one asyncio.run()), or build one client per loop."
            )
        if session.closed:
            raise ConfigurationError(
                "The aiohttp.ClientSession given as transport= is closed: pass an open one."
            )
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            ssl=self._tls, limit=0, limit_per_host=self._options.max_connections
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None),
            response_class=_held_response(),
        )
        # aiohttp resends an idempotent request once when its connection
        # breaks (the attribute came with that retry; a test checks for none).
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    def _route(self, url: str) -> Route:
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        route = self._routes.get(origin)
        if route is None:
            proxy = self._options.proxy_for(origin) if self._owned else None
            route = DIRECT if proxy is None else proxy_route(proxy, origin)
            if len(self._routes) < MAX_ORIGINS:
                self._routes[origin] = route
        return route

    async def send(self, spec: RequestSpec) -> RawResponse:
        session = self._session_for(asyncio.get_running_loop())
        if spec.deadline is not None and time.monotonic() >= spec.deadline:
            raise TransportTimeoutError(
                "The attempt's deadline passed before the request was sent."
            )
        arguments, authorization = self._route(spec.url)
        headers = spec.headers
        if authorization is not None:
            headers = {**headers, "proxy-authorization": authorization}
        with self.mapped_errors():
            async with async_deadline(spec.deadline):
                response = await session.request(
                    spec.method,
                    _url(spec.url),
                    headers=headers,
                    data=spec.body,
                    allow_redirects=False,
                    auto_decompress=False,
                    raise_for_status=False,
                    skip_auto_headers=self._skip,
                    timeout=_timeout(spec.timeout.connect, spec.timeout.read),
                    **arguments,
                )
                reusable = False
                try:
                    raw, reusable = await _read(response, spec)
                    return raw
                finally:
                    if reusable:  # read to its end: the connection goes back to the pool
                        response.release()
                    else:  # a cap, an error, a cancellation: the connection is closed
                        response.close()

    def translate(self, exc: BaseException) -> TransportError | None:
        """`AsyncTransport.translate`, and: proxy credentials masked in the
        original exception; a proxy's refusal named; a malformed answer in
        the parser's words."""
        mask_proxy_credentials(exc)
        mapped = super().translate(exc)
        if mapped is None or isinstance(
            mapped, (TransportCertificateError, TransportResponseTooLargeError)
        ):
            return mapped
        import aiohttp
        from aiohttp.http_exceptions import HttpProcessingError

        if isinstance(exc, aiohttp.ClientHttpProxyError):
            mapped = TransportConnectError(
                f"The proxy {self._tunnel_proxy} refused the tunnel: {exc.status} {exc.message}."
            )
        elif isinstance(exc, aiohttp.ClientProxyConnectionError):
            mapped = TransportConnectError(
                f"The proxy {exc.host}:{exc.port} cannot be reached: {exc.os_error}."
            )
        else:
            found = [e for e in exception_chain(exc) if isinstance(e, HttpProcessingError)]
            if found:  # the innermost says what was wrong
                cause = next((e for e in found if type(e) is not HttpProcessingError), found[0])
                words = " ".join(w for w in str(cause.message).split() if w.strip("^"))
                mapped = TransportProtocolError(
                    f"The response is malformed: {type(cause).__name__}: {words}"
                )
        mapped.args = (mask_userinfo(str(mapped)),)
        return mapped

    async def close(self) -> None:
        session = self._session
        if not self._owned or session is None:
            self._closed = True
            return
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop() and not loop.is_closed():
            raise ConfigurationError(
                "This aiohttp transport must be closed in the event loop it was used in."
            )
        self._session, self._closed = None, True
        await session.close()  # a closed loop's connections: aiohttp leaves them to the GC


async def _read(response: aiohttp.ClientResponse, spec: RequestSpec) -> tuple[RawResponse, bool]:
    """The response, its head checked and its body read under the caps, and
    whether it was read to its end (its connection may then be reused)."""
    items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
    problem = head_problem(items) or _head_problem(response)
    if problem is not None:
        raise TransportProtocolError(f"The response is malformed: {problem}.")
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    reader = BodyReader(
        response.status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body
    )
    content = response.content
    while not content.at_eof():
        if not reader.feed(await content.read(READ_SIZE)):
            break  # an error body, kept up to its cap
    return RawResponse(response.status, headers, reader.finish()), reader.complete


def _head_problem(response: aiohttp.ClientResponse) -> str | None:
    """What aiohttp's parsers let through and `head_problem` does not see."""
    version = response.version
    if version is None or (version.major, version.minor) not in ((1, 1), (1, 0)):
        return f"unsupported HTTP version {version}"
    for name, _ in response.raw_headers:
        if not _TOKEN.fullmatch(name):
            return f"invalid header name {name[:40]!r}"
    return None


@functools.cache
def _held_response() -> type[aiohttp.ClientResponse]:
    import aiohttp

    class HeldResponse(aiohttp.ClientResponse):
        """A response whose connection goes back to the pool when the
        transport says so (`release()`, once the head is checked and the body
        read), not as soon as the body is in: a refused head's is closed."""

        def _response_eof(self) -> None:
            pass

    return HeldResponse


@functools.lru_cache(maxsize=32)
def _timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    import aiohttp

    # `connect` in aiohttp also counts the wait for a free connection of the pool;
    # `sock_connect` is the connecting only, as in the other transports (the pool
    # wait is bounded by the deadline).
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect, sock_read=read)


def _url(url: str) -> Any:
    """The URL as aiohttp sends it: as given (already encoded by the core)."""
    import yarl

    return yarl.URL(url, encoded=url.isascii())
