"""The transport contract and the raw response a transport returns."""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Iterator, Mapping

import msgspec

from ._errors import (
    TransportCertificateError,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
)
from ._spec import RequestSpec

__all__ = [
    "AsyncTransport",
    "RawResponse",
    "Transport",
    "TransportCertificateError",
    "TransportConnectError",
    "TransportError",
    "TransportProtocolError",
    "TransportTimeoutError",
    "exception_chain",
    "is_loopback_host",
]


class RawResponse(msgspec.Struct, frozen=True):
    """One HTTP response: status, headers with lower-case names (repeated
    headers joined with ", "), and the whole body, already decompressed."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def is_loopback_host(host: str) -> bool:
    """Whether `host` is this machine: localhost (and *.localhost), an
    address in 127.0.0.0/8, or ::1 (brackets allowed).

    Owned transports never send a request for such a host through a proxy
    found in the environment: a local emulator or test server is never
    behind the corporate proxy that HTTP_PROXY names.
    """
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception behind it, once each, a bounded number.

    Libraries wrap differently (httpx and httpcore chain the cause, urllib3
    keeps it as a `reason` or an argument), so all of these are followed.
    """
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < 32:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        todo.extend(e for e in (*linked, *current.args) if isinstance(e, BaseException))


def _find_in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in `exc`'s chain, if any."""
    return next((e for e in exception_chain(exc) if isinstance(e, kind)), None)


def certificate_failure(exc: BaseException) -> BaseException | None:
    """The `ssl.SSLCertVerificationError` behind a library's exception, if any."""
    ssl = sys.modules.get("ssl")
    if ssl is None:  # TLS never started in this process
        return None
    return _find_in_chain(exc, ssl.SSLCertVerificationError)


#: Called with a library's exception and what `translate()` made of it
#: (maybe None); returns the error to raise instead (None: leave it alone).
Refine = Callable[[Exception, "TransportError | None"], "TransportError | None"]


class _MappedErrors:
    __slots__ = ("_refine", "_transport")

    def __init__(self, transport: _Mapping, refine: Refine | None) -> None:
        self._transport = transport
        self._refine = refine

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, TransportError) or not isinstance(exc, Exception):
            return
        mapped = self._transport.translate(exc)
        if self._refine is not None:
            mapped = self._refine(exc, mapped)
        if mapped is not None:
            raise mapped from exc


class _Mapping:
    """What sync and async transports share: their name, their library's
    version, and the mapping of the library's exceptions to core errors."""

    name: str = "transport"
    library_version: str = "0"
    #: Library exception class -> core error class. `translate()` picks the
    #: entry of the most specific class of an exception; the contract suite
    #: checks that every exception class of the library has an entry.
    exceptions: Mapping[type[BaseException], type[TransportError]] = {}

    def translate(self, exc: BaseException) -> TransportError | None:
        """The core error for a library exception, or None if it is unknown."""
        failure = certificate_failure(exc)
        if failure is not None:
            detail = getattr(failure, "verify_message", None) or str(failure)
            return TransportCertificateError(str(detail))
        guards = sys.modules.get("batchdelete.guards")
        if guards is not None:
            found = _find_in_chain(exc, guards.TransportResponseTooLargeError)
            if found is not None:
                return found  # type: ignore[return-value]
            found = _find_in_chain(exc, guards.ProtocolViolationError)
            if found is not None:
                return TransportProtocolError(f"The response is malformed: {found}.")
        for cls in type(exc).__mro__:
            target = self.exceptions.get(cls)
            if target is not None:
                return target(f"{type(exc).__name__}: {exc}")
        return None

    def mapped_errors(self, refine: Refine | None = None) -> _MappedErrors:
        """A context manager for a block of library calls: what the block
        raises is raised as the core error `translate()` finds, `from` the
        original; a `TransportError` passes as it is, and an exception
        `translate()` does not know is left alone (the client reports it as
        an unexpected failure). `asyncio.CancelledError` and
        KeyboardInterrupt always pass. `refine` adds what only the request
        knows (the proxy it went through, say). A plain object, not a
        generator: it runs on every request."""
        return _MappedErrors(self, refine)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}/{self.library_version}>"


class Transport(_Mapping):
    """Base class of transports: one HTTP library behind one method.

    A transport sends one `RequestSpec` and returns a `RawResponse`. The
    contract, which the contract suite checks for every registered transport:

    - `send()` sends exactly the method, URL, headers and body of the spec,
      with the spec's connect and read timeouts, and returns the status,
      headers and the body, whatever the status.
    - It ends by `spec.deadline` (a `time.monotonic()` value) whatever the
      server does (silence, a drip of bytes in the head or the body, endless
      interim answers, an endless body), raising `TransportTimeoutError`.
      `batchdelete.guards.deadline_scope` with `DeadlineSocket` or
      `deadline_tls` does it for libraries on the standard library's sockets.
    - It reads the body incrementally, as raw (still encoded) bytes, into a
      `batchdelete.guards.BodyReader`, which decodes gzip and deflate under
      the caps: a 2xx body over `spec.max_body` raises
      `TransportResponseTooLargeError`; an error body is cut at
      `spec.max_error_body`. A connection whose body was not read to its end
      is discarded, never reused.
    - It refuses malformed framing at once (`TransportProtocolError`): an
      invalid status line or chunk size, a header line without a colon, a
      control byte in a header value, a negative or conflicting
      content-length. Libraries on http.client get this from
      `batchdelete.guards.StrictHTTPResponse`.
    - After `os.fork()`, a transport that owns its connections starts with
      none in the child, leaving the parent's sockets alone.
    - It never raises on an HTTP status, never retries (the library's own
      retries are off) and never follows a redirect: a 3xx is returned.
    - It reuses connections (keep-alive) and is safe to call from several
      threads at once.
    - It reads the environment (proxies, CA bundle) at most once, when it
      builds a client of its own, never per request.
    - Every exception of its library is mapped, in one place, to
      `TransportConnectError`, `TransportTimeoutError`,
      `TransportProtocolError`, or `TransportError` for anything else,
      raised `from` the original; `translate()` does it from `exceptions`
      (`with self.mapped_errors():` around the library's calls), and turns
      a failed certificate verification, however wrapped, into
      `TransportCertificateError`.
    - It never logs or exposes the request headers (they hold the API key).
    - `close()` releases what the transport created; a native client handed
      in by the user (a requests Session, an httpx Client, a urllib3
      PoolManager) is not the transport's to close.

    `name` is the name it is registered under; `library_version` is the
    version of its HTTP library. Both go into the user agent.
    """

    def send(self, spec: RequestSpec) -> RawResponse:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections the transport owns. Safe to call twice."""


class AsyncTransport(_Mapping):
    """Base class of async transports: one asyncio HTTP library behind one
    coroutine. The contract is `Transport`'s, with these differences:

    - `send()` is a coroutine, and `close()` too.
    - The deadline: a transport that ends by `spec.deadline` itself
      (`batchdelete.guards.async_deadline` around its work) says so with
      `keeps_deadline = True`; for any other, `AsyncClient` cancels a
      `send()` still running at the deadline. Either way (and the user may
      cancel a call at any time) a transport must be cancellation-safe: a
      cancelled send leaves no connection half-used in its pool (httpx and
      aiohttp close such a connection) and no task behind.
    - Its library's client is created lazily, inside the event loop of the
      first `send()`, and bound to that loop; a call from another loop is a
      `ConfigurationError`, never a hang.
    - `os.fork()` does not apply: an event loop does not survive it.
    """

    #: `send()` ends by `spec.deadline` by itself (see above).
    keeps_deadline: bool = False

    async def send(self, spec: RequestSpec) -> RawResponse:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections the transport owns. Safe to call twice."""
