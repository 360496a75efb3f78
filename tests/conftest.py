from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

import batchdelete
from tests.scriptserver import ScriptServer

API_KEY = "sk-ant-test-SECRET-4f9a1c"
TRANSPORTS = [t.name for t in batchdelete.list_transports() if t.builtin and not t.asynchronous]
ENV_VARS = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "BATCHDELETE_TRANSPORT",
]
PROXY_VARS = [
    v
    for v in os.environ
    if v.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    or v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's credentials, base URL or proxies."""
    for name in ENV_VARS + PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A private certificate authority, trusted by nothing on the machine."""
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ScriptServer]:
    """An HTTPS script server on 127.0.0.1 with a certificate from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with ScriptServer(tls=context) as server:
        yield server


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    with ScriptServer() as s:
        yield s


@pytest.fixture(params=TRANSPORTS)
def transport_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(
    server: ScriptServer, transport_name: str
) -> Iterator[Callable[..., batchdelete.Client]]:
    """Clients of the transport under test, pointed at the script server.

    Retry waits are recorded in `client.slept` instead of slept.
    """
    made: list[batchdelete.Client] = []

    def make(**kwargs: Any) -> batchdelete.Client:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", server.url)
        kwargs.setdefault("transport", transport_name)
        client = batchdelete.Client(**kwargs)
        slept: list[float] = []
        client._sleep = slept.append  # type: ignore[method-assign]
        client.slept = slept  # type: ignore[attr-defined]
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()
