"""TLS is verified unless the user says otherwise: a loopback HTTPS server
with a certificate from a private CA is refused by every owned transport,
and accepted by the user's own client that trusts that CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import requests
import trustme
import urllib3

import batchdelete as bd
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer


def test_owned_transport_refuses_an_untrusted_certificate(
    tls_server: ScriptServer, transport_name: str
) -> None:
    client = bd.Client(
        api_key=API_KEY, base_url=tls_server.url, transport=transport_name, max_retries=0
    )
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
    transport_name: str,
    names: tuple[str, ...],
) -> None:
    _trust_ca_through_environment(ca, tmp_path, monkeypatch)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    with ScriptServer(tls=context) as server:
        client = bd.Client(
            api_key=API_KEY, base_url=server.url, transport=transport_name, max_retries=0
        )
        with client:
            if names == ("127.0.0.1",):
                for i in range(3):  # new connection, then kept alive
                    assert client.delete(f"msgbatch_{i}").id == f"msgbatch_{i}"
                assert server.connections == 1
            else:
                with pytest.raises(bd.APIConnectionError):
                    client.delete("msgbatch_1")
                assert server.requests == []
