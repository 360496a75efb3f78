"""The connections of the stdlib transport (`batchdelete_stdlib`): how one
is opened (each address within the deadline, directly, to an http:// proxy,
or through a CONNECT tunnel), with `http.client`'s parsing made strict
(`StrictHTTPResponse`, interim answers skipped); whether an idle one was
dropped; and how a response is read into a `BodyReader`. Not a plugin.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import sys
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from batchdelete import (
    RequestSpec,
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportTimeoutError,
)
from batchdelete.guards import (
    BodyReader,
    DeadlineSocket,
    StrictHTTPResponse,
    mask_userinfo,
    time_left,
)

READ = 65536  # raw body bytes asked for per read


class Proxy(NamedTuple):
    """A proxy that a route goes through."""

    scheme: str
    host: str
    port: int
    auth: dict[str, str]  # {"Proxy-Authorization": "Basic ..."} or {}
    name: str  # host:port, for messages (credentials are never shown)


def parse_proxy(url: str) -> Proxy:
    """The `Proxy` of a proxy URL: its credentials become `Proxy-Authorization`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    auth = {}
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = {"Proxy-Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    shown = f"[{host}]" if ":" in host else host
    return Proxy(parts.scheme, host, port, auth, mask_userinfo(f"{shown}:{port}"))


def _proxy_failure(proxy: Proxy, exc: BaseException, tunnel: bool) -> TransportError:
    """The error for a proxy that cannot be reached or refused the tunnel."""
    detail = mask_userinfo(str(exc)).removeprefix("Tunnel connection failed: ")
    if isinstance(exc, TimeoutError):
        return TransportTimeoutError(f"The proxy {proxy.name} did not answer in time: {detail}")
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, OSError):
        return TransportProtocolError(f"The proxy {proxy.name} answered the tunnel: {detail}")
    what = "refused the tunnel" if tunnel else "cannot be reached"
    return TransportConnectError(f"The proxy {proxy.name} {what}: {detail or type(exc).__name__}")


class _Response(StrictHTTPResponse):
    """StrictHTTPResponse that skips every interim answer (102, 103), as
    http.client skips 100; each one still ends by the deadline."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()
            if not 102 <= status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # its headers are dropped


def _open(host: str, port: int, connect_timeout: float) -> DeadlineSocket:
    """A TCP connection to `host`, each address tried within what is left of
    the deadline (socket.create_connection gives each address the whole
    timeout)."""
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(time_left(connect_timeout))
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # a passed deadline too: then every address fails at once
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return DeadlineSocket.adopt(sock)
    raise error if error is not None else OSError(f"no address found for {host!r}")


def _connect(conn: http.client.HTTPConnection, proxy: Proxy | None) -> DeadlineSocket:
    """The socket of `conn`: to its host (the proxy's, with one), through
    the CONNECT tunnel when one was set."""
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    try:
        sock = _open(conn.host, conn.port, conn.timeout)  # type: ignore[arg-type]
    except OSError as exc:
        if proxy is None:
            raise
        raise _proxy_failure(proxy, exc, tunnel=False) from exc
    if proxy is not None and conn._tunnel_host:  # type: ignore[attr-defined]
        conn.sock = sock
        try:
            conn._tunnel()  # type: ignore[attr-defined]
        except (OSError, http.client.HTTPException) as exc:
            sock.close()
            raise _proxy_failure(proxy, exc, tunnel=True) from exc
    return sock


class HTTPConnection(http.client.HTTPConnection):
    response_class = _Response
    proxy: Proxy | None = None  # the proxy this connection goes to, if any

    def connect(self) -> None:
        self.sock = _connect(self, self.proxy)


class HTTPSConnection(http.client.HTTPSConnection):
    response_class = _Response
    tls: ssl.SSLContext  # the transport's context, set when the connection is made
    proxy: Proxy | None = None

    def connect(self) -> None:
        sock = _connect(self, self.proxy)
        server = self._tunnel_host or self.host  # type: ignore[attr-defined]
        try:  # the handshake keeps the deadline too (deadline_tls)
            self.sock = self.tls.wrap_socket(sock, server_hostname=server)
        except BaseException:
            sock.close()
            raise


def is_stale(conn: http.client.HTTPConnection) -> bool:
    """True when the server closed an idle connection (or sent something
    unasked): readable while no request is pending."""
    sock = conn.sock
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def read_response(
    response: http.client.HTTPResponse, spec: RequestSpec
) -> tuple[int, Mapping[str, str], bytes, bool]:
    """Status, headers, body of `response`, and whether its connection may
    be reused: the body read to its end and the server keeping it open."""
    headers: dict[str, str] = {}
    for name, value in response.msg.raw_items():  # as received (latin-1), no email policy
        key = name.lower()
        text = value.strip(" \t")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    status = response.status
    reader = BodyReader(status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body)
    while True:
        data = response.read(READ)
        if not data or not reader.feed(data) or response.isclosed():
            break
    if reader.complete and response.length:
        # http.client ends a content-length body cut short without a word:
        # its own exception for the case, as the cause.
        raise TransportProtocolError(
            "The server closed the connection before the end of the response body "
            f"({response.length:,} bytes missing)."
        ) from http.client.IncompleteRead(b"", response.length)
    body = reader.finish()
    keep = reader.complete and response.isclosed() and not response.will_close
    return status, headers, body, keep and status >= 200
