"""What is particular to the pycurl transport (the shared suites run over it
too: contract, hostile, options, TLS, secrets, fork, cookies). Against real
servers on 127.0.0.1; pycurl is never mocked (`pycurl.error` values are
built for the code table only)."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import batchdelete as bd
import batchdelete_pycurl
import batchdelete_pycurl_support as support
from batchdelete import ConnectionOptions, RequestSpec, Timeout
from batchdelete_pycurl import PycurlTransport  # imports pycurl when one is built
from batchdelete_pycurl_support import (
    CODES,
    LAST_CODE,
    NOT_TRANSFER_RESULTS,
    ChunkCheck,
    curl_failure,
    tls_settings,
)
from tests.conftest import API_KEY
from tests.hostile import (
    CONTINUE,
    DELETED,
    Drip,
    Hold,
    HostileServer,
    Request,
    Send,
    Sleep,
    head,
    ok,
)
from tests.scriptserver import Reply, ScriptServer

pycurl = pytest.importorskip("pycurl")
pytestmark = pytest.mark.timeout(60)


def spec(url: str, method: str = "DELETE", deadline: float = 10, **kwargs: Any) -> RequestSpec:
    headers = kwargs.pop("headers", {"accept": "application/json", "user-agent": "t/1"})
    end = time.monotonic() + deadline
    return RequestSpec(
        method, url, headers, kwargs.pop("timeout", Timeout()), deadline=end, **kwargs
    )


@pytest.fixture
def transport() -> Iterator[PycurlTransport]:
    made = PycurlTransport(options=ConnectionOptions(trust_env=False))
    yield made
    made.close()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


# -- libcurl's error codes ------------------------------------------------------------


def test_every_error_code_pycurl_names_maps_to_a_core_error() -> None:
    names = [n for n in dir(pycurl) if n.startswith("E_")]
    transfer = [n for n in names if not n.startswith(NOT_TRANSFER_RESULTS)]
    assert len(transfer) > 100
    missing = [n for n in transfer if getattr(pycurl, n) not in CODES]
    assert missing == []
    # every code of libcurl 8 (pycurl names some only), each in one group only
    assert sorted(CODES) == list(range(1, LAST_CODE + 1))
    assert all(issubclass(cls, bd.TransportError) for cls in CODES.values())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("E_COULDNT_CONNECT", bd.TransportConnectError),
        ("E_COULDNT_RESOLVE_HOST", bd.TransportConnectError),
        ("E_GOT_NOTHING", bd.TransportConnectError),
        ("E_RECV_ERROR", bd.TransportConnectError),
        ("E_SSL_CONNECT_ERROR", bd.TransportConnectError),
        ("E_OPERATION_TIMEDOUT", bd.TransportTimeoutError),
        ("E_OPERATION_TIMEOUTED", bd.TransportTimeoutError),  # an alias, the same code
        ("E_PEER_FAILED_VERIFICATION", bd.TransportCertificateError),
        ("E_SSL_CACERT", bd.TransportCertificateError),
        ("E_PARTIAL_FILE", bd.TransportProtocolError),
        ("E_FTP_WEIRD_SERVER_REPLY", bd.TransportProtocolError),  # CURLE_WEIRD_SERVER_REPLY
        ("E_UNSUPPORTED_PROTOCOL", bd.TransportProtocolError),  # HTTP/0.9, bad version
        ("E_FILESIZE_EXCEEDED", bd.TransportResponseTooLargeError),
        ("E_WRITE_ERROR", bd.TransportError),  # our own callbacks' stop: never retried
        ("E_TOO_MANY_REDIRECTS", bd.TransportError),
        ("E_LDAP_CANNOT_BIND", bd.TransportError),
    ],
)
def test_a_code_becomes_its_error_with_libcurls_message(
    name: str, expected: type[bd.TransportError]
) -> None:
    code = getattr(pycurl, name)
    error = curl_failure(pycurl.error(code, "What libcurl said."))
    assert type(error) is expected
    assert str(error) == f"What libcurl said (libcurl error {code})"
    translated = PycurlTransport(options=ConnectionOptions(trust_env=False)).translate(
        pycurl.error(code, "x")
    )
    assert type(translated) is expected


def test_an_unknown_code_is_a_plain_transport_error_and_masks_credentials() -> None:
    error = curl_failure(pycurl.error(4242, "via http://user:secret@proxy:3128"))
    assert type(error) is bd.TransportError
    assert "secret" not in str(error) and "***@proxy:3128" in str(error)


# -- exactly the spec's headers ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body", "length"),
    [("DELETE", None, None), ("GET", None, None), ("POST", None, "0"), ("POST", b"{}", "2")],
)
def test_exactly_the_specs_headers_go_on_the_wire(
    server: ScriptServer,
    transport: PycurlTransport,
    method: str,
    body: bytes | None,
    length: str | None,
) -> None:
    headers = {"x-api-key": API_KEY, "accept": "application/json"}
    if body is not None:
        headers["content-type"] = "application/json"
    transport.send(spec(server.url + "/x", method, headers=headers, body=body))
    [request] = server.requests
    assert (request.method, request.body) == (method, body or b"")
    expected = {"host", *headers, *(["content-length"] if length else [])}
    assert {name.lower() for name, _ in request.headers} == expected
    assert request.header("content-length") == length
    assert request.header("accept") == "application/json"  # never libcurl's */*


def test_no_header_of_libcurls_or_pycurls_own(
    server: ScriptServer, transport: PycurlTransport
) -> None:
    transport.send(spec(server.url + "/x", "POST", headers={}, body=b"x" * (2 << 20)))
    [request] = server.requests
    # No Accept: */*, no PycURL user agent, no Expect: 100-continue for a large
    # body, no form content type, no Accept-Encoding the spec did not ask for.
    assert request.names == {"host", "content-length"}
    assert len(request.body) == 2 << 20


# -- connections: reuse, threads, fork ------------------------------------------------


def test_one_thread_keeps_one_connection(server: ScriptServer, transport: PycurlTransport) -> None:
    for i in range(20):
        url = f"{server.url}/v1/messages/batches/msgbatch_{i}"
        assert transport.send(spec(url, "GET" if i % 3 else "DELETE")).status == 200
    assert server.connections == 1
    assert {r.connection for r in server.requests} == {1}


def test_threads_share_at_most_max_connections_handles(server: ScriptServer) -> None:
    server.script(*[Reply(delay=0.02) for _ in range(60)])
    transport = PycurlTransport(options=ConnectionOptions(trust_env=False, max_connections=3))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(6):
                transport.send(spec(server.url + "/x"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    transport.close()
    assert errors == [] and len(server.requests) == 60
    assert server.connections <= 3
    assert transport._pool.count <= 3


@pytest.mark.slow
def test_a_thread_waiting_for_a_handle_stops_at_its_deadline(hostile: HostileServer) -> None:
    hostile.play([Request(), Hold(5)])
    transport = PycurlTransport(options=ConnectionOptions(trust_env=False, max_connections=1))

    def hold() -> None:
        with pytest.raises(bd.TransportError):
            transport.send(spec(hostile.url, deadline=3))

    holder = threading.Thread(target=hold)
    holder.start()
    while not hostile.requests:
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError, match="max_connections"):
        transport.send(spec(hostile.url, deadline=0.5))
    assert time.monotonic() - started < 1.5
    holder.join(timeout=10)
    transport.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_neither_uses_nor_closes_the_parents_connection(
    server: ScriptServer, transport: PycurlTransport
) -> None:
    transport.send(spec(server.url + "/parent1"))
    parent_pool = transport._pool
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: its own connection, then close everything it has
        code = 1
        try:
            fresh = transport._pool is not parent_pool and not transport._pool.idle
            ok = transport.send(spec(server.url + "/child")).status == 200
            transport.close()
            code = 0 if fresh and ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    transport.send(spec(server.url + "/parent2"))  # on the parent's first connection
    by_target = {r.target: r.connection for r in server.requests}
    assert by_target["/parent2"] == by_target["/parent1"] != by_target["/child"]
    assert server.connections == 2


# -- no library retries ------------------------------------------------------------------


def test_libcurl_does_not_send_a_request_again_on_a_new_connection(
    server: ScriptServer, transport: PycurlTransport
) -> None:
    # The kept-alive connection is closed after reading the second request:
    # libcurl would send it once more on a new connection; the core decides.
    server.script(Reply(), Reply(drop="before"), Reply())
    assert transport.send(spec(server.url + "/1")).status == 200
    with pytest.raises(bd.TransportConnectError, match="kept-alive connection"):
        transport.send(spec(server.url + "/2"))
    assert [r.target for r in server.requests] == ["/1", "/2"]
    assert transport.send(spec(server.url + "/3")).status == 200


# -- time limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("pause", [0.3, 1.2], ids=["faster-than-read", "slower-than-a-second"])
@pytest.mark.slow
def test_a_drip_ends_at_the_deadline(
    hostile: HostileServer, transport: PycurlTransport, pause: float
) -> None:
    # A byte a `pause`: libcurl's low-speed limit (1 byte/s for whole seconds)
    # never trips at 0.3 s; the deadline (TIMEOUT_MS) ends both.
    hostile.play([Request(), Send(head(200, "content-length: 1000")), Drip(b" " * 20, pause)])
    started = time.monotonic()
    timeout = Timeout(connect=1, read=30)
    with pytest.raises(bd.TransportTimeoutError):
        transport.send(spec(hostile.url, deadline=2, timeout=timeout))
    assert time.monotonic() - started < 2.5


@pytest.mark.slow
def test_the_read_timeout_is_whole_seconds_of_silence(
    hostile: HostileServer, transport: PycurlTransport
) -> None:
    hostile.play([Request(), Sleep(5), Send(ok())])
    started = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError, match="too slow"):
        transport.send(spec(hostile.url, deadline=10, timeout=Timeout(connect=1, read=0.2)))
    # 0.2 s is rounded up to 1 s, and libcurl looks once a second: 1 to 2 s of
    # silence, well before the answer (5 s) and the deadline (10 s), however loaded.
    assert 0.9 < time.monotonic() - started < 4.5


def test_a_passed_deadline_sends_nothing(server: ScriptServer, transport: PycurlTransport) -> None:
    with pytest.raises(bd.TransportTimeoutError, match="deadline"):
        transport.send(spec(server.url, deadline=-1))
    assert server.requests == []


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_ctrl_c_ends_a_transfer_waiting_for_its_answer(
    hostile: HostileServer, transport: PycurlTransport
) -> None:
    from tests.test_httpx_transport import ctrl_c_after

    hostile.play([Request(), Hold(10)], [Request(), Send(ok())])
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.3):
        transport.send(spec(hostile.url, deadline=8, timeout=Timeout(read=8)))
    assert time.monotonic() - started < 2.0
    assert hostile.wait_finished(1)  # the interrupted connection is closed
    assert transport.send(spec(hostile.url)).status == 200


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_the_progress_callback_runs_for_the_main_thread_only(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python runs signal handlers in the main thread only: elsewhere the
    # callback would cost ten Python calls a request for nothing.
    seen: list[threading.Thread] = []
    monkeypatch.setattr(
        batchdelete_pycurl, "_progress", lambda *counts: seen.append(threading.current_thread())
    )
    transport = PycurlTransport(options=ConnectionOptions(trust_env=False, max_connections=1))

    def in_a_thread() -> None:
        worker = threading.Thread(target=lambda: transport.send(spec(server.url + "/w")))
        worker.start()
        worker.join(timeout=10)

    in_a_thread()
    assert seen == []
    transport.send(spec(server.url + "/m"))  # the same handle, now for the main thread
    assert seen and set(seen) == {threading.main_thread()}
    count = len(seen)
    in_a_thread()
    assert len(seen) == count and server.connections == 1
    transport.close()


# -- the head -------------------------------------------------------------------------------


def test_interim_answers_and_their_headers_are_dropped(
    hostile: HostileServer, transport: PycurlTransport
) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n"
    answer = head(200, "x-a: 1", "X-A: 2", f"content-length: {len(DELETED)}") + DELETED
    hostile.play([Request(), Send(early + early + answer)])
    response = transport.send(spec(hostile.url))
    assert response.status == 200 and response.body == DELETED
    assert response.headers == {"x-a": "1, 2", "content-length": str(len(DELETED))}


def test_interim_answers_on_a_kept_alive_connection(
    hostile: HostileServer, transport: PycurlTransport
) -> None:
    # Before and after them, requests whose options are all cached on the handle.
    early = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
    hostile.play(
        [Request(), Send(ok()), Request(), Send(CONTINUE + early + ok()), Request(), Send(ok())]
    )
    for _ in range(3):
        response = transport.send(spec(hostile.url))
        assert (response.status, response.body) == (200, DELETED)
        assert "link" not in response.headers
    assert hostile.connections == 1


def test_a_head_in_many_pieces_and_lines_is_read_whole(
    hostile: HostileServer, transport: PycurlTransport
) -> None:
    fields = [f"x-{i}: {i}" for i in range(150)]
    answer = head(200, *fields, "X-1:  again ", f"content-length: {len(DELETED)}") + DELETED
    hostile.play([Request(), Drip(answer[:60], 0.002), Send(answer[60:])])
    response = transport.send(spec(hostile.url))
    assert (response.status, response.body) == (200, DELETED)
    assert len(response.headers) == 151 and response.headers["x-1"] == "1, again"
    assert response.headers["x-149"] == "149"


@pytest.mark.parametrize(
    ("method", "answer", "status", "headers"),
    [
        ("DELETE", head(204, "x-a: 1"), 204, {"x-a": "1"}),
        ("DELETE", head(200, "content-length: 0"), 200, {"content-length": "0"}),
        ("HEAD", head(200, "content-length: 70"), 200, {"content-length": "70"}),
        ("DELETE", CONTINUE + head(204, "x-a: 1\r\n  b"), 204, {"x-a": "1 b"}),
    ],
    ids=["204", "length-0", "HEAD", "interim-then-204-folded"],
)
def test_an_answer_without_body(
    hostile: HostileServer,
    transport: PycurlTransport,
    method: str,
    answer: bytes,
    status: int,
    headers: dict[str, str],
) -> None:
    hostile.play([Request(), Send(answer), Request(), Send(ok())])
    response = transport.send(spec(hostile.url, method))
    assert (response.status, response.headers, response.body) == (status, headers, b"")
    assert transport.send(spec(hostile.url)).body == DELETED
    assert hostile.connections == 1  # the connection was kept


@pytest.mark.parametrize(
    "answer",
    [
        head(200, "x-a: a\x01b", "content-length: 10"),
        head(200, "transfer-encoding: gzip"),
        CONTINUE + head(200, "content-length: 10", "transfer-encoding: chunked"),
    ],
    ids=["control-byte", "transfer-encoding-gzip", "interim-then-length-and-chunked"],
)
def test_a_bad_head_whose_body_never_comes_is_refused_at_once(
    hostile: HostileServer, transport: PycurlTransport, answer: bytes
) -> None:
    hostile.play([Request(), Send(answer), Hold(10)], [Request(), Send(ok())])
    started = time.monotonic()
    with pytest.raises(bd.TransportProtocolError, match="malformed"):
        transport.send(spec(hostile.url, deadline=8, timeout=Timeout(read=8)))
    assert time.monotonic() - started < 1.0
    assert transport.send(spec(hostile.url)).body == DELETED
    assert hostile.connections == 2  # not on the bad answer's connection


def _lines(raw: bytes) -> list[bytes]:
    """The head of `raw` as libcurl hands it over, a line at a time."""
    lines: list[bytes] = []
    while not lines or lines[-1] not in (b"\r\n", b"\n"):
        line, _, raw = raw.partition(b"\n")
        lines.append(line + b"\n")
    return lines


def test_a_plain_head_reads_as_the_careful_reader_does() -> None:
    for raw in [
        head(200, "Content-Type: application/json", "request-id: r1", "content-length: 72"),
        head(404, "X-Note:  a\tb : c ", "x-empty:", "Server: x/1"),
        b"HTTP/1.0 500 \r\nx-latin: caf\xe9\xa0\r\ncontent-length: 123456789012345678\r\n\r\n",
        head(200),
        head(200, "x a: 1"),  # "x a", as the careful reader has it
    ]:
        lines = _lines(raw)
        assert support._plain_head(lines) is not None, raw
        assert support._plain_head(lines) == support._head(lines), raw


def test_any_other_head_is_left_to_the_careful_reader() -> None:
    from tests.test_hostile import MALFORMED

    others = [
        b"HTTP/1.1 200 OK\nx-a: 1\n\n",  # bare LF
        head(200, "x-a: 1\r\n b"),  # folded
        head(200, "x-a: 1", "X-A: 2"),  # a repeated name
        head(200, " x-a: 1"),
        head(200, "transfer-encoding: chunked"),
        head(200, "content-length: 1234567890123456789"),
        b"HTTP/1.1 200 OK\r\ncontent-length: \xb2\r\n\r\n",  # a Latin-1 digit, not 0-9
        head(200, "x-a: 1\rb"),
        head(200, "x-a: 1\x7f"),
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 200\t\r\n\r\n",
        *[raw for raw in MALFORMED.values() if b"\r\n\r\n" in raw],
    ]
    for raw in others:
        assert support._plain_head(_lines(raw)) is None, raw


@pytest.mark.parametrize(
    ("raw", "data", "done"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", [b"hello"], True),
        (b"5;ext=1\r\nhello\r\n0 \r\n\r\n", [b"hello"], True),
        (b"5\nhello\n0\n\n", [b"hello"], True),
        (b"A\r\n0123456789\r\n", [b"0123456789"], False),
    ],
)
def test_chunk_check_reads_what_libcurl_accepts(raw: bytes, data: list[bytes], done: bool) -> None:
    check = ChunkCheck()
    pieces = [piece for i in range(len(raw)) for piece in check.feed(raw[i : i + 1])]
    assert b"".join(pieces) == b"".join(data) and check.done is done


@pytest.mark.parametrize("raw", [b"0x5\r\n", b"5_0\r\n", b"-1\r\n", b" 5\r\n", b"5\r\nhelloX"])
def test_chunk_check_refuses_what_libcurl_would_wait_on(raw: bytes) -> None:
    with pytest.raises(bd.TransportProtocolError, match="malformed"):
        ChunkCheck().feed(raw)


# -- options ------------------------------------------------------------------------------


def test_names_are_resolved_by_python_and_looked_up_again_later(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        return real("127.0.0.1" if host == "batches.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    transport = PycurlTransport(options=ConnectionOptions(trust_env=False))
    url = f"http://batches.test:{server.port}/x"
    for _ in range(3):
        transport.send(spec(url))
    assert looked_up == ["batches.test"]
    transport._names.seconds = 0.0  # DNS_SECONDS passed
    transport.send(spec(url))
    assert looked_up == ["batches.test", "batches.test"]
    assert server.requests[0].header("host") == f"batches.test:{server.port}"
    transport.close()


def test_libcurl_reads_no_proxy_variable(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptServer() as fake_proxy:
        for name in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, fake_proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        transport = PycurlTransport(options=ConnectionOptions(trust_env=False))
        assert transport.send(spec(server.url + "/x")).status == 200
        transport.close()
        assert fake_proxy.connections == 0


def test_the_system_cas_are_pythons_openssl_paths_not_the_wheels() -> None:
    paths = ssl.get_default_verify_paths()
    settings = dict(tls_settings(pycurl, ConnectionOptions(trust_env=False)))
    if os.path.isfile(paths.openssl_cafile or ""):
        assert settings[pycurl.CAINFO] == paths.openssl_cafile
        assert settings[pycurl.PROXY_CAINFO] == paths.openssl_cafile
    assert settings[pycurl.SSL_VERIFYPEER] == 1 and settings[pycurl.SSL_VERIFYHOST] == 2
    off = dict(tls_settings(pycurl, ConnectionOptions(verify=False, trust_env=False)))
    assert off[pycurl.SSL_VERIFYPEER] == off[pycurl.PROXY_SSL_VERIFYHOST] == 0


def test_an_ssl_context_whose_cas_cannot_be_read_is_refused() -> None:
    empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA loaded
    with pytest.raises(bd.ConfigurationError, match="verify="):
        PycurlTransport(options=ConnectionOptions(verify=empty, trust_env=False))
    with pytest.raises(bd.ConfigurationError, match="verify="):
        bd.Client(api_key=API_KEY, transport="pycurl", verify=empty)


def test_an_ssl_context_that_does_not_verify_is_followed(tls_server: ScriptServer) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    transport = PycurlTransport(options=ConnectionOptions(verify=context, trust_env=False))
    assert transport.send(spec(tls_server.url + "/x")).status == 200
    transport.close()
