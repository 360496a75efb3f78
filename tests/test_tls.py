"""TLS is verified unless the user says otherwise: a loopback HTTPS server
with a certificate from a private CA is refused by every owned transport,
sync and async (`client_kind`), and accepted by the user's own client that
trusts that CA."""

from __future__ import annotations

import ssl
from collections.abc import Callable
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
from tests.asyncclients import run_blocking
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer

pytestmark = pytest.mark.clients("all")

OpenClient = Callable[..., bd.Client]


def test_owned_transport_refuses_an_untrusted_certificate(
    tls_server: ScriptServer, open_client: OpenClient
) -> None:
    client = open_client(api_key=API_KEY, base_url=tls_server.url, max_retries=0)
    with pytest.raises(bd.APIConnectionError) as info:
        client.delete("msgbatch_1")
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value) or "certificate" in str(info.value)
    assert tls_server.requests == []  # nothing, the key included, was sent
    client.close()


def _trusting_client(name: str, ca_file: Path) -> object:
    if name == "requests":
        session = requests.Session()
        session.verify = str(ca_file)
        return session
    if name == "httpx":
        return httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)))
    return urllib3.PoolManager(ca_certs=str(ca_file))


@pytest.mark.parametrize("name", ["requests", "httpx", "urllib3"])
def test_users_client_that_trusts_the_ca_works(
    tls_server: ScriptServer, ca: trustme.CA, tmp_path: Path, name: str
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    native = _trusting_client(name, ca_file)
    with bd.Client(api_key=API_KEY, base_url=tls_server.url, transport=native) as client:
        assert client.delete("msgbatch_tls").id == "msgbatch_tls"
    assert tls_server.requests[0].header("x-api-key") == API_KEY


async def _trusting_async_client(name: str, ca_file: Path) -> Any:
    """A user's own async client that trusts the CA, made in the event loop."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if name == "aiohttp":
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    return httpx.AsyncClient(verify=context)


@pytest.mark.parametrize("name", ["aiohttp", "httpx"])
def test_users_async_client_that_trusts_the_ca_works(
    tls_server: ScriptServer, ca: trustme.CA, tmp_path: Path, portal: BlockingPortal, name: str
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def use_and_keep_open() -> list[str]:
        native = await _trusting_async_client(name, ca_file)
        try:
            async with bd.AsyncClient(
                api_key=API_KEY, base_url=tls_server.url, transport=native
            ) as client:
                ids = [(await client.delete(f"msgbatch_tls{i}")).id for i in range(2)]
            # Closing the AsyncClient leaves the user's own client open.
            assert not (native.closed if name == "aiohttp" else native.is_closed)
            return ids
        finally:
            await (native.close() if name == "aiohttp" else native.aclose())

    assert run_blocking(portal, use_and_keep_open) == ["msgbatch_tls0", "msgbatch_tls1"]
    assert [r.header("x-api-key") for r in tls_server.requests] == [API_KEY, API_KEY]
    assert tls_server.connections == 1


def _trust_ca_through_environment(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # OpenSSL's defaults, httpx
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))  # requests


@pytest.mark.parametrize("names", [("127.0.0.1",), ("other.example",)], ids=["match", "mismatch"])
def test_owned_transport_checks_the_hostname(
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_client: OpenClient,
    names: tuple[str, ...],
) -> None:
    _trust_ca_through_environment(ca, tmp_path, monkeypatch)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    with ScriptServer(tls=context) as server:
        client = open_client(api_key=API_KEY, base_url=server.url, max_retries=0)
        with client:
            if names == ("127.0.0.1",):
                for i in range(3):  # new connection, then kept alive
                    assert client.delete(f"msgbatch_{i}").id == f"msgbatch_{i}"
                assert server.connections == 1
            else:
                with pytest.raises(bd.APIConnectionError):
                    client.delete("msgbatch_1")
                assert server.requests == []
