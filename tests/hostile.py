"""A hostile HTTP server on raw sockets, for the hard-edges suite (issue 7).

Each accepted connection plays a script: a sequence of steps such as read
a request, send bytes, sleep, drip bytes one at a time, repeat some steps,
hold the connection open, close. When its script ends the connection is
closed. The server records every byte it received, the requests it read
and how many connections it accepted.

Every wait is bounded: each step by its own limit (and `STEP_LIMIT`), every
blocking socket call by `POLL`, and `close()` stops every step at once. It
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HOST = "127.0.0.1"
POLL = 0.05  # the longest a blocking socket call waits before looking at close()
STEP_LIMIT = 30.0  # no step of a script runs longer than this
MAX_HEAD = 65536

DELETED_ID = "msgbatch_hostile"
DELETED = json.dumps({"id": DELETED_ID, "type": "message_batch_deleted"}).encode()
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# -- the steps of a script ------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Read one request (its head and a content-length body) and record it.
    The script ends if none arrives within `timeout` or the client closes."""

    timeout: float = 10.0


@dataclass(frozen=True)
class Receive:
    """Read whatever arrives first (a TLS hello, say), at least one byte."""

    timeout: float = 10.0


@dataclass(frozen=True)
class Send:
    """Send these bytes (waiting, bounded, while the client does not read)."""

    data: bytes


@dataclass(frozen=True)
class Sleep:
    """Send nothing for a while, without reading either."""

    seconds: float


@dataclass(frozen=True)
class Drip:
    """Send `data` one byte at a time, `pause` seconds after each byte."""

    data: bytes
    pause: float


@dataclass(frozen=True)
class Repeat:
    """Play `steps` again and again, for at most `seconds` and, if given,
    until `max_bytes` bytes were sent by the repetition."""

    steps: tuple[Step, ...]
    seconds: float = 10.0
    max_bytes: int | None = None


@dataclass(frozen=True)
class Hold:
    """Keep the connection open, sending nothing, until the client closes
    it or `seconds` pass (what arrives meanwhile is recorded, not read as a
    request)."""

    seconds: float = 10.0


@dataclass(frozen=True)
class Close:
    """Close the connection now (the rest of the script is not played)."""


Step = Request | Receive | Send | Sleep | Drip | Repeat | Hold | Close
Script = Sequence[Step]


@dataclass
class Seen:
    """A request as the server read it."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int  # 1 for the first connection accepted

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(found) if found else None


class _Done(Exception):
    """The script of this connection is over (client gone, stop, time up)."""


@dataclass
class _Connection:
    sock: socket.socket
    number: int
    buffer: bytes = b""
    sent: int = 0


@dataclass
class HostileServer:
    """The server; use it as a context manager (or call `close()`).

    `play(*scripts)`: the next connections play these scripts in order, and
    the last one is played by every connection after them.
    """

    scripts: Sequence[Script] = ()
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0  # accepted so far
    finished: int = 0  # connections whose script is over (and closed)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._queue: list[Script] = list(self.scripts) or [[Request(), Send(ok())]]
        self._received: dict[int, bytearray] = {}
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def play(self, *scripts: Script) -> None:
        """Scripts for the next connections (the last one repeats)."""
        if not scripts:
            raise ValueError("play() needs at least one script")
        with self._lock:
            self._queue = list(scripts)

    def received(self, connection: int) -> bytes:
        """Every byte received on a connection (numbered from 1)."""
        with self._lock:
            return bytes(self._received.get(connection, b""))

    def wait_finished(self, count: int, timeout: float = 5.0) -> bool:
        """Wait (bounded) until `count` connections have played their script."""
        with self._lock:
            return self._lock.wait_for(lambda: self.finished >= count, timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes the acceptor's accept() on Linux
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(POLL)
            with self._lock:
                self.connections += 1
                number = self.connections
                script = self._queue[0]
                if len(self._queue) > 1:
                    self._queue.pop(0)
                self._received[number] = bytearray()
                self._socks.append(sock)
            thread = threading.Thread(
                target=self._serve, args=(_Connection(sock, number), script), daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: _Connection, script: Script) -> None:
        try:
            self._play(conn, script)
        except (_Done, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.sock.close()
            with self._lock:
                self.finished += 1
                self._lock.notify_all()

    def _play(self, conn: _Connection, steps: Iterable[Step]) -> None:
        for step in steps:
            if self._stop.is_set():
                raise _Done
            if isinstance(step, Request):
                self._read_request(conn, time.monotonic() + min(step.timeout, STEP_LIMIT))
            elif isinstance(step, Receive):
                if not conn.buffer:
                    self._recv(conn, time.monotonic() + min(step.timeout, STEP_LIMIT))
                conn.buffer = b""
            elif isinstance(step, Send):
                self._send(conn, step.data)
            elif isinstance(step, Sleep):
                self._sleep(step.seconds)
            elif isinstance(step, Drip):
                for i in range(len(step.data)):
                    self._send(conn, step.data[i : i + 1])
                    self._sleep(step.pause)
            elif isinstance(step, Repeat):
                self._repeat(conn, step)
            elif isinstance(step, Hold):
                self._hold(conn, step.seconds)
            else:
                raise _Done

    def _repeat(self, conn: _Connection, step: Repeat) -> None:
        if not step.steps:
            raise ValueError("Repeat needs at least one step")
        end = time.monotonic() + min(step.seconds, STEP_LIMIT)
        start = conn.sent
        while time.monotonic() < end:  # bounded by time (and close())
            if step.max_bytes is not None and conn.sent - start >= step.max_bytes:
                return
            self._play(conn, step.steps)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(min(seconds, STEP_LIMIT)):
            raise _Done

    def _hold(self, conn: _Connection, seconds: float) -> None:
        end = time.monotonic() + min(seconds, STEP_LIMIT)
        try:
            while True:  # ends by _Done: time up, close(), or the client closed
                self._recv(conn, end)
        except _Done:
            if time.monotonic() < end and not self._stop.is_set():
                raise  # the client closed the connection
        finally:
            conn.buffer = b""  # recorded in received(), never read as a request

    def _recv(self, conn: _Connection, end: float) -> None:
        """Read some bytes into the connection's buffer, by `end`."""
        while True:
            if self._stop.is_set() or time.monotonic() >= end:
                raise _Done
            try:
                data = conn.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise _Done
            with self._lock:
                self._received[conn.number] += data
            conn.buffer += data
            return

    def _send(self, conn: _Connection, data: bytes) -> None:
        view = memoryview(data)
        end = time.monotonic() + STEP_LIMIT
        while view:
            if self._stop.is_set() or time.monotonic() >= end:
                raise _Done
            try:
                sent = conn.sock.send(view)
            except TimeoutError:
                continue
            view = view[sent:]
            conn.sent += sent

    def _read_request(self, conn: _Connection, end: float) -> None:
        while b"\r\n\r\n" not in conn.buffer:
            if len(conn.buffer) > MAX_HEAD:
                raise _Done
            self._recv(conn, end)
        head, _, rest = conn.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) != 3:
            raise _Done
        method, target, version = parts
        headers = [
            (name, value.strip())
            for name, _, value in (line.partition(":") for line in lines[1:])
            if name
        ]
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        length = int(lengths[0]) if lengths and lengths[0].isdigit() else 0
        conn.buffer = rest
        while len(conn.buffer) < length:
            self._recv(conn, end)
        body, conn.buffer = conn.buffer[:length], conn.buffer[length:]
        with self._lock:
            self.requests.append(Seen(method, target, version, headers, body, conn.number))


# -- responses -------------------------------------------------------------------------


def head(status: int = 200, *headers: str, reason: str = "OK") -> bytes:
    """A response head (status line, headers, blank line), CRLF endings."""
    lines = [f"HTTP/1.1 {status} {reason}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def chunked(body: bytes, size: int = 16) -> bytes:
    """`body` as a chunked message body (chunks of `size`, then the last one)."""
    pieces = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


def response(
    status: int = 200,
    body: bytes = DELETED,
    *headers: str,
    framing: str = "length",
    reason: str = "OK",
) -> bytes:
    """A whole response: a JSON content type, the headers given, and the
    body framed by content-length ("length"), chunks ("chunked") or the end
    of the connection ("close")."""
    names = {h.split(":", 1)[0].lower() for h in headers}
    lines = [] if "content-type" in names else ["content-type: application/json"]
    lines += headers
    if framing == "length":
        lines.append(f"content-length: {len(body)}")
    elif framing == "chunked":
        lines.append("transfer-encoding: chunked")
        body = chunked(body)
    elif framing == "close":
        lines.append("connection: close")
    else:
        raise ValueError(f"unknown framing {framing!r}")
    return head(status, *lines, reason=reason) + body


def ok(batch_id: str = DELETED_ID) -> bytes:
    """The API's answer to a delete: 200 and the deleted batch."""
    return response(200, json.dumps({"id": batch_id, "type": "message_batch_deleted"}).encode())


def error_body(status: int, error_type: str = "api_error", message: str = "no") -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_1"}
    ).encode()


def padded(size: int, batch_id: str = DELETED_ID) -> bytes:
    """A valid deleted-batch body of exactly `size` bytes (JSON whitespace)."""
    start = json.dumps({"id": batch_id, "type": "message_batch_deleted"})[:-1].encode()
    return start + b" " * (size - len(start) - 1) + b"}"


def deflate(data: bytes, *, raw: bool = False) -> bytes:
    """`data` as content-encoding deflate: zlib-wrapped, or raw (as some
    servers wrongly send it)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 2 MB of gzip that inflates to 2 GiB of zeros (one member, a
    correct trailer). Built from one fully flushed 64 MiB deflate block
    repeated, which takes about a second instead of compressing 2 GiB."""
    zeros = bytes(64 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history
    crc = 0
    for _ in range(32):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (32 * len(zeros)) & 0xFFFFFFFF)
    return header + block * 32 + c.flush(zlib.Z_FINISH) + trailer


def endless_chunks(chunk: int = 16, per_send: int = 2048) -> bytes:
    """One send's worth of small chunks (never the last chunk)."""
    return (b"%x\r\n%s\r\n" % (chunk, b"x" * chunk)) * per_send


def one_shot(data: bytes) -> list[Step]:
    """Read the request, answer with `data`, close."""
    return [Request(), Send(data)]
