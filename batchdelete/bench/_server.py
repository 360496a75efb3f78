"""A minimal keep-alive HTTP/1.1 server for the benchmarks, in its own process.

It answers every request with the same prebuilt 200 response (a deleted-batch
body), except `GET /__stats`, which reports connections opened and requests
served, and `POST /__reset`, which zeroes them. One thread, asyncio, no
parsing beyond request boundaries: cheap enough not to dominate the figures
(the raw-socket floor measures it). With a certificate and its key, over
TLS (`--tls`).

    python -m batchdelete.bench._server [CERT KEY]
        # prints "PORT <n>", serves until stdin closes
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys

BODY = b'{"id":"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF","type":"message_batch_deleted"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: application/json\r\n"
    b"request-id: req_011CWbench000000000000000\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
MAX_HEAD = 65536


class Stats:
    connections = 0
    requests = 0


def _stats_response() -> bytes:
    body = json.dumps({"connections": Stats.connections, "requests": Stats.requests}).encode()
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class Protocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        Stats.connections += 1

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self.transport.close()
                    return
                break
            head = buffer[:end]
            length = 0
            if b"ength:" in head:
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
            stop = end + 4 + length
            if len(buffer) < stop:
                break
            buffer = buffer[stop:]
            if head.startswith(b"GET /__stats"):
                out.append(_stats_response())
            elif head.startswith(b"POST /__reset"):
                Stats.connections = 1  # this one
                Stats.requests = 0
                out.append(_stats_response())
            else:
                Stats.requests += 1
                out.append(RESPONSE)
        self.buffer = buffer
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int = 0, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Protocol, "127.0.0.1", port, backlog=1024, ssl=tls)
    sock = server.sockets[0]
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    closed = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), lambda: closed.set() if not sys.stdin.read(1) else None)
    async with server:
        await closed.wait()


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it by closing stdin
    tls = None
    if len(argv) == 2:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(argv[0], argv[1])
    asyncio.run(serve(0, tls))


if __name__ == "__main__":
    main(sys.argv[1:])
