"""Edges of the transports (issue 12, branch coverage), on every transport,
sync and async, against real sockets on 127.0.0.1.

- More origins than a transport remembers routes for (64): each is still
  reached (here: refused, a port bound but not listening), nothing breaks
  once the route cache is full, and the first origin still answers.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import batchdelete as bd
from batchdelete._errors import (
    TransportConnectError,
    TransportError,
    TransportProtocolError,
    TransportResponseTooLargeError,
    TransportTimeoutError,
)
from batchdelete._options import ConnectionOptions
from tests.conftest import API_KEY
from tests.hostile import HostileServer, Repeat, Request, Send, Sleep, Step, head
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.clients("all")

ORIGINS = 70  # more than MAX_ORIGINS (64) of every transport


@pytest.fixture
def refusing_ports() -> Iterator[list[int]]:
    """Ports of 127.0.0.1 bound but not listening: a connection is refused."""
    held: list[socket.socket] = []
    try:
        for _ in range(ORIGINS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        yield [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


def test_more_origins_than_the_route_cache_holds(
    server: ScriptServer,
    make_client: Callable[..., bd.Client],
    refusing_ports: list[int],
) -> None:
    first = make_client(max_retries=0)
    first.delete("msgbatch_first")
    for port in [*refusing_ports, refusing_ports[-1]]:  # the last one twice: not cached
        other = make_client(
            max_retries=0, base_url=f"http://127.0.0.1:{port}", transport=first.transport
        )
        with pytest.raises(bd.APIConnectionError) as caught:
            other.delete("msgbatch_elsewhere")
        assert not isinstance(caught.value, bd.APITimeoutError)
    assert first.delete("msgbatch_again").id == "msgbatch_again"
    # (on its kept-alive connection or a new one: requests and pycurl keep
    # connections for fewer origins than 70, and drop the oldest)
    assert [r.target.rsplit("/", 1)[-1] for r in server.requests] == [
        "msgbatch_first",
        "msgbatch_again",
    ]


# -- transports built directly (no options): they read the environment ---------------


@pytest.mark.parametrize("name", ["requests", "urllib3"])
def test_a_transport_built_directly_reads_the_proxy_environment(
    name: str, server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`RequestsTransport()` and `Urllib3Transport()` made without options
    take the defaults for a transport of their own, the environment
    included: the request goes to the proxy of HTTP_PROXY (the script server
    here), in absolute form, with the proxy's credentials; nothing is
    resolved or sent beyond 127.0.0.1."""
    module = pytest.importorskip(f"batchdelete_{name}")
    monkeypatch.setenv("HTTP_PROXY", f"http://ann:s3cret@127.0.0.1:{server.port}")
    transport = module.RequestsTransport() if name == "requests" else module.Urllib3Transport()
    with bd.Client(
        api_key=API_KEY,
        base_url="http://api.example.invalid",
        transport=transport,
        max_retries=0,
    ) as client:
        assert client.delete("msgbatch_viaproxy").id == "msgbatch_viaproxy"
    transport.close()
    [seen] = server.requests
    assert seen.target == "http://api.example.invalid/v1/messages/batches/msgbatch_viaproxy"
    assert seen.header("proxy-authorization") == "Basic " + base64.b64encode(b"ann:s3cret").decode()


# -- a user's httpx.Client: the deadline is checked between chunks -------------------


def test_a_users_httpx_client_stops_at_the_deadline_between_chunks() -> None:
    """A user's client has no deadline on its sockets (only its own read
    timeout, here longer than the test); a body that keeps coming in small
    chunks is still cut at the request's deadline, between two chunks."""
    httpx = pytest.importorskip("httpx")
    import batchdelete_httpx

    endless = Repeat((Send(b"5\r\nxxxxx\r\n"), Sleep(0.02)), seconds=20.0)
    script: list[Step] = [
        Request(),
        Send(head(200, "content-type: application/json", "transfer-encoding: chunked")),
        endless,
    ]
    with HostileServer([script]) as hostile, httpx.Client(timeout=30.0) as native:
        transport = batchdelete_httpx.HttpxTransport(client=native)
        with bd.Client(
            api_key=API_KEY, base_url=hostile.url, transport=transport, max_retries=0
        ) as client:
            started = time.monotonic()
            with pytest.raises(bd.APITimeoutError, match="deadline"):
                client.delete("msgbatch_drip", timeout=bd.Timeout(deadline=0.5))
            assert time.monotonic() - started < 15.0  # the deadline fired; no hang
        assert not native.is_closed  # the user's client is the user's to close


# -- the stdlib transport's connection helpers -----------------------------------------


def test_stdlib_proxy_failures_are_named_by_kind() -> None:
    import http.client

    from batchdelete_stdlib_conn import _proxy_failure, parse_proxy

    proxy = parse_proxy("http://ann:s3cret@127.0.0.1:3128")
    timed_out = _proxy_failure(proxy, TimeoutError("timed out"), tunnel=True)
    assert isinstance(timed_out, TransportTimeoutError)
    assert "did not answer in time" in str(timed_out)
    answered = _proxy_failure(
        proxy, http.client.RemoteDisconnected("Tunnel connection failed: 502 Bad"), tunnel=True
    )
    assert isinstance(answered, TransportConnectError)  # RemoteDisconnected is an OSError
    garbled = _proxy_failure(proxy, http.client.BadStatusLine("HTTP/9"), tunnel=True)
    assert isinstance(garbled, TransportProtocolError)
    assert "answered the tunnel" in str(garbled)
    refused = _proxy_failure(proxy, ConnectionRefusedError(), tunnel=False)
    assert type(refused) is TransportConnectError
    assert str(refused) == "The proxy 127.0.0.1:3128 cannot be reached: ConnectionRefusedError"
    for error in (timed_out, answered, garbled, refused):
        assert "s3cret" not in str(error)


def test_stdlib_is_stale_on_every_kind_of_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not connected, closed, idle, and with bytes the server sent unasked;
    with select.poll and (where it is missing) select.select."""
    import http.client
    import select

    from batchdelete_stdlib_conn import is_stale

    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        conn = http.client.HTTPConnection("127.0.0.1", listener.getsockname()[1], timeout=5)
        assert is_stale(conn)  # no socket yet
        conn.connect()
        served, _ = listener.accept()
        with served:
            assert not is_stale(conn)  # idle, nothing to read
            with monkeypatch.context() as patched:
                patched.delattr(select, "poll")
                assert not is_stale(conn)
                served.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # unasked
                assert _eventually(lambda: is_stale(conn))
            assert is_stale(conn)
        conn.sock.close()
        assert is_stale(conn)  # a closed socket: poll refuses it, stale
        conn.close()


def _eventually(check: Callable[[], bool], attempts: int = 200) -> bool:
    for _ in range(attempts):  # bounded: 200 * 10 ms
        if check():
            return True
        time.sleep(0.01)
    return False


def test_stdlib_is_stale_with_tls_bytes_already_decrypted(ca: trustme.CA) -> None:
    """Bytes the server sent unasked may sit decrypted in the TLS layer,
    where select does not see them: the connection is stale."""
    import http.client
    import threading

    from batchdelete_stdlib_conn import is_stale

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    near, far = socket.socketpair()
    near.settimeout(10)
    far.settimeout(10)

    def serve() -> None:
        with server_ctx.wrap_socket(far, server_side=True) as tls:
            tls.sendall(b"ab")  # one record
            tls.recv(1)  # until the client closes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with client_ctx.wrap_socket(near, server_hostname="127.0.0.1") as tls:
        assert tls.recv(1) == b"a"
        assert tls.pending() == 1
        conn = http.client.HTTPConnection("127.0.0.1")
        conn.sock = tls
        assert is_stale(conn)
    thread.join(10)
    assert not thread.is_alive()


# -- the pycurl transport's own parsing of what libcurl hands it ---------------------


def _pycurl_support() -> Any:
    if "pycurl" not in {t.name for t in bd.list_transports() if t.available}:
        pytest.skip("pycurl is not installed")
    import batchdelete_pycurl_support

    return batchdelete_pycurl_support


def _exchange(support: Any) -> Any:
    exchange = support.Exchange()
    exchange.start(bd.RequestSpec("DELETE", "http://127.0.0.1:1/v1", {}, bd.Timeout(read=5)))
    return exchange


def _feed_head(exchange: Any, *lines: bytes) -> int | None:
    answers = [exchange.header(line) for line in (*lines, b"\r\n")]
    assert answers[:-1] == [None] * len(lines)  # a head is judged at its blank line
    result: int | None = answers[-1]
    return result


def test_pycurl_heads_with_folded_lines_interim_answers_and_bad_lines() -> None:
    support = _pycurl_support()
    exchange = _exchange(support)
    # An interim answer (with a header) is dropped; the final head's folded
    # line is unfolded into the field before it.
    assert _feed_head(exchange, b"HTTP/1.1 103 Early Hints\r\n", b"link: </a>\r\n") is None
    assert exchange.reader is None
    head = (b"HTTP/1.1 200 OK\r\n", b"x-long: first\r\n", b"\tsecond\r\n", b"content-length: 2\r\n")
    assert _feed_head(exchange, *head) is None
    assert exchange.head == (200, {"x-long": "first second", "content-length": "2"})
    assert exchange.body(b"{}") is None
    assert exchange.response().body == b"{}"

    folded_first = _exchange(support)
    assert _feed_head(folded_first, b"HTTP/1.1 200 OK\r\n", b" folded\r\n") == support.ABORT
    assert "a folded first line" in str(folded_first.failure)

    nameless = _exchange(support)
    assert _feed_head(nameless, b"HTTP/1.1 200 OK\r\n", b": value\r\n") == support.ABORT
    assert "without a name" in str(nameless.failure)


def test_pycurl_a_body_or_an_end_before_any_head_is_refused() -> None:
    support = _pycurl_support()
    exchange = _exchange(support)
    assert exchange.body(b"{}") == support.ABORT
    assert "a body before its head" in str(exchange.failure)
    with pytest.raises(TransportProtocolError, match="ended before its head"):
        _exchange(support).response()


def test_pycurl_a_chunk_size_line_without_end_is_refused() -> None:
    support = _pycurl_support()
    check = support.ChunkCheck()
    assert check.feed(b"5\r\nhello\r\n") == [b"hello"]
    with pytest.raises(TransportProtocolError, match="a chunk size line without end"):
        for _ in range(10):  # bounded: 10 * 1 KiB passes the 4 KiB limit
            check.feed(b"0" * 1024)


def test_pycurl_proxy_failures_carry_the_library_error() -> None:
    support = _pycurl_support()
    pycurl = pytest.importorskip("pycurl")

    cut = support.via_proxy(pycurl.error(18, "transfer closed"), "127.0.0.1:3128", 0)
    assert isinstance(cut, TransportProtocolError)
    assert str(cut) == "transfer closed (libcurl error 18), through the proxy 127.0.0.1:3128"
    refused = support.via_proxy(pycurl.error(7, "Failed to connect"), "127.0.0.1:3128", 0)
    assert isinstance(refused, TransportConnectError)
    assert "refused the connection or could not be reached" in str(refused)


def test_pycurl_resolved_names_are_forgotten_when_there_are_too_many() -> None:
    support = _pycurl_support()
    names = support.Names(seconds=3600.0, most=2)
    route = support.new_route(ConnectionOptions(trust_env=False), "http://127.0.0.1:1")
    entries = [names.entry("127.0.0.1", port, route) for port in (1, 2, 3)]
    assert entries == ["127.0.0.1:1:127.0.0.1", "127.0.0.1:2:127.0.0.1", "127.0.0.1:3:127.0.0.1"]
    assert list(names.found) == [("127.0.0.1", 3)]  # full at the third: cleared, then kept


# -- a pool with every connection in use until the deadline ---------------------------


@pytest.mark.parametrize("name", ["stdlib", "pycurl", "urllib3", "requests", "httpx"])
def test_no_connection_free_until_the_deadline(name: str, server: ScriptServer) -> None:
    """max_connections=1, its one connection busy with a slow answer: a
    second request waits for it only until its deadline, then times out
    (and the first one still completes)."""
    if name not in {t.name for t in bd.list_transports() if t.available}:
        pytest.skip(f"{name} is not installed")
    server.script(Reply(delay=4.0), Reply())
    with bd.Client(
        api_key=API_KEY, base_url=server.url, transport=name, max_retries=0, max_connections=1
    ) as client:
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(client.delete("msgbatch_slow").id))
        slow.start()
        assert _eventually(lambda: len(server.requests) == 1)  # the connection is busy
        started = time.monotonic()
        with pytest.raises(bd.APITimeoutError):
            client.delete("msgbatch_waiting", timeout=bd.Timeout(deadline=0.3))
        assert time.monotonic() - started < 3.5  # the deadline fired, not the slow answer
        slow.join(10)
        assert results == ["msgbatch_slow"]
    assert [r.target.rsplit("/", 1)[-1] for r in server.requests] == ["msgbatch_slow"]


# -- transports sent a RequestSpec directly (the transport contract, no client) ------


def _spec(url: str, **kwargs: Any) -> bd.RequestSpec:
    headers = kwargs.pop("headers", {"x-api-key": API_KEY})
    return bd.RequestSpec("DELETE", url, headers, bd.Timeout(connect=5, read=5), **kwargs)


def test_stdlib_refuses_an_origin_it_cannot_send_to() -> None:
    from batchdelete_stdlib import StdlibTransport

    transport = StdlibTransport()
    try:
        for url in ("http://127.0.0.1:99999/v1", "ftp://127.0.0.1/v1", "http:///v1"):
            with pytest.raises(TransportError, match="cannot send to"):
                transport.send(_spec(url))
    finally:
        transport.close()


def test_stdlib_sends_the_host_header_it_is_given(server: ScriptServer) -> None:
    from batchdelete_stdlib import StdlibTransport

    transport = StdlibTransport()
    try:
        url = f"{server.url}/v1/messages/batches/msgbatch_host"
        answer = transport.send(_spec(url, headers={"host": "api.example.test"}))
        assert answer.status == 200
        answer = transport.send(_spec(url))
        assert answer.status == 200
    finally:
        transport.close()
    first, second = server.requests
    assert first.header("host") == "api.example.test"  # given: sent once, as given
    assert [k.lower() for k, _ in first.headers].count("host") == 1
    assert second.header("host") == f"127.0.0.1:{server.port}"


def test_pycurl_wraps_no_native_client_and_leaves_other_errors_to_the_map() -> None:
    pytest.importorskip("pycurl")
    from batchdelete_pycurl import PycurlTransport

    with pytest.raises(TypeError, match="wraps no native client"):
        PycurlTransport(native=object())
    transport = PycurlTransport()
    try:
        assert transport.translate(ValueError("not pycurl's")) is None
    finally:
        transport.close()


def test_pycurl_without_a_deadline_and_without_select_poll(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec with no deadline (only the timeouts bound it), and a platform
    without select.poll (the idle connection is checked with select)."""
    pytest.importorskip("pycurl")
    import select

    from batchdelete_pycurl import PycurlTransport

    monkeypatch.delattr(select, "poll")
    transport = PycurlTransport()
    try:
        for n in range(3):
            url = f"{server.url}/v1/messages/batches/msgbatch_{n}"
            answer = transport.send(_spec(url))
            assert answer.status == 200
    finally:
        transport.close()
    assert {r.connection for r in server.requests} == {1}  # kept alive, checked with select


# -- urllib3's (and requests') proxy failures, and a user's pool retrying ------------


def test_urllib3_proxy_failures_name_the_proxy_and_keep_the_class() -> None:
    urllib3 = pytest.importorskip("urllib3")
    from batchdelete_urllib3 import proxy_failure

    proxy = "http://ann:s3cret@127.0.0.1:3128"
    auth = proxy_failure(OSError("Tunnel connection failed: 407 Proxy Auth"), None, proxy)
    assert isinstance(auth, TransportConnectError)
    assert "answered CONNECT with 407 Proxy Auth (proxy authentication" in str(auth)
    bad_gateway = proxy_failure(OSError("Tunnel connection failed: 502 Bad"), None, proxy)
    assert str(bad_gateway).endswith("answered CONNECT with 502 Bad.")
    slow = urllib3.exceptions.ProxyError("Unable to connect", TimeoutError("timed out"))
    timed_out = proxy_failure(slow, TransportTimeoutError("x"), proxy)
    assert type(timed_out) is TransportTimeoutError
    assert "could not be reached: TimeoutError: timed out" in str(timed_out)
    too_large = TransportResponseTooLargeError("big", status=200, headers={})
    assert proxy_failure(ValueError("x"), too_large, proxy) is too_large  # kept as it is
    assert proxy_failure(ValueError("a bug"), None, proxy) is None  # not disguised
    plain = proxy_failure(ValueError("x"), TransportProtocolError("bad"), proxy)
    assert str(plain) == "bad (through the proxy http://***@127.0.0.1:3128)"
    for error in (auth, bad_gateway, timed_out, plain):
        assert "s3cret" not in str(error)


def test_urllib3_a_retry_error_is_mapped_by_its_reason() -> None:
    urllib3 = pytest.importorskip("urllib3")
    from batchdelete_urllib3 import Urllib3Transport

    transport = Urllib3Transport(options=ConnectionOptions(trust_env=False))
    try:
        exceptions = urllib3.exceptions
        timed_out = exceptions.MaxRetryError(None, "/v1", exceptions.ConnectTimeoutError("slow"))
        assert isinstance(transport.translate(timed_out), TransportTimeoutError)
        no_reason = exceptions.MaxRetryError(None, "/v1", None)
        assert transport.translate(no_reason) is not None  # the class's own entry
    finally:
        transport.close()


# -- httpx: what it does not map itself, and closing in the wrong loop ---------------


def test_httpx_read_failures_it_does_not_map() -> None:
    pytest.importorskip("httpx")
    from batchdelete_httpx import HttpxTransport

    deadline = HttpxTransport._read_failure(TimeoutError("timed out"))
    assert isinstance(deadline, TransportTimeoutError)
    broken = HttpxTransport._read_failure(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"))
    assert isinstance(broken, TransportProtocolError)
    assert "could not be read (UnicodeDecodeError" in str(broken)
    assert HttpxTransport._read_failure(KeyError("a bug")) is None


def test_httpx_async_is_closed_in_its_own_loop_or_after_it(server: ScriptServer) -> None:
    """Closing from another running loop is refused while the transport's
    loop lives (its connections belong to it); once that loop is closed,
    closing is a no-op."""
    pytest.importorskip("httpx")
    from batchdelete_httpx_async import HttpxAsyncTransport

    url = f"{server.url}/v1/messages/batches/msgbatch_loop"
    spec = bd.RequestSpec("DELETE", url, {"x-api-key": API_KEY}, bd.Timeout(connect=5, read=5))
    first = asyncio.new_event_loop()
    transport = HttpxAsyncTransport()
    try:
        assert first.run_until_complete(transport.send(spec)).status == 200
        with pytest.raises(bd.ConfigurationError, match="in the event loop that used it"):
            asyncio.run(transport.close())
        first.run_until_complete(transport.close())  # in its own loop: fine
    finally:
        first.close()

    gone = asyncio.new_event_loop()
    later = HttpxAsyncTransport()
    try:
        assert gone.run_until_complete(later.send(spec)).status == 200
    finally:
        gone.close()
    asyncio.run(later.close())  # its loop is closed: nothing to close, no error


def test_the_bench_tls_files_or_why_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchdelete.bench import _tls

    if _tls.unavailable() is None:
        ca, cert, key = _tls.make_files(tmp_path)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert, key)  # a pair that matches
        ssl.create_default_context(cafile=ca)  # a CA that loads
    monkeypatch.setattr(_tls, "installed", lambda module: False)
    assert "pip install cryptography" in str(_tls.unavailable())
