"""Edges of the transports (issue 12, branch coverage), on every transport,
sync and async, against real sockets on 127.0.0.1.

- More origins than a transport remembers routes for (64): each is still
  reached (here: refused, a port bound but not listening), nothing breaks
  once the route cache is full, and the first origin still answers.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable, Iterator

import pytest

import batchdelete as bd
from tests.conftest import API_KEY
from tests.hostile import HostileServer, Repeat, Request, Send, Sleep, Step, head
from tests.scriptserver import ScriptServer

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
