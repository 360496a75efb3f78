"""Users' own HTTP clients: a requests Session (and `responses` tests written
the legacy way), an httpx Client (and MockTransport), a urllib3 PoolManager."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest
import requests
import responses
import urllib3

import batchdelete as bd
from tests.conftest import API_KEY
from tests.scriptserver import ScriptServer

URL = "https://api.anthropic.com/v1/messages/batches/"


def _natives() -> list[tuple[str, object]]:
    return [
        ("requests", requests.Session()),
        ("httpx", httpx.Client()),
        ("urllib3", urllib3.PoolManager()),
    ]


@pytest.mark.parametrize(("name", "native"), _natives(), ids=lambda v: str(v)[:12])
def test_native_client_is_used_and_not_closed(
    server: ScriptServer, name: str, native: object
) -> None:
    with bd.Client(api_key=API_KEY, base_url=server.url, transport=native) as client:
        assert client.transport.name == name
        assert client.delete("msgbatch_1").id == "msgbatch_1"
        assert server.requests[0].header("x-api-key") == API_KEY
    # The client is closed; the user's object still works and reuses its pool.
    if isinstance(native, requests.Session):
        assert native.get(server.url + "/after", timeout=5).status_code == 200
    elif isinstance(native, httpx.Client):
        assert not native.is_closed
        assert native.get(server.url + "/after").status_code == 200
    elif isinstance(native, urllib3.PoolManager):
        assert native.request("GET", server.url + "/after").status == 200
    assert server.requests[-1].target == "/after"


def test_session_subclass_with_auth_and_headers_is_honoured(server: ScriptServer) -> None:
    class CorporateSession(requests.Session):
        pass

    session = CorporateSession()
    session.headers["x-corp-proxy-tag"] = "team-a"
    session.auth = ("proxyuser", "proxypass")
    seen: list[int] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.status_code))
    with bd.Client(api_key=API_KEY, base_url=server.url, transport=session) as client:
        client.delete("msgbatch_1")
    req = server.requests[0]
    assert req.header("x-corp-proxy-tag") == "team-a"
    assert (req.header("authorization") or "").startswith("Basic ")
    assert seen == [200]


@responses.activate
def test_legacy_responses_test_keeps_working() -> None:
    """How a requests codebase already tests: its own Session, @responses.activate."""
    responses.add(
        responses.DELETE,
        URL + "msgbatch_legacy",
        json={"id": "msgbatch_legacy", "type": "message_batch_deleted"},
        headers={"request-id": "req_legacy"},
    )
    responses.add(
        responses.DELETE,
        URL + "msgbatch_missing",
        status=404,
        json={"type": "error", "error": {"type": "not_found_error", "message": "gone"}},
    )
    session = requests.Session()
    client = bd.Client(api_key=API_KEY, transport=session)
    result = client.with_raw_response.delete("msgbatch_legacy")
    assert result.data.id == "msgbatch_legacy" and result.request_id == "req_legacy"
    with pytest.raises(bd.NotFoundError) as info:
        client.delete("msgbatch_missing")
    assert info.value.api_message == "gone"
    call = responses.calls[0]
    assert call.request.method == "DELETE"
    assert call.request.headers["x-api-key"] == API_KEY
    assert call.request.headers["anthropic-version"] == "2023-06-01"
    assert len(responses.calls) == 2


@responses.activate
def test_responses_with_the_owned_session_too() -> None:
    responses.add(responses.DELETE, URL + "b1", status=500, body="down")
    responses.add(responses.DELETE, URL + "b1", json={"id": "b1", "type": "message_batch_deleted"})
    client = bd.Client(api_key=API_KEY, transport="requests")
    client._sleep = lambda s: None
    assert client.with_raw_response.delete("b1").attempts == 2


def test_httpx_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        batch_id = request.url.path.rsplit("/", 1)[-1]
        if batch_id == "running":
            return httpx.Response(
                400,
                json={
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "cancel it first"},
                },
                headers={"request-id": "req_mock"},
            )
        return httpx.Response(
            200, content=json.dumps({"id": batch_id, "type": "message_batch_deleted"})
        )

    native = httpx.Client(transport=httpx.MockTransport(handler))
    client = bd.Client(api_key=API_KEY, transport=native)
    assert client.delete("msgbatch_m").id == "msgbatch_m"
    with pytest.raises(bd.BadRequestError) as info:
        client.delete("running")
    assert info.value.request_id == "req_mock" and info.value.error_type == "invalid_request_error"
    assert seen[0].method == "DELETE"
    assert seen[0].headers["x-api-key"] == API_KEY
    assert str(seen[0].url) == URL + "msgbatch_m"
    client.close()
    assert not native.is_closed


def test_owned_requests_session_reads_environment_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import batchdelete_requests

    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example,10.0.0.0/8")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    transport = batchdelete_requests.RequestsTransport()
    session = transport._session
    assert session.trust_env is False
    assert transport._options.verify == str(bundle)  # the TLS context trusts it
    # Changes after construction are not seen: the environment was read once.
    monkeypatch.setenv("HTTPS_PROXY", "http://other.invalid:1")
    assert transport._proxies_for("https://api.anthropic.com") == {
        "https": "http://proxy.invalid:3128"
    }
    assert transport._proxies_for("https://svc.internal.example") == {}
    assert transport._proxies_for("https://10.1.2.3:8443") == {}
    assert transport._proxies_for("https://127.0.0.1:8443") == {}  # loopback: never proxied
    assert transport._proxies_for("http://localhost") == {}
    explicit = batchdelete_requests.RequestsTransport(options=bd.ConnectionOptions(trust_env=False))
    assert explicit._proxies_for("https://api.anthropic.com") == {}
    assert explicit._options.verify is True
    transport.close()
    explicit.close()


def test_owned_transports_verify_tls_by_default() -> None:
    import batchdelete_httpx
    import batchdelete_requests
    import batchdelete_urllib3

    adapter = batchdelete_requests.RequestsTransport()._session.get_adapter("https://h.invalid")
    assert adapter._tls().verify_mode == ssl.CERT_REQUIRED  # type: ignore[attr-defined]
    owned = batchdelete_urllib3.Urllib3Transport()
    pool = owned._route("https://h.invalid").pool
    context = pool.conn_kw["ssl_context"]
    assert context is owned._tls() and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    client = batchdelete_httpx.HttpxTransport()._client
    assert client._transport._pool._ssl_context.verify_mode.name == "CERT_REQUIRED"  # type: ignore[attr-defined]


def test_users_proxy_manager_is_honoured(server: ScriptServer) -> None:
    """A urllib3.ProxyManager gets every full URL: the proxy (here the script
    server) sees the absolute-form request for the API host."""
    proxy = urllib3.ProxyManager(server.url)
    with bd.Client(
        api_key=API_KEY, base_url="http://api.example.invalid", transport=proxy
    ) as client:
        assert client.delete("msgbatch_p").id == "msgbatch_p"
    [req] = server.requests
    assert req.target == "http://api.example.invalid/v1/messages/batches/msgbatch_p"
    assert req.header("x-api-key") == API_KEY
