"""Edges of the transports (issue 12, branch coverage), on every transport,
sync and async, against real sockets on 127.0.0.1.

- More origins than a transport remembers routes for (64): each is still
  reached (here: refused, a port bound but not listening), nothing breaks
  once the route cache is full, and the first origin still answers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

import batchdelete as bd
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
