"""A scriptable HTTP/1.1 server on 127.0.0.1 for the contract suite.

It records every request exactly as it arrived (raw target, headers in
order, body) and answers from a script: status, headers, body, a delay,
a connection dropped before the response or in the middle of the body.
Without a script it answers like the API: 200 and the deleted-batch body.
Keep-alive is honoured; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_HEAD = 65536
IO_TIMEOUT = 10.0


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # None: the deleted-batch body for the id asked
    delay: float = 0.0  # seconds before answering
    drop: str | None = None  # "before": close without answering; "during": cut the body
    json_type: str = "application/json"


def error_reply(status: int, error_type: str, message: str, *headers: tuple[str, str]) -> Reply:
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": f"req_body_{status}",
        }
    ).encode()
    return Reply(status, (("request-id", f"req_{status}"), *headers), body)


@dataclass
class Recorded:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(found) if found else None

    @property
    def names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


@dataclass
class ScriptServer:
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None  # serve HTTPS with this server-side context
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.5)  # the accept loop checks for close() this often
        self.port = self._sock.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        self._count = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):  # wakes the other thread's accept() on Linux
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self._acceptor.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> ScriptServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            with self._lock:
                self.connections += 1
                number = self.connections
                self._clients.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(t)
            t.start()

    def _next_reply(self) -> Reply:
        with self._lock:
            self._count += 1
            return self._script.popleft() if self._script else Reply()

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        try:
            if self.tls is not None:
                raw = conn
                conn = self.tls.wrap_socket(raw, server_side=True)
                with self._lock:  # close() must shut the wrapped socket down
                    self._clients[self._clients.index(raw)] = conn
            for _ in range(10_000):  # requests on one connection, bounded
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk or len(buffer) > MAX_HEAD:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = [tuple(line.split(":", 1)) for line in lines[1:] if ":" in line]
                pairs = [(k, v.strip()) for k, v in headers]
                length = int(dict((k.lower(), v) for k, v in pairs).get("content-length", "0"))
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                with self._lock:
                    self.requests.append(Recorded(method, target, version, pairs, body, number))
                if not self._answer(conn, self._next_reply(), target):
                    return
        except (OSError, ValueError):  # ssl.SSLError included: a refused handshake
            return
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, reply: Reply, target: str) -> bool:
        if reply.delay and self._stopped.wait(reply.delay):
            return False
        if reply.drop == "before":
            return False
        body = reply.body
        if body is None:
            batch_id = unquote(target.rsplit("/", 1)[-1])
            body = json.dumps({"id": batch_id, "type": "message_batch_deleted"}).encode()
        names = {k.lower() for k, _ in reply.headers}
        head = [f"HTTP/1.1 {reply.status} Status"]
        if "content-type" not in names:
            head.append(f"Content-Type: {reply.json_type}")
        if "request-id" not in names:
            with self._lock:
                head.append(f"request-id: req_test_{self._count}")
        head += [f"{k}: {v}" for k, v in reply.headers]
        head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.drop == "during":
            conn.sendall(data + body[: len(body) // 2])
            return False
        conn.sendall(data + body)
        return True
