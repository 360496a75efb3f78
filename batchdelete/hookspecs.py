"""The hooks of batchdelete: what a plugin can implement.

A plugin is a module (or any object) with functions named like the hooks
below, each marked with `hookimpl`. Plugins are found through the
entry-point group `batchdelete`; the entry-point name is the plugin's name,
and for a transport plugin, the transport's name::

    [project.entry-points.batchdelete]
    mytransport = "batchdelete_mytransport"

Hooks are always called with keyword arguments; an implementation may take
only the arguments it needs. The observation hooks (`on_request`,
`on_response`, `on_retry`, `on_error`) run synchronously on the calling
thread, in the middle of a request: keep them cheap, and never let them
raise. No hook ever receives the API key or auth token: `headers` has them
replaced by "[redacted]".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from ._errors import APIError
    from ._transport import AsyncTransport, Transport

__all__ = ["RegisterTransport", "TransportFactory", "hookimpl", "hookspec"]

PROJECT = "batchdelete"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Builds a transport (or an `AsyncTransport`). Called with None to build one
#: with a client of its own, or with a native object of one of the registered
#: `native_types` (for example a `requests.Session`) to wrap that object
#: without owning it.
TransportFactory = Callable[[Any], "Transport | AsyncTransport"]


class RegisterTransport(Protocol):
    def __call__(
        self,
        name: str,
        factory: TransportFactory,
        *,
        library: str | None = None,
        install: str | None = None,
        native_types: Iterable[str] = (),
        version: str | None = None,
        takes_options: bool = False,
        asynchronous: bool = False,
    ) -> None:
        """Register a transport.

        `name`: what users pass as `transport=` or `BATCHDELETE_TRANSPORT`.
        `factory`: see `TransportFactory`; it imports the HTTP library, so
        that listing transports never does.
        `library`: the importable name of the HTTP library the transport
        needs; the transport is available when it can be found, and its
        version is read from the installed distribution of that name.
        `install`: the command that makes it available, shown when it is not.
        `native_types`: qualified class names ("requests.sessions.Session")
        whose instances, or instances of their subclasses, the factory wraps.
        `version`: what to report as the version when there is no `library`.
        `takes_options`: the factory takes the client's `ConnectionOptions`
        as a second argument (`factory(native, options)`) and applies all of
        them (proxy, verify, cert, max_connections) to a client it builds;
        without it, a client with any option set refuses the transport.
        `asynchronous`: the factory builds an `AsyncTransport`, for
        `AsyncClient`; a sync and an async transport may share a name
        ("httpx" is both), and each kind has its own automatic order.
        """


@hookspec
def register_transports(register: RegisterTransport) -> None:
    """Register this plugin's transports by calling `register` once for each.

    Called once when batchdelete first needs the list of transports, and
    again after a plugin is added or removed at run time.
    """


@hookspec
def on_request(
    method: str, url: str, headers: Mapping[str, str], attempt: int, transport: str
) -> None:
    """A request is about to be sent. `attempt` counts from 1; `headers`
    are the request headers, credentials redacted."""


@hookspec
def on_response(
    method: str,
    url: str,
    attempt: int,
    transport: str,
    status_code: int,
    headers: Mapping[str, str],
    request_id: str | None,
    elapsed: float,
) -> None:
    """A response arrived, whatever its status. `elapsed` is the seconds
    the attempt took; `headers` are the response headers."""


@hookspec
def on_error(method: str, url: str, attempt: int, transport: str, error: APIError) -> None:
    """An attempt failed: an error status, a connection failure or timeout,
    or a body that does not validate. Called before the retry decision."""


@hookspec
def on_retry(
    method: str, url: str, attempt: int, transport: str, wait: float, error: APIError
) -> None:
    """Attempt `attempt` failed with `error` and will be retried after
    sleeping `wait` seconds."""
