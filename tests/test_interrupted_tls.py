"""Ctrl-C in the middle of a TLS handshake, for every sync transport: the
socket is closed at once (the ssl module closes it on OSError only, so an
interrupted one would stay open as long as the exception is kept), and the
one connection allowed is free for the next request. `guards.deadline_tls`
does it for every transport on the standard library's sockets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trustme

from batchdelete import ConnectionOptions, RequestSpec, Timeout
from batchdelete._registry import resolve_transport
from tests.conftest import TRANSPORTS
from tests.hostile import Hold, HostileServer
from tests.scriptserver import ScriptServer
from tests.test_httpx_transport import ctrl_c_after


def spec(url: str, deadline: float) -> RequestSpec:
    end = time.monotonic() + deadline
    return RequestSpec("DELETE", url + "/x", {}, Timeout(connect=1, read=5), deadline=end)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", TRANSPORTS)
def test_an_interrupted_handshake_leaves_nothing_open(
    name: str, ca: trustme.CA, tmp_path: Path, tls_server: ScriptServer
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    options = ConnectionOptions(max_connections=1, verify=str(ca_file))
    transport, _ = resolve_transport(name, options)
    try:
        with HostileServer() as hostile:
            hostile.play([Hold(10)])  # accepts, answers no TLS hello
            silent = hostile.url.replace("http://", "https://")
            with pytest.raises(KeyboardInterrupt) as interrupted, ctrl_c_after(0.3):
                transport.send(spec(silent, deadline=8))
            assert hostile.wait_finished(1)  # closed by the client, not after Hold's 10 s
            assert interrupted.traceback  # its frames (the socket's among them) still live
            assert transport.send(spec(tls_server.url, deadline=5)).status == 200
    finally:
        transport.close()
