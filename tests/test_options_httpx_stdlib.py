"""Connection options where the httpx and stdlib transports do it their own
way: the stdlib pool limit and CONNECT tunnel, httpx's client per route, and
errors that name the proxy. (The suite shared by every transport, through a
real proxy, is tests/test_options.py.)"""

from __future__ import annotations

import base64
import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import batchdelete as bd
import batchdelete_httpx
import batchdelete_stdlib as st
from batchdelete import ConnectionOptions, RequestSpec, Timeout
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.timeout(60)

BATCH = "msgbatch_opts"
SECRET = "pa:ss word"  # percent-encoded in the URL, decoded in the header
PROXY_USER = "alice:pa%3Ass%20word"
BASIC = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()


class TinyProxy:
    """A forward proxy on 127.0.0.1 for CONNECT only: records each request
    head, then answers `status` (200: relays bytes to the target)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.heads: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            text = head.partition(b"\r\n\r\n")[0].decode("latin-1")
            self.heads.append(text)
            if self.status != 200:
                conn.sendall(
                    f"HTTP/1.1 {self.status} Proxy Authentication Required\r\n"
                    "content-length: 0\r\nconnection: close\r\n\r\n".encode()
                )
                return
            target = text.split(" ")[1]
            host, _, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=10) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._relay(conn, upstream)

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        end = time.monotonic() + 20
        while not self._stop.is_set() and time.monotonic() < end:
            readable, _, _ = select.select([a, b], [], [], 0.1)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def tiny_proxy() -> Iterator[TinyProxy]:
    proxy = TinyProxy()
    yield proxy
    proxy.close()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spec(url: str, deadline: float | None = None) -> RequestSpec:
    return RequestSpec(
        "DELETE",
        f"{url}/v1/messages/batches/{BATCH}",
        {"x-api-key": API_KEY},
        Timeout(connect=5, read=10),
        deadline=deadline,
    )


# -- stdlib: the pool limit --------------------------------------------------------------


def test_stdlib_never_opens_more_than_max_connections_to_an_origin(server: ScriptServer) -> None:
    server.script(*[Reply(delay=0.2) for _ in range(8)])
    transport = st.StdlibTransport(options=ConnectionOptions(max_connections=2))
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(transport.send(spec(server.url)).status))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    transport.close()
    assert statuses == [200] * 8
    assert server.connections == 2  # the other six waited for one of them


@pytest.mark.slow
def test_stdlib_a_thread_waiting_for_a_connection_stops_at_its_deadline(
    server: ScriptServer,
) -> None:
    server.script(Reply(delay=3))
    transport = st.StdlibTransport(options=ConnectionOptions(max_connections=1))
    holder = threading.Thread(target=transport.send, args=(spec(server.url),), daemon=True)
    holder.start()
    time.sleep(0.3)  # the holder has the only connection
    started = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError, match="max_connections"):
        transport.send(spec(server.url, deadline=started + 0.5))
    assert 0.4 < time.monotonic() - started < 1.5
    assert server.connections == 1
    holder.join(timeout=10)
    transport.close()


def test_stdlib_a_failed_connection_gives_its_slot_back(server: ScriptServer) -> None:
    transport = st.StdlibTransport(options=ConnectionOptions(max_connections=1))
    dead = f"http://127.0.0.1:{free_port()}"
    for _ in range(3):  # each refused connection frees its slot
        with pytest.raises(bd.TransportConnectError):
            transport.send(spec(dead, deadline=time.monotonic() + 2))
    assert transport.send(spec(server.url)).status == 200
    transport.close()


# -- stdlib: through a proxy ------------------------------------------------------------


def test_stdlib_tunnels_through_connect_with_credentials_for_the_proxy_only(
    tiny_proxy: TinyProxy, tls_server: ScriptServer, ca_file: str
) -> None:
    proxy = f"http://{PROXY_USER}@127.0.0.1:{tiny_proxy.port}"
    with bd.Client(
        api_key=API_KEY, base_url=tls_server.url, transport="stdlib", proxy=proxy, verify=ca_file
    ) as client:
        assert client.delete(BATCH).id == BATCH
        assert client.delete(BATCH).id == BATCH  # the tunnel is kept alive
    [head] = tiny_proxy.heads
    assert head.startswith(f"CONNECT 127.0.0.1:{tls_server.port} ")
    assert f"Proxy-Authorization: {BASIC}" in head.split("\r\n")
    assert API_KEY not in head  # the API key goes inside the tunnel only
    assert [r.header("proxy-authorization") for r in tls_server.requests] == [None, None]
    assert tls_server.requests[0].header("host") == f"127.0.0.1:{tls_server.port}"


def test_stdlib_sends_absolute_form_to_a_plain_http_proxy(server: ScriptServer) -> None:
    base = "http://batches.example.invalid:8080"
    proxy = f"http://{PROXY_USER}@127.0.0.1:{server.port}"
    with bd.Client(api_key=API_KEY, base_url=base, transport="stdlib", proxy=proxy) as c:
        assert c.delete(BATCH).id == BATCH
    [request] = server.requests
    assert request.target == f"{base}/v1/messages/batches/{BATCH}"
    assert request.header("host") == "batches.example.invalid:8080"
    assert request.header("proxy-authorization") == BASIC


def test_stdlib_refuses_tls_inside_tls() -> None:
    transport = st.StdlibTransport(options=ConnectionOptions(proxy="https://127.0.0.1:9"))
    with pytest.raises(bd.TransportError, match=r"HTTPS proxy 127\.0\.0\.1:9"):
        transport.send(spec("https://api.example.invalid"))


def test_stdlib_proxy_from_the_environment_is_read_once(
    monkeypatch: pytest.MonkeyPatch, server: ScriptServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("NO_PROXY", "direct.example.invalid")
    transport = st.StdlibTransport(options=ConnectionOptions())
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # too late
    assert transport.send(spec("http://batches.example.invalid")).status == 200
    assert server.requests[0].target.startswith("http://batches.example.invalid/")
    _, route, _ = transport._route("http://direct.example.invalid/x")
    assert route.proxy is None
    transport.close()


# -- both: errors that name the proxy ------------------------------------------------------


@pytest.mark.parametrize("name", ["stdlib", "httpx"])
def test_a_proxy_refusing_the_tunnel_is_named(name: str, tls_server: ScriptServer) -> None:
    proxy = TinyProxy(status=407)
    try:
        client = bd.Client(
            api_key=API_KEY,
            base_url=tls_server.url,
            transport=name,
            proxy=f"http://{PROXY_USER}@127.0.0.1:{proxy.port}",
            max_retries=0,
        )
        with client, pytest.raises(bd.APIConnectionError) as info:
            client.delete(BATCH)
    finally:
        proxy.close()
    message = str(info.value)
    assert f"The proxy 127.0.0.1:{proxy.port} refused the tunnel: 407" in message
    assert "alice" not in message and "word" not in message
    assert isinstance(info.value.__cause__, bd.TransportConnectError)
    assert tls_server.requests == []


@pytest.mark.parametrize("name", ["stdlib", "httpx"])
def test_a_dead_proxy_is_named_with_its_password_masked(name: str) -> None:
    port = free_port()
    client = bd.Client(
        api_key=API_KEY,
        base_url="https://api.example.invalid",
        transport=name,
        proxy=f"http://{PROXY_USER}@127.0.0.1:{port}",
        max_retries=0,
    )
    with client, pytest.raises(bd.APIConnectionError) as info:
        client.delete(BATCH)
    message = str(info.value)
    assert f"The proxy 127.0.0.1:{port} cannot be reached" in message
    assert "alice" not in message and "word" not in message
    assert isinstance(info.value.__cause__, bd.TransportConnectError)


# -- httpx: a client per route ---------------------------------------------------------------


def test_httpx_builds_a_client_per_route_from_the_options(
    monkeypatch: pytest.MonkeyPatch, ca_file: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", ".internal.example")
    options = ConnectionOptions(verify=ca_file, max_connections=3)
    transport = batchdelete_httpx.HttpxTransport(options=options)
    clients = transport._clients.by_proxy
    assert set(clients) == {None, "http://127.0.0.1:9"}
    for client in clients.values():
        assert client.trust_env is False
        for t in [client._transport, *client._mounts.values()]:
            pool = t._pool  # type: ignore[union-attr]
            assert pool._max_connections == 3
            assert pool._ssl_context is options.ssl_context()
    route = transport._route("https://api.anthropic.com/v1/x")
    assert route.client is clients["http://127.0.0.1:9"] and route.proxy == "127.0.0.1:9"
    assert transport._route("https://svc.internal.example/x").client is clients[None]
    assert transport._route("https://127.0.0.1:8443/x").client is clients[None]
    transport.close()


def test_httpx_native_client_gets_no_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    native = httpx.Client()
    transport = batchdelete_httpx.HttpxTransport(native, ConnectionOptions())
    assert transport._route("https://api.anthropic.com/x") == (native, None)
    transport.close()
    assert not native.is_closed
    native.close()


def test_httpx_keeps_to_max_connections(server: ScriptServer) -> None:
    server.script(*[Reply(delay=0.2) for _ in range(8)])
    transport = batchdelete_httpx.HttpxTransport(options=ConnectionOptions(max_connections=2))
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(transport.send(spec(server.url)).status))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    transport.close()
    assert statuses == [200] * 8 and server.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_httpx_rebuilds_every_route_after_fork() -> None:
    options = ConnectionOptions(proxy="http://127.0.0.1:9")
    transport = batchdelete_httpx.HttpxTransport(options=options)
    parent = dict(transport._clients.by_proxy)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        with contextlib.suppress(BaseException):
            route = transport._route("https://api.example.invalid/x")
            child = transport._clients.by_proxy
            fresh = set(child) == set(parent) and all(child[k] is not parent[k] for k in child)
            code = 0 if fresh and route.client is child["http://127.0.0.1:9"] else 1
        os._exit(code)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child did not finish")
    transport.close()
    assert os.waitstatus_to_exitcode(status) == 0
