"""The async httpx transport, called directly (no AsyncClient), against real
servers on 127.0.0.1: the request on the wire, the hard limits whatever the
server does (deadline, body cap, framing), cancellation, the event loop it
belongs to, a user's own AsyncClient, and the connection options through a
real proxy (proxy.py). Every wait is bounded."""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import trustme

import batchdelete as bd
from batchdelete import ConnectionOptions, RequestSpec, Timeout
from batchdelete._registry import resolve_async_transport
from batchdelete_httpx_async import HttpxAsyncTransport
from batchdelete_httpx_common import exception_map
from tests.conftest import API_KEY
from tests.hostile import (
    CONTINUE,
    Drip,
    Hold,
    HostileServer,
    Repeat,
    Request,
    Send,
    Sleep,
    deflate,
    endless_chunks,
    head,
    ok,
    response,
)
from tests.proxyserver import ProxyProcess
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
BODY = b'{"id": "msgbatch_1", "type": "message_batch_deleted"}'
HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "user-agent": "batchdelete/test httpx/test python/test",
}
PROXY_USER, PROXY_PASSWORD, WRONG_PASSWORD = "bduser", "Pr0xy-S3cret-7d2e", "Wr0ng-Pa55-91c3"


def run(coro: Coroutine[Any, Any, T], limit: float = 15.0) -> T:
    """Run `coro` in a new event loop, at most `limit` seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def spec(url: str, method: str = "DELETE", **kwargs: Any) -> RequestSpec:
    kwargs.setdefault("deadline", time.monotonic() + 10)
    headers = kwargs.pop("headers", HEADERS)
    return RequestSpec(method, url, headers, kwargs.pop("timeout", Timeout(read=5)), **kwargs)


async def send_all(transport: HttpxAsyncTransport, *specs: RequestSpec) -> list[bd.RawResponse]:
    """Send `specs` one after the other, then close the transport."""
    try:
        return [await transport.send(s) for s in specs]
    finally:
        await transport.close()


async def send_after(transport: HttpxAsyncTransport, body: Awaitable[T]) -> T:
    """Await `body`, then close the transport."""
    try:
        return await body
    finally:
        await transport.close()


def send_one(url: str, **kwargs: Any) -> bd.RawResponse:
    options = kwargs.pop("options", None)
    [answer] = run(send_all(HttpxAsyncTransport(options=options), spec(url, **kwargs)))
    return answer


def failure(url: str, **kwargs: Any) -> tuple[float, BaseException]:
    """How long one send took, and what it raised (it must raise)."""
    start = time.monotonic()
    with pytest.raises(bd.TransportError) as info:
        send_one(url, **kwargs)
    return time.monotonic() - start, info.value


def pooled(transport: HttpxAsyncTransport) -> list[Any]:
    """The connections in the pool of the transport's direct client."""
    client = transport._clients[None]
    return list(client._transport._pool.connections)  # type: ignore[attr-defined]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """proxy.py on 127.0.0.1, demanding basic authentication."""
    auth = f"{PROXY_USER}:{PROXY_PASSWORD}"
    with ProxyProcess(tmp_path_factory.mktemp("auth-proxy"), basic_auth=auth) as proxy:
        yield proxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- registration ---------------------------------------------------------------------


def test_registered_as_the_async_httpx_transport() -> None:
    [info] = [t for t in bd.list_transports() if t.name == "httpx" and t.asynchronous]
    assert info.module == "batchdelete_httpx_async" and info.builtin and info.takes_options
    transport, owned = resolve_async_transport("httpx", ConnectionOptions(trust_env=False))
    assert isinstance(transport, HttpxAsyncTransport) and owned
    assert transport.name == "httpx" and transport.library_version == httpx.__version__
    assert transport.exceptions == exception_map()
    native = httpx.AsyncClient()
    wrapped, _ = resolve_async_transport(native)
    assert isinstance(wrapped, HttpxAsyncTransport) and wrapped._native is not None
    assert wrapped._native.client is native


@pytest.mark.slow
def test_httpx_is_imported_only_when_a_transport_is_built() -> None:
    code = (
        "import sys, batchdelete_httpx_async as m; assert 'httpx' not in sys.modules; "
        "m.HttpxAsyncTransport(); assert 'httpx' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# -- the request on the wire, the answer as it came ------------------------------------


def test_exactly_the_spec_goes_out(server: ScriptServer) -> None:
    server.script(Reply(headers=(("set-cookie", "sid=abc; Path=/"),)))
    transport = HttpxAsyncTransport()

    async def scenario() -> None:
        await transport.send(spec(server.url + "/v1/messages/batches/msgbatch_1?x=%2F"))
        await transport.send(spec(server.url + "/v1/a/cancel", "POST"))
        await transport.send(spec(server.url + "/v1/b", "POST", body=b'{"a": 1}'))
        await transport.send(spec(server.url + "/bare", headers={}))
        assert not transport._clients[None].cookies  # the server's cookie was not kept

    run(send_after(transport, scenario()))
    first, empty, full, _ = server.requests
    assert (first.method, first.target, first.version, first.body) == (
        "DELETE",
        "/v1/messages/batches/msgbatch_1?x=%2F",
        "HTTP/1.1",
        b"",
    )
    assert (empty.method, empty.target, empty.body) == ("POST", "/v1/a/cancel", b"")
    assert (full.target, full.body) == ("/v1/b", b'{"a": 1}')
    # Exactly the spec's headers, plus Host and Content-Length: none of
    # httpx's own (accept, accept-encoding, connection, user-agent), no cookie.
    host = [("host", f"127.0.0.1:{server.port}")]
    sent = [sorted((k.lower(), v) for k, v in r.headers) for r in server.requests]
    assert sent == [
        sorted([*host, *HEADERS.items()]),
        sorted([*host, *HEADERS.items(), ("content-length", "0")]),
        sorted([*host, *HEADERS.items(), ("content-length", "8")]),
        host,
    ]


@pytest.mark.parametrize("status", [200, 201, 301, 302, 307, 404, 429, 500, 529])
def test_every_status_is_returned_and_redirects_are_not_followed(
    server: ScriptServer, status: int
) -> None:
    server.script(Reply(status, headers=(("location", server.url + "/elsewhere"),), body=b"{}"))
    answer = send_one(server.url + "/x")
    assert answer.status == status and answer.body == b"{}"
    assert answer.headers["location"] == server.url + "/elsewhere"
    assert [r.target for r in server.requests] == ["/x"]


def test_header_names_lower_case_and_repeats_joined(hostile: HostileServer) -> None:
    hostile.play(
        [Request(), Send(response(200, BODY, "X-Multi: a", "x-multi: b", "Request-Id: r1"))]
    )
    answer = send_one(hostile.url + "/x")
    assert answer.headers["x-multi"] == "a, b" and answer.headers["request-id"] == "r1"
    assert all(name == name.lower() for name in answer.headers)


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(BODY)),
        ("deflate", deflate(BODY)),
        ("deflate", deflate(BODY, raw=True)),
        ("identity", BODY),
    ],
    ids=["gzip", "deflate", "raw deflate", "identity"],
)
def test_bodies_are_decoded(server: ScriptServer, encoding: str, encoded: bytes) -> None:
    server.script(Reply(headers=(("content-encoding", encoding),), body=encoded))
    assert send_one(server.url + "/x").body == BODY


def test_connections_are_kept_alive(server: ScriptServer) -> None:
    answers = run(send_all(HttpxAsyncTransport(), *[spec(server.url + "/x")] * 5))
    assert [a.status for a in answers] == [200] * 5
    assert server.connections == 1


def test_connection_refused() -> None:
    took, exc = failure(f"http://127.0.0.1:{free_port()}/x")
    assert type(exc) is bd.TransportConnectError and took < 2


def test_a_deadline_already_passed_sends_nothing(server: ScriptServer) -> None:
    _, exc = failure(server.url + "/x", deadline=time.monotonic() - 1)
    assert isinstance(exc, bd.TransportTimeoutError) and "before it was sent" in str(exc)
    assert server.connections == 0


# -- the body cap -----------------------------------------------------------------------


def gzip_bomb(mib: int = 256) -> bytes:
    """gzip that inflates to `mib` MiB of zeros (one flushed 1 MiB deflate
    segment, repeated; the trailer is never reached)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + segment * mib


def test_a_gzip_bomb_stops_at_the_cap_and_its_connection_is_dropped(
    hostile: HostileServer,
) -> None:
    bomb = gzip_bomb()
    bomb_head = head(200, "content-encoding: gzip", f"content-length: {len(bomb)}")
    hostile.play([Request(), Send(bomb_head), Send(bomb), Hold(10)], [Request(), Send(ok())])
    transport = HttpxAsyncTransport()

    async def scenario() -> bd.RawResponse:
        with pytest.raises(bd.TransportResponseTooLargeError, match="max_response_bytes"):
            await transport.send(spec(hostile.url + "/x"))
        assert pooled(transport) == []
        return await transport.send(spec(hostile.url + "/x"))

    start = time.monotonic()
    assert run(send_after(transport, scenario())).status == 200
    assert time.monotonic() - start < 3
    assert hostile.connections == 2 and hostile.wait_finished(1)


def test_an_endless_chunked_body_stops_at_the_cap(hostile: HostileServer) -> None:
    endless = Repeat((Send(endless_chunks(chunk=1024, per_send=64)),), seconds=20)
    hostile.play([Request(), Send(head(200, "transfer-encoding: chunked")), endless])
    took, exc = failure(hostile.url + "/x", max_body=1 << 20)
    assert isinstance(exc, bd.TransportResponseTooLargeError) and took < 3


def test_an_error_body_is_cut_at_its_cap(server: ScriptServer) -> None:
    server.script(Reply(500, body=b"e" * 1_000_000, json_type="text/html"))
    transport = HttpxAsyncTransport()
    first, second = run(send_all(transport, spec(server.url + "/x"), spec(server.url + "/y")))
    assert first.status == 500 and first.body == b"e" * (64 << 10)
    assert second.status == 200
    assert server.connections == 2  # the cut body's connection was not reused


# -- the deadline and cancellation -------------------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    [b"HTTP/1.1 200 OK\r\nx-drip: ", head(200, "content-length: 100000")],
    ids=["head", "body"],
)
@pytest.mark.slow
def test_a_drip_ends_at_the_deadline(hostile: HostileServer, prefix: bytes) -> None:
    hostile.play([Request(), Send(prefix), Drip(b"a" * 100, 0.2)])
    took, exc = failure(hostile.url + "/x", deadline=time.monotonic() + 1.0)
    assert isinstance(exc, bd.TransportTimeoutError)
    assert 0.9 < took < 1.6
    assert hostile.wait_finished(1)  # the connection was closed


def test_endless_interim_answers_end_at_the_deadline(hostile: HostileServer) -> None:
    interim = Repeat((Send(CONTINUE * 50), Sleep(0.005)), seconds=10)
    hostile.play([Request(), interim])
    took, exc = failure(hostile.url + "/x", deadline=time.monotonic() + 0.8)
    assert isinstance(exc, bd.TransportTimeoutError) and took < 1.3


def test_silence_during_the_tls_handshake_ends_at_the_deadline(hostile: HostileServer) -> None:
    hostile.play([Hold(10)])
    https = hostile.url.replace("http://", "https://") + "/x"
    took, exc = failure(https, deadline=time.monotonic() + 0.8)
    assert isinstance(exc, bd.TransportTimeoutError) and took < 1.3
    assert hostile.wait_finished(1)


def test_a_send_cancelled_mid_body_leaves_nothing_behind(hostile: HostileServer) -> None:
    partial = head(200, f"content-length: {len(BODY)}") + BODY[:10]
    hostile.play([Request(), Send(partial), Hold(10)], [Request(), Send(ok())])
    transport = HttpxAsyncTransport()

    async def scenario() -> bd.RawResponse:
        before = asyncio.all_tasks()
        task = asyncio.create_task(transport.send(spec(hostile.url + "/x")))
        for _ in range(200):  # until the head is in and the body is awaited
            await asyncio.sleep(0.01)
            if hostile.received(1):
                break
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pooled(transport) == []
        for _ in range(5):
            await asyncio.sleep(0)
        assert asyncio.all_tasks() == before  # no task of the transport's left
        return await transport.send(spec(hostile.url + "/x"))

    assert run(send_after(transport, scenario())).status == 200
    assert hostile.wait_finished(1)  # the half-read connection was closed, not kept
    assert hostile.connections == 2


def test_a_send_cancelled_while_waiting_for_the_head(server: ScriptServer) -> None:
    server.script(Reply(delay=2))
    transport = HttpxAsyncTransport()

    async def scenario() -> bd.RawResponse:
        with pytest.raises(asyncio.TimeoutError):  # TimeoutError from Python 3.11
            await asyncio.wait_for(transport.send(spec(server.url + "/x")), 0.3)
        assert pooled(transport) == []
        return await transport.send(spec(server.url + "/x"))

    assert run(send_after(transport, scenario())).status == 200
    assert server.connections == 2


def test_a_second_event_loop_is_refused(server: ScriptServer) -> None:
    transport = HttpxAsyncTransport()
    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(transport.send(spec(server.url + "/x"))).status == 200
        start = time.monotonic()
        with pytest.raises(bd.ConfigurationError, match="another event loop"):
            run(transport.send(spec(server.url + "/x")))
        with pytest.raises(bd.ConfigurationError, match="event loop that used it"):
            run(transport.close())
        assert time.monotonic() - start < 1
        first.run_until_complete(transport.close())
        first.run_until_complete(transport.close())  # twice is fine
    finally:
        first.close()
    assert len(server.requests) == 1


def test_a_closed_transport_refuses_to_send(server: ScriptServer) -> None:
    transport = HttpxAsyncTransport()

    async def scenario() -> None:
        await transport.send(spec(server.url + "/x"))
        await transport.close()
        with pytest.raises(bd.ConfigurationError, match="closed"):
            await transport.send(spec(server.url + "/x"))

    run(scenario())


# -- framing ----------------------------------------------------------------------------

H = head(200, "content-type: application/json")[:-2]  # the head, still open
MALFORMED = {
    "status of four digits": b"HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\n{}",
    "status not digits": b"HTTP/1.1 abc OK\r\ncontent-length: 2\r\n\r\n{}",
    "no status line": b"hello there\r\n\r\n",
    "chunk size not hex": H + b"transfer-encoding: chunked\r\n\r\nzz\r\n",
    "chunk size negative": H + b"transfer-encoding: chunked\r\n\r\n-1\r\n",
    "chunk size prefixed": H + b"transfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n",
    "header line without colon": H + b"content-length: 2\r\nbogus header line\r\n\r\n{}",
    "NUL in a header value": H + b"x-a: a\x00b\r\ncontent-length: 2\r\n\r\n{}",
    "SOH in a header value": H + b"x-a: a\x01b\r\ncontent-length: 2\r\n\r\n{}",
    "DEL in a header value": H + b"x-a: a\x7fb\r\ncontent-length: 2\r\n\r\n{}",
    "negative content-length": H + b"content-length: -1\r\n\r\n{}",
    "conflicting content-length": H + b"content-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
    "transfer-encoding and content-length": (
        H + b"transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ),
    "content-encoding not asked for": H + b"content-encoding: br\r\ncontent-length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_framing_is_refused_at_once(hostile: HostileServer, payload: bytes) -> None:
    hostile.play([Request(), Send(payload), Hold(10)])  # waiting for more would hang
    took, exc = failure(hostile.url + "/x")
    assert type(exc) is bd.TransportProtocolError, repr(exc)
    assert took < 1
    assert hostile.wait_finished(1)  # and its connection was closed


# -- a user's own AsyncClient -------------------------------------------------------------


def test_a_users_client_is_used_as_it_is_and_not_closed(server: ScriptServer) -> None:
    async def scenario() -> None:
        native = httpx.AsyncClient(headers={"x-mine": "1"})
        transport = HttpxAsyncTransport(native)
        assert (await transport.send(spec(server.url + "/x"))).status == 200
        await transport.close()
        await transport.close()
        assert not native.is_closed
        assert (await native.get(server.url + "/y")).status_code == 200
        await native.aclose()

    run(scenario())
    assert server.requests[0].header("x-mine") == "1"  # its own headers apply
    assert server.requests[0].header("x-api-key") == API_KEY


def mock(respond: Callable[[httpx.Request], httpx.Response]) -> HttpxAsyncTransport:
    return HttpxAsyncTransport(httpx.AsyncClient(transport=httpx.MockTransport(respond)))


def test_a_users_mock_transport_works_under_the_cap() -> None:
    zipped = mock(
        lambda r: httpx.Response(
            200, content=gzip.compress(BODY), headers={"content-encoding": "gzip"}
        )
    )
    answer = run(send_all(zipped, spec("https://api.example.invalid/x")))
    assert answer[0].body == BODY  # decoded by httpx once, not twice
    huge = mock(lambda r: httpx.Response(200, content=b" " * (2 << 20)))
    with pytest.raises(bd.TransportResponseTooLargeError):
        run(send_all(huge, spec("https://api.example.invalid/x")))


def test_a_users_streamed_body_is_stopped_at_the_deadline() -> None:
    async def slow() -> Any:
        for _ in range(50):
            await asyncio.sleep(0.2)
            yield b" "

    transport = mock(lambda r: httpx.Response(200, content=slow()))
    start = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError):
        run(send_all(transport, spec("https://x.invalid/x", deadline=time.monotonic() + 0.8)))
    assert time.monotonic() - start < 1.3


# -- connection options -----------------------------------------------------------------


def test_a_private_ca_trusted_untrusted_or_not_checked(
    tls_server: ScriptServer, ca_file: str
) -> None:
    url = tls_server.url + "/x"
    assert send_one(url, options=ConnectionOptions(verify=ca_file)).status == 200
    assert send_one(url, options=ConnectionOptions(verify=False)).status == 200
    _, exc = failure(url, options=ConnectionOptions(trust_env=False))
    assert type(exc) is bd.TransportCertificateError
    assert len(tls_server.requests) == 2


def test_https_through_a_proxy_tunnel(
    auth_proxy: ProxyProcess, tls_server: ScriptServer, ca_file: str
) -> None:
    proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{auth_proxy.port}"
    since = auth_proxy.log_size()
    options = ConnectionOptions(proxy=proxy, verify=ca_file)
    answers = run(
        send_all(HttpxAsyncTransport(options=options), *[spec(tls_server.url + "/x")] * 2)
    )
    assert [a.status for a in answers] == [200, 200]
    assert auth_proxy.wait_for(f"CONNECT 127.0.0.1:{tls_server.port} ", since)
    assert tls_server.connections == 1  # one tunnel, kept alive
    assert tls_server.requests[0].header("proxy-authorization") is None


def test_failed_tunnels_give_their_pool_slot_back(
    auth_proxy: ProxyProcess, tls_server: ScriptServer, hostile: HostileServer, ca_file: str
) -> None:
    """httpcore 1.0 keeps a tunnel whose TLS handshake failed or was
    cancelled in the pool for ever: with one connection allowed, the next
    request would wait for it and end in PoolTimeout."""
    proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{auth_proxy.port}"
    hostile.play([Hold(10)])  # answers no TLS hello
    silent = hostile.url.replace("http://", "https://") + "/x"
    untrusted = HttpxAsyncTransport(options=ConnectionOptions(proxy=proxy, max_connections=1))
    trusted = ConnectionOptions(proxy=proxy, max_connections=1, verify=ca_file)
    transport = HttpxAsyncTransport(options=trusted)

    async def scenario() -> bd.RawResponse:
        for _ in range(3):
            with pytest.raises(bd.TransportCertificateError):
                await untrusted.send(spec(tls_server.url + "/x", timeout=Timeout(connect=1)))
        await untrusted.close()
        for _ in range(2):
            with pytest.raises(bd.TransportTimeoutError):
                await transport.send(spec(silent, deadline=time.monotonic() + 0.3))
        return await transport.send(spec(tls_server.url + "/x", timeout=Timeout(connect=1)))

    assert run(send_after(transport, scenario())).status == 200
    assert hostile.wait_finished(2)  # both abandoned tunnels were closed


def test_plain_http_through_a_proxy(auth_proxy: ProxyProcess, server: ScriptServer) -> None:
    proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{auth_proxy.port}"
    assert send_one(server.url + "/x", options=ConnectionOptions(proxy=proxy)).status == 200
    [request] = server.requests
    assert "proxy.py" in (request.header("via") or "")
    assert request.header("proxy-authorization") is None


def test_plain_http_goes_to_the_proxy_in_absolute_form(server: ScriptServer) -> None:
    base = "http://batches.example.invalid:8080"
    options = ConnectionOptions(proxy=f"http://alice:pa%3Ass@127.0.0.1:{server.port}")
    assert send_one(base + "/v1/x", options=options).status == 200
    [request] = server.requests
    assert request.target == base + "/v1/x"
    assert request.header("host") == "batches.example.invalid:8080"
    assert (
        request.header("proxy-authorization")
        == "Basic " + base64.b64encode(b"alice:pa:ss").decode()
    )


def test_a_proxy_refusing_the_credentials(
    auth_proxy: ProxyProcess, tls_server: ScriptServer, server: ScriptServer
) -> None:
    options = ConnectionOptions(
        proxy=f"http://{PROXY_USER}:{WRONG_PASSWORD}@127.0.0.1:{auth_proxy.port}"
    )
    assert send_one(server.url + "/x", options=options).status == 407  # a status, as it came
    _, exc = failure(tls_server.url + "/x", options=options)
    assert type(exc) is bd.TransportConnectError
    assert f"The proxy 127.0.0.1:{auth_proxy.port} refused the tunnel: 407" in str(exc)
    shown = [str(e) for e in (exc, exc.__cause__, exc.__cause__.__cause__)]  # type: ignore[union-attr]
    assert not any(WRONG_PASSWORD in text or PROXY_USER in text for text in shown)
    assert server.connections == tls_server.connections == 0


def test_a_proxy_that_cannot_be_reached_is_named() -> None:
    port = free_port()
    options = ConnectionOptions(proxy=f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}")
    for url in ("https://api.example.invalid/x", "http://api.example.invalid/x"):
        _, exc = failure(url, options=options)
        assert type(exc) is bd.TransportConnectError
        assert f"The proxy 127.0.0.1:{port} cannot be reached" in str(exc)
        assert PROXY_PASSWORD not in str(exc)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux drops SYNs to a full listen queue")
def test_a_silent_proxy_is_named_at_the_deadline() -> None:
    """A proxy that never completes the TCP handshake: its listen queue is
    full (backlog 0, already filled), so the kernel drops further SYNs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            options = ConnectionOptions(
                proxy=f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
            )
            took, exc = failure(
                "https://api.example.invalid/x", options=options, deadline=time.monotonic() + 0.5
            )
        finally:
            for filler in fillers:
                filler.close()
    assert type(exc) is bd.TransportTimeoutError, repr(exc)
    assert f"The proxy 127.0.0.1:{port} did not answer in time" in str(exc)
    assert PROXY_PASSWORD not in str(exc) and took < 1.0


@pytest.mark.slow
def test_max_connections_bounds_concurrent_sends(server: ScriptServer) -> None:
    server.script(*[Reply(delay=0.2) for _ in range(8)])
    transport = HttpxAsyncTransport(options=ConnectionOptions(max_connections=2))

    async def scenario() -> list[bd.RawResponse]:
        return await asyncio.gather(*[transport.send(spec(server.url + "/x")) for _ in range(8)])

    answers = run(send_after(transport, scenario()))
    assert [a.status for a in answers] == [200] * 8
    assert server.connections == 2  # the other six waited for one of them
