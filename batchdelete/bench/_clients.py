"""The sync clients the benchmarks compare. Each `make(name, setup)` returns
a function that performs one DELETE of a batch over a kept-alive connection
and returns the body, and a function that closes what it opened.

Bare rows do the transport's work with the library alone: same headers, same
timeouts, retries and redirects off, requests with `trust_env` off. Default
rows are the library as most people write it (defaults, `trust_env` on).
Every row checks the status it is answered with (`Setup.expect`); with
`Setup.ca` every row verifies the server against that CA, with
`Setup.proxy` every row is given that proxy.

Libraries are imported when a client is made: a row whose library is not
installed is skipped (`rows`), never an ImportError.
"""

from __future__ import annotations

import base64
import importlib.util
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from ._options import Setup

__all__ = [
    "FLOOR",
    "LIBRARY_ROWS",
    "SDK",
    "Call",
    "Close",
    "UnexpectedStatusError",
    "installed",
    "make",
    "not_installed",
    "rows",
]

FLOOR = "floor (raw socket)"
SDK = "anthropic SDK"
#: The bare row (first) and the default row of each transport's library.
LIBRARY_ROWS: dict[str, tuple[str, ...]] = {
    "urllib3": ("bare urllib3", "default urllib3"),
    "httpx": ("bare httpx", "default httpx"),
    "requests": ("bare requests", "default requests"),
    "stdlib": ("bare http.client",),
    "pycurl": ("bare pycurl",),
}
#: The module each row imports beyond the standard library.
NEEDS = {
    "bare urllib3": "urllib3",
    "default urllib3": "urllib3",
    "bare httpx": "httpx",
    "default httpx": "httpx",
    "bare requests": "requests",
    "default requests": "requests",
    "bare pycurl": "pycurl",
    SDK: "anthropic",
}

Call = Callable[[], bytes]
Close = Callable[[], None]


class UnexpectedStatusError(Exception):
    """A row was answered with another status than the run expects."""


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def not_installed(module: str) -> str:
    return f"not installed (pip install {module})"


def rows(
    available: list[str], setup: Setup, *, real: bool = False
) -> tuple[list[str], dict[str, str]]:
    """(every client to measure, in table order; the rows skipped -> why)
    for the sync transports that are available."""
    names: list[str] = []
    skipped: dict[str, str] = {}

    def add(name: str) -> None:
        need = NEEDS.get(name)
        if need is not None and not installed(need):
            skipped[name] = not_installed(need)
        else:
            names.append(name)

    if real:
        skipped[FLOOR] = "the local server's only (it sends prebuilt bytes)"
    elif setup.proxy is not None:
        skipped[FLOOR] = "goes direct: not measured through a proxy"
    else:
        names.append(FLOOR)
    for transport in available:
        names.append(f"batchdelete[{transport}]")
        for row in LIBRARY_ROWS.get(transport, ()):
            add(row)
    add(SDK)
    return names, skipped


def _checker(setup: Setup) -> Callable[[int], None]:
    expect = setup.expect

    def check(status: int) -> None:
        if status != expect:
            raise UnexpectedStatusError(f"answered {status}, expected {expect}")

    return check


def _full(setup: Setup) -> str:
    return setup.url.rstrip("/") + setup.path


def _floor(setup: Setup) -> tuple[Call, Close]:
    parts = urlsplit(setup.url)
    request = (
        f"DELETE {urlsplit(_full(setup)).path} HTTP/1.1\r\nhost: {parts.netloc}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in setup.headers().items())
        + "\r\n"
    ).encode()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    sock = socket.create_connection((parts.hostname, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if parts.scheme == "https":
        sock = setup.ssl_context().wrap_socket(sock, server_hostname=parts.hostname)
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


def _ours(transport: str, setup: Setup) -> tuple[Call, Close]:
    import batchdelete

    client = batchdelete.Client(transport=transport, **setup.client_args())
    batch = setup.batch
    if setup.expect == 404:

        def call_missing() -> bytes:
            try:
                client.delete(batch)
            except batchdelete.NotFoundError:
                return b""
            raise UnexpectedStatusError("answered 2xx, expected 404")

        return call_missing, client.close

    def call() -> bytes:
        return client.delete(batch).id.encode()

    return call, client.close


def _sdk(setup: Setup) -> tuple[Call, Close]:
    import anthropic

    options: dict[str, Any] = {}
    if setup.ca is not None:
        options["verify"] = setup.ssl_context()
    if setup.proxy is not None:
        options["proxy"] = setup.proxy
    args: dict[str, Any] = {"api_key": setup.key, "base_url": setup.url, "max_retries": 0}
    if options:
        args["http_client"] = anthropic.DefaultHttpxClient(**options)
    sdk = anthropic.Anthropic(**args)
    batch = setup.batch
    if setup.expect == 404:

        def call_missing() -> bytes:
            try:
                sdk.messages.batches.delete(batch)
            except anthropic.NotFoundError:
                return b""
            raise UnexpectedStatusError("answered 2xx, expected 404")

        return call_missing, sdk.close

    def call() -> bytes:
        return sdk.messages.batches.delete(batch).id.encode()

    return call, sdk.close


def _urllib3(setup: Setup, *, bare: bool) -> tuple[Call, Close]:
    import urllib3

    full, headers, check = _full(setup), setup.headers(), _checker(setup)
    # retries off for a real endpoint, where the request count is capped
    kw: dict[str, Any] = {"retries": False} if bare or setup.expect != 200 else {}
    if setup.ca is not None:
        kw["ca_certs"] = setup.ca
    pm = (
        urllib3.ProxyManager(setup.proxy, **kw)
        if setup.proxy is not None
        else urllib3.PoolManager(**kw)
    )
    if not bare:

        def call_default() -> bytes:
            r = pm.request("DELETE", full, headers=headers)
            check(r.status)
            return r.data

        return call_default, pm.clear
    timeout = urllib3.Timeout(connect=5.0, read=60.0)

    def call() -> bytes:
        r = pm.urlopen(
            "DELETE",
            full,
            headers=headers,
            retries=False,
            redirect=False,
            timeout=timeout,
            preload_content=True,
        )
        check(r.status)
        return r.data

    return call, pm.clear


def _httpx(setup: Setup, *, bare: bool) -> tuple[Call, Close]:
    import httpx

    full, headers, check = _full(setup), setup.headers(), _checker(setup)
    kw: dict[str, Any] = {}
    if bare:
        kw.update(follow_redirects=False, timeout=httpx.Timeout(60.0, connect=5.0))
    if setup.ca is not None:
        kw["verify"] = setup.ssl_context()
    if setup.proxy is not None:
        kw["proxy"] = setup.proxy
    hx = httpx.Client(**kw)
    if not bare:

        def call_default() -> bytes:
            r = hx.delete(full, headers=headers)
            check(r.status_code)
            return r.content

        return call_default, hx.close

    def call() -> bytes:
        r = hx.request("DELETE", full, headers=headers)
        check(r.status_code)
        return r.content

    return call, hx.close


def _requests(setup: Setup, *, bare: bool) -> tuple[Call, Close]:
    import requests
    from requests.adapters import HTTPAdapter

    full, headers, check = _full(setup), setup.headers(), _checker(setup)
    rs = requests.Session()
    if setup.ca is not None:
        rs.verify = setup.ca
    if setup.proxy is not None:
        rs.proxies = {"http": setup.proxy, "https": setup.proxy}
    if not bare and setup.ca is not None:  # REQUESTS_CA_BUNDLE would win over rs.verify
        ca = setup.ca

        def call_default_ca() -> bytes:
            r = rs.delete(full, headers=headers, verify=ca)
            check(r.status_code)
            return r.content

        return call_default_ca, rs.close
    if not bare:

        def call_default() -> bytes:
            r = rs.delete(full, headers=headers)
            check(r.status_code)
            return r.content

        return call_default, rs.close
    rs.trust_env = False
    rs.mount("http://", HTTPAdapter(max_retries=0))
    rs.mount("https://", HTTPAdapter(max_retries=0))

    def call() -> bytes:
        r = rs.request("DELETE", full, headers=headers, timeout=(5.0, 60.0), allow_redirects=False)
        check(r.status_code)
        return r.content

    return call, rs.close


def _http_client(setup: Setup) -> tuple[Call, Close]:
    import http.client

    full, headers, check = _full(setup), setup.headers(), _checker(setup)
    parts = urlsplit(full)
    host, port, target = parts.hostname or "", parts.port, parts.path
    tls = parts.scheme == "https"
    conn: http.client.HTTPConnection
    if setup.proxy is not None:
        proxy = urlsplit(setup.proxy)
        auth = {}
        if proxy.username is not None:
            pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
            auth["proxy-authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        if tls:
            conn = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port, timeout=60.0, context=setup.ssl_context()
            )
            conn.set_tunnel(host, port, headers=auth)
        else:
            conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port, timeout=60.0)
            target, headers = full, {**headers, **auth}
    elif tls:
        conn = http.client.HTTPSConnection(host, port, timeout=60.0, context=setup.ssl_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=60.0)

    def call() -> bytes:
        conn.request("DELETE", target, headers=headers)
        r = conn.getresponse()
        body = r.read()
        check(r.status)
        return body

    return call, conn.close


def _pycurl(setup: Setup) -> tuple[Call, Close]:
    import pycurl  # type: ignore[import-untyped]  # pycurl ships no type information

    check = _checker(setup)
    chunks: list[bytes] = []
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, _full(setup))
    curl.setopt(pycurl.CUSTOMREQUEST, "DELETE")
    curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in setup.headers().items()])
    curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    curl.setopt(pycurl.WRITEFUNCTION, chunks.append)
    curl.setopt(pycurl.NOSIGNAL, 1)
    curl.setopt(pycurl.CONNECTTIMEOUT_MS, 5000)
    curl.setopt(pycurl.TIMEOUT_MS, 60000)
    # "": direct; NOPROXY "": the environment's NO_PROXY does not apply either
    curl.setopt(pycurl.PROXY, setup.proxy or "")
    curl.setopt(pycurl.NOPROXY, "")
    if setup.ca is not None:
        curl.setopt(pycurl.CAINFO, setup.ca)

    def call() -> bytes:
        chunks.clear()
        curl.perform()
        check(curl.getinfo(pycurl.RESPONSE_CODE))
        return b"".join(chunks)

    return call, curl.close


_BUILDERS: dict[str, Callable[[Setup], tuple[Call, Close]]] = {
    FLOOR: _floor,
    SDK: _sdk,
    "bare urllib3": lambda setup: _urllib3(setup, bare=True),
    "default urllib3": lambda setup: _urllib3(setup, bare=False),
    "bare httpx": lambda setup: _httpx(setup, bare=True),
    "default httpx": lambda setup: _httpx(setup, bare=False),
    "bare requests": lambda setup: _requests(setup, bare=True),
    "default requests": lambda setup: _requests(setup, bare=False),
    "bare http.client": _http_client,
    "bare pycurl": _pycurl,
}


def make(name: str, setup: Setup) -> tuple[Call, Close]:
    """The call and the close of the client `name`: a `batchdelete[<transport>]`
    or one of `_BUILDERS`."""
    if name.startswith("batchdelete["):
        return _ours(name[12:-1], setup)
    build = _BUILDERS.get(name)
    if build is None:
        raise ValueError(f"unknown client {name!r}")
    return build(setup)
