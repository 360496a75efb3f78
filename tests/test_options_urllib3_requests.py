"""Connection options in the urllib3 and requests transports (issue 8): what
is specific to them. The cross-transport suite, through a real proxy, is
tests/test_options.py.

Here the script server stands in for a proxy where that is enough: it
records a plain-HTTP request in absolute form with its Proxy-Authorization,
and it answers a CONNECT with what it is told to (a 407, or nothing for a
while). Pools are checked by counting the server's connections.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
import warnings
from pathlib import Path

import pytest
import trustme

import batchdelete as bd
from batchdelete import ConnectionOptions
from tests.conftest import API_KEY
from tests.scriptserver import Reply, ScriptServer

batchdelete_urllib3 = pytest.importorskip("batchdelete_urllib3")
batchdelete_requests = pytest.importorskip("batchdelete_requests")

NAMES = ["urllib3", "requests"]
PASSWORD = "pa@ss:w0rd-SECRET"  # percent-encoded in the URL below
QUOTED = "pa%40ss%3Aw0rd-SECRET"


def _transport(name: str, options: ConnectionOptions) -> bd.Transport:
    if name == "urllib3":
        return batchdelete_urllib3.Urllib3Transport(None, options)  # type: ignore[no-any-return]
    return batchdelete_requests.RequestsTransport(None, options)  # type: ignore[no-any-return]


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _spec(url: str, seconds: float = 10.0) -> bd.RequestSpec:
    return bd.RequestSpec(
        "DELETE",
        url,
        {"x-api-key": API_KEY, "accept": "application/json"},
        bd.Timeout(connect=5.0, read=5.0),
        deadline=time.monotonic() + seconds,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


# -- max_connections ------------------------------------------------------------


def test_pool_never_opens_more_than_max_connections(server: ScriptServer, name: str) -> None:
    server.script(*[Reply(delay=0.2) for _ in range(8)])
    transport = _transport(name, ConnectionOptions(trust_env=False, max_connections=2))
    results: list[int] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results.append(transport.send(_spec(f"{server.url}/v1/messages/batches/b{i}")).status)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    transport.close()
    assert not errors and results == [200] * 8
    assert server.connections == 2  # the other six threads waited for one


@pytest.mark.slow
def test_a_thread_waiting_for_a_connection_ends_at_the_deadline(
    server: ScriptServer, name: str
) -> None:
    server.script(Reply(delay=3.0))
    transport = _transport(name, ConnectionOptions(trust_env=False, max_connections=1))
    busy = threading.Thread(target=lambda: transport.send(_spec(server.url + "/slow")))
    busy.start()
    try:
        deadline = time.monotonic() + 3
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(bd.TransportTimeoutError) as info:
            transport.send(_spec(server.url + "/waits", seconds=0.5))
        waited = time.monotonic() - started
        assert 0.4 < waited < 2.0, waited
        assert "max_connections" in str(info.value)
        assert server.connections == 1 and len(server.requests) == 1
    finally:
        busy.join(timeout=10)
        transport.close()


# -- proxies ----------------------------------------------------------------------


def test_proxy_manager_only_for_the_hosts_the_options_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    transport = batchdelete_urllib3.Urllib3Transport(None, ConnectionOptions())
    proxied = transport._route("https://api.anthropic.com")
    assert proxied.proxy == "http://proxy.invalid:3128" and not proxied.absolute
    for origin in ("https://svc.internal.example", "https://127.0.0.1:8443", "http://x.example"):
        assert transport._route(origin).proxy is None, origin
    assert list(transport._proxy_managers) == ["http://proxy.invalid:3128"]
    # Proxied pools are the strict ones too, tunnelling with the options' context.
    pool = proxied.pool
    assert type(pool) is batchdelete_urllib3.strict_pool_classes()["https"]
    assert pool.proxy is not None and pool.proxy.host == "proxy.invalid"
    assert pool.conn_kw["ssl_context"] is transport._tls()
    transport.close()


def test_plain_http_goes_to_the_proxy_in_absolute_form_with_its_credentials(
    server: ScriptServer, name: str
) -> None:
    proxy = f"http://bob:{QUOTED}@127.0.0.1:{server.port}"
    transport = _transport(name, ConnectionOptions(proxy=proxy))
    url = "http://api.example.invalid/v1/messages/batches/msgbatch_p"
    assert transport.send(_spec(url)).status == 200
    transport.close()
    [request] = server.requests
    assert request.target == url
    expected = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert request.header("proxy-authorization") == f"Basic {expected}"
    assert request.header("x-api-key") == API_KEY
    assert request.header("accept") == "application/json"  # sent once, as given


def test_a_dead_proxy_is_named_with_its_password_masked(name: str) -> None:
    port = _closed_port()
    transport = _transport(name, ConnectionOptions(proxy=f"http://bob:{QUOTED}@127.0.0.1:{port}"))
    for url in ("https://api.example.invalid/v1/x", "http://api.example.invalid/v1/x"):
        with pytest.raises(bd.TransportConnectError) as info:
            transport.send(_spec(url))
        message = str(info.value)
        assert f"http://***@127.0.0.1:{port}" in message, message
        assert "SECRET" not in message and "bob" not in message
    transport.close()


def test_a_407_to_connect_names_the_proxy(server: ScriptServer, name: str) -> None:
    server.script(Reply(407, (("Proxy-Authenticate", 'Basic realm="corp"'),), b"no"))
    proxy = f"http://bob:{QUOTED}@127.0.0.1:{server.port}"
    transport = _transport(name, ConnectionOptions(proxy=proxy))
    with pytest.raises(bd.TransportConnectError) as info:
        transport.send(_spec("https://api.example.invalid/v1/messages/batches/b1"))
    transport.close()
    message = str(info.value)
    assert f"http://***@127.0.0.1:{server.port}" in message and "407" in message, message
    assert "SECRET" not in message
    [connect] = server.requests
    assert connect.method == "CONNECT" and connect.target == "api.example.invalid:443"
    assert (connect.header("proxy-authorization") or "").startswith("Basic ")


def test_a_silent_proxy_ends_at_the_deadline(server: ScriptServer, name: str) -> None:
    """The connection to the proxy keeps the deadline (DeadlineSocket) while
    the tunnel is set up."""
    server.script(Reply(delay=5.0))
    transport = _transport(name, ConnectionOptions(proxy=server.url))
    started = time.monotonic()
    with pytest.raises(bd.TransportTimeoutError):
        transport.send(_spec("https://api.example.invalid/v1/x", seconds=0.5))
    assert time.monotonic() - started < 2.0
    transport.close()


def test_proxy_managers_are_rebuilt_after_fork(server: ScriptServer) -> None:
    transport = batchdelete_urllib3.Urllib3Transport(None, ConnectionOptions(proxy=server.url))
    assert transport.send(_spec("http://api.example.invalid/a")).status == 200
    before = transport._proxy_managers[server.url]
    transport._after_fork()  # what the child runs
    assert transport._proxy_managers == {} and transport._routes == {}
    assert transport.send(_spec("http://api.example.invalid/b")).status == 200
    assert transport._proxy_managers[server.url] is not before
    assert server.connections == 2  # the "parent's" connection was not reused
    transport.close()


# -- TLS --------------------------------------------------------------------------


def test_one_context_from_the_options_and_no_warning_per_request(
    tls_server: ScriptServer, name: str, ca_file: Path
) -> None:
    trusted = _transport(name, ConnectionOptions(trust_env=False, verify=str(ca_file)))
    assert trusted.send(_spec(tls_server.url + "/a")).status == 200
    trusted.close()
    refused = _transport(name, ConnectionOptions(trust_env=False))  # the system's CAs
    with pytest.raises(bd.TransportCertificateError):
        refused.send(_spec(tls_server.url + "/b"))
    refused.close()
    unverified = _transport(name, ConnectionOptions(trust_env=False, verify=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Not a socket that an earlier test left to the garbage collector: with
        # several workers (make quick) one is at times finalized in this window.
        warnings.simplefilter("ignore", ResourceWarning)
        for _ in range(3):
            assert unverified.send(_spec(tls_server.url + "/c")).status == 200
    unverified.close()
    assert not caught, [str(w.message) for w in caught]


def test_requests_loads_no_other_bundle(
    tls_server: ScriptServer, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """session.verify (True: certifi) and requests' cert_verify do not reach
    the pools: only the options' context is used."""
    transport = batchdelete_requests.RequestsTransport(
        None, ConnectionOptions(trust_env=False, verify=str(ca_file))
    )
    loaded: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def spy(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loaded.append(args or kwargs)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    assert transport.send(_spec(tls_server.url + "/a")).status == 200
    assert transport.send(_spec(tls_server.url + "/b")).status == 200
    assert len(loaded) == 1  # the options' context, once
    [pool] = transport._session.get_adapter(tls_server.url).poolmanager.pools._container.values()
    assert pool.ca_certs is None and pool.cert_file is None
    transport.close()
