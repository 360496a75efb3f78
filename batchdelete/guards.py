"""The limits every transport keeps, whatever the server does; public, for
transport authors.

- **The deadline.** The client gives each attempt an absolute deadline
  (`RequestSpec.deadline`, on `time.monotonic()`'s clock). A read timeout
  bounds one socket read, so a server that drips a byte per read would
  hold a request open for ever; here every read, write and TLS handshake
  gets the time that is left (`deadline_scope` sets it for the thread,
  `DeadlineSocket` and `deadline_tls` apply it to the sockets of libraries
  built on the standard library's sockets). When it has passed, the read
  raises `TimeoutError` (`socket.timeout`), which every library already
  maps to its read timeout. Async code has cancellation instead:
  `async_deadline` cancels the block at the deadline.
- **Strict framing.** `StrictHTTPResponse` is `http.client`'s own parser
  (used by urllib3, requests and the stdlib transport) with its lenient
  corners closed: a status that is not exactly three digits, a chunk size
  that is not plain hex (http.client takes `-1`, `+5`, `0x5` or `5_0` and
  then waits for bytes that never come), header lines it could not parse,
  control bytes in header values, negative or conflicting content-length,
  and a transfer-encoding other than chunked are refused as soon as they
  are read.
- **Bounded memory.** `BodyReader` takes the raw (still encoded) body in
  pieces and decodes gzip and deflate itself with `zlib`'s `max_length`,
  so a decompression bomb costs at most the cap: a success body over
  `RequestSpec.max_body` raises `TransportResponseTooLargeError`; an error
  body is kept up to `RequestSpec.max_error_body` and then cut short.
  Libraries decode content incrementally but not all of them bound one
  step's output (httpx inflates a whole network chunk at once), hence one
  decoder here for every transport.
- **Secrets.** `mask_userinfo` masks the credentials of any URL in a text
  (`http://***@proxy:3128`), for messages that quote a proxy.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ._async_deadline import async_deadline
from ._body import BodyReader
from ._errors import (
    TransportResponseTooLargeError,
    mask_userinfo,
)
from ._spec import DEFAULT_MAX_ERROR_BYTES, DEFAULT_MAX_RESPONSE_BYTES
from ._transport import exception_chain

__all__ = [
    "DEFAULT_MAX_ERROR_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "READ_SIZE",
    "BodyReader",
    "DeadlineSocket",
    "ProtocolViolationError",
    "StrictHTTPResponse",
    "TransportResponseTooLargeError",
    "async_deadline",
    "deadline_scope",
    "deadline_tls",
    "exception_chain",
    "head_problem",
    "mask_userinfo",
    "time_left",
]

READ_SIZE = 65536


class ProtocolViolationError(http.client.HTTPException):
    """The server broke HTTP/1.1 framing. An `http.client.HTTPException`,
    so that libraries built on http.client report it as their protocol
    error; `Transport.translate` finds it in any chain."""


# -- the deadline ------------------------------------------------------------

_local = threading.local()


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Within the block, this thread's socket operations end by `deadline`
    (a `time.monotonic()` value; None: no deadline)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def time_left(limit: float | None = None) -> float | None:
    """Seconds left before this thread's deadline, at most `limit` (None:
    no bound at all); `TimeoutError` once it has passed."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return limit
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's deadline passed")
    return left if limit is None or left < limit else limit


class _Clamped:
    """Socket methods that block, each given the time left (mixed into a
    socket class; the timeout set by the library is the upper bound)."""

    _library_timeout: float | None = None
    _applied: float | None = None  # the timeout the socket has now

    def settimeout(self, value: float | None) -> None:
        self._library_timeout = self._applied = value
        super().settimeout(value)  # type: ignore[misc]

    def _clamp(self) -> None:
        # Setting a timeout costs system calls: it is changed only when the
        # one in force could outlast the deadline, or was lowered earlier
        # and more time is allowed now. Far from the deadline, nothing.
        if getattr(_local, "deadline", None) is None:
            want = self._library_timeout
        else:
            want = time_left(self._library_timeout)
        applied = self._applied
        if applied == want:
            return
        if want is None or applied is None or applied > want or applied != self._library_timeout:
            self._applied = want
            super().settimeout(want)  # type: ignore[misc]

    def recv(self, *args: Any) -> bytes:
        self._clamp()
        return super().recv(*args)  # type: ignore[misc, no-any-return]

    def recv_into(self, *args: Any) -> int:
        self._clamp()
        return super().recv_into(*args)  # type: ignore[misc, no-any-return]

    def send(self, *args: Any) -> int:
        self._clamp()
        return super().send(*args)  # type: ignore[misc, no-any-return]

    def sendall(self, *args: Any) -> None:
        self._clamp()
        super().sendall(*args)  # type: ignore[misc]


class DeadlineSocket(_Clamped, socket.socket):
    """A socket whose blocking calls end by the thread's deadline."""

    @classmethod
    def adopt(cls, sock: socket.socket) -> DeadlineSocket:
        """The same connection (same file descriptor) as a `DeadlineSocket`."""
        if isinstance(sock, cls):
            return sock
        timeout = sock.gettimeout()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.settimeout(timeout)
        return adopted


_tls_class: type[Any] | None = None


def deadline_tls(context: Any) -> Any:
    """`context` (an `ssl.SSLContext`), its sockets now keeping the deadline
    too (reads, writes and the handshake), and closed at once when their
    handshake fails or is interrupted, even while the exception is kept.
    Returns the context."""
    global _tls_class
    if _tls_class is None:
        import ssl

        class DeadlineSSLSocket(_Clamped, ssl.SSLSocket):
            def read(self, *args: Any) -> Any:
                self._clamp()
                return super().read(*args)

            def write(self, *args: Any) -> int:
                self._clamp()
                return super().write(*args)

            def do_handshake(self, *args: Any) -> None:
                self._clamp()
                try:
                    super().do_handshake(*args)
                except BaseException:  # Ctrl-C too: the ssl module closes on OSError only
                    self.close()
                    raise

        _tls_class = DeadlineSSLSocket
    context.sslsocket_class = _tls_class
    return context


# -- strict framing on http.client ----------------------------------------------

_STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_DIGITS = re.compile(r"[0-9]{1,18}")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_LINE = 65536


class StrictHTTPResponse(http.client.HTTPResponse):
    """http.client's response parser, refusing at once what it would let by.

    Set it as `response_class` of an `http.client.HTTPConnection` (urllib3's
    connections are ones too).
    """

    def _read_status(self) -> tuple[str, int, str]:
        line = self.fp.readline(_MAX_LINE + 1)
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise ProtocolViolationError(f"invalid status line {line[:80]!r}")
        reason = (match.group(3) or b"").decode("iso-8859-1")
        return match.group(1).decode(), int(match.group(2)), reason

    def begin(self) -> None:
        super().begin()
        if self.msg.defects:
            problem: str | None = f"malformed response head ({type(self.msg.defects[0]).__name__})"
        else:
            problem = head_problem(self.msg.raw_items())
        if problem is not None:
            self.close()
            raise ProtocolViolationError(problem)

    def _read_next_chunk_size(self) -> int:
        line = self.fp.readline(_MAX_LINE + 1)
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            self._close_conn()  # type: ignore[attr-defined]
            # http.client turns a ValueError here into IncompleteRead.
            raise ValueError(f"invalid chunk size line {line[:40]!r}")
        return int(match.group(1), 16)


def head_problem(items: Iterable[tuple[str, str]]) -> str | None:
    """Why a response head, as parsed by a library (every header line, in
    order, repeats included), is malformed; None if it is not: a control
    byte in a value, a transfer-encoding other than chunked or with a
    content-length, a content-length that is not one non-negative number."""
    lengths: list[str] = []
    encodings: list[str] = []
    for name, value in items:
        if _BAD_VALUE.search(value):
            return f"control character in the value of the {name} header"
        lowered = name.lower()
        if lowered == "content-length":
            lengths.append(value)
        elif lowered == "transfer-encoding":
            encodings.append(value)
    if encodings:
        if lengths:
            return "both transfer-encoding and content-length"
        if len(encodings) > 1 or encodings[0].strip().lower() != "chunked":
            return f"unsupported transfer-encoding {', '.join(encodings)!r}"
    values = {v.strip() for v in lengths}
    if len(values) > 1:
        return f"conflicting content-length values {sorted(values)}"
    if values and not _DIGITS.fullmatch(next(iter(values))):
        return f"invalid content-length {lengths[0]!r}"
    return None
