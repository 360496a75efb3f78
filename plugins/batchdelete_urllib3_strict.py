"""The strict urllib3 pools and the body reading of the urllib3 transport
(`batchdelete_urllib3`), which the requests transport (`batchdelete_requests`)
uses as well: connections that keep the request's deadline on every socket
call and parse responses strictly, a wait for a free connection bounded by
the deadline, and raw bodies read in pieces under the caps. Not a plugin:
urllib3 is imported only when used.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from batchdelete import RawResponse, RequestSpec
from batchdelete.guards import (
    READ_SIZE,
    BodyReader,
    DeadlineSocket,
    StrictHTTPResponse,
    time_left,
)

if TYPE_CHECKING:
    import urllib3
    from urllib3.connection import HTTPConnection


def _get_conn_by_deadline(pool: Any, get: Any, timeout: float | None) -> HTTPConnection:
    """`pool._get_conn`, waiting for a free connection (a pool that blocks at
    `maxsize`) no longer than the thread's deadline."""
    from urllib3.exceptions import EmptyPoolError

    try:
        return get(time_left(timeout))  # type: ignore[no-any-return]
    except (TimeoutError, EmptyPoolError):
        size = getattr(pool.pool, "maxsize", "?") if pool.pool is not None else "?"
        raise EmptyPoolError(
            pool,
            f"no connection became free before the request's deadline ({size} in use: "
            "max_connections)",
        ) from None


@functools.cache
def strict_pool_classes() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3's pools, with connections that keep the request's deadline on
    every socket call (`DeadlineSocket`) and parse responses strictly
    (`StrictHTTPResponse`, urllib3 reading them through http.client); a
    thread waiting for a free connection waits until the deadline at most.
    For a `PoolManager.pool_classes_by_scheme` (a `ProxyManager`'s too); the
    requests transport uses them as well."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        response_class = StrictHTTPResponse

        def _new_conn(self) -> socket.socket:
            return DeadlineSocket.adopt(super()._new_conn())

    class TLSConnection(HTTPSConnection):
        response_class = StrictHTTPResponse

        def _new_conn(self) -> socket.socket:
            return DeadlineSocket.adopt(super()._new_conn())

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _get_conn_by_deadline(self, super()._get_conn, timeout)

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _get_conn_by_deadline(self, super()._get_conn, timeout)

        def _validate_conn(self, conn: Any) -> None:
            context = getattr(conn, "ssl_context", None)
            if context is None or context.verify_mode != ssl.CERT_NONE:
                super()._validate_conn(conn)
            elif conn.is_closed:  # verify=False, chosen: the client warned once, not per request
                conn.connect()

    return {"http": Pool, "https": TLSPool}


def read_body(spec: RequestSpec, response: urllib3.BaseHTTPResponse) -> RawResponse:
    """The response, its raw body read in pieces into a `BodyReader` (the
    caps, gzip and deflate), by the deadline; the connection is dropped
    unless the body was read to its end. Shared with the requests transport."""
    headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.itermerged()}
    reader = BodyReader(
        response.status, headers, max_body=spec.max_body, max_error_body=spec.max_error_body
    )
    complete = False
    try:
        while True:
            time_left()  # a user's own pool has no deadline sockets: check between reads
            piece = response.read(READ_SIZE, decode_content=False)
            if not piece:
                complete = True
                break
            if not reader.feed(piece):
                break
        body = reader.finish()
    finally:
        if not complete:
            response.close()  # unread bytes: the connection must not be reused
        response.release_conn()
    return RawResponse(response.status, headers, body)
