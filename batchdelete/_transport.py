"""The transport contract and the raw response a transport returns."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from ._errors import (
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
)
from ._spec import RequestSpec

__all__ = [
    "RawResponse",
    "Transport",
    "TransportConnectError",
    "TransportError",
    "TransportProtocolError",
    "TransportTimeoutError",
]


class RawResponse(msgspec.Struct, frozen=True):
    """One HTTP response: status, headers with lower-case names (repeated
    headers joined with ", "), and the whole body, already decompressed."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport:
    """Base class of transports: one HTTP library behind one method.

    A transport sends one `RequestSpec` and returns a `RawResponse`. The
    contract, which the contract suite checks for every registered transport:

    - `send()` sends exactly the method, URL, headers and body of the spec,
      with the spec's connect and read timeouts, and returns the status,
      headers and the complete body, whatever the status.
    - It never raises on an HTTP status, never retries (the library's own
      retries are off) and never follows a redirect: a 3xx is returned.
    - It reuses connections (keep-alive) and is safe to call from several
      threads at once.
    - It reads the environment (proxies, CA bundle) at most once, when it
      builds a client of its own, never per request.
    - Every exception of its library is mapped, in one place, to
      `TransportConnectError`, `TransportTimeoutError`,
      `TransportProtocolError`, or `TransportError` for anything else,
      raised `from` the original.
    - It never logs or exposes the request headers (they hold the API key).
    - `close()` releases what the transport created; a native client handed
      in by the user (a requests Session, an httpx Client, a urllib3
      PoolManager) is not the transport's to close.

    `name` is the name it is registered under; `library_version` is the
    version of its HTTP library. Both go into the user agent.
    """

    name: str = "transport"
    library_version: str = "0"
    #: Library exception class -> core error class. `translate()` picks the
    #: entry of the most specific class of an exception; the contract suite
    #: checks that every exception class of the library has an entry.
    exceptions: Mapping[type[BaseException], type[TransportError]] = {}

    def translate(self, exc: BaseException) -> TransportError | None:
        """The core error for a library exception, or None if it is unknown."""
        for cls in type(exc).__mro__:
            target = self.exceptions.get(cls)
            if target is not None:
                return target(f"{type(exc).__name__}: {exc}")
        return None

    def send(self, spec: RequestSpec) -> RawResponse:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections the transport owns. Safe to call twice."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}/{self.library_version}>"
