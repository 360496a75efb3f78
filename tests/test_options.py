"""One set of connection options for every transport (issue 8): proxy,
trust_env, verify, cert and max_connections, through real parts.

What is real here: a forward proxy (proxy.py from PyPI, in a subprocess,
with and without basic authentication; see tests/proxyserver.py), HTTPS
servers with certificates from a private CA (trustme), one of them
demanding client certificates, and every built-in transport, sync and
async (`client_kind`; an AsyncClient through the blocking facade of
tests/asyncclients.py). Each call is bounded: `max_retries=0` and a
10-second deadline.

How traffic stays on 127.0.0.1 while proxies from the environment still
apply. batchdelete never sends a loopback host (127.0.0.0/8, ::1,
localhost and *.localhost) through a proxy found in the environment
(issue 14), so the environment cases need a host that is not loopback by
name yet ends up on this machine. Two pieces do it:

- proxy.py runs with one plugin of ours, `tests.proxyserver.LoopbackOnly`,
  which resolves every upstream host to 127.0.0.1 through proxy.py's own
  `resolve_dns` hook. So `https://batches.test:PORT` (`.test` is reserved,
  RFC 6761) reaches the test server through a real CONNECT tunnel. This
  was chosen over a hand-written proxy (proxy.py does the real proxying
  and authentication) and over checking only `ConnectionOptions` (that
  would not prove that a transport applies it).
- In this process, `socket.getaddrinfo` is guarded (autouse fixture
  `local_names`): a name resolves only when a test maps it to 127.0.0.1
  (for the cases that must go direct: NO_PROXY, trust_env=False), and any
  answer that is not loopback is refused. So when a test leaves
  `batches.test` unmapped, the request can only have succeeded through the
  proxy; and no test can reach, or even look up, anything off this machine.
  `0.0.0.0` (not loopback by batchdelete's rule; on Linux a connection to
  it reaches 127.0.0.1) stands for an IP address in the NO_PROXY cases.

Proof that a proxy carried a request: the target host cannot be resolved
here (above), the TLS server saw exactly one connection (the tunnel), and
proxy.py's access log names the CONNECT (or the request); for plain HTTP
the request arrives with proxy.py's `Via` header. Proof that a proxy was
NOT used: the environment names a recording fake proxy (a ScriptServer),
which must see no connection at all.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import trustme
import urllib3
from anyio.from_thread import BlockingPortal

import batchdelete as bd
from batchdelete import ConnectionOptions
from batchdelete._options import CA_VARIABLES, DEFAULT_MAX_CONNECTIONS, bypasses_proxy
from batchdelete._spec import Timeout
from tests.asyncclients import BlockingClient
from tests.conftest import API_KEY
from tests.proxyserver import ProxyProcess
from tests.scriptserver import Reply, ScriptServer

pytestmark = pytest.mark.clients("all")

MakeClient = Callable[..., bd.Client]

TIMEOUT = Timeout(deadline=10)
NAME = "batches.test"  # not loopback by name; only the proxy (or a test's mapping) reaches it
SUBDOMAIN = f"api.{NAME}"
ANY_ADDRESS = "0.0.0.0"  # an IP address that is not loopback by rule, yet stays here
PROXY_USER = "bduser"
PROXY_PASSWORD = "Pr0xy-S3cret-7d2e"
WRONG_PASSWORD = "Wr0ng-Pa55-91c3"
SECRETS = (
    PROXY_PASSWORD,
    WRONG_PASSWORD,
    base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode(),
    base64.b64encode(f"{PROXY_USER}:{WRONG_PASSWORD}".encode()).decode(),
)
ENVIRONMENT = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    *CA_VARIABLES,
)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_connection_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA variable of the developer's (either case) reaches a test."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def local_names(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Names a test maps to 127.0.0.1 in this process; every other name that
    is not loopback fails to resolve, and no non-loopback answer is let
    through (see the module docstring)."""
    import ipaddress

    names: set[str] = set()
    real = socket.getaddrinfo

    def refuse(name: object) -> socket.gaierror:
        return socket.gaierror(
            socket.EAI_NONAME, f"{name!r} is not resolved in this suite (only 127.0.0.1 is)"
        )

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is None:
            return real(host, port, *args, **kwargs)
        name = (host.decode() if isinstance(host, bytes) else str(host)).rstrip(".").lower()
        if name in names:
            return real("127.0.0.1", port, *args, **kwargs)
        try:
            ipaddress.ip_address(name.strip("[]").split("%")[0])
        except ValueError:
            if not bd.is_loopback_host(name):
                raise refuse(host) from None
        results = real(host, port, *args, **kwargs)
        for *_, sockaddr in results:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if not (address.is_loopback or address.is_unspecified):
                raise refuse(host)
        return results

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture(scope="session")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """proxy.py on 127.0.0.1, no authentication."""
    with ProxyProcess(tmp_path_factory.mktemp("proxy")) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    """proxy.py on 127.0.0.1 demanding basic authentication."""
    auth = f"{PROXY_USER}:{PROXY_PASSWORD}"
    with ProxyProcess(tmp_path_factory.mktemp("auth-proxy"), basic_auth=auth) as proxy:
        yield proxy


def with_credentials(proxy: ProxyProcess, password: str = PROXY_PASSWORD) -> str:
    return f"http://{PROXY_USER}:{password}@127.0.0.1:{proxy.port}"


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", NAME, SUBDOMAIN, ANY_ADDRESS).configure_cert(context)
    return context


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[ScriptServer]:
    """An HTTPS script server whose certificate (from `ca`) also names
    batches.test, api.batches.test and 0.0.0.0."""
    with ScriptServer(tls=_server_context(ca)) as server:
        yield server


@pytest.fixture
def mtls_server(ca: trustme.CA) -> Iterator[ScriptServer]:
    """An HTTPS script server that demands a client certificate from `ca`."""
    context = _server_context(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    with ScriptServer(tls=context) as server:
        yield server


@pytest.fixture
def fake_proxy() -> Iterator[ScriptServer]:
    """A recording stand-in for a proxy: a test that must not use the proxy
    checks that it saw no connection."""
    with ScriptServer() as server:
        yield server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that nothing listens on: bound, never listening,
    for the whole test (connecting is refused), so that no server of this
    test or another worker can be given it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture
def connect(open_client: MakeClient) -> MakeClient:
    """Clients of the kind under test (`client_kind`): no retries, a 10 s deadline."""

    def make(base_url: str, **kwargs: Any) -> bd.Client:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", TIMEOUT)
        return open_client(api_key=API_KEY, base_url=base_url, **kwargs)

    return make


def _url(host: str, server: ScriptServer) -> str:
    scheme = "https" if server.tls is not None else "http"
    return f"{scheme}://{host}:{server.port}"


def _deleted(client: bd.Client, batch_id: str = "msgbatch_opt") -> None:
    assert client.delete(batch_id).id == batch_id


def _connection_error(client: bd.Client) -> bd.APIConnectionError:
    """The APIConnectionError of a delete, a timeout not accepted instead."""
    with pytest.raises(bd.APIConnectionError) as info:
        client.delete("msgbatch_opt")
    assert not isinstance(info.value, bd.APITimeoutError), str(info.value)
    return info.value


def _tunnelled(proxy: ProxyProcess, since: int, host: str, server: ScriptServer) -> None:
    """The proxy carried a CONNECT to host:port (logged once the tunnel closed)."""
    logged = proxy.wait_for(f"CONNECT {host}:{server.port} ", since)
    assert logged, (
        "proxy.py logs a tunnel when it closes (did client.close() close it?)",
        proxy.lines(since),
    )
    assert server.connections == 1


# -- 1. the CA: by argument, by environment, refused, off ---------------------------------


def test_ca_by_argument(https_server: ScriptServer, ca_file: Path, connect: MakeClient) -> None:
    _deleted(connect(https_server.url, verify=str(ca_file)))
    assert https_server.requests[0].header("x-api-key") == API_KEY


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_from_the_environment(
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, str(ca_file))
    _deleted(connect(https_server.url))


def test_untrusted_certificate_is_refused_before_any_request(
    https_server: ScriptServer, connect: MakeClient
) -> None:
    error = _connection_error(connect(https_server.url))
    assert "Certificate verify failed" in str(error)
    assert https_server.requests == []  # nothing, the key included, was sent


def test_verify_false_works_and_warns_once(
    https_server: ScriptServer, connect: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = connect(https_server.url, verify=False)
    warned = [r for r in caplog.records if r.name == "batchdelete" and r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "verify=False" in warned[0].getMessage()
    _deleted(client)
    _deleted(client, "msgbatch_again")
    warned = [r for r in caplog.records if r.name == "batchdelete" and r.levelno >= logging.WARNING]
    assert len(warned) == 1  # once per client, not per request


def test_verify_with_an_ssl_context(
    https_server: ScriptServer, ca_file: Path, connect: MakeClient
) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    _deleted(connect(https_server.url, verify=context))


def test_verify_naming_a_missing_path_is_refused_at_construction(
    tmp_path: Path, connect: MakeClient
) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(bd.ConfigurationError) as info:
        connect("https://127.0.0.1:9", verify=missing)
    assert missing in str(info.value)


def test_a_ca_variable_naming_a_missing_path_is_refused(
    tmp_path: Path, connect: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", missing)
    with pytest.raises(bd.ConfigurationError) as info:
        connect("https://127.0.0.1:9")
    assert missing in str(info.value) and "SSL_CERT_FILE" in str(info.value)


def test_an_explicit_ca_beats_the_environment(
    https_server: ScriptServer,
    ca_file: Path,
    tmp_path: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    _deleted(connect(https_server.url, verify=str(ca_file)))


def test_trust_env_false_ignores_the_ca_variables(
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(ca_file))
    error = _connection_error(connect(https_server.url, trust_env=False))
    assert "Certificate verify failed" in str(error)
    assert https_server.requests == []


# -- 2. proxies ------------------------------------------------------------------------------


def test_explicit_proxy_tunnels_https(
    proxy_server: ProxyProcess, https_server: ScriptServer, ca_file: Path, connect: MakeClient
) -> None:
    since = proxy_server.log_size()
    client = connect(_url(NAME, https_server), proxy=proxy_server.url, verify=str(ca_file))
    _deleted(client)
    client.close()
    _tunnelled(proxy_server, since, NAME, https_server)


def test_explicit_proxy_carries_plain_http(
    proxy_server: ProxyProcess, server: ScriptServer, connect: MakeClient
) -> None:
    _deleted(connect(_url(NAME, server), proxy=proxy_server.url))
    [request] = server.requests
    assert "proxy.py" in (request.header("via") or "")
    assert request.target == "/v1/messages/batches/msgbatch_opt"
    assert request.header("host") == f"{NAME}:{server.port}"


def test_explicit_proxy_applies_to_loopback_too(
    proxy_server: ProxyProcess, server: ScriptServer, connect: MakeClient
) -> None:
    _deleted(connect(server.url, proxy=proxy_server.url))
    assert "proxy.py" in (server.requests[0].header("via") or "")


def test_explicit_proxy_beats_the_environment(
    proxy_server: ProxyProcess,
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", fake_proxy.url)
    monkeypatch.setenv("NO_PROXY", "*")  # for proxies from the environment only
    since = proxy_server.log_size()
    client = connect(_url(NAME, https_server), proxy=proxy_server.url, verify=str(ca_file))
    _deleted(client)
    client.close()
    _tunnelled(proxy_server, since, NAME, https_server)
    assert fake_proxy.connections == 0


@pytest.mark.parametrize("target", ["https", "http"])
def test_proxy_with_the_right_credentials(
    auth_proxy: ProxyProcess,
    https_server: ScriptServer,
    server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    target: str,
) -> None:
    origin = https_server if target == "https" else server
    since = auth_proxy.log_size()
    client = connect(_url(NAME, origin), proxy=with_credentials(auth_proxy), verify=str(ca_file))
    _deleted(client)
    client.close()
    if target == "https":
        _tunnelled(auth_proxy, since, NAME, origin)
    else:
        assert "proxy.py" in (origin.requests[0].header("via") or "")
        assert origin.requests[0].header("proxy-authorization") is None  # not passed on


@pytest.mark.parametrize("target", ["https", "http"])
def test_proxy_with_the_wrong_credentials(
    auth_proxy: ProxyProcess,
    https_server: ScriptServer,
    server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    target: str,
) -> None:
    origin = https_server if target == "https" else server
    client = connect(
        _url(NAME, origin),
        proxy=with_credentials(auth_proxy, WRONG_PASSWORD),
        verify=str(ca_file),
    )
    with pytest.raises((bd.APIConnectionError, bd.APIStatusError)) as info:
        client.delete("msgbatch_opt")
    error = info.value
    assert not isinstance(error, bd.APITimeoutError), str(error)
    if isinstance(error, bd.APIStatusError):
        assert error.status_code == 407, str(error)
    message = str(error)
    assert f"127.0.0.1:{auth_proxy.port}" in message  # the proxy, not the API, refused
    assert WRONG_PASSWORD not in message and PROXY_PASSWORD not in message
    assert origin.connections == 0


def test_proxy_that_cannot_be_reached(
    closed_port: int, https_server: ScriptServer, ca_file: Path, connect: MakeClient
) -> None:
    proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{closed_port}"
    client = connect(_url(NAME, https_server), proxy=proxy, verify=str(ca_file))
    error = _connection_error(client)
    assert f"127.0.0.1:{closed_port}" in str(error)  # names the proxy
    assert PROXY_PASSWORD not in str(error)
    assert https_server.connections == 0


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("form", ["url", "no-scheme"])
def test_proxy_from_the_environment_for_https(
    proxy_server: ProxyProcess,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    form: str,
) -> None:
    value = proxy_server.url if form == "url" else f"127.0.0.1:{proxy_server.port}"
    monkeypatch.setenv(variable, value)
    since = proxy_server.log_size()
    client = connect(_url(NAME, https_server), verify=str(ca_file))
    _deleted(client)
    client.close()
    _tunnelled(proxy_server, since, NAME, https_server)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_proxy_from_the_environment_for_http(
    proxy_server: ProxyProcess,
    server: ScriptServer,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, proxy_server.url)
    _deleted(connect(_url(NAME, server)))
    assert "proxy.py" in (server.requests[0].header("via") or "")


def test_environment_proxy_with_credentials(
    auth_proxy: ProxyProcess,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", with_credentials(auth_proxy))
    since = auth_proxy.log_size()
    client = connect(_url(NAME, https_server), verify=str(ca_file))
    _deleted(client)
    client.close()
    _tunnelled(auth_proxy, since, NAME, https_server)


@pytest.mark.parametrize(
    ("no_proxy", "host"),
    [
        (NAME, NAME),
        (f".{NAME}", SUBDOMAIN),
        (NAME, SUBDOMAIN),  # a domain without the dot covers its subdomains too
        (NAME.upper(), NAME),
        ("*", NAME),
        (f"{NAME}:{{port}}", NAME),
        (f"other.example, {NAME}", NAME),
        (ANY_ADDRESS, ANY_ADDRESS),
        ("0.0.0.0/8", ANY_ADDRESS),
    ],
    ids=["host", "dot-domain", "domain", "case", "star", "host-port", "list", "ip", "cidr"],
)
@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
def test_no_proxy_goes_direct(
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    local_names: set[str],
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
    host: str,
    variable: str,
) -> None:
    local_names.add(host)
    monkeypatch.setenv("HTTPS_PROXY", fake_proxy.url)
    monkeypatch.setenv(variable, no_proxy.format(port=https_server.port))
    _deleted(connect(_url(host, https_server), verify=str(ca_file)))
    assert fake_proxy.connections == 0
    assert len(https_server.requests) == 1


@pytest.mark.parametrize(
    "no_proxy",
    [
        "other.example,.example.com",
        f"{NAME}:1",  # another port
        f"x{NAME}",  # a suffix that is not a domain boundary
        "10.0.0.0/8",
        "",
    ],
    ids=["others", "other-port", "not-a-subdomain", "other-cidr", "empty"],
)
def test_no_proxy_that_does_not_match_still_proxies(
    proxy_server: ProxyProcess,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy_server.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    since = proxy_server.log_size()
    client = connect(_url(NAME, https_server), verify=str(ca_file))
    _deleted(client)
    client.close()
    _tunnelled(proxy_server, since, NAME, https_server)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_never_goes_through_the_environment_proxy(
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, fake_proxy.url)
    _deleted(connect(_url(host, https_server), verify=str(ca_file)))
    assert fake_proxy.connections == 0


def test_trust_env_false_ignores_the_proxy_variables(
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    local_names: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_names.add(NAME)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, fake_proxy.url)
    _deleted(connect(_url(NAME, https_server), verify=str(ca_file), trust_env=False))
    assert fake_proxy.connections == 0


def test_trust_env_false_ignores_proxy_and_ca_together(
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    local_names: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_names.add(NAME)
    monkeypatch.setenv("HTTPS_PROXY", fake_proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    error = _connection_error(connect(_url(NAME, https_server), trust_env=False))
    assert "Certificate verify failed" in str(error)  # direct, and the system's CAs
    assert fake_proxy.connections == 0 and https_server.requests == []


def test_the_environment_is_read_once_when_the_client_is_built(
    proxy_server: ProxyProcess,
    fake_proxy: ScriptServer,
    https_server: ScriptServer,
    ca_file: Path,
    connect: MakeClient,
    local_names: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Built with the proxy in the environment: it stays after the variable goes.
    monkeypatch.setenv("HTTPS_PROXY", proxy_server.url)
    since = proxy_server.log_size()
    proxied = connect(_url(NAME, https_server), verify=str(ca_file))
    monkeypatch.delenv("HTTPS_PROXY")
    _deleted(proxied)
    proxied.close()
    _tunnelled(proxy_server, since, NAME, https_server)
    # Built without one: a proxy set later is not used.
    local_names.add(SUBDOMAIN)
    direct = connect(_url(SUBDOMAIN, https_server), verify=str(ca_file))
    monkeypatch.setenv("HTTPS_PROXY", fake_proxy.url)
    _deleted(direct)
    assert fake_proxy.connections == 0


# -- 3. mutual TLS -----------------------------------------------------------------------------


@pytest.fixture
def client_cert(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    """A client certificate from `ca`: as one file, and as certificate + key."""
    issued = ca.issue_cert("client@example")
    paths = {name: tmp_path / f"client-{name}.pem" for name in ("both", "cert", "key")}
    issued.private_key_and_cert_chain_pem.write_to_path(str(paths["both"]))
    paths["cert"].write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(paths["key"]))
    return {name: str(path) for name, path in paths.items()}


@pytest.mark.parametrize("form", ["one-file", "cert-and-key"])
def test_mutual_tls_with_a_client_certificate(
    mtls_server: ScriptServer,
    ca_file: Path,
    client_cert: dict[str, str],
    connect: MakeClient,
    form: str,
) -> None:
    cert: str | tuple[str, str] = (
        client_cert["both"] if form == "one-file" else (client_cert["cert"], client_cert["key"])
    )
    _deleted(connect(mtls_server.url, verify=str(ca_file), cert=cert))
    assert len(mtls_server.requests) == 1


def test_mutual_tls_without_a_client_certificate_fails(
    mtls_server: ScriptServer, ca_file: Path, connect: MakeClient
) -> None:
    _connection_error(connect(mtls_server.url, verify=str(ca_file)))
    assert mtls_server.requests == []


def test_mutual_tls_through_the_proxy(
    proxy_server: ProxyProcess,
    mtls_server: ScriptServer,
    ca_file: Path,
    client_cert: dict[str, str],
    connect: MakeClient,
) -> None:
    since = proxy_server.log_size()
    client = connect(
        _url(NAME, mtls_server),
        proxy=proxy_server.url,
        verify=str(ca_file),
        cert=(client_cert["cert"], client_cert["key"]),
    )
    _deleted(client)
    client.close()
    _tunnelled(proxy_server, since, NAME, mtls_server)


# -- 4. a native client together with options ----------------------------------------------


def _native(kind: str) -> Any:
    if kind == "requests":
        return requests.Session()
    if kind == "httpx":
        return httpx.Client()
    return urllib3.PoolManager()


async def _async_native(kind: str) -> Any:
    """A user's own async client, made in the event loop (aiohttp needs one)."""
    if kind == "aiohttp":
        return aiohttp.ClientSession()
    return httpx.AsyncClient()


OPTIONS = ["proxy", "verify-path", "verify-false", "cert", "max"]


def _options(option: str, ca_file: Path, client_cert: dict[str, str]) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {
        "proxy": {"proxy": "http://127.0.0.1:9"},
        "verify-path": {"verify": str(ca_file)},
        "verify-false": {"verify": False},
        "cert": {"cert": client_cert["both"]},
        "max": {"max_connections": 2},
    }
    return table[option]


@pytest.mark.parametrize("kind", ["requests", "httpx", "urllib3"])
@pytest.mark.parametrize("option", OPTIONS)
def test_a_native_client_with_options_is_refused(
    ca_file: Path, client_cert: dict[str, str], kind: str, option: str
) -> None:
    kwargs = _options(option, ca_file, client_cert)
    native = _native(kind)
    try:
        with pytest.raises(bd.ConfigurationError) as info:
            bd.Client(api_key=API_KEY, base_url="http://127.0.0.1:9", transport=native, **kwargs)
        assert next(iter(kwargs)) in str(info.value)
    finally:
        if isinstance(native, urllib3.PoolManager):
            native.clear()
        else:
            native.close()


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
@pytest.mark.parametrize("option", OPTIONS)
def test_a_native_async_client_with_options_is_refused(
    portal: BlockingPortal, ca_file: Path, client_cert: dict[str, str], kind: str, option: str
) -> None:
    kwargs = _options(option, ca_file, client_cert)
    native = portal.call(_async_native, kind)
    try:
        with pytest.raises(bd.ConfigurationError) as info:
            bd.AsyncClient(
                api_key=API_KEY, base_url="http://127.0.0.1:9", transport=native, **kwargs
            )
        assert next(iter(kwargs)) in str(info.value)
    finally:
        portal.call(native.close if kind == "aiohttp" else native.aclose)


# -- 5. the proxy password is a secret ------------------------------------------------------


class Recorder:
    """Every argument of every hook, kept to search for secrets."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @bd.hookimpl
    def on_request(self, method: str, url: str, headers: Mapping[str, str], transport: str) -> None:
        self.seen += [method, url, dict(headers), transport]

    @bd.hookimpl
    def on_response(self, url: str, headers: Mapping[str, str]) -> None:
        self.seen += [url, dict(headers)]

    @bd.hookimpl
    def on_error(self, url: str, error: BaseException) -> None:
        self.seen += [url, error, str(error), repr(error), vars(error)]

    @bd.hookimpl
    def on_retry(self, url: str, error: BaseException, wait: float) -> None:
        self.seen += [url, error, str(error), repr(error), wait]


def _shown(error: BaseException) -> list[str]:
    """What an error can show: its text, repr, attributes and causes."""
    shown: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        shown += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return shown


def test_the_proxy_password_never_shows(
    auth_proxy: ProxyProcess,
    https_server: ScriptServer,
    server: ScriptServer,
    ca_file: Path,
    closed_port: int,
    connect: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    bd.register_plugin(recorder, name="options-recorder")
    shown: list[str] = []
    try:
        for origin in (https_server, server):
            for proxy, works in (
                (with_credentials(auth_proxy), True),
                (with_credentials(auth_proxy, WRONG_PASSWORD), False),
                (f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{closed_port}", False),
            ):
                client = connect(_url(NAME, origin), proxy=proxy, verify=str(ca_file))
                shown += [repr(client), str(client), repr(client.transport)]
                shown += [repr(client._options)]
                if works:
                    shown.append(repr(client.with_raw_response.delete("msgbatch_opt")))
                else:
                    with pytest.raises(bd.APIError) as info:
                        client.delete("msgbatch_opt")
                    shown += _shown(info.value)
        # The same through the environment, and a malformed proxy URL refused.
        monkeypatch.setenv("HTTPS_PROXY", with_credentials(auth_proxy))
        client = connect(_url(NAME, https_server), verify=str(ca_file))
        shown += [repr(client), repr(client.transport)]
        _deleted(client)
        with pytest.raises(bd.ConfigurationError) as bad:
            connect(_url(NAME, https_server), proxy=f"http://u:{PROXY_PASSWORD}@host:port")
        shown += _shown(bad.value)
    finally:
        bd.unregister_plugin(recorder)
    shown.append(repr(recorder.seen))
    shown += [r.getMessage() for r in caplog.records]
    shown += [repr(r.__dict__) for r in caplog.records]
    assert len(recorder.seen) > 4
    for text in shown:
        for secret in SECRETS:
            assert secret not in text, text


# -- 6. max_connections ------------------------------------------------------------------------


@pytest.mark.clients("sync")  # threads: an AsyncClient belongs to one event loop (next test)
@pytest.mark.slow
def test_max_connections_bounds_the_pool(server: ScriptServer, connect: MakeClient) -> None:
    server.script(*[Reply(delay=0.05) for _ in range(32)])
    client = connect(server.url, max_connections=2)
    failures: list[BaseException] = []
    done: list[str] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for i in range(4):
            batch_id = f"msgbatch_{worker}_{i}"
            try:
                result = client.delete(batch_id).id
            except BaseException as exc:
                with lock:
                    failures.append(exc)
                continue
            with lock:
                done.append(result)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert failures == [] and len(done) == 32
    assert len(server.requests) == 32
    assert server.connections <= 2, f"{server.connections} connections opened"


@pytest.mark.clients("async")
@pytest.mark.slow
def test_max_connections_bounds_the_pool_of_tasks(
    server: ScriptServer, connect: MakeClient
) -> None:
    """The async twin of the threads above: 8 tasks at once, 2 connections."""
    server.script(*[Reply(delay=0.05) for _ in range(32)])
    client = connect(server.url, max_connections=2)
    assert isinstance(client, BlockingClient)

    async def work(worker: int) -> list[str]:
        return [(await client.aclient.delete(f"msgbatch_{worker}_{i}")).id for i in range(4)]

    async def all_workers() -> list[list[str]]:
        return await asyncio.gather(*(work(n) for n in range(8)))

    done = [batch_id for ids in client.run(all_workers) for batch_id in ids]
    assert len(done) == 32 and len(set(done)) == 32
    assert len(server.requests) == 32
    assert server.connections <= 2, f"{server.connections} connections opened"


# -- ConnectionOptions alone (no transport) ------------------------------------------------

API = "https://api.anthropic.com/v1/messages/batches/x"
CORP = "http://corp-proxy.example:3128"
ENV_PROXY = "http://env-proxy.example:8080"


@pytest.mark.parametrize(
    ("proxy", "environment", "trust_env", "expected"),
    [
        (None, {}, True, None),
        (None, {"HTTPS_PROXY": ENV_PROXY}, True, ENV_PROXY),
        (None, {"HTTPS_PROXY": ENV_PROXY}, False, None),
        (CORP, {"HTTPS_PROXY": ENV_PROXY}, True, CORP),
        (CORP, {"HTTPS_PROXY": ENV_PROXY}, False, CORP),
        (CORP, {}, False, CORP),
        (CORP, {"HTTPS_PROXY": ENV_PROXY, "NO_PROXY": "*"}, True, CORP),
        (None, {"HTTP_PROXY": ENV_PROXY}, True, None),  # http's, not https's
        (None, {"ALL_PROXY": ENV_PROXY}, True, ENV_PROXY),
        (None, {"all_proxy": ENV_PROXY}, True, ENV_PROXY),
        (None, {"ALL_PROXY": CORP, "HTTPS_PROXY": ENV_PROXY}, True, ENV_PROXY),
        (None, {"https_proxy": ENV_PROXY, "HTTPS_PROXY": CORP}, True, ENV_PROXY),
    ],
    ids=[
        "default",
        "env",
        "env-untrusted",
        "explicit-beats-env",
        "explicit-untrusted",
        "explicit-alone",
        "explicit-ignores-no-proxy",
        "http-variable-for-https",
        "all-proxy",
        "all-proxy-lower",
        "scheme-beats-all",
        "lower-case-first",
    ],
)
def test_proxy_precedence(
    monkeypatch: pytest.MonkeyPatch,
    proxy: str | None,
    environment: dict[str, str],
    trust_env: bool,
    expected: str | None,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    options = ConnectionOptions(proxy=proxy, trust_env=trust_env)
    assert options.proxy_for(API) == expected


@pytest.mark.parametrize("source", ["explicit", "environment"])
def test_a_proxy_without_a_scheme_is_read_as_http(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    if source == "explicit":
        options = ConnectionOptions(proxy="corp-proxy.example:3128")
    else:
        monkeypatch.setenv("HTTPS_PROXY", "corp-proxy.example:3128")
        options = ConnectionOptions()
    assert options.proxy_for(API) == "http://corp-proxy.example:3128"


def test_http_and_https_variables_each_serve_their_scheme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", CORP)
    monkeypatch.setenv("HTTPS_PROXY", ENV_PROXY)
    options = ConnectionOptions()
    assert options.proxy_for("http://api.example/x") == CORP
    assert options.proxy_for("https://api.example/x") == ENV_PROXY


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("api.example.com", "https://api.example.com/x", True),
        ("api.example.com", "https://API.EXAMPLE.COM/x", True),
        ("API.example.com", "https://api.example.com/x", True),
        ("example.com", "https://api.example.com/x", True),
        (".example.com", "https://api.example.com/x", True),
        (".example.com", "https://example.com/x", True),
        ("example.com", "https://badexample.com/x", False),
        ("example.com", "https://example.com.evil/x", False),
        ("other.com, example.com", "https://api.example.com/x", True),
        ("other.com,,", "https://api.example.com/x", False),
        ("*", "https://anything.example/x", True),
        ("api.example.com:8443", "https://api.example.com:8443/x", True),
        ("api.example.com:8443", "https://api.example.com:443/x", False),
        ("10.1.2.3", "https://10.1.2.3/x", True),
        ("10.1.2.3", "https://10.1.2.4/x", False),
        ("10.0.0.0/8", "https://10.200.3.4:8443/x", True),
        ("10.0.0.0/8", "https://11.0.0.1/x", False),
        ("192.168.1.0/24", "https://192.168.1.77/x", True),
        ("2001:db8::1", "https://[2001:db8::1]/x", True),
        ("2001:db8::/32", "https://[2001:db8:5::9]:8443/x", True),
        ("2001:db8::/32", "https://[2001:db9::1]/x", False),
        ("", "https://api.example.com/x", False),
    ],
)
def test_no_proxy_forms(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, url: str, bypassed: bool
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", ENV_PROXY)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert (ConnectionOptions().proxy_for(url) is None) is bypassed
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("no_proxy", no_proxy)
    assert (ConnectionOptions().proxy_for(url) is None) is bypassed


def test_bypasses_proxy_directly() -> None:
    assert bypasses_proxy("10.2.3.4", None, "10.0.0.0/8")
    assert bypasses_proxy("api.example.com", 443, "example.com")
    assert not bypasses_proxy("api.example.com", 443, "")
    assert not bypasses_proxy("api.example.com", 443, "not a network/99")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/x",
        "https://127.9.9.9/x",
        "http://localhost:4010/x",
        "http://api.localhost/x",
        "https://[::1]:8443/x",
    ],
)
def test_loopback_skips_an_environment_proxy_but_not_an_explicit_one(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, ENV_PROXY)
    assert ConnectionOptions().proxy_for(url) is None
    assert ConnectionOptions(proxy=CORP).proxy_for(url) == CORP


def test_not_loopback_by_name_still_uses_the_environment_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", ENV_PROXY)
    for url in ("https://0.0.0.0:1/x", "https://batches.test/x", "https://localhost.example/x"):
        assert ConnectionOptions().proxy_for(url) == ENV_PROXY


def test_the_environment_is_read_at_construction_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", ENV_PROXY)
    options = ConnectionOptions()
    monkeypatch.setenv("HTTPS_PROXY", CORP)
    monkeypatch.setenv("NO_PROXY", "*")
    assert options.proxy_for(API) == ENV_PROXY
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("NO_PROXY")
    later = ConnectionOptions()
    monkeypatch.setenv("HTTPS_PROXY", ENV_PROXY)
    assert later.proxy_for(API) is None


@pytest.mark.parametrize("source", ["explicit", "environment"])
def test_credentials_are_masked(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@corp-proxy.example:3128"
    if source == "explicit":
        options = ConnectionOptions(proxy=url)
    else:
        monkeypatch.setenv("HTTPS_PROXY", url)
        options = ConnectionOptions()
    assert options.proxy_for(API) == url  # the transport needs the real one
    described = options.describe(API)
    assert described["proxy"] == "http://***@corp-proxy.example:3128"
    assert described["proxy_source"] == ("proxy=" if source == "explicit" else "environment")
    for text in (repr(options), str(options), repr(described)):
        assert PROXY_PASSWORD not in text and PROXY_USER not in text
        assert "***@corp-proxy.example:3128" in text


def test_describe_tells_what_a_transport_would_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert ConnectionOptions().describe(API) == {
        "proxy": None,
        "proxy_source": None,
        "ca": str(bundle),
        "ca_source": "REQUESTS_CA_BUNDLE",
        "client_certificate": False,
        "max_connections": DEFAULT_MAX_CONNECTIONS,
        "trust_env": True,
    }
    described = ConnectionOptions(verify=str(bundle), max_connections=3).describe(API)
    assert described["ca_source"] == "verify=" and described["max_connections"] == 3
    assert ConnectionOptions(trust_env=False).describe(API)["ca_source"] == "the system's CAs"
    assert ConnectionOptions(trust_env=False).describe(API)["ca"] is None


def test_ca_variables_are_read_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert CA_VARIABLES == ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    paths = {}
    for name in CA_VARIABLES:
        path = tmp_path / name.lower()
        if name.endswith("_DIR"):
            path.mkdir()
        else:
            path.write_text("")
        paths[name] = str(path)
        monkeypatch.setenv(name, str(path))
    for name in CA_VARIABLES:
        options = ConnectionOptions()
        assert (options.ca_source, options.verify) == (name, paths[name])
        assert ConnectionOptions(trust_env=False).ca_source == "the system's CAs"
        monkeypatch.delenv(name)
    assert ConnectionOptions().ca_source == "the system's CAs"


def test_an_empty_ca_variable_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", "")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    assert ConnectionOptions().ca_source == "CURL_CA_BUNDLE"


def test_explicit_verify_beats_the_ca_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))  # not even looked at
    assert ConnectionOptions(verify=str(bundle)).ca_source == "verify="
    assert ConnectionOptions(verify=False).verify is False
    context = ssl.create_default_context()
    assert ConnectionOptions(verify=context).ssl_context() is context


def test_ssl_context_follows_the_options(ca: trustme.CA, ca_file: Path) -> None:
    off = ConnectionOptions(verify=False, trust_env=False).ssl_context()
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname
    options = ConnectionOptions(verify=str(ca_file), trust_env=False)
    context = options.ssl_context()
    assert context is options.ssl_context()  # built once
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1


def test_verify_false_logs_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="batchdelete")
    ConnectionOptions(verify=False)
    assert [r.name for r in caplog.records] == ["batchdelete"]
    caplog.clear()
    ConnectionOptions()
    assert caplog.records == []


def test_default_means_nothing_set_explicitly(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert ConnectionOptions().default
    assert ConnectionOptions(trust_env=False).default
    for changed in (
        ConnectionOptions(proxy=CORP),
        ConnectionOptions(verify=False),
        ConnectionOptions(verify=str(bundle)),
        ConnectionOptions(cert=str(bundle)),
        ConnectionOptions(max_connections=2),
    ):
        assert not changed.default, changed


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"proxy": "ftp://proxy.example:21"}, "ftp://proxy.example:21"),
        ({"proxy": "socks5://proxy.example:1080"}, "socks5://proxy.example:1080"),
        ({"proxy": "http://"}, "http://"),
        ({"proxy": "http://proxy.example:port"}, "proxy.example:port"),
        ({"proxy": "http://proxy.example:99999"}, "proxy.example:99999"),
        ({"proxy": 3128}, "int"),
        ({"trust_env": "yes"}, "trust_env"),
        ({"trust_env": None}, "trust_env"),
        ({"verify": 1}, "verify"),
        ({"verify": "/no/such/ca.pem"}, "/no/such/ca.pem"),
        ({"verify": None}, "verify"),
        ({"cert": "/no/such/cert.pem"}, "/no/such/cert.pem"),
        ({"cert": ("only-one",)}, "cert"),
        ({"cert": 5}, "cert"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": -1}, "max_connections"),
        ({"max_connections": True}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"max_connections": "10"}, "max_connections"),
    ],
)
def test_bad_values_are_refused(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(bd.ConfigurationError) as info:
        ConnectionOptions(**kwargs)
    assert named in str(info.value)


def test_a_bad_proxy_is_refused_without_showing_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for bad in (
        f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example:port",
        f"ftp://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example:21",
    ):
        with pytest.raises(bd.ConfigurationError) as info:
            ConnectionOptions(proxy=bad)
        assert PROXY_PASSWORD not in str(info.value) and "***@proxy.example" in str(info.value)
        monkeypatch.setenv("HTTPS_PROXY", bad)
        with pytest.raises(bd.ConfigurationError) as info:
            ConnectionOptions()
        assert PROXY_PASSWORD not in str(info.value)
        monkeypatch.delenv("HTTPS_PROXY")


def test_cert_with_an_ssl_context_is_refused(ca_file: Path) -> None:
    with pytest.raises(bd.ConfigurationError, match="load_cert_chain"):
        ConnectionOptions(verify=ssl.create_default_context(), cert=str(ca_file))
