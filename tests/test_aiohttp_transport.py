"""The aiohttp transport, called directly, against real servers on
127.0.0.1: the exact request, the limits whatever the server does (the
deadline, the body cap, malformed framing, under both of aiohttp's
parsers), keep-alive, cancellation, the event loop it is bound to, a
user's own session, and the connection options (a private CA, a real
proxy with authentication, max_connections).

Each test runs its coroutines with `asyncio.run`, bounded by `run()`;
every server wait is bounded too. Name lookups off this machine are
refused (`_loopback_names`), so a request that skipped its proxy fails
instead of leaving 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import importlib
import inspect
import pkgutil
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import aiohttp.client_proto
import aiohttp.http_parser
import pytest
import trustme

import batchdelete as bd
import batchdelete_aiohttp as ba
from batchdelete import ConnectionOptions, RawResponse, RequestSpec, Timeout
from batchdelete._registry import resolve_async_transport
from batchdelete_aiohttp_support import exception_map
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
    Step,
    endless_chunks,
    gzip_bomb,
    head,
    padded,
)
from tests.proxyserver import ProxyProcess
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")
PATH = "/v1/messages/batches/"
HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "accept": "application/json",
    "user-agent": "batchdelete/test aiohttp/test python/3",
}
OK_BODY = b'{"id": "msgbatch_1", "type": "message_batch_deleted"}'
PROXY_USER, PROXY_PASSWORD, WRONG_PASSWORD = "bduser", "Pr0xy-S3cret-7d2e", "Wr0ng-Pa55-91c3"
SECRETS = (
    PROXY_PASSWORD,
    WRONG_PASSWORD,
    base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode(),
    base64.b64encode(f"{PROXY_USER}:{WRONG_PASSWORD}".encode()).decode(),
)


def run(coro: Coroutine[Any, Any, T], limit: float = 20.0) -> T:
    """Run a coroutine in a new event loop, for at most `limit` seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def spec(
    url: str,
    method: str = "DELETE",
    *,
    deadline: float | None = 5.0,
    read: float = 5.0,
    body: bytes | None = None,
    headers: dict[str, str] = HEADERS,
    **kwargs: Any,
) -> RequestSpec:
    """A request; `deadline` is seconds from now (build it just before sending)."""
    when = None if deadline is None else time.monotonic() + deadline
    timeout = Timeout(connect=2.0, read=read)
    return RequestSpec(method, url, headers, timeout, body=body, deadline=when, **kwargs)


def own(**options: Any) -> ba.AiohttpTransport:
    """A transport with a session of its own; nothing read from the environment."""
    options.setdefault("trust_env", False)
    return ba.AiohttpTransport(options=ConnectionOptions(**options))


async def attempt(
    transport: ba.AiohttpTransport, url: str, **kwargs: Any
) -> tuple[float, RawResponse | BaseException]:
    """One send: how long it took, and its response or what it raised."""
    start = time.monotonic()
    try:
        result: RawResponse | BaseException = await transport.send(spec(url, **kwargs))
    except bd.BatchDeleteError as exc:
        result = exc
    return time.monotonic() - start, result


def one_send(
    url: str, options: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[float, RawResponse | BaseException]:
    """One send from a fresh transport (with these options), closed afterwards."""

    async def go() -> tuple[float, RawResponse | BaseException]:
        transport = own(**(options or {}))
        try:
            return await attempt(transport, url, **kwargs)
        finally:
            await transport.close()

    return run(go())


def shown(exc: BaseException) -> list[str]:
    """Everything an exception chain shows: str, repr, args and attributes."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.fixture(autouse=True)
def _loopback_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback names resolve: nothing here can look up, or reach,
    another machine."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not bd.is_loopback_host(name):
            raise socket.gaierror(socket.EAI_NONAME, f"{name!r} is not resolved in this suite")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture(params=["llhttp", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """aiohttp's C parser (llhttp), and the Python one it uses without it."""
    if request.param == "python":
        monkeypatch.setattr(
            aiohttp.client_proto, "HttpResponseParser", aiohttp.http_parser.HttpResponseParserPy
        )
    return str(request.param)


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """proxy.py on 127.0.0.1, demanding basic authentication."""
    workdir = tmp_path_factory.mktemp("aiohttp-proxy")
    with ProxyProcess(workdir, basic_auth=f"{PROXY_USER}:{PROXY_PASSWORD}") as proxy:
        yield proxy


def proxy_url(proxy: ProxyProcess, password: str = PROXY_PASSWORD) -> str:
    return f"http://{PROXY_USER}:{password}@127.0.0.1:{proxy.port}"


# -- registration -------------------------------------------------------------------------


def test_registered_as_an_async_transport_taking_options() -> None:
    [info] = [t for t in bd.list_transports() if t.name == "aiohttp" and t.asynchronous]
    assert info.builtin and info.available and info.takes_options
    assert info.version == aiohttp.__version__
    transport, owned = resolve_async_transport("aiohttp", ConnectionOptions(trust_env=False))
    assert isinstance(transport, ba.AiohttpTransport) and owned
    assert transport.library_version == aiohttp.__version__


def test_importing_the_plugin_does_not_import_aiohttp() -> None:
    code = "import sys, batchdelete_aiohttp; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


# -- the exception map ----------------------------------------------------------------------


def _aiohttp_exception_classes() -> set[type]:
    """Every exception class defined in aiohttp's client-side modules (the
    server's, aiohttp.web*, are not a client's to meet)."""
    found: set[type] = set()
    for module in pkgutil.walk_packages(aiohttp.__path__, "aiohttp."):
        name = module.name
        if name.startswith(("aiohttp.web", "aiohttp.worker", "aiohttp.pytest_plugin")):
            continue
        if name == "aiohttp.test_utils":
            continue
        for obj in vars(importlib.import_module(name)).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and not issubclass(obj, Warning)
                and obj.__module__.startswith("aiohttp.")
                and not obj.__module__.startswith("aiohttp.web")
            ):
                found.add(obj)
    return found


def test_every_aiohttp_exception_is_mapped() -> None:
    table = exception_map()
    classes = _aiohttp_exception_classes()
    assert len(classes) > 40
    assert sorted(c.__name__ for c in classes if c not in table) == []
    assert all(issubclass(v, bd.TransportError) for v in table.values())
    assert table[aiohttp.ServerTimeoutError] is bd.TransportTimeoutError
    assert table[aiohttp.ConnectionTimeoutError] is bd.TransportTimeoutError
    assert table[aiohttp.ClientConnectorError] is bd.TransportConnectError
    assert table[aiohttp.ServerDisconnectedError] is bd.TransportConnectError
    assert table[aiohttp.ClientPayloadError] is bd.TransportProtocolError


def test_translate_uses_the_most_specific_class_and_leaves_bugs_alone() -> None:
    transport = own()
    assert type(transport.translate(aiohttp.SocketTimeoutError("x"))) is bd.TransportTimeoutError
    assert type(transport.translate(TimeoutError())) is bd.TransportTimeoutError
    assert type(transport.translate(ConnectionResetError())) is bd.TransportConnectError
    assert transport.translate(KeyError("bug")) is None


# -- the request ----------------------------------------------------------------------------


def test_exactly_the_spec_goes_out(server: ScriptServer) -> None:
    encoded = "a%2Fb%3Fc%25d%20e:f@g!$&'()*+,;=~%7E%41%2f"  # sent byte for byte, not requoted

    async def go() -> list[RawResponse]:
        transport = own()
        try:
            return [
                await transport.send(spec(server.url + PATH + encoded)),
                await transport.send(spec(server.url + PATH + "x/cancel", "POST", body=b"")),
                await transport.send(spec(server.url + PATH + "?limit=1", "GET")),
                await transport.send(spec(server.url + "/v1/x", "POST", body=b'{"a": 1}')),
            ]
        finally:
            await transport.close()

    answers = run(go())
    assert [a.status for a in answers] == [200] * 4
    delete, cancel, listing, create = server.requests
    assert (delete.method, delete.target, delete.version) == ("DELETE", PATH + encoded, "HTTP/1.1")
    assert [k for k, _ in delete.headers] == ["Host", *HEADERS, "Content-Length"]
    assert dict((k.lower(), v) for k, v in delete.headers) == {
        "host": f"127.0.0.1:{server.port}",
        **HEADERS,
        "content-length": "0",
    }
    assert (cancel.method, cancel.body, cancel.header("content-length")) == ("POST", b"", "0")
    assert cancel.names == {"host", "content-length", *HEADERS}
    assert (listing.method, listing.target) == ("GET", PATH + "?limit=1")
    assert listing.names == {"host", *HEADERS}  # no content-length on a GET
    assert create.body == b'{"a": 1}' and create.header("content-length") == "8"
    assert create.names == {"host", "content-length", *HEADERS}  # no content-type added


def test_statuses_and_headers_come_back_and_a_redirect_is_not_followed(
    server: ScriptServer,
) -> None:
    statuses = [200, 201, 204, 301, 302, 307, 308, 400, 404, 407, 429, 500, 503, 529]
    server.script(
        *[
            Reply(s, (("Location", server.url + "/elsewhere"),), b"" if s == 204 else b"{}")
            for s in statuses
        ],
        Reply(200, (("X-Rep", "a"), ("x-rep", "b"), ("Set-Cookie", "s=1; Path=/")), b"{}"),
        Reply(200, body=b"{}"),
    )

    async def go() -> list[RawResponse]:
        transport = own()
        try:
            # localhost: aiohttp's default jar would keep its cookies (never an IP's)
            url = f"http://localhost:{server.port}/x"
            return [await transport.send(spec(url)) for _ in range(len(statuses) + 2)]
        finally:
            await transport.close()

    answers = run(go())
    assert [a.status for a in answers[: len(statuses)]] == statuses
    assert all(a.headers["location"] == server.url + "/elsewhere" for a in answers[:-2])
    assert [r.target for r in server.requests] == ["/x"] * (len(statuses) + 2)  # none followed
    repeated = answers[-2]
    assert repeated.headers["x-rep"] == "a, b" and repeated.headers["set-cookie"] == "s=1; Path=/"
    assert all(name == name.lower() for name in repeated.headers)
    assert all(r.header("cookie") is None for r in server.requests)  # no cookie kept
    assert server.connections == 1  # every answer read to its end: one connection for all


def test_connections_are_kept_alive(server: ScriptServer) -> None:
    async def go() -> None:
        transport = own()
        try:
            for _ in range(5):
                assert (await transport.send(spec(server.url + "/x"))).body != b""
        finally:
            await transport.close()

    run(go())
    assert server.connections == 1
    assert [r.connection for r in server.requests] == [1] * 5


def test_aiohttp_never_retries(server: ScriptServer) -> None:
    """aiohttp resends an idempotent request once when the connection breaks."""
    server.script(Reply(), Reply(drop="before"), Reply(drop="before"))

    async def go() -> list[float | RawResponse | BaseException]:
        transport = own()
        try:
            ok = await transport.send(spec(server.url + "/x"))  # the connection is kept
            _, on_kept = await attempt(transport, server.url + "/x")
            _, on_new = await attempt(transport, server.url + "/x")
            return [ok, on_kept, on_new]
        finally:
            await transport.close()

    ok, on_kept, on_new = run(go())
    assert isinstance(ok, RawResponse) and ok.status == 200
    assert isinstance(on_kept, bd.TransportConnectError)
    assert isinstance(on_new, bd.TransportConnectError)
    assert len(server.requests) == 3


def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    elapsed, error = one_send(f"http://127.0.0.1:{port}/x")
    assert isinstance(error, bd.TransportConnectError) and elapsed < 2
    assert not isinstance(error, bd.TransportTimeoutError)


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda b: gzip.compress(b, mtime=0)),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
    ],
    ids=["gzip", "deflate", "raw-deflate"],
)
def test_gzip_and_deflate_are_decoded(server: ScriptServer, encoding: str, encode: Any) -> None:
    server.script(Reply(200, (("Content-Encoding", encoding),), encode(OK_BODY)))
    _, answer = one_send(server.url + "/x")
    assert isinstance(answer, RawResponse)
    assert answer.body == OK_BODY and answer.headers["content-encoding"] == encoding
    assert server.requests[0].header("accept-encoding") is None  # the spec asked for none


@pytest.mark.slow
def test_a_gzip_bomb_is_stopped_at_the_cap_in_bounded_memory(hostile: HostileServer) -> None:
    bomb = gzip_bomb()  # about 2 MB, 2 GiB once inflated
    answer = head(200, "content-encoding: gzip", f"content-length: {len(bomb)}") + bomb
    hostile.play([Request(), Send(answer), Hold(10)])
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        elapsed, error = one_send(hostile.url + "/x")
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert isinstance(error, bd.TransportResponseTooLargeError), error
    assert error.status == 200 and "max_response_bytes" in str(error)
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB"  # the cap is 1 MiB
    assert elapsed < 5
    assert hostile.wait_finished(1)  # the client closed its connection


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_an_endless_body_is_stopped_at_the_cap(hostile: HostileServer, framing: str) -> None:
    if framing == "chunked":
        start, more = head(200, "transfer-encoding: chunked"), endless_chunks(4096, 16)
    else:
        start, more = head(200, "content-length: 500000000"), b" " * 65536
    hostile.play([Request(), Send(start), Repeat((Send(more),), seconds=20)])
    elapsed, error = one_send(hostile.url + "/x", deadline=10.0)
    assert isinstance(error, bd.TransportResponseTooLargeError), error
    assert elapsed < 5
    assert hostile.wait_finished(1)


def test_an_error_body_is_cut_and_its_connection_dropped(server: ScriptServer) -> None:
    server.script(Reply(500, body=b"e" * 200_000), Reply())

    async def go() -> tuple[RawResponse, RawResponse]:
        transport = own()
        try:
            cut = await transport.send(spec(server.url + "/x", max_error_body=1000))
            return cut, await transport.send(spec(server.url + "/x"))
        finally:
            await transport.close()

    cut, after = run(go())
    assert (cut.status, cut.body) == (500, b"e" * 1000)
    assert after.status == 200
    assert [r.connection for r in server.requests] == [1, 2]


# -- the deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["head", "body", "interim"])
@pytest.mark.slow
def test_a_drip_ends_at_the_deadline(hostile: HostileServer, where: str) -> None:
    full = head(200, "content-length: 100") + b"x" * 100
    steps: dict[str, list[Step]] = {
        "head": [Drip(full, 1.0)],  # a byte a second, each read well inside the read timeout
        "body": [Send(full[:-99]), Drip(full[-99:], 1.0)],
        "interim": [Repeat((Send(CONTINUE), Sleep(0.05)), seconds=10)],  # endless 100s
    }
    hostile.play([Request(), *steps[where]])
    elapsed, error = one_send(hostile.url + "/x", deadline=1.2, read=5.0)
    assert isinstance(error, bd.TransportTimeoutError), error
    assert 1.0 < elapsed < 1.7


def test_a_deadline_already_passed_sends_nothing(server: ScriptServer) -> None:
    _, error = one_send(server.url + "/x", deadline=-1.0)
    assert isinstance(error, bd.TransportTimeoutError)
    assert server.connections == 0


# -- framing -----------------------------------------------------------------------------------

OK_LINE = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK_LINE + b"transfer-encoding: chunked\r\n"
TWO = b"content-length: 2\r\n\r\n{}"
MALFORMED = {
    "status-two-digits": b"HTTP/1.1 20 OK\r\n" + TWO,
    "status-four-digits": b"HTTP/1.1 2000 OK\r\n" + TWO,
    "not-http": b"HTTX/1.1 200 OK\r\n" + TWO,
    "http-2.0": b"HTTP/2.0 200 OK\r\n" + TWO,
    "line-without-colon": OK_LINE + b"bogus line\r\n" + TWO,
    "space-before-colon": OK_LINE + b"content-length : 2\r\n\r\n{}",
    "nul-in-value": OK_LINE + b"x-a: a\x00b\r\n" + TWO,
    "x01-in-value": OK_LINE + b"x-a: a\x01b\r\n" + TWO,
    "del-in-value": OK_LINE + b"x-a: a\x7fb\r\n" + TWO,
    "negative-length": OK_LINE + b"content-length: -2\r\n\r\n{}",
    "conflicting-lengths": OK_LINE + b"content-length: 3\r\n" + TWO + b"x",
    "chunked-and-length": CHUNKED + b"content-length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "transfer-encoding-gzip": OK_LINE + b"transfer-encoding: gzip\r\n\r\n{}",
    "chunked-twice": CHUNKED + b"transfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "signed-chunk-size": CHUNKED + b"\r\n-2\r\n{}\r\n0\r\n\r\n",
    "hex-prefixed-chunk": CHUNKED + b"\r\n0x2\r\n{}\r\n0\r\n\r\n",
    "junk-chunk-size": CHUNKED + b"\r\nzz\r\n{}\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_framing_is_refused_at_once(
    hostile: HostileServer, parser: str, payload: bytes
) -> None:
    hostile.play([Request(), Send(payload), Hold(10)])  # a reader that waits, waits
    elapsed, error = one_send(hostile.url + "/x", deadline=5.0)
    assert isinstance(error, bd.TransportProtocolError), error
    assert str(error).startswith("The response is malformed: ")
    assert elapsed < 1
    assert hostile.wait_finished(1)  # and the connection is closed


LENIENT = {
    "no-reason": b"HTTP/1.1 200\r\n" + TWO,
    "tab-in-value": OK_LINE + b"x-a: a\tb\r\n" + TWO,
    "http-1.0-to-the-end": b"HTTP/1.0 200 OK\r\n\r\n{}",
    # aiohttp refuses these two in Python's development mode (-X dev) only
    "lf-only": b"HTTP/1.1 200 OK\ncontent-length: 2\n\n{}",
    "obs-fold": OK_LINE + b"x-a: a\r\n b\r\n" + TWO,
}


@pytest.mark.parametrize("name", LENIENT)
def test_lenient_but_unambiguous_framing_is_read(
    hostile: HostileServer, parser: str, name: str
) -> None:
    if sys.flags.dev_mode and name in ("lf-only", "obs-fold"):
        pytest.skip("aiohttp parses strictly in Python's development mode")
    hostile.play([Request(), Send(LENIENT[name])])
    _, answer = one_send(hostile.url + "/x")
    assert isinstance(answer, RawResponse) and (answer.status, answer.body) == (200, b"{}")


def test_a_refused_head_with_its_whole_body_is_not_reused(server: ScriptServer) -> None:
    """aiohttp gives a connection back to its pool as soon as the body is in;
    the transport holds it until the head is checked."""
    server.script(Reply(200, (("x-a", "a\x01b"),), b"{}"), Reply())

    async def go() -> tuple[float, RawResponse | BaseException]:
        transport = own()
        try:
            _, refused = await attempt(transport, server.url + "/x")
            assert isinstance(refused, bd.TransportProtocolError)
            return await attempt(transport, server.url + "/x")
        finally:
            await transport.close()

    _, after = run(go())
    assert isinstance(after, RawResponse) and after.status == 200
    assert [r.connection for r in server.requests] == [1, 2]


# -- cancellation and event loops -------------------------------------------------------------


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_cancelled_send_leaves_no_connection_and_no_task(
    hostile: HostileServer, where: str
) -> None:
    started = head(200, "content-length: 1000") + b"x" * 10
    first: list[Step] = (
        [Request(), Hold(10)] if where == "head" else [Request(), Send(started), Hold(10)]
    )
    hostile.play(first, [Request(), Send(head(200, "content-length: 2") + b"{}")])

    async def go() -> RawResponse:
        transport = own()
        before = asyncio.all_tasks()
        try:
            task = asyncio.create_task(transport.send(spec(hostile.url + "/x")))
            await asyncio.sleep(0.3)  # the head (and 10 bytes of the body) are in
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await asyncio.to_thread(hostile.wait_finished, 1)  # closed, not pooled
            assert asyncio.all_tasks() == before  # no task left behind
            return await transport.send(spec(hostile.url + "/x"))
        finally:
            await transport.close()

    answer = run(go())
    assert (answer.status, answer.body) == (200, b"{}")
    assert hostile.connections == 2


def test_a_send_from_another_event_loop_is_refused(server: ScriptServer) -> None:
    transport = own()
    loop = asyncio.new_event_loop()
    errors: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            asyncio.run(transport.send(spec(server.url + "/x")))
        except BaseException as exc:
            errors.append(exc)

    try:
        assert loop.run_until_complete(transport.send(spec(server.url + "/x"))).status == 200
        start = time.monotonic()
        with pytest.raises(bd.ConfigurationError, match="event loop of its first request"):
            run(transport.send(spec(server.url + "/x")))
        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join(timeout=10)
        assert [type(e) for e in errors] == [bd.ConfigurationError]
        assert time.monotonic() - start < 1  # refused, never waited on
        with pytest.raises(bd.ConfigurationError, match="closed in the event loop"):
            run(transport.close())
        loop.run_until_complete(transport.close())
        loop.run_until_complete(transport.close())
        with pytest.raises(bd.ConfigurationError, match="closed"):
            loop.run_until_complete(transport.send(spec(server.url + "/x")))
    finally:
        loop.close()
    assert len(server.requests) == 1


def test_a_transport_whose_loop_has_ended_can_still_be_closed() -> None:
    """asyncio.run() ended without closing it: close() from a later loop
    marks it closed (asyncio can close no socket of a closed loop; this
    session has none: its one connection was refused)."""
    transport = own()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, refused = run(attempt(transport, f"http://127.0.0.1:{port}/x"))
    assert isinstance(refused, bd.TransportConnectError)
    run(transport.close())
    run(transport.close())
    with pytest.raises(bd.ConfigurationError, match="closed"):
        run(transport.send(spec(f"http://127.0.0.1:{port}/x")))


# -- a user's own session -------------------------------------------------------------------


def test_a_users_session_is_used_as_it_is_and_not_closed(server: ScriptServer) -> None:
    server.script(
        Reply(404, body=b"{}"),
        Reply(200, (("Content-Encoding", "gzip"),), gzip.compress(OK_BODY)),
        Reply(200, body=padded(5000)),
        Reply(302, (("Location", server.url + "/elsewhere"),), b""),
    )

    async def go() -> tuple[list[RawResponse | BaseException], aiohttp.ClientSession]:
        async with aiohttp.ClientSession(
            headers={"x-session": "1"}, raise_for_status=True, auto_decompress=True
        ) as session:
            transport, owned = resolve_async_transport(session)
            assert isinstance(transport, ba.AiohttpTransport) and owned
            results = [(await attempt(transport, server.url + "/x"))[1] for _ in range(2)]
            results.append((await attempt(transport, server.url + "/x", max_body=1000))[1])
            results.append((await attempt(transport, server.url + "/x"))[1])
            await transport.close()
            assert not session.closed
            results.append(await transport.send(spec(server.url + "/x")))  # still usable
            return results, session

    results, session = run(go())
    not_found, zipped, too_large, redirect, after = results
    assert isinstance(not_found, RawResponse) and not_found.status == 404  # no raise_for_status
    assert isinstance(zipped, RawResponse) and zipped.body == OK_BODY  # decoded once, by us
    assert isinstance(too_large, bd.TransportResponseTooLargeError)
    assert isinstance(redirect, RawResponse) and redirect.status == 302
    assert isinstance(after, RawResponse) and after.status == 200
    assert [r.header("x-session") for r in server.requests] == ["1"] * 5  # its own headers
    assert all(r.header("accept-encoding") is None for r in server.requests)  # not aiohttp's
    assert [r.target for r in server.requests] == ["/x"] * 5
    assert session.closed


def test_a_users_session_from_another_loop_is_refused(server: ScriptServer) -> None:
    async def make() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    loop = asyncio.new_event_loop()
    try:
        session = loop.run_until_complete(make())
        transport = ba.AiohttpTransport(session)
        with pytest.raises(bd.ConfigurationError, match="event loop"):
            run(transport.send(spec(server.url + "/x")))
        loop.run_until_complete(session.close())
        with pytest.raises(bd.ConfigurationError, match="closed"):
            loop.run_until_complete(transport.send(spec(server.url + "/x")))
    finally:
        loop.close()
    assert server.requests == []


# -- connection options ---------------------------------------------------------------------------


def test_a_private_ca_is_trusted_when_given(tls_server: ScriptServer, ca_file: str) -> None:
    async def go() -> list[RawResponse | BaseException]:
        results = []
        for transport in (own(verify=ca_file), own(), own(verify=False)):
            try:
                results.append((await attempt(transport, tls_server.url + "/x"))[1])
            finally:
                await transport.close()
        return results

    trusted, untrusted, unverified = run(go())
    assert isinstance(trusted, RawResponse) and trusted.status == 200
    assert isinstance(untrusted, bd.TransportCertificateError), untrusted
    assert "certificate verify failed" in str(untrusted).lower()
    assert isinstance(unverified, RawResponse) and unverified.status == 200
    assert len(tls_server.requests) == 2  # none on the refused connection


def test_aiohttp_never_reads_the_environment(
    server: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The options read it once (a loopback host never goes through a proxy
    from the environment); aiohttp itself, with trust_env, would proxy it."""
    with ScriptServer() as fake_proxy:
        monkeypatch.setenv("HTTP_PROXY", fake_proxy.url)
        monkeypatch.setenv("http_proxy", fake_proxy.url)
        _, answer = one_send(server.url + "/x", options={"trust_env": True})
        assert isinstance(answer, RawResponse) and answer.status == 200
        assert fake_proxy.connections == 0
    assert len(server.requests) == 1


def test_max_connections_bounds_the_pool(server: ScriptServer) -> None:
    server.script(*[Reply(delay=0.1) for _ in range(8)])

    async def go() -> list[RawResponse]:
        transport = own(max_connections=2)
        try:
            sends = [transport.send(spec(server.url + f"/{n}")) for n in range(8)]
            return list(await asyncio.gather(*sends))
        finally:
            await transport.close()

    answers = run(go())
    assert [a.status for a in answers] == [200] * 8
    assert len(server.requests) == 8
    assert server.connections == 2


def test_a_plain_http_proxy_gets_the_absolute_form_and_the_credentials(
    server: ScriptServer,
) -> None:
    """The script server stands in for the proxy: it records what arrives."""
    base = "http://batches.example.invalid:8080"  # never resolved: only the proxy is reached
    proxy = f"http://alice:pa%3Ass%20word@127.0.0.1:{server.port}"

    async def go() -> RawResponse:
        transport = own(proxy=proxy)
        try:
            return await transport.send(spec(base + PATH + "msgbatch_1"))
        finally:
            await transport.close()

    assert run(go()).status == 200
    [request] = server.requests
    assert request.target == f"{base}{PATH}msgbatch_1"
    assert request.header("host") == "batches.example.invalid:8080"
    basic = base64.b64encode(b"alice:pa:ss word").decode()
    assert request.header("proxy-authorization") == f"Basic {basic}"
    assert request.names == {"host", "content-length", "proxy-authorization", *HEADERS}


def test_https_through_an_authenticating_proxy(
    auth_proxy: ProxyProcess, tls_server: ScriptServer, ca_file: str
) -> None:
    since = auth_proxy.log_size()

    async def go() -> list[RawResponse]:
        transport = own(proxy=proxy_url(auth_proxy), verify=ca_file)
        try:
            return [await transport.send(spec(tls_server.url + "/x")) for _ in range(2)]
        finally:
            await transport.close()

    assert [a.status for a in run(go())] == [200, 200]
    assert auth_proxy.wait_for(f"CONNECT 127.0.0.1:{tls_server.port} ", since)
    assert tls_server.connections == 1  # one tunnel, kept alive
    assert [r.names for r in tls_server.requests] == [{"host", "content-length", *HEADERS}] * 2


def test_http_through_an_authenticating_proxy(
    auth_proxy: ProxyProcess, server: ScriptServer
) -> None:
    async def go() -> RawResponse:
        transport = own(proxy=proxy_url(auth_proxy))
        try:
            return await transport.send(spec(server.url + "/x"))
        finally:
            await transport.close()

    assert run(go()).status == 200
    [request] = server.requests
    assert "proxy.py" in (request.header("via") or "")
    assert request.header("proxy-authorization") is None  # for the proxy only


def test_wrong_proxy_credentials_never_show(
    auth_proxy: ProxyProcess, tls_server: ScriptServer, server: ScriptServer, ca_file: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]

    async def go() -> list[RawResponse | BaseException]:
        results = []
        wrong = proxy_url(auth_proxy, WRONG_PASSWORD)
        dead_proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{dead}"
        for proxy, url in ((wrong, server.url), (wrong, tls_server.url), (dead_proxy, server.url)):
            transport = own(proxy=proxy, verify=ca_file)
            try:
                results.append((await attempt(transport, url + "/x"))[1])
            finally:
                await transport.close()
        return results

    plain, tunnel, unreachable = run(go())
    assert isinstance(plain, RawResponse) and plain.status == 407  # the proxy's answer
    assert isinstance(tunnel, bd.TransportConnectError) and not isinstance(
        tunnel, bd.TransportTimeoutError
    )
    assert str(tunnel).startswith(f"The proxy 127.0.0.1:{auth_proxy.port} refused the tunnel: 407")
    assert isinstance(unreachable, bd.TransportConnectError)
    assert str(unreachable).startswith(f"The proxy 127.0.0.1:{dead} cannot be reached")
    assert server.requests == [] and tls_server.requests == []
    texts = [repr(plain), *shown(tunnel), *shown(unreachable)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text
