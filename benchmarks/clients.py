"""The clients the benchmarks compare. Each `make(name, url)` returns a
function that performs one DELETE of a batch over a kept-alive connection
and returns the body, and a function that closes what it opened.

Bare rows do the transport's work with the library alone: same headers, same
timeouts, retries and redirects off, requests with `trust_env` off. Default
rows are the library as most people write it (defaults, `trust_env` on).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

API_KEY = "sk-ant-bench-0000"
BATCH = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
PATH = "/v1/messages/batches/" + BATCH
HEADERS = {
    "accept": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": API_KEY,
    "user-agent": "batchdelete-bench/1",
}
LIBRARY_ROWS = {
    "urllib3": ("bare urllib3", "default urllib3"),
    "httpx": ("bare httpx", "default httpx"),
    "requests": ("bare requests", "default requests"),
    "stdlib": ("bare http.client",),
}

Call = Callable[[], bytes]
Close = Callable[[], None]


def names(available: list[str]) -> list[str]:
    """Every client, in table order, for the transports that are available."""
    rows = ["floor (raw socket)"]
    for transport in available:
        rows += [f"batchdelete[{transport}]", *LIBRARY_ROWS.get(transport, ())]
    rows.append("anthropic SDK")
    return rows


def _floor(url: str) -> tuple[Call, Close]:
    parts = urlsplit(url)
    request = (
        f"DELETE {PATH} HTTP/1.1\r\nhost: {parts.netloc}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + "\r\n"
    ).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray()

    def call() -> bytes:
        sock.sendall(request)
        buffer.clear()
        while True:
            buffer.extend(sock.recv(65536))
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(buffer[:end]).lower()
                length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                if len(buffer) >= end + 4 + length:
                    return bytes(buffer[end + 4 : end + 4 + length])

    return call, sock.close


def make(name: str, url: str) -> tuple[Call, Close]:
    full = url + PATH
    if name == "floor (raw socket)":
        return _floor(url)
    if name.startswith("batchdelete["):
        import batchdelete

        client = batchdelete.Client(api_key=API_KEY, base_url=url, transport=name[12:-1])
        return (lambda: client.delete(BATCH).id.encode()), client.close
    if name == "anthropic SDK":
        import anthropic

        sdk = anthropic.Anthropic(api_key=API_KEY, base_url=url, max_retries=0)
        return (lambda: sdk.messages.batches.delete(BATCH).id.encode()), sdk.close
    if name == "bare urllib3":
        import urllib3

        pm = urllib3.PoolManager(retries=False)
        timeout = urllib3.Timeout(connect=5.0, read=60.0)

        def call_u() -> bytes:
            return pm.urlopen(
                "DELETE",
                full,
                headers=HEADERS,
                retries=False,
                redirect=False,
                timeout=timeout,
                preload_content=True,
            ).data

        return call_u, pm.clear
    if name == "default urllib3":
        import urllib3

        pm = urllib3.PoolManager()
        return (lambda: pm.request("DELETE", full, headers=HEADERS).data), pm.clear
    if name == "bare httpx":
        import httpx

        hx = httpx.Client(follow_redirects=False, timeout=httpx.Timeout(60.0, connect=5.0))
        return (lambda: hx.request("DELETE", full, headers=HEADERS).content), hx.close
    if name == "default httpx":
        import httpx

        hd = httpx.Client()
        return (lambda: hd.delete(full, headers=HEADERS).content), hd.close
    if name == "bare requests":
        import requests
        from requests.adapters import HTTPAdapter

        rs = requests.Session()
        rs.trust_env = False
        rs.mount("http://", HTTPAdapter(max_retries=0))

        def call_r() -> bytes:
            return rs.request(
                "DELETE", full, headers=HEADERS, timeout=(5.0, 60.0), allow_redirects=False
            ).content

        return call_r, rs.close
    if name == "bare http.client":
        import http.client

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60.0)

        def call_h() -> bytes:
            conn.request("DELETE", PATH, headers=HEADERS)
            return conn.getresponse().read()

        return call_h, conn.close
    if name == "default requests":
        import requests

        rd = requests.Session()
        return (lambda: rd.delete(full, headers=HEADERS).content), rd.close
    raise ValueError(f"unknown client {name!r}")
