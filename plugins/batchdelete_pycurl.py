"""The pycurl transport of batchdelete (`pip install 'batchdelete[pycurl]'`), a
plugin like any other; pycurl is imported only when a transport is built.

Why libcurl: the most deployed HTTP client there is, the fastest well-kept
one Python can call, with proxies, TLS, a total timeout and strict HTTP/1.1
parsing of its own, in C. Measured through `Client` (DELETE on a kept-alive
connection to the benchmark server on 127.0.0.1, one thread, rounds of 2,000
requests alternating with bare pycurl doing the same, a busy 2-core machine:
absolute figures high, ratios hold): 280 us a request, 1.65 to 1.70 times
bare pycurl (165 us; the raw-socket floor is 0.7). What is left is Python run
right after each wait, on cold caches: the core's flow (1.3 alone, so 1.10 is
out of reach), the head's check, the body's reader, the pool, the poll for a
closed connection, the progress callback. A CurlShare was 6 % slower.

The transport contract, on libcurl:

- Connections: at most `max_connections` easy handles, each used by one
  thread at a time with its own connections (`MAXCONNECTS`), the last given
  back taken first; a thread finding them all busy waits until its deadline.
  A failed request closes its handle; an idle connection the server closed
  is not reused (libcurl looks only after a second). After `os.fork()` the
  child starts with no handle; the parent's are kept, never used or closed.
- No redirects, cookies or retries (libcurl's resend of a request when a
  reused connection died is refused by the pre-request callback). HTTP/1.1,
  the path as it is (`PATH_AS_IS`), exactly the spec's headers (libcurl's
  `Accept`, `Expect`, form Content-Type and `Proxy-Connection` but on
  CONNECT, pycurl's User-Agent removed). Only what changed since a handle's
  last request is set again.
- Time: `TIMEOUT_MS` is what is left of the deadline (silence, drips,
  endless interim answers or body all end then); `CONNECTTIMEOUT_MS`; the
  read timeout is `LOW_SPEED_LIMIT` 1 byte/s for `LOW_SPEED_TIME` whole
  seconds (0.2 s waits 1 s). Names are resolved by `socket.getaddrinfo` and
  handed over with `RESOLVE` (for 60 s; no deadline). In the main thread,
  where Python runs signal handlers, a progress callback lets Ctrl-C end a
  transfer within a second while it waits for the answer (while connecting,
  by the connect timeout: libcurl runs no Python code then).
- Body: no decoding by libcurl. Each head is checked at its end, before any
  body byte (a 3-digit status and `guards.head_problem`, or a plain head's
  few checks that imply it); the raw body goes through the write callback,
  its chunk size lines checked (`support.ChunkCheck`), into
  `guards.BodyReader` (gzip, deflate, the caps). Not `MAXFILESIZE`: it cannot
  tell a success body from an error body.
- Errors: every libcurl code maps to one core error (`support.CODES`); a
  failure through a proxy names it.

Options, onto libcurl's own (which then reads no environment): `PROXY`
scheme://host:port, `PROXYUSERNAME`/`PROXYPASSWORD` (never shown), or "" and
`NOPROXY` "": the options decide per origin. CAs: `CAINFO`/`CAPATH` from
`verify=` or the environment, else OpenSSL's paths as Python reports them
(never the wheel's own bundle); `verify=False`: no `SSL_VERIFYPEER`/`HOST`;
an `ssl.SSLContext`: its CAs as `CAINFO_BLOB` (refused if unreadable: a
directory, the platform store), verify mode, host name check and minimum
version. The same to an https:// proxy; TLS 1.2 at least. `cert`: `SSLCERT`,
`SSLKEY`. `max_connections`: the number of handles.
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import batchdelete_pycurl_support as support
from batchdelete import (
    ConnectionOptions,
    RawResponse,
    RequestSpec,
    Transport,
    TransportError,
    TransportTimeoutError,
    hookimpl,
)
from batchdelete.hookspecs import RegisterTransport

NAME = "pycurl"
MAX_ORIGINS = 64  # routes remembered
MAX_IDLE_PER_HANDLE = 4  # libcurl's MAXCONNECTS of each handle
DNS_SECONDS = 60.0  # how long a name resolved by Python is handed to libcurl
_LENGTH_ZERO = frozenset({"POST", "PUT", "PATCH"})
_INSTALL = "pip install 'batchdelete[pycurl]'"


@hookimpl
def register_transports(register: RegisterTransport) -> None:
    register(NAME, PycurlTransport, library="pycurl", install=_INSTALL, takes_options=True)


def _progress(down_total: int, down: int, up_total: int, up: int) -> None:
    """libcurl's progress callback, at least once a second: Python code runs,
    so the main thread's signal handlers do (Ctrl-C stops the transfer)."""


class _Handle:
    """An easy handle, its callbacks, and what was last set on it."""

    __slots__ = (
        *("curl", "exchange", "headers", "method", "polled", "poller", "resolved", "route"),
        *("thread", "timeout", "url"),
    )

    def __init__(self, curl: Any, exchange: support.Exchange) -> None:
        self.exchange = exchange
        self.forget(curl)

    def forget(self, curl: Any) -> None:
        """Use `curl`, on which nothing of a request was set yet."""
        self.curl = curl
        self.route: support.Route | None = None
        self.resolved: dict[tuple[str, int], str] = {}
        self.method: str | None = None
        self.headers: dict[str, str] | None = None
        self.url: str | None = None
        self.timeout: object = None
        self.thread: int | None = None  # the thread it last sent for
        self.polled = -1  # the socket `poller` watches
        self.poller: Any = None

    def stale(self, fd: int) -> bool:
        """Whether the server closed the last transfer's connection `fd` (or
        sent something unasked) while it was idle."""
        if fd != self.polled:
            if not hasattr(select, "poll"):  # Windows
                return bool(select.select([fd], [], [], 0)[0])
            self.poller = select.poll()
            self.poller.register(fd, select.POLLIN)
            self.polled = fd
        return bool(self.poller.poll(0))


class _Pool:
    """At most `size` handles; the last given back is the next taken."""

    def __init__(self, size: int, make: Callable[[], _Handle]) -> None:
        self.size = size
        self.make = make
        self.idle: list[_Handle] = []
        self.every: list[_Handle] = []  # idle and in use (a forked child keeps them all)
        self.count = 0
        self.waiting = 0  # threads waiting for a handle
        self.lock = threading.Lock()
        self.freed = threading.Condition(self.lock)

    def take(self, spec: RequestSpec) -> _Handle:
        with self.lock:
            if not self.idle and self.count >= self.size:
                self._wait(spec)
            if self.idle:
                return self.idle.pop()
            self.count += 1
        try:
            handle = self.make()
        except BaseException:
            self.give(None)
            raise
        with self.lock:
            self.every.append(handle)
        return handle

    def _wait(self, spec: RequestSpec) -> None:
        """Until a handle is given back or closed, by the deadline (without
        one, by the connect timeout); called holding the lock."""
        deadline = spec.deadline
        end = deadline if deadline is not None else time.monotonic() + spec.timeout.connect
        self.waiting += 1
        try:
            while not self.idle and self.count >= self.size:
                left = end - time.monotonic()
                if left <= 0:
                    raise TransportTimeoutError(
                        f"No connection was free in time: max_connections ({self.size}) "
                        "were all in use until the deadline."
                    )
                self.freed.wait(left)
        finally:
            self.waiting -= 1

    def give(self, handle: _Handle | None, keep: bool = True) -> None:
        with self.lock:
            if keep and handle is not None:
                self.idle.append(handle)
            else:
                self.count -= 1
                if handle is not None:
                    self.every.remove(handle)
            if self.waiting:
                self.freed.notify()
        if handle is not None and not keep:
            handle.curl.close()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            self.count -= len(idle)
            self.every = [handle for handle in self.every if handle not in idle]
        for handle in idle:
            handle.curl.close()


class PycurlTransport(Transport):
    """libcurl easy handles from a small pool; thread-safe, fork-safe."""

    name = NAME

    def __init__(self, native: object | None = None, options: ConnectionOptions | None = None):
        if native is not None:
            raise TypeError("the pycurl transport wraps no native client")
        import pycurl  # type: ignore[import-untyped]  # pycurl ships no type information

        self._pycurl = pycurl
        self.library_version = str(pycurl.version).split()[0].partition("/")[2] or "0"
        self.exceptions = support.exception_map(pycurl)
        self._error = pycurl.error
        self._options = options if options is not None else ConnectionOptions()
        self._settings = self._fixed_settings() + support.tls_settings(pycurl, self._options)
        self._routes: dict[str, support.Route] = {}
        self._names = support.Names(DNS_SECONDS, MAX_ORIGINS)
        self._pool = _Pool(self._options.max_connections, self._new_handle)
        _OWNED.add(self)

    def _fixed_settings(self) -> list[tuple[int, object]]:
        p = self._pycurl
        return [
            (p.USERAGENT, ""),  # none of pycurl's own: the spec brings one
            (p.NOSIGNAL, 1),  # threads: no SIGALRM for name lookups
            (p.HTTP_VERSION, p.CURL_HTTP_VERSION_1_1),
            (p.FOLLOWLOCATION, 0),
            (p.PROTOCOLS, p.PROTO_HTTP | p.PROTO_HTTPS),
            (p.PATH_AS_IS, 1),
            (p.HTTP_TRANSFER_DECODING, 0),  # raw chunks, checked by ChunkCheck
            (p.HTTP_CONTENT_DECODING, 0),  # BodyReader decodes, under the caps
            (p.PROXY, ""),  # no proxy from the environment: the options decide
            (p.NOPROXY, ""),
            (p.HEADEROPT, p.HEADER_SEPARATE),  # the spec's headers never go to a proxy
            (p.MAXCONNECTS, MAX_IDLE_PER_HANDLE),
            (p.TCP_NODELAY, 1),
            (p.LOW_SPEED_LIMIT, 1),
            (p.NOPROGRESS, 0),
        ]

    def _new_handle(self, exchange: support.Exchange | None = None) -> _Handle:
        p = self._pycurl
        curl = p.Curl()
        exchange = exchange or support.Exchange()
        try:
            for option, value in self._settings:
                curl.setopt(option, value)
            curl.setopt(p.HEADERFUNCTION, exchange.header)
            curl.setopt(p.WRITEFUNCTION, exchange.body)
            curl.setopt(p.PREREQFUNCTION, exchange.prereq)
            curl.setopt(p.XFERINFOFUNCTION, _progress)
        except BaseException:
            curl.close()
            raise
        return _Handle(curl, exchange)

    def _forget(self) -> None:
        """In a forked child: a new, empty pool; the parent's handles (and
        their sockets) are kept referenced, so never closed here."""
        _ABANDONED.append(self._pool)
        self._pool = _Pool(self._options.max_connections, self._new_handle)

    def _route(self, url: str) -> support.Route:
        slash = url.find("/", url.find("://") + 3)
        origin = url if slash < 0 else url[:slash]
        route = self._routes.get(origin)
        if route is None:
            route = support.new_route(self._options, origin)
            if len(self._routes) < MAX_ORIGINS:
                self._routes[origin] = route
        return route

    def send(self, spec: RequestSpec) -> RawResponse:
        route = self._route(spec.url)
        handle = self._pool.take(spec)
        try:
            response = self._perform(handle, spec, route)
        except BaseException as exc:
            handle.exchange.start(None)
            self._pool.give(handle, False)
            if isinstance(exc, Exception) and not isinstance(exc, TransportError):
                mapped = self.translate(exc)  # as `mapped_errors()`, without its frame
                if mapped is not None:
                    raise mapped from exc
            raise
        handle.exchange.spec = handle.exchange.reader = None  # no spec (its key) nor body kept
        self._pool.give(handle)
        return response

    def _perform(self, handle: _Handle, spec: RequestSpec, route: support.Route) -> RawResponse:
        p = self._pycurl
        curl = handle.curl
        fd = curl.getinfo(p.ACTIVESOCKET)  # the last transfer's connection
        if fd >= 0 and handle.stale(fd):  # a new handle: the old one closes its connections
            fresh = self._new_handle(handle.exchange)
            curl.close()
            handle.forget(fresh.curl)
            curl = fresh.curl
        self._prepare(handle, spec, route)
        thread = threading.get_ident()
        if handle.thread != thread:  # Python's signal handlers run in the main thread only
            curl.setopt(p.NOPROGRESS, int(thread != threading.main_thread().ident))
            handle.thread = thread
        total = 0
        if spec.deadline is not None:
            left = spec.deadline - time.monotonic()
            if left <= 0:
                raise TransportTimeoutError("The request's deadline passed before it was sent.")
            total = math.ceil(left * 1000)
        curl.setopt(p.TIMEOUT_MS, total)
        exchange = handle.exchange
        exchange.start(spec)
        try:
            curl.perform()
        except self._error as exc:
            if exchange.capped and exchange.failure is None:
                return exchange.response()  # an error body, cut at its cap
            if exchange.failure is not None:
                raise exchange.failure from exc
            if route.shown is None:
                raise support.curl_failure(exc) from exc
            connect_code = int(curl.getinfo(p.HTTP_CONNECTCODE))
            raise support.via_proxy(exc, route.shown, connect_code) from exc
        return exchange.response()

    def _prepare(self, handle: _Handle, spec: RequestSpec, route: support.Route) -> None:
        """Set what this request changes (most change only URL and deadline).
        The helpers run only when their part changed: none on a request like
        the handle's last one."""
        p = self._pycurl
        curl = handle.curl
        if handle.route is not route:
            self._set_route(handle, route)
        if route.host is not None:
            entry = self._names.entry(route.host, route.port, route)
            key = (route.host, route.port)
            if handle.resolved.get(key) != entry:
                curl.setopt(p.RESOLVE, [f"-{route.host}:{route.port}", entry])
                handle.resolved[key] = entry
        if spec.body is not None or spec.method != handle.method:
            self._set_method(handle, spec.method, spec.body)
        if handle.headers != spec.headers:  # compared with a copy: the spec's may be shared
            self._set_headers(handle, spec, route)
        if handle.url != spec.url:
            curl.setopt(p.URL, spec.url)
            handle.url = spec.url
        if handle.timeout is not spec.timeout:  # most requests share one (immutable) Timeout
            timeout = handle.timeout = spec.timeout
            curl.setopt(p.CONNECTTIMEOUT_MS, max(1, math.ceil(timeout.connect * 1000)))
            curl.setopt(p.LOW_SPEED_TIME, max(1, math.ceil(timeout.read)))

    def _set_route(self, handle: _Handle, route: support.Route) -> None:
        """The proxy of `route` (none: ""), with its credentials or none."""
        p = self._pycurl
        curl = handle.curl
        curl.setopt(p.PROXY, route.proxy)
        if route.user is not None:
            curl.setopt(p.PROXYUSERNAME, route.user)
            curl.setopt(p.PROXYPASSWORD, route.password)
        else:  # another proxy's credentials never go to this one
            curl.unsetopt(p.PROXYUSERNAME)
            curl.unsetopt(p.PROXYPASSWORD)
        handle.route, handle.headers = route, None

    def _set_method(self, handle: _Handle, method: str, body: bytes | None) -> None:
        """The method, and the body (set again for every request that has one)."""
        p = self._pycurl
        curl = handle.curl
        curl.setopt(p.NOBODY, int(method == "HEAD"))  # first: it changes the method
        if body is not None or method in _LENGTH_ZERO:  # Content-Length, 0 without a body
            curl.setopt(p.POSTFIELDSIZE, len(body or b""))
            curl.setopt(p.POSTFIELDS, body or b"")
        elif method != "HEAD":
            curl.setopt(p.HTTPGET, 1)
        curl.setopt(p.CUSTOMREQUEST, None if method in ("GET", "HEAD", "POST") else method)
        handle.method, handle.headers = method if body is None else None, None

    def _set_headers(self, handle: _Handle, spec: RequestSpec, route: support.Route) -> None:
        """Exactly the spec's headers: libcurl's own ones it would add are removed."""
        method, body, headers = spec.method, spec.body, spec.headers
        lines = [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"{name}:" for name in ("accept", "expect") if name not in headers]
        if route.absolute:
            lines.append("proxy-connection:")  # libcurl's, to a proxy in absolute form
        if (body is not None or method in _LENGTH_ZERO) and "content-type" not in headers:
            lines.append("content-type:")  # libcurl's form type
        handle.curl.setopt(self._pycurl.HTTPHEADER, lines)
        handle.headers = dict(headers)

    def translate(self, exc: BaseException) -> TransportError | None:
        if isinstance(exc, self._error):
            return support.curl_failure(exc)
        return super().translate(exc)

    def close(self) -> None:
        self._pool.close()


# -- fork safety ---------------------------------------------------------------------

_OWNED: weakref.WeakSet[PycurlTransport] = weakref.WeakSet()
#: A forked child's view of its parent's pools: referenced for ever, so that
#: no handle is cleaned up (and no parent's connection shut down) there.
_ABANDONED: list[_Pool] = []


def _forget_in_child() -> None:
    for transport in list(_OWNED):
        transport._forget()


if hasattr(os, "register_at_fork"):  # pragma: no branch - CPython on POSIX has it
    os.register_at_fork(after_in_child=_forget_in_child)
