"""A third-party plugin, written as someone outside the project would write
one: a transport on the standard library's http.client, and observers of
every hook. The tests install it through a dist-info entry point."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import batchdelete
from batchdelete import hookimpl

CALLS: list[tuple[str, dict[str, Any]]] = []


class StdlibTransport(batchdelete.Transport):
    name = "loopback-stdlib"
    library_version = "1.0"

    def __init__(self, native: object | None = None) -> None:
        self.exceptions = {
            http.client.HTTPException: batchdelete.TransportProtocolError,
            TimeoutError: batchdelete.TransportTimeoutError,
            OSError: batchdelete.TransportConnectError,
        }
        self._local = threading.local()

    def send(self, spec: batchdelete.RequestSpec) -> batchdelete.RawResponse:
        parts = urlsplit(spec.url)
        conn = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=spec.timeout.read
        )
        try:
            conn.request(spec.method, parts.path, body=spec.body, headers=dict(spec.headers))
            response = conn.getresponse()
            body = response.read()
        except Exception as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            conn.close()
        headers: Mapping[str, str] = {k.lower(): v for k, v in response.getheaders()}
        return batchdelete.RawResponse(response.status, headers, body)


@hookimpl
def register_transports(register: Any) -> None:
    register("loopback-stdlib", StdlibTransport)
    register(
        "needs-missing-lib",
        StdlibTransport,
        library="no_such_library_xyz",
        install="pip install no-such-library-xyz",
    )


@hookimpl
def on_request(
    method: str, url: str, headers: Mapping[str, str], attempt: int, transport: str
) -> None:
    CALLS.append(
        (
            "on_request",
            dict(method=method, url=url, headers=headers, attempt=attempt, transport=transport),
        )
    )


@hookimpl
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
    CALLS.append(
        (
            "on_response",
            dict(
                method=method,
                url=url,
                attempt=attempt,
                transport=transport,
                status_code=status_code,
                headers=headers,
                request_id=request_id,
                elapsed=elapsed,
            ),
        )
    )


@hookimpl
def on_error(method: str, url: str, attempt: int, transport: str, error: Exception) -> None:
    CALLS.append(
        (
            "on_error",
            dict(method=method, url=url, attempt=attempt, transport=transport, error=error),
        )
    )


@hookimpl
def on_retry(
    method: str, url: str, attempt: int, transport: str, wait: float, error: Exception
) -> None:
    CALLS.append(
        (
            "on_retry",
            dict(
                method=method, url=url, attempt=attempt, transport=transport, wait=wait, error=error
            ),
        )
    )
