"""The emulator's HTTP/1.1 side: the standard library's threading server
with keep-alive, routing, fault injection, and then, in this order,
authentication (`_auth.py`), the rate limit (`_limits.py`), the
anthropic-version header, the workspace the request acts in, and the
operation. The token endpoint (`POST /v1/oauth/token`, route "token") takes
faults, and then answers at once: no key, no rate limit, no version."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from ._auth import WORKSPACE_HEADER
from ._oauth import OAuthError, exchange
from ._store import ApiError, Batch

if TYPE_CHECKING:
    from . import Emulator

__all__ = ["PREFIX", "Fault", "Logged", "Server"]

log = logging.getLogger("batchdelete.emulator")
PREFIX = "/v1/messages/batches"
TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 - a path
ROUTES = ("create", "list", "retrieve", "cancel", "delete", "token")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass
class Fault:
    """What to do instead of (or before) answering matching requests.

    `route` ("create", "list", "retrieve", "cancel", "delete", "token" for
    the token endpoint, or None for any) and `times` (None: every time)
    choose the requests. Then: wait `delay` seconds; `drop` "before"
    closes the connection without an answer, "during" sends the head and
    half the body and closes it;
    `redirect` answers 307 to that URL; `status` answers that status with
    `headers` and `body` (by default the API's error body for it). A fault
    with only a delay then answers normally.
    """

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    delay: float = 0.0
    drop: str | None = None
    redirect: str | None = None
    route: str | None = None
    times: int | None = 1

    def __post_init__(self) -> None:
        if self.drop not in (None, "before", "during"):
            raise ValueError(f"drop must be 'before' or 'during', got {self.drop!r}.")
        if self.route not in (None, *ROUTES):
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {self.route!r}.")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be 1 or more, or None for every request.")


@dataclass(frozen=True)
class Logged:
    """One request the emulator answered (or dropped)."""

    method: str
    target: str
    route: str | None
    status: int | None
    headers: dict[str, str]


def route_of(method: str, path: str) -> tuple[str | None, str | None]:
    """(route, decoded batch id) for a request path; route None if unknown."""
    if path == TOKEN_PATH:
        return ("token" if method == "POST" else None), None
    if path in (PREFIX, PREFIX + "/"):
        return {"GET": "list", "POST": "create"}.get(method), None
    if not path.startswith(PREFIX + "/"):
        return None, None
    return _batch_route(method, path[len(PREFIX) + 1 :].split("/"))


def _batch_route(method: str, parts: list[str]) -> tuple[str | None, str | None]:
    """`route_of` for a path under the batches route: `parts` are its
    segments after it (the first one the batch id, still percent-encoded)."""
    try:
        batch_id = unquote(parts[0], errors="strict")
    except UnicodeDecodeError:
        return None, None
    if len(parts) == 1:
        return {"GET": "retrieve", "DELETE": "delete"}.get(method), batch_id
    if len(parts) == 2 and parts[1] == "cancel":
        return ("cancel" if method == "POST" else None), batch_id
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "batchdelete-emulator"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this
    disable_nagle_algorithm = True  # head and body go out in two writes
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    # -- one request ---------------------------------------------------------

    def _handle(self) -> None:
        emulator = self.server.emulator
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 256 * 1024 * 1024:
            self._error(400, "invalid_request_error", "Invalid Content-Length.", None)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        route, batch_id = route_of(self.command, path)
        fault = emulator._take_fault(route)
        if fault is not None and self._apply(fault, route):
            return
        if route == "token":
            self._token(body)
            return
        try:
            grant = emulator._auth.authenticate(
                self.headers.get("x-api-key"),
                self.headers.get("authorization") or "",
                self.headers.get_all("anthropic-beta") or [],
            )
        except ApiError as exc:
            self._error(exc.status, exc.error_type, exc.message, route)
            return
        verdict = emulator._limiter.take(grant.bucket)
        limits = verdict.headers if verdict is not None else ()
        if verdict is not None and not verdict.allowed:
            message = (
                f"This request would exceed the rate limit of {verdict.limit} "
                "requests per minute for this API key (emulated). See the response headers "
                f"for current usage; retry after {verdict.retry_after} s."
            )
            retry = ("retry-after", str(verdict.retry_after))
            self._error(429, "rate_limit_error", message, route, (*limits, retry))
            return
        try:
            if not self.headers.get("anthropic-version"):
                raise ApiError(
                    400, "invalid_request_error", "anthropic-version: header is required"
                )
            if route is None:
                raise ApiError(404, "not_found_error", f"Not found: {self.command} {self.path}")
            workspace = emulator._auth.workspace(grant, self.headers.get(WORKSPACE_HEADER))
            limits = (*limits, (WORKSPACE_HEADER, workspace))
            status, payload = self._dispatch(emulator, route, batch_id, query, body, workspace)
        except ApiError as exc:
            self._error(exc.status, exc.error_type, exc.message, route, limits)
            return
        self._send(status, json.dumps(payload).encode(), route, limits)

    def _token(self, body: bytes) -> None:
        """The token endpoint: RFC 6749's answers and errors."""
        try:
            payload = exchange(
                self.server.emulator._auth, body, self.headers.get_all("anthropic-beta") or []
            )
        except OAuthError as exc:
            self._send(exc.status, exc.body(), "token", (("cache-control", "no-store"),))
            return
        self._send(200, json.dumps(payload).encode(), "token", (("cache-control", "no-store"),))

    def _dispatch(
        self,
        emulator: Emulator,
        route: str,
        batch_id: str | None,
        query: str,
        body: bytes,
        workspace: str,
    ) -> tuple[int, dict[str, Any]]:
        store, base = emulator.store, emulator.base_url
        if route == "create":
            try:
                parsed = json.loads(body)
            except ValueError:
                raise ApiError(
                    400, "invalid_request_error", "The body is not valid JSON."
                ) from None
            return 200, store.create(parsed, workspace).to_json(base)
        if route == "list":
            page, more = store.page(**_list_args(query), workspace_id=workspace)
            return 200, _page(page, more, base)
        assert batch_id is not None
        if route == "retrieve":
            return 200, store.retrieve(batch_id, workspace).to_json(base)
        if route == "cancel":
            return 200, store.cancel(batch_id, workspace).to_json(base)
        store.delete(batch_id, workspace)
        return 200, {"id": batch_id, "type": "message_batch_deleted"}

    # -- answers -------------------------------------------------------------

    def _apply(self, fault: Fault, route: str | None) -> bool:
        """Carry out a fault; False when the request is then answered normally."""
        if fault.delay and self.server.stopping.wait(fault.delay):
            self.close_connection = True
            return True
        if fault.drop == "before":
            self._log(route, None)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.redirect is not None:
            self._send(307, b"", route, (("location", fault.redirect), *fault.headers))
            return True
        if fault.status is None and fault.drop is None:
            return False
        status = fault.status or 200
        body = fault.body
        if body is None:
            if status < 300:
                body = b'{"id": "emulated", "type": "message_batch_deleted"}'
            else:
                error_type = ERROR_TYPES.get(status, "api_error")
                body = _error_body(error_type, f"Injected {status} from the emulator.")
        self._send(status, body, route, fault.headers, cut=fault.drop == "during")
        return True

    def _error(
        self,
        status: int,
        error_type: str,
        message: str,
        route: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._send(status, _error_body(error_type, message), route, headers)

    def _send(
        self,
        status: int,
        body: bytes,
        route: str | None,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        cut: bool = False,
    ) -> None:
        emulator = self.server.emulator
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        if "content-type" not in names:
            self.send_header("content-type", "application/json")
        if "request-id" not in names:
            self.send_header("request-id", emulator.store.new_id("req_"))
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self._log(route, status)
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _log(self, route: str | None, status: int | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.emulator._record(Logged(self.command, self.path, route, status, headers))


def _error_body(error_type: str, message: str) -> bytes:
    return json.dumps(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": None,
        }
    ).encode()


def _list_args(query: str) -> dict[str, Any]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    try:
        limit = int(params.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise ApiError(400, "invalid_request_error", "limit: must be an integer from 1 to 1000.")
    after_id, before_id = params.get("after_id"), params.get("before_id")
    if after_id is not None and before_id is not None:
        raise ApiError(400, "invalid_request_error", "Pass at most one of after_id and before_id.")
    return {"limit": limit, "after_id": after_id, "before_id": before_id}


def _page(page: list[Batch], more: bool, base: str) -> dict[str, Any]:
    return {
        "data": [b.to_json(base) for b in page],
        "has_more": more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


class Server(ThreadingHTTPServer):
    """Thread per connection; knows its open connections to close them on stop."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a pool opening 64 connections
    # at once (adelete_many at concurrency 64) overflows it, the kernel drops
    # the SYNs, and the clients resend them 1, 3, 7, 15... s later.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        with self._open_lock:
            self._open.add(conn)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a request cancelled or timed out) is no
        error of the emulator's: logged, not printed as a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.debug("%s went away: %s", client_address, exc)
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()
        deadline = time.monotonic() + 5
        while self._open and time.monotonic() < deadline:  # handler threads finishing
            time.sleep(0.01)
